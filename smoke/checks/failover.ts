// failover: manual (CLUSTER FAILOVER on a replica) or kill (freeze a master with DEBUG SLEEP for longer than
// cluster-node-timeout so the cluster itself detects the failure and promotes a replica), with a writer running
// through the outage. Roles are verified in every node's view; an `OK` reply is never trusted.
import type { Cluster } from "ioredis";
import { errorText, refreshSlots } from "../clients";
import { Aborted, type MasterInfo, type NodeSnapshot, type SmokeContext } from "../context";
import { cleanup, groupByOwner, keysOwnedBy, runKey, valueOf, writeAndWait, KEY_TTL_S } from "../data";
import { badFlags, isMaster, isMyself, isReplica, parseInfo, type NodeLine } from "../topology";
import { CheckFailure, type Measurements, type SmokeOptions } from "../types";
import { waitReplicaLinks } from "./replication";
import { Writer, type Write, type WriterOptions } from "../writer";

export async function readNodeTimeout(ctx: SmokeContext): Promise<number> {
  if (ctx.opts.nodeTimeoutMs) return ctx.opts.nodeTimeoutMs;
  for (const addr of ctx.nodes.filter((a) => !ctx.down.has(a))) {
    try {
      const r = (await (await ctx.pool.get(addr)).call("CONFIG", "GET", "cluster-node-timeout")) as string[];
      if (r[1]) return Number(r[1]);
    } catch {
      /* CONFIG may be renamed or disabled: try the next node, then ask for --node-timeout-ms */
    }
  }
  throw new CheckFailure(["could not read cluster-node-timeout (CONFIG GET refused): pass --node-timeout-ms"]);
}

/** How long the kill failover freezes the master: --freeze-ms, else 2x cluster-node-timeout + 4 s. */
export function freezeMsFor(opts: Pick<SmokeOptions, "freezeMs">, nodeTimeoutMs: number): number {
  return opts.freezeMs ?? 2 * nodeTimeoutMs + 4000;
}

function pickTarget(ctx: SmokeContext): MasterInfo {
  const topo = ctx.topology!;
  const want = ctx.opts.failoverTarget;
  let target: MasterInfo | undefined;
  if (want) {
    target = topo.masters.find((m) => {
      const t = ctx.pool.natMap[m.addr];
      return m.addr === want || (t !== undefined && `${t.host}:${t.port}` === want);
    });
    if (!target) throw new CheckFailure([`--failover-target ${want} is not a master (masters: ${topo.masters.map((m) => m.label).join(", ")})`]);
  } else {
    target = topo.masters.find((m) => m.replicas.length > 0);
  }
  if (!target || target.replicas.length === 0) throw new CheckFailure([`no master with a replica to fail over to (${target?.label ?? "no masters"})`]);
  return target;
}

const roleOf = (n: NodeLine) => (isMaster(n) ? "master" : isReplica(n) ? `replica-of-${n.masterId?.slice(0, 6)}` : n.flags.join(","));

/** undefined when all `snaps` answered, report cluster_state ok, flag nobody and agree on every node's role. */
function convergenceProblem(snaps: NodeSnapshot[]): string | undefined {
  let ref: Map<string, string> | undefined;
  let refNode = "";
  for (const s of snaps) {
    if (s.error || !s.lines) return `${s.label} did not answer: ${s.error}`;
    if (s.info?.cluster_state !== "ok") return `${s.label} reports cluster_state:${s.info?.cluster_state}`;
    for (const n of s.lines) if (badFlags(n).length) return `${s.label} sees ${n.addr} as ${badFlags(n).join(",")}`;
    const roles = new Map(s.lines.map((n) => [n.id, roleOf(n)]));
    if (!ref) {
      ref = roles;
      refNode = s.label;
      continue;
    }
    for (const [id, role] of roles) {
      if (ref.get(id) !== role) return `${s.label} sees ${id.slice(0, 6)} as ${role}, ${refNode} as ${ref.get(id)}`;
    }
  }
  return undefined;
}

