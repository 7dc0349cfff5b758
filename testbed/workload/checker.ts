// Judges a chaos run after the fact from the client history and the final state: acknowledged writes lost (WAIT and
// plain), per-shard unavailability windows, time to promotion, and the final cluster checks.
import { ackedPlain, ackedUnreplicated, ackedWithWait, type FaultEvent, type History, type WriteOp } from "./history";

/** Values read back at the end: key -> value (absent key: missing). */
export type FinalValues = Map<string, string | null>;

export interface FinalChecks {
  /** `redis-cli --cluster check` exit code and output. */
  clusterCheck: { code: number | null; output: string };
  /** Per master: every replica caught up and holding the same data (DBSIZE and DEBUG DIGEST). */
  replicas: { master: string; replica: string; equal: boolean; detail: string }[];
}

export interface Window {
  shard: number;
  start: number;
  end: number;
}

export interface FaultRow {
  fault: FaultEvent;
  /** Longest unavailability of any shard overlapping the fault (ms), and of the target's shard. */
  maxUnavailableMs: number;
  targetShardUnavailableMs?: number;
  lostWait: number;
  lostPlain: number;
  lostUnreplicated: number;
}

export interface Verdict {
  ops: { total: number; ok: number; fail: number; unknown: number; ackedWait: number; ackedPlain: number; ackedUnreplicated: number };
  lost: { wait: WriteOp[]; plain: WriteOp[]; unreplicated: WriteOp[] };
  /** What the final read returned for each lost key (null: missing). */
  found: Record<string, string | null>;
  windows: Window[];
  rows: FaultRow[];
  final: FinalChecks;
  clusterCheckClean: boolean;
  replicasEqual: boolean;
  /** Problems that fail the run (not documented Redis behaviour). */
  failures: string[];
  /** Losses Redis documents (asynchronous replication: a partitioned or failing master's un-replicated writes). */
  explained: string[];
}

/** A shard is unavailable while no write to it completes successfully for longer than `gapMs`. */
export function unavailability(h: History, gapMs = 1000): Window[] {
  const windows: Window[] = [];
  for (let s = 0; s < h.shards; s++) {
    const oks = h.ops.filter((o) => o.shard === s && o.outcome === "ok").map((o) => o.end).sort((a, b) => a - b);
    const anyOps = h.ops.filter((o) => o.shard === s);
    if (anyOps.length === 0) continue;
    let prev = Math.min(...anyOps.map((o) => o.start));
    for (const t of [...oks, h.durationMs]) {
      if (t - prev > gapMs) windows.push({ shard: s, start: prev, end: t });
      prev = Math.max(prev, t);
    }
  }
  return windows;
}

const overlaps = (w: { start: number; end: number }, f: FaultEvent) => w.start < f.recovered && w.end > f.start;
/** The fault a write belongs to: the last one that began before the write ended (losses surface after the fault). */
function faultOf(o: WriteOp, faults: FaultEvent[]): FaultEvent | undefined {
  let found: FaultEvent | undefined;
  for (const f of faults) if (f.start <= o.end) found = f;
  return found;
}

export function check(h: History, finalValues: FinalValues, final: FinalChecks): Verdict {
  const lostOf = (pred: (o: WriteOp) => boolean) => h.ops.filter((o) => pred(o) && finalValues.get(o.key) !== o.value);
  const lost = { wait: lostOf(ackedWithWait), plain: lostOf(ackedPlain), unreplicated: lostOf(ackedUnreplicated) };
  const windows = unavailability(h);
  const rows: FaultRow[] = h.faults.map((f) => {
    const ws = windows.filter((w) => overlaps(w, f));
    const len = (w: Window) => Math.min(w.end, f.recovered) - Math.max(w.start, f.start);
    const target = f.shard === undefined ? [] : ws.filter((w) => w.shard === f.shard);
    const mine = (o: WriteOp) => faultOf(o, h.faults) === f;
    return {
      fault: f,
      maxUnavailableMs: Math.max(0, ...ws.map(len)),
      targetShardUnavailableMs: f.shard === undefined ? undefined : Math.max(0, ...target.map(len)),
      lostWait: lost.wait.filter(mine).length,
      lostPlain: lost.plain.filter(mine).length,
      lostUnreplicated: lost.unreplicated.filter(mine).length,
    };
  });
  const clusterCheckClean = final.clusterCheck.code === 0 && !/\[ERR\]|\[WARNING\]/.test(final.clusterCheck.output);
  const replicasEqual = final.replicas.length > 0 && final.replicas.every((r) => r.equal);
  const failures: string[] = [];
  const explained: string[] = [];
  if (lost.wait.length > 0) {
    failures.push(`${lost.wait.length} WAIT-acknowledged writes lost: ${lost.wait.slice(0, 5).map((o) => o.key).join(", ")}`);
  }
  for (const r of rows) {
    if (r.lostPlain + r.lostUnreplicated > 0) {
      explained.push(
        `${r.fault.name} (${r.fault.target}): ${r.lostPlain + r.lostUnreplicated} writes acknowledged without a replica's confirmation were lost. ` +
          "Redis Cluster replicates asynchronously: writes a master accepts that no replica received are dropped when a replica " +
          "is promoted (the minority-side master keeps accepting writes until cluster-node-timeout; see the Redis cluster spec, 'Write safety').",
      );
    }
  }
  if (!clusterCheckClean) failures.push(`redis-cli --cluster check is not clean (exit ${final.clusterCheck.code})`);
  if (!replicasEqual) failures.push(`replicas differ from their masters: ${final.replicas.filter((r) => !r.equal).map((r) => `${r.replica} vs ${r.master}: ${r.detail}`).join("; ") || "none checked"}`);
  for (const f of h.faults) if (!f.recoveredOk) failures.push(`${f.name} (${f.target}): the cluster did not recover within its bound`);
  const count = (p: (o: WriteOp) => boolean) => h.ops.filter(p).length;
  return {
    ops: {
      total: h.ops.length,
      ok: count((o) => o.outcome === "ok"),
      fail: count((o) => o.outcome === "fail"),
      unknown: count((o) => o.outcome === "unknown"),
      ackedWait: count(ackedWithWait),
      ackedPlain: count(ackedPlain),
      ackedUnreplicated: count(ackedUnreplicated),
    },
    lost,
    found: Object.fromEntries([...lost.wait, ...lost.plain, ...lost.unreplicated].map((o) => [o.key, finalValues.get(o.key) ?? null])),
    windows,
    rows,
    final,
    clusterCheckClean,
    replicasEqual,
    failures,
    explained,
  };
}
