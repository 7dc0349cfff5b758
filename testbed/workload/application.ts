// A client application during a rotation or renewal: one plain SET of `<prefix><n>` at a time until stopped (the
// smoke writer), with what the rotation checks read: every failed command and when, the slow ones, and acknowledged
// writes per second. Bounded: at most 1,000,000 commands, 10 s each.
import type { Cluster } from "ioredis";
import { Writer } from "../../smoke/writer";

export interface WriterResult {
  ok: number;
  errors: string[];
  /** When each error happened (Date.now()), in the order of `errors`: a test can tell which step of a run caused it. */
  errorAt: number[];
  /** Commands that took 100 ms or more (an outage hidden by the client's retries shows here): end time and duration. */
  slow: { at: number; ms: number }[];
  /** Acknowledged writes per second since `startedAt` (Date.now() at the start): shows the writer kept writing through each step. */
  okPerSecond: number[];
  startedAt: number;
}

export function startWriter(client: Cluster, prefix: string): { stop(): Promise<WriterResult> } {
  const w = new Writer(client, { key: (n) => `${prefix}${n % 5000}`, value: (_, n) => String(n), maxCommands: 1_000_000, commandTimeoutMs: 10_000, pause: { ok: 2, error: 2 } }).start();
  return {
    async stop() {
      await w.stop();
      client.disconnect();
      const errors = w.errorsSeen();
      return { ok: w.acked, errors: errors.map((e) => e.message), errorAt: errors.map((e) => e.at), slow: w.slow(100), okPerSecond: w.ackedPerSecond(), startedAt: w.startedAt };
    },
  };
}
