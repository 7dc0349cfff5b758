// The chaos workload: ioredis cluster clients on the host side of the network lab, one writer per shard and mode
// (SET + WAIT 1, SET alone) on keys written once with values no other write uses. After the run the writers'
// timelines become the history the checker judges, and every acknowledged key is read back.
import calculateSlot = require("cluster-key-slot");
import { Cluster } from "ioredis";
import { sleep } from "../../smoke/time";
import { Writer, type Write } from "../../smoke/writer";
import type { FinalValues } from "../../testbed/workload/checker";
import type { WriteOp } from "../../testbed/workload/history";

/** A hash tag whose slot is `slot`'s range owner's: searched by trying tags until one lands in the shard's first slot. */
export function hashTagFor(slot: number, shard: number): string {
  for (let k = 0; k < 2_000_000; k++) {
    const tag = `s${shard}-${k}`;
    if (calculateSlot(tag) === slot) return tag;
  }
  throw new Error(`no hash tag found for slot ${slot}`);
}

/** A write's outcome as the checker counts it: a refusal was not applied; no reply or a lost connection may have been. */
function outcomeOf(w: Write): WriteOp["outcome"] {
  if (w.result === "acked" || w.result === "unacked") return "ok";
  if (w.result === "pending" || w.noReply) return "unknown";
  return /timed? ?out|Connection is closed|ECONNRESET|EPIPE/i.test(w.error ?? "") ? "unknown" : "fail";
}

export class Workload {
  readonly clients: Cluster[];
  private readonly writers: { writer: Writer; id: number; shard: number; mode: "wait" | "plain" }[] = [];

  /** `t0`: the run's start (history times are ms since then). */
  constructor(hosts: string[], port: number, password: string, private readonly t0: number) {
    const client = () => {
      const c = new Cluster(hosts.map((host) => ({ host, port })), {
        maxRedirections: 16,
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 200,
        retryDelayOnTryAgain: 100,
        slotsRefreshTimeout: 1000,
        slotsRefreshInterval: 1000,
        clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
        redisOptions: { password, connectTimeout: 1000, commandTimeout: 2000, maxRetriesPerRequest: 2 },
      });
      c.on("error", () => undefined);
      return c;
    };
    // WAIT blocks its connection until the timeout, so WAIT and plain writers get separate clients (else plain writes
    // queue behind it).
    this.clients = [client(), client()];
  }

  /** Starts a WAIT and a plain writer on each shard's hash tag. */
  start(tags: string[], runId: string): void {
    for (let shard = 0; shard < tags.length; shard++) {
      for (const mode of ["wait", "plain"] as const) {
        const id = this.writers.length;
        const writer = new Writer(mode === "wait" ? this.clients[1] : this.clients[0], {
          key: (seq) => `{${tags[shard]}}:${runId}:${id}:${seq}`,
          value: (_, seq) => `${runId}-${id}-${seq}-${Date.now() - this.t0}`,
          ...(mode === "wait" ? { wait: { replicas: 1, timeoutMs: 1000 } } : {}),
          maxCommands: 2_000_000,
          commandTimeoutMs: 5000,
          pause: { ok: 10, error: 100 },
        }).start();
        this.writers.push({ writer, id, shard, mode });
      }
    }
  }

  /** Stops every writer (a command still unanswered after `boundMs` stays unknown). */
  async stop(boundMs = 15_000): Promise<void> {
    await Promise.all(this.writers.map((w) => w.writer.stop(boundMs)));
  }

  /** Stops at once, from an exit hook. */
  halt(): void {
    for (const w of this.writers) void w.writer.stop(0);
    for (const c of this.clients) c.disconnect();
  }

  /** Every write as the history records it, in the order they started. */
  ops(): WriteOp[] {
    const ops = this.writers.flatMap(({ writer, id, shard, mode }) =>
      writer.timeline.map((w): WriteOp => ({
        worker: id, shard, mode, key: w.key, value: w.value,
        start: w.start - this.t0, end: w.end ? w.end - this.t0 : 0,
        outcome: outcomeOf(w),
        ...(w.replicas !== undefined ? { replicas: w.replicas } : {}),
        ...(w.result === "error" ? { error: w.error!.slice(0, 120) } : {}),
      })),
    );
    return ops.sort((a, b) => a.start - b.start);
  }

  /** Reads back every key a client was told was written (one MGET per batch: a shard's keys share one slot). */
  async readBack(ops: WriteOp[]): Promise<FinalValues> {
    const client = this.clients[0];
    const values: FinalValues = new Map();
    const bySlotTag = new Map<string, string[]>();
    for (const o of ops) {
      if (o.outcome !== "ok") continue;
      const tag = o.key.slice(0, o.key.indexOf("}") + 1);
      if (!bySlotTag.has(tag)) bySlotTag.set(tag, []);
      bySlotTag.get(tag)!.push(o.key);
    }
    for (const keys of bySlotTag.values()) {
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000);
        let got: (string | null)[] | undefined;
        for (let attempt = 0; attempt < 10 && !got; attempt++) {
          try {
            got = await client.mget(...batch);
          } catch {
            await sleep(500);
          }
        }
        if (!got) throw new Error("could not read the written keys back");
        batch.forEach((k, j) => values.set(k, got![j]));
      }
    }
    return values;
  }
}
