// connect: reach the seeds, learn every node from CLUSTER NODES, and map announced addresses that are not
// reachable from here (Docker: 172.x inside the network) to the seed that answered for them.
// Exit codes: no seed answering or a password refused at any node -> SmokeUsageError (exit 2); nodes that do not
// answer while some seed does -> a failure of this check naming them (exit 1).
import { errorText, parseAddr, withTimeout } from "../clients";
import type { SmokeContext } from "../context";
import { badFlags, endpointTypeOf, isMyself, parseClusterNodes } from "../topology";
import { CheckFailure, SmokeUsageError, type Measurements } from "../types";

const AUTH_RE = /WRONGPASS|NOAUTH|invalid password|invalid username-password/i;

export async function checkConnect(ctx: SmokeContext): Promise<{ details: string; measurements: Measurements }> {
  const seeds = ctx.opts.nodes;
  const answered: { seed: string; announced: string; text: string; endpoint: "ip" | "hostname" }[] = [];
  const failed: { seed: string; error: string }[] = [];
  ctx.setStep(`connecting to ${seeds.length} seed(s)`);
  await Promise.all(
    seeds.map(async (seed) => {
      try {
        const r = await withTimeout(ctx.pool.get(seed), ctx.opts.connectTimeoutMs + 500, "connect");
        const text = (await withTimeout(r.call("CLUSTER", "NODES"), ctx.opts.connectTimeoutMs, "CLUSTER NODES")) as string;
        const slots = await withTimeout(r.call("CLUSTER", "SLOTS"), ctx.opts.connectTimeoutMs, "CLUSTER SLOTS");
        answered.push({ seed, announced: "", text, endpoint: endpointTypeOf(slots) });
      } catch (e) {
        failed.push({ seed, error: errorText(e) });
      }
    }),
  );
  const authFailures = failed.filter((f) => AUTH_RE.test(f.error));
  if (answered.length === 0) {
    const why = failed.map((f) => `${f.seed}: ${f.error}`).join("; ");
    const hint = authFailures.length
      ? ctx.opts.password ? " — the password is wrong (check the variable named by --password-env)" : " — the cluster requires a password: pass --password-env VAR"
      : " — check the addresses, that the nodes run, and (Docker host clients) the published ports";
    throw new SmokeUsageError(`no seed node answered: ${why}${hint}`);
  }
  if (authFailures.length > 0) {
    throw new SmokeUsageError(`authentication failed at ${authFailures.map((f) => `${f.seed} (${f.error})`).join(", ")}`);
  }
  // Nodes announcing hostnames (external access) are addressed by them, as the cluster's clients are.
  ctx.endpoint = answered.some((a) => a.endpoint === "hostname") ? "hostname" : "ip";
  for (const a of answered) a.announced = parseClusterNodes(a.text, ctx.endpoint).find(isMyself)?.addr || a.seed;
  // A seed answers for its own announced address: map that address to the seed (no --nat-map entry needed) only when
  // it cannot be reached itself. A seed that is a load-balanced name (a Kubernetes Service) reaches some node on each
  // connection, so mapping a node through it would send that node's traffic to any node.
  const natMap = ctx.pool.natMap;
  await Promise.all(
    answered.map(async (a) => {
      if (a.announced === a.seed || natMap[a.announced]) return;
      // A connection of its own: a failed probe must leave no direct connection in the pool for a mapped address.
      const probe = (async () => {
        const r = await ctx.pool.dedicated(a.announced);
        try {
          await r.ping();
        } finally {
          r.disconnect();
        }
      })();
      const direct = await withTimeout(probe, ctx.opts.connectTimeoutMs + 500, "PING").then(() => true, () => false);
      if (!direct) natMap[a.announced] = parseAddr(a.seed);
    }),
  );
  // Every node any seed knows about (with an address), keyed by announced address.
  const all = new Map<string, string>();
  for (const a of answered) {
    for (const n of parseClusterNodes(a.text, ctx.endpoint)) {
      if (n.addr && !n.flags.includes("handshake") && !n.flags.includes("noaddr")) all.set(n.addr, n.id);
      if (n.addr) ctx.ids.set(n.id, n.addr);
    }
  }
  ctx.nodes = [...all.keys()].sort();
  const seedAnnounced = new Set(answered.map((a) => a.announced));
  const problems: string[] = failed.map((f) => `seed ${f.seed} unreachable: ${f.error}`);
  for (const f of failed) ctx.down.add(f.seed);
  const nodeAuthFailures: string[] = [];
  ctx.setStep(`connecting to ${ctx.nodes.length} node(s)`);
  await Promise.all(
    ctx.nodes.filter((n) => !seedAnnounced.has(n) && !ctx.down.has(n)).map(async (addr) => {
      try {
        await withTimeout((async () => (await ctx.pool.get(addr)).ping())(), ctx.opts.connectTimeoutMs, "PING");
      } catch (e) {
        if (AUTH_RE.test(errorText(e))) {
          nodeAuthFailures.push(`${ctx.label(addr)} (${errorText(e)})`);
          return;
        }
        // Later checks report it without waiting for it again.
        ctx.down.add(addr);
        const mapped = natMap[addr] ? ` (mapped to ${natMap[addr].host}:${natMap[addr].port})` : "";
        const hint = !natMap[addr] && answered.some((a) => a.announced !== a.seed)
          ? "; its announced address is not reachable from here: list every node in --nodes or pass --nat-map" : "";
        problems.push(`node ${ctx.label(addr)}${mapped} unreachable: ${errorText(e)}${hint}`);
      }
    }),
  );
  // A password refused anywhere is a usage/connection problem (exit 2), not a cluster defect.
  if (nodeAuthFailures.length) {
    throw new SmokeUsageError(`authentication failed at ${nodeAuthFailures.join(", ")}${ctx.opts.password ? " — the password is wrong for these nodes" : " — they require a password: pass --password-env VAR"}`);
  }
  // Nodes flagged by their peers (e.g. a stopped node the seeds still list).
  for (const a of answered) {
    for (const n of parseClusterNodes(a.text, ctx.endpoint)) {
      const bad = badFlags(n);
      if (bad.length && !problems.some((p) => p.includes(n.id.slice(0, 6)))) {
        problems.push(`node ${ctx.label(n.addr)} is flagged ${bad.join(",")} by ${a.announced}`);
      }
    }
  }
  const m: Measurements = { seeds: seeds.length, nodes: ctx.nodes.length, unreachable: problems.length, nat_mapped: Object.keys(natMap).length };
  if (problems.length) throw new CheckFailure(problems, m, `${problems.length} problem(s) reaching ${ctx.nodes.length} node(s)`);
  return { details: `${ctx.nodes.length} nodes reachable${Object.keys(natMap).length ? ` (${Object.keys(natMap).length} through natMap)` : ""}`, measurements: m };
}
