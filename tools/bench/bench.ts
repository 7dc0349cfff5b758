// `npm run bench` (not part of npm test): the load generator (smoke/load) and `redis-benchmark --cluster` against the
// same local cluster in the same run, at each pipeline depth, with the ratio; the tutorial's sequential ioredis loop and
// ioredis auto-pipelining as reference rows; an open-loop row (fixed rate, latency from intended send times); per-node
// ops/s and CPU from INFO deltas, and what limited each configuration. `--json <file|->` for CI.
// The cluster has no password: redis-benchmark takes one only on argv (-a; it does not read REDISCLI_AUTH), which this
// project never does.
// ops/s counts successful commands only; when any command failed, its row gets no ratio and the exit code is 1.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command } from "commander";
import { startLocalCluster, type LocalCluster } from "../../testbed/local/harness";
import { loadStackSpecFile } from "../../testbed/local/stackSpec";
import { checkConnect } from "../../smoke/checks/connect";
import { SmokeContext } from "../../smoke/context";
import { ioredisLoop } from "../../smoke/load/baseline";
import { keysPerSlot } from "../../smoke/load/keys";
import type { LoadCommand } from "../../smoke/load/generator";
import { measuredPhase, usageWindow } from "../../smoke/load/measure";
import type { UsageReport } from "../../smoke/load/usage";
import { DEFAULT_OPTIONS } from "../../smoke/types";
import { canaryCost, type CanaryCost } from "./canaryCost";

/** ops/s per command from `redis-benchmark -q` output ("SET: 98765.43 requests per second, p50=0.255 msec"). */
export function parseRedisBenchmark(out: string): Record<string, { opsPerSec: number; p50Ms?: number }> {
  const res: Record<string, { opsPerSec: number; p50Ms?: number }> = {};
  for (const line of out.split(/[\r\n]+/)) {
    const m = /^([A-Z]+):\s+([\d.]+) requests per second(?:, p50=([\d.]+) msec)?/.exec(line.trim());
    if (m) res[m[1]] = { opsPerSec: Math.round(Number(m[2])), p50Ms: m[3] ? Number(m[3]) : undefined };
  }
  return res;
}

/** `redis-benchmark --csv` rows: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms". */
export function parseRedisBenchmarkCsv(out: string): Record<string, { opsPerSec: number; p50Ms: number; p99Ms: number; maxMs: number }> {
  const res: Record<string, { opsPerSec: number; p50Ms: number; p99Ms: number; maxMs: number }> = {};
  for (const line of out.split(/[\r\n]+/)) {
    const f = line.trim().split(",").map((x) => x.replace(/^"|"$/g, ""));
    if (f.length < 8 || f[0] === "test" || !/^[A-Z]/.test(f[0])) continue;
    res[f[0]] = { opsPerSec: Math.round(Number(f[1])), p50Ms: Number(f[4]), p99Ms: Number(f[6]), maxMs: Number(f[7]) };
  }
  return res;
}

/** CPU seconds of the shell's children from dash/bash `times` (second line: children's user and system time). */
export function parseTimes(out: string): number | undefined {
  const lines = out.trim().split("\n").filter((l) => /^\d+m[\d.]+s \d+m[\d.]+s$/.test(l.trim()));
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  return last.trim().split(" ").reduce((s, t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t)!;
    return s + Number(m[1]) * 60 + Number(m[2]);
  }, 0);
}

export interface BenchRow {
  /** What ran: generator, redis-benchmark, ioredis auto-pipelining, ioredis sequential. */
  tool: string;
  command: string;
  pipeline: number;
  mode: string;
  opsPerSec: number;
  errors: number;
  firstError?: string;
  p50Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
  maxMs?: number;
  /** generator / redis-benchmark at the same command and pipeline. */
  ratio?: number;
  usage: UsageReport;
}

/** Generator ops/s over redis-benchmark's; none when either side had errors or no number. */
export function ratioOf(ours: Pick<BenchRow, "opsPerSec" | "errors">, theirs: Pick<BenchRow, "opsPerSec" | "errors"> | undefined): number | undefined {
  if (!theirs || ours.errors || theirs.errors || !theirs.opsPerSec) return undefined;
  return Number((ours.opsPerSec / theirs.opsPerSec).toFixed(2));
}

