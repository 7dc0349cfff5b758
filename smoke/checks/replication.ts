// replication: every replica's link is up, writes acknowledged with WAIT are readable on every replica (READONLY),
// replication offsets and lag reported.
import { errorText } from "../clients";
import type { SmokeContext, MasterInfo } from "../context";
import { cleanup, groupByOwner, keysOwnedBy, readBack, runKey, writeAndWait } from "../data";
import { parseInfo, parseReplicaLines } from "../topology";
import { CheckFailure, type Measurements } from "../types";

/** How long a replica link may be down (e.g. a first sync in progress) before the check fails. */
export const LINK_GRACE_MS = 5000;
const WAIT_MS = 5000;
/** Every master with replicas is checked with at least this many of its own keys (a small --keys may miss one). */
export const MIN_KEYS_PER_MASTER = 20;

/** Problems with replica links, after waiting up to `graceMs` for them to come up. */
export async function waitReplicaLinks(ctx: SmokeContext, masters: MasterInfo[], graceMs: number): Promise<string[]> {
  // Unreachable replicas will not come back while we wait: report them at once.
  const unreachable = masters.flatMap((m) => m.replicas.filter((r) => ctx.down.has(r.addr)).map((r) => `replica ${r.label} of ${m.label} is unreachable (see the connect check)`));
  if (unreachable.length) return unreachable;
  let problems: string[] = [];
  const res = await ctx.waitFor("waiting for every replica link to be up", graceMs, async () => {
    problems = [];
    for (const m of masters) {
      for (const r of m.replicas) {
        try {
          const info = parseInfo((await (await ctx.pool.get(r.addr)).info("replication")) as string);
          if (info.role !== "slave") problems.push(`replica ${r.label} reports role ${info.role}`);
          else if (info.master_link_status !== "up") {
            const since = info.master_link_down_since_seconds ? `, down for ${info.master_link_down_since_seconds} s` : "";
            const sync = info.master_sync_in_progress === "1" ? ", sync in progress" : "";
            problems.push(`replica ${r.label} of ${m.label}: master_link_status:${info.master_link_status}${since}${sync}`);
          }
        } catch (e) {
          problems.push(`replica ${r.label} of ${m.label} did not answer: ${errorText(e)}`);
        }
      }
    }
    return problems.length === 0 ? true : undefined;
  }, 200);
  return res.value ? [] : problems;
}

export async function checkReplication(ctx: SmokeContext): Promise<{ details: string; measurements: Measurements; notApplicable?: boolean }> {
  const topo = ctx.topology ?? (await ctx.refreshTopology());
  const problems: string[] = [];
  // Replicas are required only when --expect-replicas asks for them (a 3x0 cluster is healthy without).
  const expect = ctx.opts.expectReplicas;
  for (const m of topo.masters) {
    if (m.replicas.length === 0 && expect !== undefined && expect > 0) problems.push(`master ${m.label} has no replica`);
  }
  problems.push(...(await waitReplicaLinks(ctx, topo.masters, LINK_GRACE_MS)));
  const m: Measurements = {};
  if (problems.length) throw new CheckFailure(problems, m);
  if (topo.masters.every((x) => x.replicas.length === 0)) {
    return {
      details: `no replicas in the cluster (${expect === 0 ? "--expect-replicas 0" : "none required: --expect-replicas not given"})`,
      measurements: { replicas_read: 0 },
      notApplicable: true,
    };
  }

  const sample = Math.min(ctx.opts.keys, 1000);
  const keys = Array.from({ length: sample }, (_, i) => runKey(ctx.runId, "r", i));
  const byOwner = groupByOwner(keys, topo);
  // Top up masters that own too few of the sample keys, so none passes unchecked.
  for (const master of topo.masters) {
    const own = byOwner.get(master.addr) ?? [];
    if (master.replicas.length === 0 || own.length >= MIN_KEYS_PER_MASTER) continue;
    const extra = keysOwnedBy(ctx.runId, "rm", master.addr, topo, MIN_KEYS_PER_MASTER - own.length).keys;
    if (extra.length === 0) problems.push(`master ${master.label}: no key maps to its slots (slot map changed?)`);
    own.push(...extra);
    keys.push(...extra);
    byOwner.set(master.addr, own);
  }
  if (problems.length) throw new CheckFailure(problems, m);
  try {
    let maxLagBytes = 0;
    let maxLagS = 0;
    let replicas = 0;
    for (const master of topo.masters) {
      const own = byOwner.get(master.addr) ?? [];
      if (master.replicas.length === 0) continue;
      ctx.setStep(`writing ${own.length} keys on ${master.label} and WAIT ${master.replicas.length}`);
      const conn = await ctx.pool.get(master.addr);
      const acked = await writeAndWait(conn, own, master.replicas.length, WAIT_MS);
      if (acked < master.replicas.length) {
        problems.push(`WAIT on ${master.label}: only ${acked} of ${master.replicas.length} replica(s) acknowledged within ${WAIT_MS} ms`);
      }
      const info = parseInfo((await conn.info("replication")) as string);
      const masterOffset = Number(info.master_repl_offset);
      m[`offset_${master.addr}`] = masterOffset;
      for (const line of parseReplicaLines(info)) {
        maxLagBytes = Math.max(maxLagBytes, masterOffset - line.offset);
        maxLagS = Math.max(maxLagS, line.lag);
        if (line.state !== "online") problems.push(`master ${master.label} lists replica ${line.addr} in state ${line.state}`);
      }
      for (const r of master.replicas) {
        ctx.setStep(`reading ${own.length} keys back from replica ${r.label}`);
        replicas++;
        const rc = await ctx.pool.get(r.addr);
        await rc.call("READONLY");
        const back = await readBack(rc, own);
        if (back.errors.length) problems.push(`replica ${r.label}: ${back.errors.length} reads failed (e.g. ${back.errors[0]})`);
        if (back.wrong.length) problems.push(`replica ${r.label}: ${back.wrong.length} of ${own.length} acknowledged keys missing or different (e.g. ${back.wrong[0]})`);
      }
    }
    Object.assign(m, { keys: keys.length, replicas_read: replicas, max_lag_bytes: maxLagBytes, max_lag_s: maxLagS });
    if (problems.length) throw new CheckFailure(problems, m);
    return {
      details: `${replicas} replica link(s) up; ${keys.length} keys acknowledged by WAIT and read back from every replica; max lag ${maxLagBytes} bytes / ${maxLagS} s`,
      measurements: m,
    };
  } finally {
    ctx.setStep("deleting the test keys");
    await cleanup(ctx, keys);
  }
}
