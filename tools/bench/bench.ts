// `npm run bench:throughput` (the first section of `npm run bench`; not part of npm test): the load generator (smoke/load) and `redis-benchmark --cluster` against the
// same local cluster in the same run, at each pipeline depth. Every row states its shape (connections, requests in
// flight per connection, commands per socket write: counted by the generator's connections, and commands per socket
// read counted by the servers for every row); the goal rows are the generator in redis-benchmark's exact shape and key
// space against redis-benchmark; the generator's coalesced rows stay, labelled batched. The tutorial's sequential
// ioredis loop and ioredis auto-pipelining as reference rows; an open-loop row (fixed rate, latency from intended send
// times); per-node ops/s and CPU from INFO deltas, and what limited each configuration. `--json <file|->` for CI.
// The cluster has no password: redis-benchmark takes one only on argv (-a; it does not read REDISCLI_AUTH), which this
// project never does.
// ops/s counts successful commands only; when any command failed, its row gets no ratio and the exit code is 1.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { startLocalCluster, type LocalCluster } from "../../testbed/local/harness";
import { loadStackSpecFile } from "../../testbed/local/stackSpec";
import { checkConnect } from "../../smoke/checks/connect";
import { SmokeContext } from "../../smoke/context";
import { ioredisLoop } from "../../smoke/load/baseline";
import { keysPerSlot } from "../../smoke/load/keys";
import { runLoad, type LoadCommand } from "../../smoke/load/generator";
import { loadTargets, measuredPhase, usageWindow, type MeasuredPhase } from "../../smoke/load/measure";
import { shapeLabel } from "../../smoke/load/shape";
import type { UsageReport } from "../../smoke/load/usage";
import { DEFAULT_OPTIONS } from "../../smoke/types";
import { canaryCost, type CanaryCost } from "./canaryCost";
import { ownerTable, profileDuring, timeByFunction, timeByOwner } from "./cpuProfile";
import { threadedPhase } from "./threadedLoad";

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
  /** Connections × requests in flight × commands per write; the generator's counted by its connections. */
  shape: string;
  /** In redis-benchmark's shape (one request in flight per connection, one write per request): the goal rows. */
  sameShape?: boolean;
  opsPerSec: number;
  errors: number;
  firstError?: string;
  p50Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
  maxMs?: number;
  /** Client CPU seconds (user + system, all threads) per million commands: what each request costs the client. */
  clientCpuSPerM?: number;
  /** generator / redis-benchmark at the same command, pipeline and shape. */
  ratio?: number;
  /** On redis-benchmark at its default threads: the same-shape generator over it (shown in parentheses: no goal). */
  infoRatio?: number;
  usage: UsageReport;
}

/** CPU seconds per million commands, two decimals. */
export function cpuPerMillion(cpuMs: number, commands: number): number | undefined {
  return commands > 0 ? Number(((cpuMs / 1000 / commands) * 1e6).toFixed(2)) : undefined;
}

/** Generator ops/s over redis-benchmark's; none when either side had errors or no number. */
export function ratioOf(ours: Pick<BenchRow, "opsPerSec" | "errors">, theirs: Pick<BenchRow, "opsPerSec" | "errors"> | undefined): number | undefined {
  if (!theirs || ours.errors || theirs.errors || !theirs.opsPerSec) return undefined;
  return Number((ours.opsPerSec / theirs.opsPerSec).toFixed(2));
}

/** The goal on the same-shape rows: generator >= `want` x redis-benchmark per command and pipeline. */
export interface Goal {
  goal: string;
  value?: number;
  /** Printed after the value ("x" when absent). */
  unit?: string;
  met: boolean;
}

/** Goal lines of one pair: the generator row `tool` over the redis-benchmark row `reference` (same threads). */
export function shapeGoals(rows: BenchRow[], pipelines: number[], tool: string, reference: string, want = 0.9): Goal[] {
  return pipelines.flatMap((p) =>
    ["SET", "GET"].map((cmd) => {
      const r = rows.find((x) => x.sameShape && x.tool === tool && x.pipeline === p && x.command === cmd);
      const v = r?.ratio;
      return { goal: `${tool} in redis-benchmark's shape >= ${want}x ${reference}, ${cmd} P${p}${r ? ` (${r.shape})` : ""}`, value: v, met: v !== undefined && v >= want };
    }),
  );
}

