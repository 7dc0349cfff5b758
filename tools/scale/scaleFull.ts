// `npm run scale:full` (not part of npm test): the FULL scaling scenario on real redis-server processes and the bench.
//   1. 50 000 keys, a writer acknowledging every write with WAIT running all the time, 3x1 -> 4x1 -> 3x1 -> 3x2 -> 3x1,
//      each step as `pulumi up` orders it (testbed/local/scaleCluster.ts: resize) and followed by the smoke checks: every
//      key readable, slot shares within 10 %, 0 WAIT-acknowledged writes lost, the writer's errors and error window.
//   2. Bench (./bench.ts): 3x1 -> 4x1 with the writer running, the scale step at its defaults (and any --variant) vs
//      redis-cli add-node + rebalance on a fresh cluster with the same data, at each --bench-keys; goal lines.
// Exit 1 when any check or goal fails. `--keys N` (default 50 000), `--bench-keys 10000,100000`, `--json <file>`.
import { writeFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { resize, startWrittenCluster, topology, type WriterStats } from "../../testbed/local/scaleCluster";
import type { ScaleResult } from "../../infra/scale/scaler";
import { benchScaleOut, benchTable, goalLines, REDIS_CLI, type BenchRow, type BenchTool } from "./bench";

interface StepReport {
  step: string;
  ms: number;
  slotsMoved: number;
  keysMoved: number;
  codes: number[];
  shares: number[];
  maxDeviationPct: number;
  replicas: number[];
  unreadable: number;
  lost: number;
  writer: Pick<WriterStats, "attempts" | "acked" | "errors" | "redirects" | "longestErrorWindowMs" | "errorSamples"> & { unacked: number };
  ok: boolean;
}

const delta = (a: WriterStats, b: WriterStats) => ({
  attempts: b.attempts - a.attempts, acked: b.acked - a.acked, errors: b.errors - a.errors, redirects: b.redirects - a.redirects,
  unacked: b.attempts - a.attempts - (b.acked - a.acked) - (b.errors - a.errors),
  longestErrorWindowMs: b.longestErrorWindowMs, errorSamples: b.errorSamples.slice(a.errorSamples.length),
});

async function fullScenario(keys: number): Promise<StepReport[]> {
  const { c, client, writer } = await startWrittenCluster("scale-full-pw", keys);
  const reports: StepReport[] = [];
  try {
    for (const [m, r] of [[4, 1], [3, 1], [3, 2], [3, 1]] as const) {
      const before = { ...writer.stats, errorSamples: [...writer.stats.errorSamples] };
      writer.stats.longestErrorWindowMs = 0;
      const t0 = Date.now();
      const res: ScaleResult[] = await resize(c, m, r, { log: (l) => process.stderr.write(`  ${l}\n`) });
      const ms = Date.now() - t0;
      const t = topology(c);
      const check = await writer.lost();
      const rep: StepReport = {
        step: `-> ${m}x${r}`, ms, slotsMoved: res.reduce((n, x) => n + x.slotsMoved, 0), keysMoved: res.reduce((n, x) => n + x.keysMoved, 0),
        codes: res.map((x) => x.code), shares: t.shares, maxDeviationPct: Number(t.maxDeviationPct.toFixed(2)), replicas: t.replicas,
        unreadable: check.unreadable.length, lost: check.lost.length, writer: delta(before, writer.stats),
        ok: res.every((x) => x.code === 0) && t.masters === m && t.replicas.every((x) => x === r) && t.maxDeviationPct < 10 && !check.unreadable.length && !check.lost.length,
      };
      reports.push(rep);
      process.stdout.write(`${JSON.stringify(rep)}\n`);
    }
    await writer.finish();
  } finally {
    client.disconnect();
    await c.stop();
  }
  return reports;
}

/** `--variant slot-group=8,batch-keys=20`: the scale step with these CLI options instead of its defaults. */
function parseVariant(v: string, prev: BenchTool[]): BenchTool[] {
  const step: string[] = [];
  for (const kv of v.split(",").filter(Boolean)) {
    const m = /^([a-z][a-z-]*)=(\d+)$/.exec(kv);
    if (!m) throw new InvalidArgumentError(`--variant takes <scale CLI option>=<integer>,… (e.g. slot-group=8); got ${kv}`);
    step.push(`--${m[1]}`, m[2]);
  }
  return [...prev, { label: `scale step, ${v}`, step }];
}

const keyList = (v: string) => {
  if (!/^\d+(,\d+)*$/.test(v)) throw new InvalidArgumentError("--bench-keys takes integers separated by commas, e.g. 10000,100000");
  return v.split(",").map(Number);
};

async function main() {
  const o = new Command("scale:full")
    .option("--keys <n>", "keys of the full scenario", (v) => Number(v), 50_000)
    .option("--bench-keys <list>", "key counts of the bench, comma-separated", keyList, [10_000, 100_000])
    .option("--variant <settings>", "also bench the scale step with these CLI settings, e.g. slot-group=8,pause-ms=2 (repeatable)", parseVariant, [] as BenchTool[])
    .option("--no-redis-cli", "bench the scale step only")
    .option("--json <file>")
    .option("--bench-only")
    .option("--no-bench")
    .parse()
    .opts();
  const steps = o.benchOnly ? [] : await fullScenario(o.keys);
  const defaults: BenchTool = { label: "scale step (defaults)", step: [] };
  const tools: BenchTool[] = [defaults, ...o.variant, ...(o.redisCli ? [REDIS_CLI] : [])];
  const bench: BenchRow[] = [];
  if (o.bench) {
    for (const keys of o.benchKeys as number[]) {
      for (const tool of tools) {
        const row = await benchScaleOut(tool, keys, (l) => process.stderr.write(`${l}\n`));
        process.stderr.write(`${JSON.stringify(row)}\n`);
        bench.push(row);
      }
    }
  }
  if (steps.length) {
    process.stdout.write("\n| step | time | slots moved | keys moved | writer acked / unacked / errors (redirects retried) | longest error run | shares | max deviation | unreadable | lost |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (const s of steps) {
      process.stdout.write(`| ${s.step} | ${(s.ms / 1000).toFixed(1)} s | ${s.slotsMoved} | ${s.keysMoved} | ${s.writer.acked} / ${s.writer.unacked} / ${s.writer.errors} (${s.writer.redirects}) | ${s.writer.longestErrorWindowMs} ms | ${s.shares.join(", ")} | ${s.maxDeviationPct} % | ${s.unreadable} | ${s.lost} |\n`);
    }
  }
  const goals = goalLines(bench, defaults.label);
  if (bench.length) {
    process.stdout.write(`\n${benchTable(bench)}\n`);
    for (const b of bench) if (b.writes.samples.length) process.stdout.write(`${b.keys} keys, ${b.tool}: failed writes: ${b.writes.samples.join(" | ")}\n`);
    for (const g of goals) process.stdout.write(`${g.line}\n`);
  }
  if (o.json) writeFileSync(o.json, JSON.stringify({ steps, bench, goals }, null, 2));
  const ok = steps.every((s) => s.ok) && bench.every((b) => b.lost === 0 && b.unreadable === 0) && goals.every((g) => g.met);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`scale:full: ${(e as Error).stack}\n`);
  process.exit(1);
});
