// What the chaos run observes of the cluster, from outside and apart from the clients: each node's view through
// redis-cli in its namespace (the topology, whether the cluster is whole again after a fault) and, at the end, the
// final checks the checker judges (redis-cli --cluster check, every replica equal to its master).
import { execFile } from "node:child_process";
import type { FinalChecks } from "../../testbed/workload/checker";
import { sleep } from "../../smoke/time";
import { isMaster, isMyself, parseClusterNodes, parseInfo, parseReplicaLines, type NodeLine } from "../../smoke/topology";
import type { NetLab } from "./netlab";

export const PORT = 6379;

export interface Topology {
  /** shard -> master node index; shard = rank of the master's first slot. */
  masterOf: number[];
  /** master node index -> replica node indexes. */
  replicasOf: Map<number, number[]>;
}

export function cliAsync(host: string, port: number, password: string, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile("redis-cli", ["-h", host, "-p", String(port), ...args], { env: { PATH: process.env.PATH, REDISCLI_AUTH: password }, timeout: timeoutMs, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}`.replace(/\r/g, "").trim() });
    });
  });
}
/** redis-cli against node i. */
export type Cli = (i: number, args: string[], timeoutMs?: number) => Promise<{ code: number; out: string }>;

const info = async (cli: Cli, i: number, section: string) => parseInfo((await cli(i, ["info", section])).out);

export async function topology(cli: Cli, count: number, lab: NetLab): Promise<Topology> {
  for (let attempt = 0; attempt < 20; attempt++) {
    for (let i = 0; i < count; i++) {
      const r = await cli(i, ["cluster", "nodes"]);
      if (r.code !== 0 || !r.out.includes("myself")) continue;
      const lines = parseClusterNodes(r.out);
      const idx = (n: NodeLine) => lab.nodeIps.indexOf(n.addr.split(":")[0]);
      const failing = (n: NodeLine) => n.flags.some((f) => f.startsWith("fail"));
      const masters = lines.filter((n) => isMaster(n) && !failing(n) && n.slots.length > 0);
      masters.sort((a, b) => a.slots[0][0] - b.slots[0][0]);
      const replicasOf = new Map<number, number[]>();
      for (const m of masters) replicasOf.set(idx(m), lines.filter((n) => n.masterId === m.id && !failing(n)).map(idx));
      if (masters.length > 0 && masters.every((m) => idx(m) >= 0)) return { masterOf: masters.map(idx), replicasOf };
    }
    await sleep(500);
  }
  throw new Error("could not read the cluster topology from any node");
}

export async function shardFirstSlots(cli: Cli, topo: Topology): Promise<number[]> {
  const out: number[] = [];
  for (const m of topo.masterOf) {
    const r = await cli(m, ["cluster", "nodes"]);
    out.push(parseClusterNodes(r.out).find(isMyself)!.slots[0][0]);
  }
  return out;
}

/** Whole: every node answers, sees cluster_state:ok with all slots, knows every node, no fail flags, replica links up. */
export async function waitWhole(cli: Cli, count: number, boundMs: number): Promise<{ ok: boolean; why: string }> {
  const until = Date.now() + boundMs;
  let why = "";
  for (let k = 0; k < 10_000 && Date.now() < until; k++) {
    why = "";
    for (let i = 0; i < count && !why; i++) {
      const state = await cli(i, ["cluster", "info"]);
      const ci = parseInfo(state.out);
      if (ci.cluster_state !== "ok" || ci.cluster_slots_ok !== "16384" || ci.cluster_known_nodes !== String(count)) {
        why = `node ${i}: ${state.out.split("\n").slice(0, 3).join(" ") || "no answer"}`;
        break;
      }
      const nodes = await cli(i, ["cluster", "nodes"]);
      if (/fail|handshake|noaddr/.test(nodes.out)) why = `node ${i} sees a failing node`;
      const repl = await info(cli, i, "replication");
      if (repl.role === "slave" && repl.master_link_status !== "up") why = `node ${i}: replica link ${repl.master_link_status}`;
      // A replica whose side says "up" may still not be acknowledging (after a healed isolation): the master's view
      // must show every replica online and acknowledging within 2 s.
      for (const r of parseReplicaLines(repl)) {
        if (r.state !== "online" || !(r.lag <= 2)) why = `node ${i}: replica ${r.addr} state=${r.state} lag=${r.lag}`;
      }
    }
    if (!why) why = await replicasCaughtUp(cli, count);
    if (!why) return { ok: true, why };
    await sleep(500);
  }
  return { ok: false, why };
}

/**
 * Every replica's acknowledged offset reaches what its master had written a moment before ("" if so). A replica can
 * be online and acknowledging every second while its offset stands still (after a healed isolation); only the
 * offsets tell.
 */
async function replicasCaughtUp(cli: Cli, count: number): Promise<string> {
  const before = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const repl = await info(cli, i, "replication");
    if (repl.role === "master") before.set(i, Number(repl.master_repl_offset ?? "0"));
  }
  await sleep(1500);
  for (const [i, offset] of before) {
    for (const r of parseReplicaLines(await info(cli, i, "replication"))) {
      if (r.offset < offset) return `node ${i}: replica ${r.addr} acknowledged offset ${r.offset} < ${offset} written 1.5 s earlier`;
    }
  }
  return "";
}

export async function finalChecks(cli: Cli, count: number, lab: NetLab, password: string): Promise<FinalChecks> {
  const cc = await cliAsync(lab.nodeIps[0], PORT, password, ["--cluster", "check", `${lab.nodeIps[0]}:${PORT}`], 60_000);
  const replicas: FinalChecks["replicas"] = [];
  for (let i = 0; i < count; i++) {
    const repl = await info(cli, i, "replication");
    if (repl.role !== "master") continue;
    const slaves = parseReplicaLines(repl).map((r) => lab.nodeIps.indexOf(r.addr.split(":")[0]));
    for (const r of slaves) {
      let detail = "";
      let equal = false;
      // Caught up: the replica's offset equals the master's (writes have stopped), then the same data.
      for (let k = 0; k < 60 && !equal; k++) {
        const mo = (await info(cli, i, "replication")).master_repl_offset;
        const ro = (await info(cli, r, "replication")).slave_repl_offset;
        const [md, rd] = [(await cli(i, ["dbsize"])).out, (await cli(r, ["dbsize"])).out];
        const [mg, rg] = [(await cli(i, ["debug", "digest"])).out, (await cli(r, ["debug", "digest"])).out];
        equal = mo === ro && md === rd && mg === rg && !/ERR/.test(mg);
        detail = `offsets ${mo}/${ro}, keys ${md}/${rd}, digest ${mg.slice(0, 12)}/${rg.slice(0, 12)}`;
        if (!equal) await sleep(500);
      }
      replicas.push({ master: `${lab.nodeIps[i]}:${PORT}`, replica: `${lab.nodeIps[r]}:${PORT}`, equal, detail });
    }
  }
  return { clusterCheck: { code: cc.code, output: cc.out }, replicas };
}