async function redisBenchmark(ctx: SmokeContext, cluster: LocalCluster, cmd: LoadCommand, pipeline: number, o: { ops: number; concurrency: number }): Promise<BenchRow> {
  const w = await usageWindow(ctx, { local: true });
  const args = ["--cluster", "-h", cluster.nodes[0].host, "-p", String(cluster.nodes[0].port), "-t", cmd, "-n", String(o.ops), "-c", String(o.concurrency), "-P", String(pipeline), "-d", "3", "-r", "100000", "--csv"];
  await w.start();
  // `times` after redis-benchmark prints its CPU time (children of the shell): its share of the machine.
  const rb = spawnSync("sh", ["-c", 'redis-benchmark "$@"; s=$?; times >&2; exit $s', "sh", ...args], { encoding: "utf8", timeout: 300_000, env: cluster.cliEnv() });
  await w.end();
  if (rb.error) throw new Error(`redis-benchmark could not run (${rb.error.message}): install redis-tools (npm run setup:system)`);
  if (rb.status !== 0) throw new Error(`redis-benchmark failed (${rb.status}): ${rb.stderr || rb.stdout}`);
  const r = parseRedisBenchmarkCsv(rb.stdout)[cmd.toUpperCase()];
  if (!r) throw new Error(`redis-benchmark printed no ${cmd.toUpperCase()} result: ${rb.stdout.slice(-300)}`);
  const cpuS = parseTimes(rb.stderr) ?? 0;
  return { tool: "redis-benchmark", command: cmd.toUpperCase(), pipeline, mode: `closed c${o.concurrency}`, opsPerSec: r.opsPerSec, errors: 0, p50Ms: r.p50Ms, p99Ms: r.p99Ms, maxMs: r.maxMs, usage: w.report(cpuS * 1000) };
}