async function waitConverged(ctx: SmokeContext, what: string, timeoutMs: number, nodes = ctx.nodes): Promise<number> {
  let last = "";
  const r = await ctx.waitFor(what, timeoutMs, async () => {
    const p = convergenceProblem(await ctx.snapshot(nodes));
    last = p ?? "";
    return p ? undefined : true;
  }, 200);
  if (!r.value) throw new CheckFailure([`cluster did not converge within ${timeoutMs} ms (${what}): ${last || r.last}`]);
  return r.ms;
}

/** True when every view shows `masterId` as master of `slots0` and `replicaId` as its replica. */
function swapSeen(snaps: NodeSnapshot[], masterId: string, replicaId: string): string | undefined {
  for (const s of snaps) {
    if (s.error || !s.lines) return `${s.label} did not answer: ${s.error}`;
    const m = s.lines.find((n) => n.id === masterId);
    const r = s.lines.find((n) => n.id === replicaId);
    if (!m || !isMaster(m) || m.slots.length === 0) return `${s.label} does not yet see ${masterId.slice(0, 6)} as a master with slots`;
    if (!r || !isReplica(r) || r.masterId !== masterId) return `${s.label} does not yet see ${replicaId.slice(0, 6)} as its replica`;
  }
  return undefined;
}

/** CLUSTER FAILOVER on `replica`, then waits until every node sees the swap (an OK reply alone proves nothing). */
async function manualFailover(ctx: SmokeContext, replica: { id: string; addr: string; label: string }, oldMaster: { id: string; label: string }, nt: number): Promise<number> {
  ctx.checkpoint(); // never start a failover for a check that already timed out
  const t0 = Date.now();
  const reply = await (await ctx.pool.get(replica.addr)).call("CLUSTER", "FAILOVER");
  ctx.log(`failover: CLUSTER FAILOVER on ${replica.label} replied ${String(reply)}; waiting for every node to see the new roles`);
  let last = "";
  const limit = Math.max(10_000, 2 * nt + 5000);
  const r = await ctx.waitFor(`waiting for every node to see ${replica.label} as master`, limit, async () => {
    last = swapSeen(await ctx.snapshot(), replica.id, oldMaster.id) ?? "";
    return last ? undefined : true;
  });
  if (!r.value) {
    throw new CheckFailure([
      `CLUSTER FAILOVER on ${replica.label} replied ${String(reply)} but the roles did not swap within ${limit} ms (${last}); Redis logs "Manual failover timed out" when a failover follows another too soon`,
    ]);
  }
  return Date.now() - t0;
}

/** Test keys spread over all masters, with some on the target, written with WAIT. */
async function writePreKeys(ctx: SmokeContext, target: MasterInfo): Promise<string[]> {
  const topo = ctx.topology!;
  const n = Math.min(ctx.opts.keys, 1000);
  const keys = [...Array.from({ length: n }, (_, i) => runKey(ctx.runId, "f", i)), ...keysOwnedBy(ctx.runId, "ft", target.addr, topo, Math.min(50, n)).keys];
  ctx.setStep(`writing ${keys.length} keys with WAIT before the failover`);
  for (const [owner, own] of groupByOwner(keys, topo)) {
    const m = topo.masters.find((x) => x.addr === owner)!;
    const acked = await writeAndWait(await ctx.pool.get(owner), own, m.replicas.length, 5000);
    if (acked < m.replicas.length) throw new CheckFailure([`before the failover: WAIT on ${m.label} got ${acked} of ${m.replicas.length} acknowledgements`]);
  }
  return keys;
}

/** Keys missing or different when read through the cluster client. */
/**
 * ioredis with a natMap keeps a MOVED target unmapped in its slot table, so until its next slot refresh a redirected
 * command goes to a random node and can run out of redirections ("Too many Cluster redirections", seen from the Docker
 * host after a failover). Reads therefore start from a fresh slot table, and a read that still fails is retried once
 * after another refresh; a wrong or missing value is never retried.
 */
