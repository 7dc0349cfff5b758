// Reference loops through the ioredis Cluster client, for the bench's comparison rows: the tutorial's sequential loop
// (one SET awaited after another) and the same client with auto-pipelining and requests in flight.
import type { Cluster } from "ioredis";
import { performance } from "node:perf_hooks";
import { errorText } from "../clients";
import { LatencyHistogram } from "./histogram";
import type { LoadCommand, LoadResult } from "./generator";

/** The generator's figures that a plain client loop also has (no lanes, targets or histogram object). */
export type LoopResult = Pick<LoadResult, "command" | "ops" | "okOps" | "errors" | "firstError" | "ms" | "opsPerSec" | "latency" | "clientCpuMs">;

/** `concurrency` async loops, each awaiting its command before the next; command i uses keys[i * 7919 % keys.length]. */
export async function ioredisLoop(client: Cluster, o: { command: LoadCommand; ops: number; concurrency: number; keys: string[]; value: string }): Promise<LoopResult> {
  const hist = new LatencyHistogram();
  let next = 0;
  let okOps = 0;
  let errors = 0;
  let firstError: string | undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const loop = async () => {
    for (let i = next++; i < o.ops; i = next++) {
      // A stride coprime with the key count walks every key, consecutive commands on different slots and masters.
      const k = o.keys[(i * 7919) % o.keys.length];
      const s = performance.now();
      try {
        await (o.command === "set" ? client.set(k, o.value) : client.get(k));
        okOps++;
      } catch (e) {
        errors++;
        firstError ??= `${o.command.toUpperCase()} ${k}: ${errorText(e)}`;
      }
      hist.record((performance.now() - s) * 1000);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.ops) }, loop));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    command: o.command, ops: o.ops, okOps, errors, firstError, ms: Math.round(ms),
    opsPerSec: Math.round((okOps / Math.max(ms, 1e-3)) * 1000), latency: hist.summary(), clientCpuMs: Math.round((cpu.user + cpu.system) / 1000),
  };
}