async function main(argv: string[]): Promise<number> {
  const o = new Command("bench")
    .option("--ops <n>", "commands per closed-loop phase", "200000")
    .option("--concurrency <n>", "requests in flight (generator and redis-benchmark clients)", "50")
    .option("--pipelines <list>", "pipeline depths to compare", "1,16")
    .option("--connections <n>", "generator TCP connections per master", "2")
    .option("--open-rate <n>", "open-loop GET rate in commands/s (default: half the generator's closed-loop GET rate at pipeline 1)")
    .option("--open-ms <n>", "open-loop duration", "5000")
    .option("--seq-ops <n>", "SETs of the sequential baseline loop", "5000")
    .option("--json <file>", "also write the results as JSON ('-' for stdout; the table then goes to stderr)")
    .option("--stack-file <path>", "stack config to plan from", resolve(__dirname, "../../Pulumi.dev.yaml"))
    .option("--canary-s <n>", "seconds the canary's cost is measured (after 10 s of warm-up; 600 for the 10-minute run); 0 skips it", "60")
    .parse(argv, { from: "user" })
    .opts<{ ops: string; concurrency: string; pipelines: string; connections: string; openRate?: string; openMs: string; seqOps: string; json?: string; stackFile: string; canaryS: string }>();
  const out = (s: string) => (o.json === "-" ? process.stderr : process.stdout).write(s + "\n");
  const ops = Number(o.ops);
  const concurrency = Number(o.concurrency);
  const pipelines = o.pipelines.split(",").map(Number);
  const connections = Number(o.connections);
  const bad = [
    ...(!Number.isInteger(ops) || ops < 1 ? ["--ops must be an integer >= 1"] : []),
    ...(!Number.isInteger(concurrency) || concurrency < 1 ? ["--concurrency must be an integer >= 1"] : []),
    ...(pipelines.some((p) => !Number.isInteger(p) || p < 1) ? ["--pipelines must be integers >= 1, e.g. 1,16"] : []),
    ...(!Number.isInteger(connections) || connections < 1 ? ["--connections must be an integer >= 1"] : []),
    ...(!/^\d+$/.test(o.canaryS) ? ["--canary-s must be whole seconds (0 skips the canary)"] : []),
  ];
  if (bad.length) throw new Error(bad.join("; "));
  const spec = loadStackSpecFile(o.stackFile, "bench");
  const cluster = await startLocalCluster({ spec });
  const rows: BenchRow[] = [];
  let canary: CanaryCost | undefined;
  const ctx = new SmokeContext({ ...DEFAULT_OPTIONS, nodes: cluster.seeds, nodeTimeoutMs: spec.nodeTimeoutMs }, () => {});
  const load = (await import("node:os")).loadavg();
  try {
    out(`bench: ${spec.masters}x${spec.replicasPerMaster} local cluster (${cluster.seeds.join(" ")}), ${ops} ops per closed-loop phase, concurrency ${concurrency}, generator ${connections} connection(s) per master; load average before: ${load.map((x) => x.toFixed(2)).join(" ")}`);
    await checkConnect(ctx);
    await ctx.refreshTopology();
    const value = "xxx";
    const allKeys = keysPerSlot("bench:io");

    // The tutorial's loop: one SET awaited after the other.
    {
      const c = ctx.cluster();
      await c.connect();
      const w = await usageWindow(ctx, { local: true });
      await w.start();
      const r = await ioredisLoop(c, { command: "set", ops: Number(o.seqOps), concurrency: 1, keys: allKeys, value });
      await w.end();
      c.disconnect();
      rows.push({ tool: "ioredis sequential (seed loop)", command: "SET", pipeline: 1, mode: "await each", opsPerSec: r.opsPerSec, errors: r.errors, firstError: r.firstError, ...r.latency, usage: w.report(r.clientCpuMs) });
    }
    // The client library itself with auto-pipelining, as an application would use it.
    for (const cmd of ["set", "get"] as const) {
      const c = ctx.cluster({ autoPipelining: true });
      await c.connect();
      const w = await usageWindow(ctx, { local: true });
      await w.start();
      const r = await ioredisLoop(c, { command: cmd, ops: Math.min(ops, 100_000), concurrency, keys: allKeys, value });
      await w.end();
      c.disconnect();
      rows.push({ tool: "ioredis auto-pipelining", command: cmd.toUpperCase(), pipeline: 1, mode: `closed c${concurrency}`, opsPerSec: r.opsPerSec, errors: r.errors, firstError: r.firstError, ...r.latency, usage: w.report(r.clientCpuMs) });
    }
    let getRateP1 = 0;
    const targetsCount = ctx.topology!.masters.length;
    for (const pipeline of pipelines) {
      for (const cmd of ["set", "get"] as const) {
        const p = await measuredPhase(ctx, { command: cmd, pipeline, concurrency, connectionsPerNode: connections, ops: ops * Math.min(pipeline, 8), valueSize: 3, keyPrefix: "bench", ttlSeconds: 0 });
        const theirs = await redisBenchmark(ctx, cluster, cmd, pipeline, { ops: ops * Math.min(pipeline, 8), concurrency });
        const r = p.result;
        const ours: BenchRow = {
          tool: "generator", command: cmd.toUpperCase(), pipeline, mode: `closed c${concurrency}`, opsPerSec: r.opsPerSec, errors: r.errors, firstError: r.firstError,
          p50Ms: r.latency.p50Ms, p99Ms: r.latency.p99Ms, p999Ms: r.latency.p999Ms, maxMs: r.latency.maxMs, usage: p.usage,
        };
        ours.ratio = ratioOf(ours, theirs);
        rows.push(ours, theirs);
        if (cmd === "get" && pipeline === 1) getRateP1 = r.opsPerSec;
        if (pipeline === 1) {
          // redis-benchmark's shape: one connection per request in flight, so nothing is coalesced into one write.
          const perConn = Math.ceil(concurrency / targetsCount);
          const q = await measuredPhase(ctx, { command: cmd, pipeline, concurrency, connectionsPerNode: perConn, ops, valueSize: 3, keyPrefix: "bench", ttlSeconds: 0 });
          const row: BenchRow = {
            tool: "generator, 1 conn/request", command: cmd.toUpperCase(), pipeline, mode: `closed c${concurrency}`, opsPerSec: q.result.opsPerSec, errors: q.result.errors,
            firstError: q.result.firstError, p50Ms: q.result.latency.p50Ms, p99Ms: q.result.latency.p99Ms, p999Ms: q.result.latency.p999Ms, maxMs: q.result.latency.maxMs, usage: q.usage,
          };
          row.ratio = ratioOf(row, theirs);
          rows.push(row);
        }
      }
    }
    // Open loop: a fixed rate whatever the replies do; latency counts from each request's intended send time.
    const rate = Number(o.openRate ?? Math.max(1000, Math.round(getRateP1 / 2)));
    const open = await measuredPhase(ctx, { command: "get", pipeline: 1, concurrency, connectionsPerNode: connections, rate, durationMs: Number(o.openMs), valueSize: 3, keyPrefix: "bench", ttlSeconds: 0 });
    const ol = open.result;
    rows.push({
      tool: "generator", command: "GET", pipeline: 1, mode: `open ${rate}/s${ol.unsentOps ? ` (${ol.unsentOps} unsent)` : ""}`, opsPerSec: ol.opsPerSec, errors: ol.errors + (ol.unsentOps ?? 0),
      firstError: ol.firstError ?? (ol.unsentOps ? `${ol.unsentOps} commands not sent: the cluster did not keep up with ${rate}/s` : undefined),
      p50Ms: ol.latency.p50Ms, p99Ms: ol.latency.p99Ms, p999Ms: ol.latency.p999Ms, maxMs: ol.latency.maxMs, usage: open.usage,
    });
    // Last, alone on the cluster: what the canary costs at the stack's interval.
    if (Number(o.canaryS) > 0) canary = await canaryCost(ctx, cluster, { seconds: Number(o.canaryS), warmupSeconds: 10, intervalMs: spec.canary.intervalMs });
  } finally {
    ctx.close();
    await cluster.stop();
  }

  const fmt = (v: number | undefined) => (v === undefined ? "-" : String(v));
  const table: string[][] = [["tool", "cmd", "P", "mode", "ops/s", "ratio", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "client cpu", "servers cpu", "machine"]];
  for (const r of rows) {
    table.push([
      r.tool, r.command, String(r.pipeline), r.mode, String(r.opsPerSec), r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : r.errors ? `- (${r.errors} errors)` : "",
      fmt(r.p50Ms), fmt(r.p99Ms), fmt(r.p999Ms), fmt(r.maxMs), `${r.usage.clientCpuPct}%`, `${r.usage.serversCpuPct}%`, r.usage.machineBusyPct !== undefined ? `${r.usage.machineBusyPct}%/${r.usage.cores * 100}%` : "-",
    ]);
  }
  const width = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  for (const r of table) out(r.map((c, i) => (i < 4 ? c.padEnd(width[i]) : c.padStart(width[i]))).join("  "));
  out("");
  out("per node (ops/s served, CPU % of one core, from INFO commandstats/cpu deltas) and what limited each row:");
  for (const r of rows) {
    out(`  ${r.tool} ${r.command} P${r.pipeline} ${r.mode}: ${r.usage.nodes.map((n) => `${n.addr}${n.role === "replica" ? " (replica)" : ""} ${n.opsPerSec}/s ${n.cpuPct}%`).join(", ")}`);
    out(`    limit: ${r.usage.limit}`);
  }
  const failures = rows.filter((r) => r.errors).map((r) => `${r.tool} ${r.command} P${r.pipeline} ${r.mode}: ${r.errors} errors (e.g. ${r.firstError})`);
  const seq = rows.find((r) => r.tool.startsWith("ioredis sequential"))!;
  const best = (p: number) => rows.filter((r) => r.tool === "generator" && r.pipeline === p && r.ratio !== undefined);
  const goals = [
    ...pipelines.filter((p) => p === 1 || p === 16).map((p) => {
      const min = Math.min(...best(p).map((r) => r.ratio!));
      const want = p === 1 ? 0.8 : 0.5;
      return { goal: `generator >= ${want}x redis-benchmark at pipeline ${p} (lowest of SET/GET)`, value: Number.isFinite(min) ? min : undefined, met: min >= want };
    }),
    (() => {
      const p1set = rows.find((r) => r.tool === "generator" && r.pipeline === 1 && r.command === "SET");
      const x = p1set && seq.opsPerSec ? Number((p1set.opsPerSec / seq.opsPerSec).toFixed(1)) : undefined;
      return { goal: "generator SET at pipeline 1 >= 10x the sequential loop", value: x, met: x !== undefined && x >= 10 };
    })(),
  ];
  if (canary) {
    // Capacity: the best rate redis-benchmark reached on this cluster at pipeline 1 (its shape: one request per connection).
    const capacity = Math.max(0, ...rows.filter((r) => r.tool.startsWith("redis-benchmark") && r.pipeline === 1).map((r) => r.opsPerSec));
    const share = capacity ? Number(((canary.clusterOpsPerSec / capacity) * 100).toFixed(3)) : undefined;
    out("");
    out(`canary (bundle under node, every ${canary.intervalMs} ms, ${canary.seconds} s after 10 s of warm-up): ${canary.cpuPct}% of one core, RSS ${canary.rssMiB.min}-${canary.rssMiB.max} MiB; the cluster served ${canary.clusterOpsPerSec} commands/s for it (servers ${canary.serversCpuPct}% of one core) = ${share ?? "?"}% of its capacity (${capacity} ops/s, redis-benchmark P1)`);
    goals.push({ goal: "canary's commands < 1% of the cluster's capacity (redis-benchmark P1)", value: share, met: share !== undefined && share < 1 });
  }
  out("");
  for (const g of goals) out(`goal: ${g.goal}: ${g.value ?? "?"} -> ${g.met ? "met" : "NOT met"}`);
  if (o.json) {
    const doc = JSON.stringify({ cluster: `${spec.masters}x${spec.replicasPerMaster}`, load_average_before: load, ops, concurrency, connections, rows, canary, goals, failures }, null, 2) + "\n";
    if (o.json === "-") process.stdout.write(doc);
    else writeFileSync(o.json, doc);
  }
  if (failures.length) {
    for (const f of failures) console.error(`bench: ${f}`);
    console.error("bench: FAILED: commands failed, so no ratio is given for those rows");
    return 1;
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
