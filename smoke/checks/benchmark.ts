// benchmark: the load generator (smoke/load) with small defaults — closed-loop SET then GET over every slot, an
// optional open-loop GET at a fixed rate; ops/s, p50/p99/p99.9/max per command, ops/s served by each master (INFO
// commandstats), the run's shape as counted (connections, requests in flight per connection, commands per socket
// write; commands per read on the servers) and what limited the run. No thresholds: numbers are reported, only errors fail.
import type { SmokeContext } from "../context";
import { cleanup, KEY_TTL_S } from "../data";
import { keysPerSlot } from "../load/keys";
import { masterShares, measuredPhase, type MeasuredPhase } from "../load/measure";
import { shapeLabel } from "../load/shape";
import { CheckFailure, type BenchOptions, type Measurements } from "../types";

/** The generator's key prefix for one run: one key per slot under it. */
export const benchPrefix = (runId: string) => `smoke:${runId}:b`;

/** Measurements of one phase under `name_` (set_ops_per_s, set_p99_ms, …; per master: set_ops_per_s@host:port). */
export function phaseMeasurements(name: string, p: MeasuredPhase): Measurements {
  const r = p.result;
  const m: Measurements = {
    [`${name}_ops_per_s`]: r.opsPerSec,
    [`${name}_p50_ms`]: r.latency.p50Ms,
    [`${name}_p99_ms`]: r.latency.p99Ms,
    [`${name}_p999_ms`]: r.latency.p999Ms,
    [`${name}_max_ms`]: r.latency.maxMs,
    [`${name}_errors`]: r.errors,
    [`${name}_client_cpu_pct`]: p.usage.clientCpuPct,
    [`${name}_servers_cpu_pct`]: p.usage.serversCpuPct,
    [`${name}_limit`]: p.usage.limit,
    [`${name}_shape`]: shapeLabel(r.shape),
    [`${name}_connections`]: r.shape.connections,
    [`${name}_in_flight_per_connection`]: r.shape.inFlightPerConnection,
    [`${name}_commands_per_write`]: r.shape.commandsPerWrite,
  };
  if (p.usage.commandsPerRead !== undefined) m[`${name}_server_commands_per_read`] = p.usage.commandsPerRead;
  if (r.mode === "open") {
    m[`${name}_target_rate`] = r.targetRate!;
    m[`${name}_sent_rate`] = r.sentRate!;
  }
  for (const n of p.usage.nodes) if (n.role === "master") m[`${name}_ops_per_s@${n.addr}`] = n.opsPerSec;
  return m;
}

export function phaseLine(label: string, p: MeasuredPhase): string {
  const r = p.result;
  const l = r.latency;
  const srv = p.usage.commandsPerRead !== undefined ? `; servers: ${p.usage.commandsPerRead} commands per read` : "";
  return `${label} ${r.opsPerSec} ops/s (p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms, p99.9 ${l.p999Ms} ms, max ${l.maxMs} ms) [${shapeLabel(r.shape)}${srv}]`;
}

export async function checkBenchmark(ctx: SmokeContext): Promise<{ details: string; measurements: Measurements }> {
  const o: BenchOptions = ctx.opts.bench;
  const prefix = benchPrefix(ctx.runId);
  const base = {
    pipeline: o.pipeline, connectionsPerNode: o.connections, concurrency: o.concurrency, ops: o.ops,
    valueSize: o.valueSize, keyPrefix: prefix, ttlSeconds: KEY_TTL_S,
  };
  const m: Measurements = { ops: o.ops, concurrency: o.concurrency, commands_per_request: o.pipeline, connections_per_master: o.connections, value_size: o.valueSize };
  const problems: string[] = [];
  const lines: string[] = [];
  const phase = async (name: string, label: string, opts: Parameters<typeof measuredPhase>[1]) => {
    ctx.setStep(label);
    const p = await measuredPhase(ctx, opts);
    ctx.checkpoint();
    Object.assign(m, phaseMeasurements(name, p));
    lines.push(phaseLine(name.toUpperCase(), p));
    if (p.result.errors) problems.push(`${p.result.errors} of ${p.result.ops} ${name.toUpperCase()}s failed (e.g. ${p.result.firstError})`);
    return p;
  };
  try {
    // What was asked; the shape each phase really had (counted) is in its line.
    const desc = `${o.concurrency} requests of ${o.pipeline} command(s) in flight over ${o.connections} connection(s) per master, coalesced per tick`;
    const set = await phase("set", `SET × ${o.ops} closed loop (${desc})`, { ...base, command: "set" });
    await phase("get", `GET × ${o.ops} closed loop (${desc})`, { ...base, command: "get" });
    if (o.rate > 0) {
      const open = await phase("get_open", `GET × ${o.ops} open loop at ${o.rate}/s`, { ...base, command: "get", rate: o.rate });
      if (open.result.unsentOps) problems.push(`open loop: the cluster did not keep up with ${o.rate} GET/s (${open.result.unsentOps} commands not sent)`);
    }
    const details = `${lines.join(", ")}; ${desc}; SET per master: ${masterShares(set.usage)}; limit: ${set.usage.limit}`;
    if (problems.length) throw new CheckFailure(problems, m, details);
    return { details, measurements: m };
  } finally {
    ctx.setStep("deleting the benchmark keys");
    await cleanup(ctx, keysPerSlot(prefix));
  }
}