/**
 * Row groups of a run: `reference` (sequential and auto-pipelining ioredis), `same` (the goal pair: the generator in
 * redis-benchmark's shape and redis-benchmark --threads 1), `default` (redis-benchmark at its default threads),
 * `batched` (the generator's coalesced rows), `open` (the open-loop row).
 */
export const BENCH_ROWS = ["reference", "same", "default", "batched", "open"] as const;
export type BenchRowGroup = (typeof BENCH_ROWS)[number];

export function rowsProblems(list: string): string[] {
  const unknown = list.split(",").filter((r) => !(BENCH_ROWS as readonly string[]).includes(r));
  return unknown.length ? [`--rows: unknown ${unknown.join(", ")} (choose from ${BENCH_ROWS.join(",")})`] : [];
}

interface RedisBenchmarkRun {
  cmd: LoadCommand;
  pipeline: number;
  ops: number;
  concurrency: number;
  /** -r: random keys per master (one slot each: redis-benchmark 7.0 keeps a master's clients on its first slot). */
  keyspace: number;
  /** --threads; undefined: its default (one per master in cluster mode). */
  threads?: number;
  masters: number;
}

async function redisBenchmark(ctx: SmokeContext, cluster: LocalCluster, o: RedisBenchmarkRun): Promise<BenchRow> {
  const threads = o.threads ?? o.masters;
  const w = await usageWindow(ctx, { local: true, clientThreads: threads });
  const args = ["--cluster", "-h", cluster.nodes[0].host, "-p", String(cluster.nodes[0].port), "-t", o.cmd, "-n", String(o.ops), "-c", String(o.concurrency), "-P", String(o.pipeline), "-d", "3", "-r", String(o.keyspace), "--csv", ...(o.threads !== undefined ? ["--threads", String(o.threads)] : [])];
  await w.start();
  // `times` after redis-benchmark prints its CPU time (children of the shell): its share of the machine.
  const rb = spawnSync("sh", ["-c", 'redis-benchmark "$@"; s=$?; times >&2; exit $s', "sh", ...args], { encoding: "utf8", timeout: 300_000, env: cluster.cliEnv() });
  await w.end();
  if (rb.error) throw new Error(`redis-benchmark could not run (${rb.error.message}): install redis-tools (npm run setup:system)`);
  if (rb.status !== 0) throw new Error(`redis-benchmark failed (${rb.status}): ${rb.stderr || rb.stdout}`);
  const r = parseRedisBenchmarkCsv(rb.stdout)[o.cmd.toUpperCase()];
  if (!r) throw new Error(`redis-benchmark printed no ${o.cmd.toUpperCase()} result: ${rb.stdout.slice(-300)}`);
  const cpuS = parseTimes(rb.stderr) ?? 0;
  return {
    tool: o.threads !== undefined ? `redis-benchmark --threads ${o.threads}` : `redis-benchmark (${threads} threads, its default)`,
    command: o.cmd.toUpperCase(), pipeline: o.pipeline, mode: `closed c${o.concurrency}`,
    // Its design (one request per client, its whole pipeline in one write); the servers' commands per read confirm it.
    shape: `${o.concurrency} conns × 1 request × ${o.pipeline} cmds/write (its design)`,
    sameShape: true, opsPerSec: r.opsPerSec, errors: 0, p50Ms: r.p50Ms, p99Ms: r.p99Ms, maxMs: r.maxMs, clientCpuSPerM: cpuPerMillion(cpuS * 1000, o.ops), usage: w.report(cpuS * 1000),
  };
}

/** Runs a phase under the CPU profiler: the profile to `<dir>/<name>.cpuprofile`, its top functions by self time printed. */
async function profiled<T>(dir: string, name: string, fn: () => Promise<T>, out: (s: string) => void): Promise<T> {
  const { result, profile } = await profileDuring(fn);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const root = resolve(__dirname, "../..");
  out(`  profile ${file}, self time by owner and the top functions:`);
  for (const l of ownerTable(timeByOwner(profile, root), undefined, 8)) out(`    ${l}`);
  for (const l of ownerTable(timeByFunction(profile, root), undefined, 16)) out(`    ${l}`);
  return result;
}

