// The record a chaos run leaves for the checker (Jepsen style: what clients saw and what the nemesis did, judged
// only after the run). Times are ms since the run started.

/** One client write: SET of a key written exactly once with a value no other op uses. */
export interface WriteOp {
  worker: number;
  shard: number;
  /** "wait": SET followed by WAIT 1 on the same connection; "plain": SET alone. */
  mode: "wait" | "plain";
  key: string;
  value: string;
  start: number;
  end: number;
  /** ok: SET answered OK. fail: an error (refused, never applied). unknown: timed out (may or may not be applied). */
  outcome: "ok" | "fail" | "unknown";
  /** Replicas that acknowledged within the WAIT timeout (wait mode, outcome ok). */
  replicas?: number;
  error?: string;
}

/** A fault as the nemesis applied it. */
export interface FaultEvent {
  name: string;
  /** What it hit, e.g. "node-2 (master of shard 1)". */
  target: string;
  shard?: number;
  start: number;
  /** When the fault was undone (partition healed, process restarted/continued). */
  healed: number;
  /** When the cluster was whole again (all nodes ok, replica links up) or the recovery bound ran out. */
  recovered: number;
  recoveredOk: boolean;
  /** First moment a replica of the target's shard reported itself master (ROLE), ms after start. */
  promotionMs?: number;
  notes?: string[];
}

export interface History {
  shards: number;
  ops: WriteOp[];
  faults: FaultEvent[];
  /** Total run length. */
  durationMs: number;
}

/** A write the client was told succeeded and that must therefore survive: WAIT-acked (>= 1 replica) or plain OK. */
export const ackedWithWait = (o: WriteOp) => o.outcome === "ok" && o.mode === "wait" && (o.replicas ?? 0) >= 1;
export const ackedPlain = (o: WriteOp) => o.outcome === "ok" && o.mode === "plain";
/** SET OK in wait mode but WAIT saw no replica: the client knows it is not replicated (reported apart). */
export const ackedUnreplicated = (o: WriteOp) => o.outcome === "ok" && o.mode === "wait" && (o.replicas ?? 0) < 1;