async function missingKeys(c: Cluster, keys: string[]): Promise<{ missing: string[]; errors: string[] }> {
  const missing: string[] = [];
  const errors: string[] = [];
  await refreshSlots(c);
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const res = await Promise.allSettled(batch.map((k) => c.get(k)));
    const failed: string[] = [];
    res.forEach((r, j) => {
      if (r.status === "rejected") failed.push(batch[j]);
      else if (r.value !== valueOf(batch[j])) missing.push(batch[j]);
    });
    if (failed.length === 0) continue;
    await refreshSlots(c);
    const again = await Promise.allSettled(failed.map((k) => c.get(k)));
    again.forEach((r, j) => {
      if (r.status === "rejected") errors.push(`${failed[j]}: ${errorText(r.reason)}`);
      else if (r.value !== valueOf(failed[j])) missing.push(failed[j]);
    });
  }
  return { missing, errors };
}

async function failBack(ctx: SmokeContext, m: Measurements, nt: number, swappedAt: number, oldMaster: { id: string; addr: string; label: string }, newMaster: { id: string; label: string }): Promise<void> {
  // A second failover right after the first silently times out (measured): wait > 2x node timeout.
  const wait = swappedAt + 2 * nt + 1000 - Date.now();
  ctx.setStep(`fail back: waiting ${Math.max(0, wait)} ms (> 2x cluster-node-timeout) before handing mastership back to ${oldMaster.label}`, true);
  if (wait > 0) await ctx.sleep(wait);
  const links = await waitReplicaLinks(ctx, [{ ...oldMaster, slots: [], replicas: [oldMaster] }], 15_000 + nt);
  if (links.length) throw new CheckFailure([`fail back: ${links.join("; ")}`], m);
  await waitConverged(ctx, "fail back: waiting for convergence", 10_000 + 2 * nt);
  m.fail_back_ms = await manualFailover(ctx, oldMaster, newMaster, nt);
  await waitConverged(ctx, "fail back: waiting for cluster_state ok everywhere", 10_000 + 2 * nt);
}

export async function checkFailover(ctx: SmokeContext, outage: OutageFactory = freezeOutage): Promise<{ details: string; measurements: Measurements }> {
  const nt = await readNodeTimeout(ctx);
  ctx.nodeTimeoutMs = nt;
  await ctx.refreshTopology();
  const target = pickTarget(ctx);
  const m: Measurements = { mode: ctx.opts.failover, node_timeout_ms: nt, target: target.addr };
  // A replica that never synced does not take over: every link must be up first.
  const links = await waitReplicaLinks(ctx, ctx.opts.failover === "kill" ? ctx.topology!.masters : [target], 15_000 + nt);
  if (links.length) throw new CheckFailure(links.map((l) => `before the failover: ${l}`), m);
  m.converge_ms = await waitConverged(ctx, "waiting for the cluster to converge before the failover", 10_000 + 2 * nt);
  let keys: string[] = [];
  try {
    if (ctx.opts.failover === "manual") return await manual(ctx, target, nt, m, (k) => (keys = k));
    return await kill(ctx, target, nt, m, (k) => (keys = k), outage);
  } finally {
    ctx.setStep("deleting the test keys");
    await cleanup(ctx, keys);
  }
}

async function manual(ctx: SmokeContext, target: MasterInfo, nt: number, m: Measurements, track: (k: string[]) => void) {
  const keys = await writePreKeys(ctx, target);
  track(keys);
  const replica = target.replicas[0];
  m.roles_swapped_ms = await manualFailover(ctx, replica, target, nt);
  const swappedAt = Date.now();
  ctx.log(`failover: every node sees ${replica.label} as master after ${m.roles_swapped_ms} ms`);
  m.state_ok_ms = (m.roles_swapped_ms as number) + (await waitConverged(ctx, "waiting for cluster_state ok everywhere", 10_000 + 2 * nt));
  const lost = await missingKeys(ctx.data(), keys);
  if (lost.missing.length || lost.errors.length) {
    throw new CheckFailure([`after the failover ${lost.missing.length} of ${keys.length} keys were missing and ${lost.errors.length} reads failed (e.g. ${lost.missing[0] ?? lost.errors[0]})`], m);
  }
  if (ctx.opts.failBack) await failBack(ctx, m, nt, swappedAt, target, replica);
  return {
    details: `CLUSTER FAILOVER on ${replica.label}: all nodes saw the swap after ${m.roles_swapped_ms} ms; ${keys.length} keys intact; cluster_state ok${ctx.opts.failBack ? `; failed back after ${m.fail_back_ms} ms` : ""}`,
    measurements: m,
  };
}

