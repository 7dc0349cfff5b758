// benchmark: concurrent SET then GET through the ioredis Cluster client (configured for failover), with optional
// pipelining; ops/s and p50/p99 latency per command. No thresholds: numbers are reported, only errors fail.
import { errorText } from "../clients";
import type { SmokeContext } from "../context";
import { cleanup, KEY_TTL_S } from "../data";
import { CheckFailure, type BenchOptions, type Measurements } from "../types";

export interface PhaseResult {
  /** Commands attempted. */
  ops: number;
  /** Commands that succeeded: the only ones counted in opsPerSec. */
  okOps: number;
  ms: number;
  /** Successful commands per second (failed ones never inflate it). */
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  firstError?: string;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** Hash tags per request so a pipeline stays in one slot; the tag space spreads requests over all masters. */
const TAGS = 1024;

export function benchKey(runId: string, request: number, j: number, pipeline: number): string {
  return pipeline > 1 ? `smoke:${runId}:b:{${request % TAGS}}:${j}` : `smoke:${runId}:b:${request % (TAGS * 16)}`;
}

export async function runBenchPhase(ctx: SmokeContext, cmd: "set" | "get", o: BenchOptions): Promise<PhaseResult> {
  const client = ctx.benchClient!;
  const value = "x".repeat(o.valueSize);
  const requests = Math.ceil(o.ops / o.pipeline);
  const lat: number[] = [];
  let next = 0;
  let errors = 0;
  let okOps = 0;
  let firstError: string | undefined;
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    for (let req = next++; req < requests && !ctx.signal.aborted; req = next++) {
      const n = Math.min(o.pipeline, o.ops - req * o.pipeline);
      const s = process.hrtime.bigint();
      try {
        if (o.pipeline === 1) {
          const k = benchKey(ctx.runId, req, 0, 1);
          await (cmd === "set" ? client.set(k, value, "EX", KEY_TTL_S) : client.get(k));
          okOps++;
        } else {
          const p = client.pipeline();
          for (let j = 0; j < n; j++) {
            const k = benchKey(ctx.runId, req, j, o.pipeline);
            if (cmd === "set") p.set(k, value, "EX", KEY_TTL_S);
            else p.get(k);
          }
          const res = (await p.exec()) ?? [];
          const bad = res.filter(([e]) => e);
          okOps += res.length - bad.length;
          if (bad.length) {
            errors += bad.length;
            firstError ??= errorText(bad[0][0]);
          }
        }
      } catch (e) {
        errors += n;
        firstError ??= errorText(e);
      }
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, requests) }, worker));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  lat.sort((a, b) => a - b);
  return {
    ops: o.ops,
    okOps,
    ms: Math.round(ms),
    opsPerSec: Math.round((okOps / ms) * 1000),
    p50Ms: Number(percentile(lat, 50).toFixed(3)),
    p99Ms: Number(percentile(lat, 99).toFixed(3)),
    errors,
    firstError,
  };
}

/** Every key the benchmark may have written (for cleanup). */
export function benchKeys(runId: string, o: BenchOptions): string[] {
  const requests = Math.ceil(o.ops / o.pipeline);
  const keys = new Set<string>();
  for (let req = 0; req < Math.min(requests, o.pipeline > 1 ? TAGS : TAGS * 16); req++) {
    for (let j = 0; j < o.pipeline; j++) keys.add(benchKey(runId, req, j, o.pipeline));
  }
  return [...keys];
}

export async function checkBenchmark(ctx: SmokeContext): Promise<{ details: string; measurements: Measurements }> {
  const o = ctx.opts.bench;
  ctx.benchClient = ctx.cluster({ commandTimeoutMs: 10_000 });
  await ctx.benchClient.connect();
  try {
    ctx.setStep(`SET × ${o.ops} (concurrency ${o.concurrency}, pipeline ${o.pipeline})`);
    const set = await runBenchPhase(ctx, "set", o);
    ctx.setStep(`GET × ${o.ops} (concurrency ${o.concurrency}, pipeline ${o.pipeline})`);
    const get = await runBenchPhase(ctx, "get", o);
    const m: Measurements = {
      ops: o.ops, concurrency: o.concurrency, pipeline: o.pipeline, value_size: o.valueSize,
      set_ops_per_s: set.opsPerSec, set_p50_ms: set.p50Ms, set_p99_ms: set.p99Ms, set_errors: set.errors,
      get_ops_per_s: get.opsPerSec, get_p50_ms: get.p50Ms, get_p99_ms: get.p99Ms, get_errors: get.errors,
    };
    const problems: string[] = [];
    if (set.errors) problems.push(`${set.errors} of ${o.ops} SETs failed (e.g. ${set.firstError})`);
    if (get.errors) problems.push(`${get.errors} of ${o.ops} GETs failed (e.g. ${get.firstError})`);
    if (problems.length) throw new CheckFailure(problems, m);
    return {
      details: `SET ${set.opsPerSec} ops/s (p50 ${set.p50Ms} ms, p99 ${set.p99Ms} ms), GET ${get.opsPerSec} ops/s (p50 ${get.p50Ms} ms, p99 ${get.p99Ms} ms); concurrency ${o.concurrency}, pipeline ${o.pipeline}`,
      measurements: m,
    };
  } finally {
    ctx.setStep("deleting the benchmark keys");
    await cleanup(ctx, benchKeys(ctx.runId, o));
  }
}