/** A bench row from a generator phase. */
function generatorRow(tool: string, mode: string, p: MeasuredPhase): BenchRow {
  const r = p.result;
  return {
    tool, command: r.command.toUpperCase(), pipeline: r.pipeline, mode, shape: shapeLabel(r.shape), sameShape: r.shape.redisBenchmarkShape,
    opsPerSec: r.opsPerSec, errors: r.errors, firstError: r.firstError, clientCpuSPerM: cpuPerMillion(r.clientCpuMs, r.ops),
    p50Ms: r.latency.p50Ms, p99Ms: r.latency.p99Ms, p999Ms: r.latency.p999Ms, maxMs: r.latency.maxMs, usage: p.usage,
  };
}

async function main(argv: string[]): Promise<number> {
  const o = new Command("bench")
    .option("--ops <n>", "commands per closed-loop phase at pipeline 1 (x min(P, 8) at pipeline P)", "200000")
    .option("--concurrency <n>", "requests in flight (redis-benchmark -c; the generator's connections in its shape)", "50")
    .option("--pipelines <list>", "pipeline depths to compare", "1,16")
    .option("--connections <n>", "TCP connections per master of the generator's batched rows", "2")
    .option("--keyspace <n>", "keys per master of the compared rows (redis-benchmark -r, one slot per master)", "100000")
    .option("--open-rate <n>", "open-loop GET rate in commands/s (default: half the same-shape generator's GET rate at pipeline 1)")
    .option("--open-ms <n>", "open-loop duration", "5000")
    .option("--seq-ops <n>", "SETs of the sequential baseline loop", "5000")
    .option("--json <file>", "also write the results as JSON ('-' for stdout; the table then goes to stderr)")
    .option("--stack-file <path>", "stack config to plan from", resolve(__dirname, "../../Pulumi.dev.yaml"))
    .option("--canary-s <n>", "seconds the canary's cost is measured (after 10 s of warm-up; 600 for the 10-minute run); 0 skips it", "60")
    .option("--cpu-prof <dir>", "profile the client of each same-shape generator phase (V8 CPU profile; written to <dir>, the top functions printed)")
    .option("--rows <list>", `rows to run (a short run measures only what it needs): ${BENCH_ROWS.join(",")}`, BENCH_ROWS.join(","))
    .parse(argv, { from: "user" })
    .opts<{ ops: string; concurrency: string; pipelines: string; connections: string; keyspace: string; openRate?: string; openMs: string; seqOps: string; json?: string; stackFile: string; canaryS: string; rows: string; cpuProf?: string }>();
  const out = (s: string) => (o.json === "-" ? process.stderr : process.stdout).write(s + "\n");
  const ops = Number(o.ops);
  const concurrency = Number(o.concurrency);
  const pipelines = o.pipelines.split(",").map(Number);
  const connections = Number(o.connections);
  const keyspace = Number(o.keyspace);
  const bad = [
    ...(!Number.isInteger(ops) || ops < 1 ? ["--ops must be an integer >= 1"] : []),
    ...(!Number.isInteger(concurrency) || concurrency < 1 ? ["--concurrency must be an integer >= 1"] : []),
    ...(pipelines.some((p) => !Number.isInteger(p) || p < 1) ? ["--pipelines must be integers >= 1, e.g. 1,16"] : []),
    ...(!Number.isInteger(connections) || connections < 1 ? ["--connections must be an integer >= 1"] : []),
    ...(!Number.isInteger(keyspace) || keyspace < 1 ? ["--keyspace must be an integer >= 1 (redis-benchmark's -r)"] : []),
    ...(!/^\d+$/.test(o.canaryS) ? ["--canary-s must be whole seconds (0 skips the canary)"] : []),
    ...rowsProblems(o.rows),
  ];
  const want = new Set(o.rows.split(",") as BenchRowGroup[]);
  if (want.has("open") && !want.has("same") && o.openRate === undefined) bad.push("--rows open without same needs --open-rate (its default is half the same-shape GET rate)");
  if (bad.length) throw new Error(bad.join("; "));
  const spec = loadStackSpecFile(o.stackFile, "bench");
  const cluster = await startLocalCluster({ spec });
  const rows: BenchRow[] = [];
  let canary: CanaryCost | undefined;
  const ctx = new SmokeContext({ ...DEFAULT_OPTIONS, nodes: cluster.seeds, nodeTimeoutMs: spec.nodeTimeoutMs }, () => {});
  const load = (await import("node:os")).loadavg();
  try {
    out(`bench: ${spec.masters}x${spec.replicasPerMaster} local cluster (${cluster.seeds.join(" ")}), ${ops} ops per closed-loop phase at P1, concurrency ${concurrency}, key space ${keyspace} keys per master (redis-benchmark's), batched rows ${connections} connection(s) per master; load average before: ${load.map((x) => x.toFixed(2)).join(" ")}`);
    await checkConnect(ctx);
    await ctx.refreshTopology();
    const value = "xxx";
    const allKeys = keysPerSlot("bench:io");
    const masters = ctx.topology!.masters.length;
    // Same keys for both tools: written once before any measured phase, so every SET overwrites and every GET hits.
    const base = { valueSize: 3, keyPrefix: "bench", ttlSeconds: 0, redisBenchmarkKeys: keyspace };
    const fill = await runLoad({ ...base, targets: await loadTargets(ctx), command: "set", pipeline: 16, concurrency: 16 * masters, connectionsPerNode: 2, ops: keyspace * masters });
    if (fill.errors) throw new Error(`filling the key space failed: ${fill.errors} errors (e.g. ${fill.firstError})`);

    // The tutorial's loop: one SET awaited after the other.
    if (want.has("reference")) {
      const c = ctx.cluster();
      await c.connect();
      const w = await usageWindow(ctx, { local: true });
      await w.start();
      const r = await ioredisLoop(c, { command: "set", ops: Number(o.seqOps), concurrency: 1, keys: allKeys, value });
      await w.end();
      c.disconnect();
      rows.push({ tool: "ioredis sequential (seed loop)", command: "SET", pipeline: 1, mode: "await each", shape: "1 request at a time", opsPerSec: r.opsPerSec, errors: r.errors, firstError: r.firstError, ...r.latency, clientCpuSPerM: cpuPerMillion(r.clientCpuMs, r.ops), usage: w.report(r.clientCpuMs) });
    }
    // The client library itself with auto-pipelining, as an application would use it.
    for (const cmd of want.has("reference") ? (["set", "get"] as const) : []) {
      const c = ctx.cluster({ autoPipelining: true });
      await c.connect();
      const w = await usageWindow(ctx, { local: true });
      await w.start();
      const r = await ioredisLoop(c, { command: cmd, ops: Math.min(ops, 100_000), concurrency, keys: allKeys, value });
      await w.end();
      c.disconnect();
      rows.push({ tool: "ioredis auto-pipelining", command: cmd.toUpperCase(), pipeline: 1, mode: `closed c${concurrency}`, shape: `ioredis: ${concurrency} awaits, coalesced per tick`, opsPerSec: r.opsPerSec, errors: r.errors, firstError: r.firstError, ...r.latency, clientCpuSPerM: cpuPerMillion(r.clientCpuMs, r.ops), usage: w.report(r.clientCpuMs) });
    }
    let getRateP1 = 0;
    for (const pipeline of pipelines) {
      for (const cmd of ["set", "get"] as const) {
        const n = ops * Math.min(pipeline, 8);
        const mode = `closed c${concurrency}`;
        // The goal pair: redis-benchmark's exact shape (a connection per request in flight, one write per request of
        // P commands), its key space, one client thread each (the generator is one JS thread).
        const samePhase = () => measuredPhase(ctx, { ...base, command: cmd, pipeline, concurrency, connectionsPerNode: 1, connectionPerRequest: true, ops: n });
        const same = want.has("same") ? generatorRow("generator", mode, o.cpuProf ? await profiled(o.cpuProf, `generator-${cmd}-P${pipeline}`, samePhase, out) : await samePhase()) : undefined;
        const theirs = want.has("same") ? await redisBenchmark(ctx, cluster, { cmd, pipeline, ops: n, concurrency, keyspace, threads: 1, masters }) : undefined;
        if (same) same.ratio = ratioOf(same, theirs);
        // redis-benchmark as it runs by default in cluster mode, one thread per master, against the generator on as
        // many threads (the one-thread generator's ratio over it in parentheses: unlike thread counts, no goal).
        const theirsDefault = want.has("default") ? await redisBenchmark(ctx, cluster, { cmd, pipeline, ops: n, concurrency, keyspace, masters }) : undefined;
        if (same && theirsDefault) theirsDefault.infoRatio = ratioOf(same, theirsDefault);
        const threaded = want.has("default") ? generatorRow(`generator (${masters} threads)`, mode, await threadedPhase(ctx, { ...base, command: cmd, pipeline, concurrency, connectionsPerNode: 1, ops: n }, masters)) : undefined;
        if (threaded) threaded.ratio = ratioOf(threaded, theirsDefault);
        // The generator's own batching, as the smoke test runs it: compared with nothing.
        const batched = want.has("batched") ? generatorRow("generator", mode, await measuredPhase(ctx, { ...base, command: cmd, pipeline, concurrency, connectionsPerNode: connections, ops: n })) : undefined;
        for (const r of [same, theirs, threaded, theirsDefault, batched]) if (r) rows.push(r);
        if (same && cmd === "get" && pipeline === 1) getRateP1 = same.opsPerSec;
        const rate = (r: BenchRow | undefined) => (r ? `${r.opsPerSec}/s` : "-");
        out(`  ${cmd.toUpperCase()} P${pipeline}: generator ${rate(same)}, redis-benchmark --threads 1 ${rate(theirs)}, at its default threads ${rate(theirsDefault)}${same && theirsDefault ? ` (${ratioOf(same, theirsDefault) ?? "?"}x)` : ""}, generator on as many threads ${rate(threaded)}, batched generator ${rate(batched)}`);
      }
    }
    // Open loop: a fixed rate whatever the replies do; latency counts from each request's intended send time.
    if (want.has("open")) {
      const rate = Number(o.openRate ?? Math.max(1000, Math.round(getRateP1 / 2)));
      const open = await measuredPhase(ctx, { ...base, command: "get", pipeline: 1, concurrency, connectionsPerNode: connections, rate, durationMs: Number(o.openMs) });
      const ol = open.result;
      rows.push({
        ...generatorRow("generator", `open ${rate}/s${ol.unsentOps ? ` (${ol.unsentOps} unsent)` : ""}`, open), errors: ol.errors + (ol.unsentOps ?? 0),
        firstError: ol.firstError ?? (ol.unsentOps ? `${ol.unsentOps} commands not sent: the cluster did not keep up with ${rate}/s` : undefined),
      });
    }
    // Last, alone on the cluster: what the canary costs at the stack's interval.
    if (Number(o.canaryS) > 0) canary = await canaryCost(ctx, cluster, { seconds: Number(o.canaryS), warmupSeconds: 10, intervalMs: spec.canary.intervalMs });
  } finally {
    ctx.close();
    await cluster.stop();
  }

  const fmt = (v: number | undefined) => (v === undefined ? "-" : String(v));
  const table: string[][] = [["tool", "cmd", "P", "mode", "shape", "ops/s", "ratio", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "srv cmds/read", "client cpu", "client cpu s/1M", "servers cpu", "machine"]];
  for (const r of rows) {
    const ratio = r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : r.infoRatio !== undefined ? `(${r.infoRatio.toFixed(2)}x)` : r.errors ? `- (${r.errors} errors)` : "";
    table.push([
      r.tool, r.command, String(r.pipeline), r.mode, r.shape, String(r.opsPerSec), ratio,
      fmt(r.p50Ms), fmt(r.p99Ms), fmt(r.p999Ms), fmt(r.maxMs), fmt(r.usage.commandsPerRead), `${r.usage.clientCpuPct}%`, fmt(r.clientCpuSPerM), `${r.usage.serversCpuPct}%`, r.usage.machineBusyPct !== undefined ? `${r.usage.machineBusyPct}%/${r.usage.cores * 100}%` : "-",
    ]);
  }
  const width = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  out("");
  for (const r of table) out(r.map((c, i) => (i < 5 ? c.padEnd(width[i]) : c.padStart(width[i]))).join("  "));
  out("");
  out("ratio: the generator in redis-benchmark's shape over redis-benchmark on as many client threads (one; or one per master, its cluster-mode default), same command, pipeline and keys (the goal rows);");
  out("(ratio): the one-thread generator over redis-benchmark at its default threads (no goal: unlike thread counts);");
  out("client cpu s/1M: the client's CPU seconds (user + system, every thread) per million commands; the system part includes loopback TCP work the kernel charges the sender;");
  out("srv cmds/read: commands per socket read on the masters (INFO stats total_reads_processed), i.e. per client write as the servers saw it.");
  out("");
  out("per node (ops/s served, CPU % of one core, from INFO commandstats/cpu deltas) and what limited each row:");
  for (const r of rows) {
    out(`  ${r.tool} ${r.command} P${r.pipeline} ${r.mode} [${r.shape}]: ${r.usage.nodes.map((n) => `${n.addr}${n.role === "replica" ? " (replica)" : ""} ${n.opsPerSec}/s ${n.cpuPct}%`).join(", ")}`);
    out(`    limit: ${r.usage.limit}`);
  }
  const failures = rows.filter((r) => r.errors).map((r) => `${r.tool} ${r.command} P${r.pipeline} ${r.mode}: ${r.errors} errors (e.g. ${r.firstError})`);
  const seq = rows.find((r) => r.tool.startsWith("ioredis sequential"));
  const goalPipelines = pipelines.filter((p) => p === 1 || p === 16);
  const goals: Goal[] = [
    ...(want.has("same") ? shapeGoals(rows, goalPipelines, "generator", "redis-benchmark --threads 1") : []),
    ...(want.has("default") ? shapeGoals(rows, goalPipelines, `generator (${spec.masters} threads)`, `redis-benchmark (${spec.masters} threads, its default)`) : []),
    ...(want.has("same") && seq ? [(() => {
      const p1set = rows.find((r) => r.tool === "generator" && r.sameShape && r.pipeline === 1 && r.command === "SET");
      const x = p1set && seq.opsPerSec ? Number((p1set.opsPerSec / seq.opsPerSec).toFixed(1)) : undefined;
      return { goal: "generator SET at pipeline 1 (redis-benchmark's shape) >= 10x the sequential loop", value: x, met: x !== undefined && x >= 10 };
    })()] : []),
  ];
  if (canary) {
    // Capacity: the best rate redis-benchmark reached on this cluster at pipeline 1 (its shape: one request per connection).
    const capacity = Math.max(0, ...rows.filter((r) => r.tool.startsWith("redis-benchmark") && r.pipeline === 1).map((r) => r.opsPerSec));
    const share = capacity ? Number(((canary.clusterOpsPerSec / capacity) * 100).toFixed(3)) : undefined;
    out("");
    out(`canary (bundle under node, every ${canary.intervalMs} ms, ${canary.seconds} s after 10 s of warm-up): ${canary.cpuPct}% of one core, RSS ${canary.rssMiB.min}-${canary.rssMiB.max} MiB; the cluster served ${canary.clusterOpsPerSec} commands/s for it (servers ${canary.serversCpuPct}% of one core) = ${share ?? "?"}% of its capacity (${capacity} ops/s, redis-benchmark P1)`);
    goals.push({ goal: "canary's commands < 1% of the cluster's capacity (redis-benchmark P1)", value: share, unit: "%", met: share !== undefined && share < 1 });
  }
  out("");
  for (const g of goals) out(`goal: ${g.goal}: ${g.value !== undefined ? `${g.value}${g.unit ?? "x"}` : "?"} -> ${g.met ? "met" : "NOT met"}`);
  if (o.json) {
    const doc = JSON.stringify({ cluster: `${spec.masters}x${spec.replicasPerMaster}`, load_average_before: load, ops, concurrency, connections, keyspace, rows, canary, goals, failures }, null, 2) + "\n";
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