/** Error kind for the tally: the first words of the message, numbers and addresses folded ("MOVED # #:#"). */
export function errorKind(message: string): string {
  const words = message.trim().split(/\s+/).slice(0, 4).join(" ").replace(/\d+/g, "#").replace(/[.:,;]+$/, "");
  return words.slice(0, 60) || "error";
}

/**
 * The outage writer's client and writes: a command timeout for the frozen master (before the promotion); while a write
 * waits, the slot map re-read every 100 ms (writer followFailover), and a refresh that asks the frozen master first gives
 * up on it after slotsRefreshTimeoutMs and asks the next node.
 */
export const OUTAGE_WRITER = {
  client: { commandTimeoutMs: 1500, slotsRefreshIntervalMs: 1000, slotsRefreshTimeoutMs: 300 },
  writes: {
    setArgs: ["EX", KEY_TTL_S],
    wait: { replicas: 1, timeoutMs: 500 },
    pause: { ok: 10, error: 50 },
    followFailover: { probeMs: 100 },
  } satisfies Partial<WriterOptions>,
};

/**
 * Writes keys of the target's slots as SET + WAIT 1 on one connection (a pipeline) through the outage. Bound to the
 * check's own signal: it stops when the check ends or times out, whatever else runs by then.
 */
export class OutageWriter {
  readonly acked = new Map<string, string>();
  notAcked = 0;
  readonly errorKinds = new Map<string, number>();
  /** Longest time without an accepted write while writes failed (counted up to stop() if they never came back). */
  unavailableMs = 0;
  firstErrorAt?: number;
  lastError?: string;
  /** Writes accepted at or after this time (the promotion, as the check saw it) are tracked separately. */
  since?: number;
  /** When the SET of the first write accepted after `since` was accepted / the first such write acknowledged by a replica. */
  firstOkSince?: number;
  firstAckedSince?: number;
  /** When the first write that the client itself sent again to the promoted replica was accepted (possibly before `since`). */
  firstFollowedOk?: number;
  private lastOk = Date.now();
  private failedSinceOk = false;
  private readonly writer: Writer;

  constructor(ctx: SmokeContext, private readonly client: Cluster, target: string) {
    let next = 0;
    this.writer = new Writer(client, {
      key: () => {
        const owned = keysOwnedBy(ctx.runId, "w", target, ctx.topology!, 1, next);
        next = owned.next;
        return owned.keys[0];
      },
      value: (key) => valueOf(key),
      ...OUTAGE_WRITER.writes,
      maxCommands: 100_000,
      signal: ctx.signal,
      onWrite: (w) => this.judge(w),
      // Judged write by write: a kept timeline would only hold up to maxCommands writes in the smoke Job's memory.
      keepTimeline: false,
    });
  }

  start(): void {
    this.writer.start();
  }

  /** Stops the loop; an outage still going on is counted up to now. */
  async stop(): Promise<void> {
    await this.writer.stop();
    if (this.failedSinceOk) this.unavailableMs = Math.max(this.unavailableMs, Date.now() - this.lastOk);
  }

  get running(): boolean {
    return this.writer.running;
  }
  get attempts(): number {
    return this.writer.attempts;
  }
  get errors(): number {
    return this.writer.errors;
  }

