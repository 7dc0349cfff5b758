// A client application during a rotation: writes `<prefix><n>` one command at a time until stopped, and records every
// failed command and every slow one (judged after the run, never during it). Bounded: at most 1,000,000 commands, 10 s each.
import type { Cluster } from "ioredis";

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
  let stop = false;
  let ok = 0;
  const errors: string[] = [];
  const errorAt: number[] = [];
  const slow: { at: number; ms: number }[] = [];
  const okPerSecond: number[] = [];
  const startedAt = Date.now();
  const done = (async () => {
    for (let n = 0; !stop && n < 1_000_000; n++) {
      let t: NodeJS.Timeout | undefined;
      const start = Date.now();
      try {
        await Promise.race([client.set(`${prefix}${n % 5000}`, String(n)), new Promise((_, rej) => (t = setTimeout(() => rej(new Error("SET: no reply in 10 s")), 10_000)))]);
        ok++;
        const sec = Math.floor((Date.now() - startedAt) / 1000);
        while (okPerSecond.length <= sec) okPerSecond.push(0);
        okPerSecond[sec]++;
      } catch (e) {
        errors.push((e as Error).message);
        errorAt.push(Date.now());
      } finally {
        clearTimeout(t);
        const ms = Date.now() - start;
        if (ms >= 100) slow.push({ at: Date.now(), ms });
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return {
    async stop() {
      stop = true;
      await done;
      client.disconnect();
      return { ok, errors, errorAt, slow, okPerSecond, startedAt };
    },
  };
}
