// `npm run bench` (not part of npm test): the smoke benchmark (ioredis Cluster client) and `redis-benchmark --cluster`
// against the same local cluster, without and with pipelining, and the ratio. The cluster has no password because
// redis-benchmark takes one only on argv (-a), which this project never does.
// ops/s counts successful commands only; when any command failed, its row gets no ratio and the exit code is 1.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { Command } from "commander";
import { startLocalCluster } from "./harness";
import { loadStackSpecFile } from "./stackSpec";
import { runBenchPhase, type PhaseResult } from "../smoke/checks/benchmark";
import { SmokeContext } from "../smoke/context";
import { DEFAULT_OPTIONS, type BenchOptions } from "../smoke/types";

/** ops/s per command from `redis-benchmark -q` output ("SET: 98765.43 requests per second, p50=0.255 msec"). */
export function parseRedisBenchmark(out: string): Record<string, { opsPerSec: number; p50Ms?: number }> {
  const res: Record<string, { opsPerSec: number; p50Ms?: number }> = {};
  for (const line of out.split(/[\r\n]+/)) {
    const m = /^([A-Z]+):\s+([\d.]+) requests per second(?:, p50=([\d.]+) msec)?/.exec(line.trim());
    if (m) res[m[1]] = { opsPerSec: Math.round(Number(m[2])), p50Ms: m[3] ? Number(m[3]) : undefined };
  }
  return res;
}

async function main(argv: string[]): Promise<number> {
  const o = new Command("bench")
    .option("--ops <n>", "commands per phase", "100000")
    .option("--concurrency <n>", "clients / requests in flight", "50")
    .option("--pipelines <list>", "pipeline depths to compare", "1,16")
    .option("--stack-file <path>", "stack config to plan from", resolve(__dirname, "../Pulumi.dev.yaml"))
    .parse(argv, { from: "user" })
    .opts<{ ops: string; concurrency: string; pipelines: string; stackFile: string }>();
  const spec = loadStackSpecFile(o.stackFile, "bench");
  const cluster = await startLocalCluster({ spec });
  const failures: string[] = [];
  const rows: string[][] = [["pipeline", "command", "ioredis ops/s", "p50 ms", "p99 ms", "redis-benchmark ops/s", "ioredis / redis-benchmark"]];
  try {
    console.log(`bench: ${spec.masters}x${spec.replicasPerMaster} local cluster (${cluster.seeds.join(" ")}), ${o.ops} ops per command, concurrency ${o.concurrency}`);
    for (const pipeline of o.pipelines.split(",").map(Number)) {
      const bench: BenchOptions = { ...DEFAULT_OPTIONS.bench, ops: Number(o.ops), concurrency: Number(o.concurrency), pipeline };
      const ctx = new SmokeContext({ ...DEFAULT_OPTIONS, nodes: cluster.seeds, nodeTimeoutMs: spec.nodeTimeoutMs, bench }, () => {});
      let ours: Record<string, PhaseResult> = {};
      try {
        ctx.benchClient = ctx.cluster();
        await ctx.benchClient.connect();
        ours = { SET: await runBenchPhase(ctx, "set", bench), GET: await runBenchPhase(ctx, "get", bench) };
      } finally {
        ctx.close();
      }
      const rb = spawnSync(
        "redis-benchmark",
        ["--cluster", "-h", cluster.nodes[0].host, "-p", String(cluster.nodes[0].port), "-t", "set,get", "-n", o.ops, "-c", o.concurrency, "-P", String(pipeline), "-q"],
        { encoding: "utf8", timeout: 300_000, env: cluster.cliEnv() },
      );
      if (rb.status !== 0) throw new Error(`redis-benchmark failed (${rb.status}): ${rb.stderr || rb.stdout}`);
      const theirs = parseRedisBenchmark(rb.stdout);
      for (const cmd of ["SET", "GET"]) {
        const a = ours[cmd];
        const b = theirs[cmd]?.opsPerSec;
        rows.push(benchRow(pipeline, cmd, a, b));
        if (a.errors) {
          // A run with errors measured something else than the client's throughput: no ratio, and a failing exit code.
          failures.push(`pipeline ${pipeline}: ${a.errors} of ${a.ops} ${cmd}s failed (e.g. ${a.firstError})`);
        }
      }
    }
  } finally {
    await cluster.stop();
  }
  const width = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => (i < 2 ? c.padEnd(width[i]) : c.padStart(width[i]))).join("  "));
  if (failures.length) {
    for (const f of failures) console.error(`bench: ${f}`);
    console.error("bench: FAILED: commands failed, so no ratio is given for those rows");
    return 1;
  }
  return 0;
}

/**
 * One table row. ops/s counts successful commands only (runBenchPhase); a phase with errors gets no ratio
 * ("-") because its ops/s is not comparable with redis-benchmark's.
 */
export function benchRow(pipeline: number, cmd: string, a: Pick<PhaseResult, "opsPerSec" | "p50Ms" | "p99Ms" | "errors">, theirs: number | undefined): string[] {
  const ratio = a.errors ? `- (${a.errors} errors)` : theirs ? (a.opsPerSec / theirs).toFixed(2) : "?";
  return [String(pipeline), cmd, String(a.opsPerSec), String(a.p50Ms), String(a.p99Ms), theirs ? String(theirs) : "?", ratio];
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