  private judge(w: Write): void {
    if (w.result === "error") {
      // A hung old master gives timeouts, not MOVED: ask the cluster for the current slot map (ioredis dedupes refreshes).
      if (this.running) this.client.refreshSlotsCache();
      this.firstErrorAt ??= w.end;
      this.lastError = w.error;
      this.failedSinceOk = true;
      const kind = errorKind(w.error!);
      this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
      return;
    }
    // unacked: accepted, durability unknown (WAIT failed, or no replica attached, e.g. before the old master rejoined).
    if (w.result === "acked") this.acked.set(w.key, w.value);
    else this.notAcked++;
    if (this.failedSinceOk) this.unavailableMs = Math.max(this.unavailableMs, w.end - this.lastOk);
    this.failedSinceOk = false;
    this.lastOk = w.end;
    if (w.resent) this.firstFollowedOk ??= w.accepted;
    if (this.since !== undefined && w.accepted! >= this.since) {
      this.firstOkSince ??= w.accepted;
      if (w.result === "acked") this.firstAckedSince ??= w.end;
    }
  }

  /**
   * When writes were accepted again after the promotion: the first accepted after the check saw the promotion, or
   * earlier when the client found the promoted replica first.
   */
  get resumedAt(): number | undefined {
    if (this.firstOkSince === undefined) return undefined;
    return Math.min(this.firstOkSince, this.firstFollowedOk ?? Infinity);
  }

  measurements(): Measurements {
    return {
      writes_attempted: this.attempts,
      writes_acked: this.acked.size,
      writes_not_acked: this.notAcked,
      write_errors: this.errors,
      write_error_kinds: [...this.errorKinds.entries()].map(([k, v]) => `${k}×${v}`).join(", "),
      unavailable_ms: this.unavailableMs,
    };
  }
}

/** Why the replicas of `target` did not take over: cluster-replica-no-failover and the link state of each. */
async function replicaFailoverState(ctx: SmokeContext, target: MasterInfo): Promise<{ text: string; explained: boolean }> {
  let explained = false;
  const parts = await Promise.all(
    target.replicas.map(async (r) => {
      try {
        const conn = await ctx.pool.get(r.addr);
        const [cfg, info] = await Promise.all([
          (conn.call("CONFIG", "GET", "cluster-replica-no-failover") as Promise<string[]>).catch((e) => ["", `? (${errorText(e)})`]),
          conn.info("replication") as Promise<string>,
        ]);
        const repl = parseInfo(info);
        const link = repl.master_link_status ?? "?";
        const down = repl.master_link_down_since_seconds;
        // Either one keeps this replica out of the election whatever the freeze length.
        if (cfg[1] === "yes" || link !== "up") explained = true;
        return `${r.label}: cluster-replica-no-failover ${cfg[1] ?? "?"}, master_link_status ${link}${down && link !== "up" ? ` (down ${down} s)` : ""}`;
      } catch (e) {
        return `${r.label}: did not answer (${errorText(e)})`;
      }
    }),
  );
  return { text: parts.join("; "), explained };
}

/**
 * How the kill failover takes its master down and what says it is back. The smoke test freezes it with DEBUG SLEEP
 * (it needs no access to the node's process); a harness that owns the processes may kill it instead
 * (tools/bench/failover.ts), the same check judging both.
 */
export interface MasterOutage {
  /** The messages' noun: "freeze", "kill". */
  noun: string;
  /** What was done, for the log and the details: "froze master X for 14000 ms with DEBUG SLEEP". */
  what: string;
  /** How long the master is kept down (ms). */
  lengthMs: number;
  /** Recorded with the check's measurements (freeze_ms, down_ms). */
  measurements: Measurements;
  /** Starts the outage at once; settles with the time the master runs again (rejects: the outage itself failed). */
  begin(): Promise<number>;
  /** Bound of the wait for that, from the start. */
  backWithinMs: number;
  /** How to make it longer, for a message that blames its length: "a longer --freeze-ms". */
  longer: string;
}

/** Prepares an outage of `target` (probes that it can be done) before any key is written. */
export type OutageFactory = (ctx: SmokeContext, target: MasterInfo, nt: number) => Promise<MasterOutage>;

/** The smoke test's outage: DEBUG SLEEP freezes the server like a paused container, through any restart policy. */
export const freezeOutage: OutageFactory = async (ctx, target, nt) => {
  try {
    await (await ctx.pool.get(target.addr)).call("DEBUG", "SLEEP", "0");
  } catch (e) {
    const msg = errorText(e);
    throw new CheckFailure([
      /not allowed|unknown command|NOPERM/i.test(msg)
        ? `the kill failover freezes a master with DEBUG SLEEP, which ${target.label} refused (${msg}): set enable-debug-command yes (stack config enableDebugCommand: yes, dev only) or use --failover manual`
        : `DEBUG SLEEP 0 on ${target.label} failed: ${msg}`,
    ]);
  }
  const freezeMs = freezeMsFor(ctx.opts, nt);
  const sleeper = await ctx.pool.dedicated(target.addr, { commandTimeoutMs: null });
  return {
    noun: "freeze",
    what: `froze master ${target.label} for ${freezeMs} ms with DEBUG SLEEP`,
    lengthMs: freezeMs,
    measurements: { freeze_ms: freezeMs },
    begin: () => sleeper.call("DEBUG", "SLEEP", (freezeMs / 1000).toFixed(3)).then(() => Date.now()),
    backWithinMs: freezeMs + 5000,
    longer: "a longer --freeze-ms",
  };
};

async function kill(ctx: SmokeContext, target: MasterInfo, nt: number, m: Measurements, track: (k: string[]) => void, prepare: OutageFactory) {
  let outage: MasterOutage;
  try {
    outage = await prepare(ctx, target, nt);
  } catch (e) {
    if (e instanceof CheckFailure) throw new CheckFailure(e.problems, m);
    throw e;
  }
  Object.assign(m, outage.measurements);
  const keys = await writePreKeys(ctx, target);

  const writerClient = ctx.cluster(OUTAGE_WRITER.client);
  await writerClient.connect();
  const writer = new OutageWriter(ctx, writerClient, target.addr);
  writer.start();
  let writerKeys: string[] = [];
  let promotedAt = 0;
  track(keys);
  try {
    await ctx.sleep(300); // the writer has a baseline before the outage

    const t0 = Date.now();
    let wokeSeen: number | undefined;
    // An outage that failed by itself (the master maybe never down) ends the wait below at once, and is the report.
    let outageError: unknown;
    const woke = outage.begin().then((at) => (wokeSeen = at));
    woke.catch((e) => (outageError = e));
    ctx.log(`failover: ${outage.what} (cluster-node-timeout ${nt} ms); writer running`);

    const others = ctx.nodes.filter((a) => a !== target.addr);
    const replicaIds = new Set(target.replicas.map((r) => r.id));
    let failAt: number | undefined;
    let promoted: { id: string; addr: string; label: string; at: number } | undefined;
    let stateOkAt: number | undefined;
    let recovered = false;
    let lastView = "";
    const limit = outage.lengthMs + 2 * nt + 10_000;
    await ctx.waitFor("waiting for failure detection, promotion and cluster_state ok", limit, async () => {
      // After a promotion the wait goes on: the outage's error is reported once the node should be back.
      if (outageError !== undefined && !promoted) return true;
      const snaps = await ctx.snapshot(others);
      const now = Date.now();
      for (const s of snaps) {
        const t = s.lines?.find((n) => n.id === target.id);
        if (t?.flags.includes("fail") && failAt === undefined) failAt = now;
        const me = s.lines?.find(isMyself);
        if (!promoted && me && replicaIds.has(me.id) && isMaster(me) && me.slots.length > 0) {
          promoted = { id: me.id, addr: s.addr, label: s.label, at: now };
          writer.since = now;
          ctx.log(`failover: ${s.label} promoted to master ${now - t0} ms after the ${outage.noun}`);
        }
      }
      lastView = snaps.map((s) => `${s.label}: ${s.error ?? `cluster_state:${s.info?.cluster_state}, role ${s.lines?.find(isMyself) ? roleOf(s.lines.find(isMyself)!) : "?"}`}`).join("; ");
      if (promoted && snaps.every((s) => s.info?.cluster_state === "ok")) {
        stateOkAt = now;
        return true;
      }
      // No promotion can follow any more once the old master is awake and every other node again sees it as a healthy
      // master with its slots: replicas only start an election, and voters only vote, while it is flagged FAIL.
      if (!promoted && wokeSeen !== undefined && now - wokeSeen > 500 && snaps.every((s) => {
        const t = s.lines?.find((n) => n.id === target.id);
        return s.info?.cluster_state === "ok" && t !== undefined && isMaster(t) && t.slots.length > 0 && badFlags(t).length === 0;
      })) {
        recovered = true;
        return true;
      }
      return undefined;
    }, 100);
    m.fail_detected_ms = failAt ? failAt - t0 : -1;
    if (outageError !== undefined && !promoted) {
      if (outageError instanceof Aborted) throw outageError;
      throw new CheckFailure([`the ${outage.noun} of ${target.label} failed by itself: ${errorText(outageError)}`], m);
    }
    if (!promoted) {
      const when = recovered ? `; ${target.label} was back after ${wokeSeen! - t0} ms and is master of its slots again everywhere` : ` within ${limit} ms of the ${outage.noun}`;
      let why: string;
      if (failAt === undefined) {
        why = `the FAIL flag was never seen: the ${outage.noun} (${outage.lengthMs} ms) ended before the cluster flagged the master — ${outage.longer}, above cluster-node-timeout ${nt} ms plus failure propagation`;
      } else {
        // The outage outlasted FAIL: report what keeps the replicas out of the election rather than its length,
        // which is only suspect when nothing else explains it and the election had little time.
        const state = await replicaFailoverState(ctx, target);
        const downAfterFail = (wokeSeen ?? Date.now()) - failAt;
        const short = !state.explained && downAfterFail < 2000 ? `; the ${outage.noun} ended only ${downAfterFail} ms after FAIL, ${outage.longer} gives the election more time` : "";
        why = `FAIL flagged after ${failAt - t0} ms and the master stayed down ${downAfterFail} ms longer, yet no replica took over; replicas: ${state.text || "none"}${short}`;
      }
      throw new CheckFailure([`no replica of ${target.label} was promoted${when} (${why}); views: ${lastView}`], m);
    }
    m.promoted_ms = promoted.at - t0;
    promotedAt = promoted.at;
    if (!stateOkAt) throw new CheckFailure([`${promoted.label} was promoted but cluster_state did not return to ok on every node within ${limit} ms: ${lastView}`], m);
    m.state_ok_ms = stateOkAt - t0;
    ctx.log(`failover: cluster_state ok on every other node ${m.state_ok_ms} ms after the ${outage.noun}`);

    // The old master comes back, sees its slots taken by a newer epoch and must rejoin as a replica.
    ctx.setStep(`waiting for ${target.label} to be back`);
    const wokeAt = await Promise.race([woke, ctx.sleep(outage.backWithinMs - (Date.now() - t0)).then(() => undefined)]).catch((e) => {
      if (e instanceof Aborted) throw e;
      throw new CheckFailure([`the ${outage.noun} of ${target.label} ended with an error: ${errorText(e)}`], m);
    });
    if (!wokeAt) throw new CheckFailure([`${target.label} was not back from the ${outage.noun} (${outage.lengthMs} ms) within ${outage.backWithinMs} ms`], m);
    let rejoinProblem = "";
    const rejoin = await ctx.waitFor(`waiting for ${target.label} to rejoin as a replica of ${promoted.label}`, 30_000 + 2 * nt, async () => {
      const { role, master_link_status: link } = parseInfo((await (await ctx.pool.get(target.addr)).info("replication")) as string);
      if (role !== "slave" || link !== "up") {
        rejoinProblem = `${target.label} reports role ${role}, link ${link ?? "-"}`;
        return undefined;
      }
      rejoinProblem = swapSeen(await ctx.snapshot(), promoted!.id, target.id) ?? convergenceProblem(await ctx.snapshot()) ?? "";
      return rejoinProblem ? undefined : true;
    }, 200);
    if (!rejoin.value) throw new CheckFailure([`the old master did not rejoin as a replica within ${30_000 + 2 * nt} ms: ${rejoinProblem || rejoin.last}`], m);
    m.rejoined_ms = Date.now() - t0;
    ctx.log(`failover: ${target.label} rejoined as a replica of ${promoted.label} ${m.rejoined_ms} ms after the ${outage.noun}`);
    // Writes must resume on the promoted master and, now that it has a replica again, be acknowledged by it.
    const resumeLimit = 5000 + nt;
    await ctx.waitFor("waiting for a write acknowledged by a replica after the promotion", resumeLimit, async () => (writer.firstAckedSince !== undefined || !writer.running ? true : undefined), 50);
    const resumedAt = writer.resumedAt;
    if (resumedAt !== undefined) {
      m.writes_resumed_ms = resumedAt - t0;
      m.writes_resumed_after_promotion_ms = resumedAt - promoted.at;
    }
    if (writer.firstAckedSince !== undefined) m.first_acked_after_promotion_ms = writer.firstAckedSince - t0;
  } finally {
    await writer.stop();
    writerKeys = [...writer.acked.keys()];
    track([...keys, ...writerKeys]);
    // Recorded on failures too (m is the failure's measurement object).
    Object.assign(m, writer.measurements());
  }

  ctx.setStep(`verifying every key written before the ${outage.noun} and every write acknowledged with WAIT 1`);
  const before = await missingKeys(ctx.data(), keys);
  const acked = await missingKeys(ctx.data(), writerKeys);
  m.lost_keys_written_before = before.missing.length;
  m.lost_acked_writes = acked.missing.length;
  const problems: string[] = [];
  if (before.missing.length || before.errors.length) problems.push(`${before.missing.length} of ${keys.length} keys written before the ${outage.noun} are missing and ${before.errors.length} reads failed (e.g. ${before.missing[0] ?? before.errors[0]})`);
  if (acked.missing.length || acked.errors.length) problems.push(`${acked.missing.length} of ${writerKeys.length} writes acknowledged with WAIT 1 were lost and ${acked.errors.length} reads failed (e.g. ${acked.missing[0] ?? acked.errors[0]})`);
  if (writer.resumedAt === undefined) {
    problems.push(`writes to the slots of ${target.label} did not resume after the promotion: none accepted before the writer stopped (${writer.errors} errors, last: ${writer.lastError ?? "-"}; unavailable ${writer.unavailableMs} ms)`);
  } else if (writer.firstAckedSince === undefined) {
    problems.push(`no write after the promotion was acknowledged by a replica (WAIT 1) within ${5000 + nt} ms of the old master rejoining`);
  }
  if (problems.length) throw new CheckFailure(problems, m);

  if (ctx.opts.failBack) {
    const t = await ctx.refreshTopology();
    const now = t.masters.find((x) => x.replicas.some((r) => r.id === target.id));
    if (!now) throw new CheckFailure([`fail back: ${target.label} is not a replica of any master`], m);
    await failBack(ctx, m, nt, promotedAt, target, now);
  }
  return {
    details: `${outage.what}: FAIL after ${m.fail_detected_ms} ms, replica promoted after ${m.promoted_ms} ms, cluster_state ok everywhere after ${m.state_ok_ms} ms, old master rejoined as replica after ${m.rejoined_ms} ms; writer: writes resumed ${m.writes_resumed_after_promotion_ms} ms after the promotion (${m.writes_resumed_ms} ms after the ${outage.noun}), ${writer.acked.size} acked, ${writer.errors} errors, unavailable ${writer.unavailableMs} ms, acked writes lost 0`,
    measurements: m,
  };
}
