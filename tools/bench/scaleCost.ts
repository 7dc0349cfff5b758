// Benchmark (not a test), issue 25's cost growth: how the preview's program evaluation grows with the number of masters
// (one replica each), through Pulumi's own Node.js runtime (the test engine), with the runtime floor measured in the
// same run; then, on real local redis-server processes, the nodes' start, the bootstrap (the script the containers run)
// and a smoke run (manual failover, no benchmark) at a few sizes; last, the scale step 3x1 -> 4x1 under a WAIT writer
// against redis-cli add-node + rebalance at several key counts (tools/scale/bench.ts, as scale:full's bench).
// Run: npm run bench:scale-cost [-- --masters 3,12,48,96 --runs 3 --local-masters 3,6,12 --scale-keys 10000,100000
//      --json cost.json --svg docs/benchmarks-cost.svg].
// The goal lines are the issue's: seconds per master at the largest size ≤ 1.2× that at the second smallest (preview,
// bootstrap), and the scale step at >= 1.5x redis-cli's keys/s with 0 failed writes. Beside the first the marginal cost
// of each step (ms per added master) and the largest size's time over the second smallest's, which show growth the
// per-master ratio would hide behind the fixed cost.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { evaluationTime, FLOOR_PROGRAM, loadavg } from "./evaluation";
import { startLocalCluster } from "../../testbed/local/harness";
import { runSmoke } from "../../smoke/run";
import { DEFAULT_OPTIONS } from "../../smoke/types";
import { benchScaleOut, benchTable, goalLines, parseKeyList, REDIS_CLI, type BenchRow, type BenchTool } from "../scale/bench";
import { svgPlot, type Panel } from "./plot";

/** Issue 25: "ratio per master at 96 ≤ 1.2× that at 12". */
const GOAL_RATIO = 1.2;

const list = (v: string) => {
  const xs = v.split(",").map(Number);
  if (xs.length < 3 || xs.some((x) => !Number.isInteger(x) || x < 3)) throw new InvalidArgumentError("three or more whole numbers >= 3, e.g. 3,12,48,96");
  return [...xs].sort((a, b) => a - b);
};
const whole = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError("a whole number >= 1");
  return Number(v);
};

const o = new Command("bench:scale-cost")
  .description("preview evaluation time at several cluster sizes (masters x 1 replica), with the runtime floor")
  .option("--masters <list>", "cluster sizes (masters) to evaluate (\"none\" skips the evaluation)", (v) => (v === "none" ? [] : list(v)), [3, 12, 48, 96])
  .option("--runs <n>", "runs per size (median)", whole, 3)
  .option("--local-masters <list>", "local cluster sizes for start, bootstrap and smoke (\"none\" skips them)", (v) => (v === "none" ? [] : list(v)), [3, 6, 12])
  .option("--stack <name>", "stack file to start from: prod (one StatefulSet) or dev (a container per node; at most 58 masters x 1)", "prod")
  .option("--scale-keys <list>", "key counts for the scale step against redis-cli (\"none\" skips it)", (v) => (v === "none" ? [] : parseKeyList(v)), [10_000, 100_000])
  .option("--json <file>", "also write the measurements as JSON")
  .option("--svg <file>", "also write the plot (SVG)")
  .parse()
  .opts<{ masters: number[]; runs: number; stack: string; localMasters: number[]; scaleKeys: number[]; json?: string; svg?: string }>();

const dir = mkdtempSync(join(tmpdir(), "scale-cost-"));

/** Median times of one size; no size: the floor. */
const evaluate = (masters?: number) =>
  evaluationTime({
    stack: o.stack,
    runs: o.runs,
    dir,
    label: `${masters ?? "floor"} masters`,
    ...(masters === undefined ? { program: FLOOR_PROGRAM } : { config: { "redis-cluster:masters": masters, "redis-cluster:replicasPerMaster": 1 } }),
  });

interface EvaluationRow {
  masters: number;
  wall: number;
  cpu: number;
  resources: number;
}
interface LocalRow {
  masters: number;
  startMs: number;
  bootstrapMs: number;
  smokeMs: number;
}
/** Everything one run measured: the JSON output and the plot's input. */
interface Report {
  stack: string;
  loadBefore: string;
  loadAfter?: string;
  floor?: { wall: number; cpu: number };
  evaluation: EvaluationRow[];
  local: LocalRow[];
  scale: BenchRow[];
  goals: { line: string; met: boolean }[];
}
const goal = (r: Report, line: string, met: boolean) => {
  r.goals.push({ line, met });
  console.log(line);
};

/** Real local clusters: processes answering, bootstrap to cluster_state:ok, one smoke run; each cluster removed after. */
async function local(report: Report): Promise<void> {
  const rows = report.local;
  for (const m of o.localMasters) {
    const t0 = Date.now();
    const c = await startLocalCluster({ masters: m, replicasPerMaster: 1, bootstrap: false, timeoutMs: 300_000 });
    try {
      const startMs = Date.now() - t0;
      const b = await c.runBootstrap();
      if (b.code !== 0) throw new Error(`bootstrap at ${m} masters exited ${b.code}:\n${b.output.slice(-2000)}`);
      const smoke = await runSmoke({
        ...DEFAULT_OPTIONS,
        nodes: c.seeds,
        password: c.password,
        expectMasters: m,
        expectReplicas: 1,
        failover: "manual",
        bench: { ...DEFAULT_OPTIONS.bench, ops: 0 },
      });
      if (!smoke.ok) throw new Error(`smoke at ${m} masters failed: ${smoke.checks.filter((x) => !x.ok).map((x) => `${x.name}: ${x.details}`).join("; ")}`);
      rows.push({ masters: m, startMs, bootstrapMs: b.ms, smokeMs: smoke.duration_ms });
      console.log(`local ${String(m).padStart(3)} masters x 1 replica: nodes answering ${(startMs / 1000).toFixed(2)} s, bootstrap to cluster_state:ok ${(b.ms / 1000).toFixed(2)} s, smoke ${(smoke.duration_ms / 1000).toFixed(1)} s (${smoke.checks.map((x) => `${x.name} ${(x.duration_ms / 1000).toFixed(1)}`).join(", ")})`);
    } finally {
      await c.stop();
    }
  }
  if (rows.length >= 2) {
    const [a, b] = [rows[0], rows[rows.length - 1]];
    const perMaster = (x: number, r: (typeof rows)[number]) => x / r.masters;
    const ratio = perMaster(b.bootstrapMs, b) / perMaster(a.bootstrapMs, a);
    console.log(`  bootstrap ${b.masters} masters / ${a.masters}: ${(b.bootstrapMs / a.bootstrapMs).toFixed(2)}× the time for ${(b.masters / a.masters).toFixed(0)}× the masters; smoke ${(b.smokeMs / a.smokeMs).toFixed(2)}×`);
    goal(report, `goal: bootstrap time per master at ${b.masters} ≤ ${GOAL_RATIO}× that at ${a.masters}: ${ratio.toFixed(2)}× — ${ratio <= GOAL_RATIO ? "met" : "NOT met"}`, ratio <= GOAL_RATIO);
  }
}

/** The scale step 3x1 -> 4x1 against redis-cli at each key count, each on a fresh cluster with the WAIT writer. */
async function scale(report: Report): Promise<void> {
  const step: BenchTool = { label: "scale step (defaults)", step: [] };
  for (const keys of o.scaleKeys) {
    for (const tool of [step, REDIS_CLI]) {
      const row = await benchScaleOut(tool, keys);
      report.scale.push(row);
      const w = row.writes;
      console.log(`scale ${keys} keys, ${tool.label}: ${(row.ms / 1000).toFixed(1)} s, ${row.keysPerSec} keys/s, writes acked/unacked/failed ${w.acked}/${w.unacked}/${w.failed}, lost ${row.lost}, load ${row.load}`);
    }
  }
  console.log(`\n${benchTable(report.scale)}`);
  for (const g of goalLines(report.scale, step.label)) goal(report, g.line, g.met);
}

/** The plot: evaluation time, local bring-up and the scale step, one panel each (those measured). */
function plot(r: Report): string {
  const panels: Panel[] = [];
  if (r.evaluation.length) {
    panels.push({
      title: `${r.stack} preview evaluation (engine)`,
      xLabel: "masters (1 replica each)",
      yLabel: "seconds (median)",
      series: [
        { name: `${r.stack} preview`, points: r.evaluation.map((e) => [e.masters, e.wall]) },
        ...(r.floor ? [{ name: "runtime floor", points: r.evaluation.map((e): [number, number] => [e.masters, r.floor!.wall]) }] : []),
      ],
    });
  }
  if (r.local.length) {
    panels.push({
      title: "local cluster",
      xLabel: "masters (1 replica each)",
      yLabel: "seconds",
      series: [
        { name: "bootstrap to cluster_state:ok", points: r.local.map((l) => [l.masters, l.bootstrapMs / 1000]) },
        { name: "smoke (manual failover)", points: r.local.map((l) => [l.masters, l.smokeMs / 1000]) },
      ],
    });
  }
  if (r.scale.length) {
    const tools = [...new Set(r.scale.map((b) => b.tool))];
    panels.push({
      title: "3x1 -> 4x1 under a WAIT writer",
      xLabel: "keys",
      yLabel: "seconds",
      logX: true,
      series: tools.map((t) => ({ name: t, points: r.scale.filter((b) => b.tool === t).map((b): [number, number] => [b.keys, b.ms / 1000]) })),
    });
  }
  return svgPlot(panels);
}

(async () => {
  const report: Report = { stack: o.stack, loadBefore: loadavg(), evaluation: [], local: [], scale: [], goals: [] };
  try {
    console.log(`load before: ${report.loadBefore}`);
    if (o.masters.length) {
      const floor = await evaluate();
      report.floor = { wall: floor.wall, cpu: floor.cpu };
      console.log(`floor (one-resource program): ${floor.wall.toFixed(2)} s wall, ${floor.cpu.toFixed(2)} s cpu (median of ${o.runs})`);
      const rows = report.evaluation;
      for (const m of o.masters) {
        const r = await evaluate(m);
        rows.push({ masters: m, wall: r.wall, cpu: r.cpu, resources: r.resources });
        console.log(`${String(m).padStart(4)} masters x 1 replica: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s cpu, ${r.resources} resources (median of ${o.runs})`);
      }
      const slope = (a: EvaluationRow, b: EvaluationRow) => (b.wall - a.wall) / (b.masters - a.masters);
      for (let i = 1; i < rows.length; i++) {
        console.log(`  ${rows[i - 1].masters} -> ${rows[i].masters}: ${(slope(rows[i - 1], rows[i]) * 1000).toFixed(1)} ms per added master`);
      }
      const base = rows[1];
      const top = rows[rows.length - 1];
      console.log(`  ${top.masters} masters take ${(top.wall / base.wall).toFixed(2)}× the time of ${base.masters} (${(top.masters / base.masters).toFixed(0)}× the masters)`);
      const ratio = top.wall / top.masters / (base.wall / base.masters);
      goal(report, `goal: preview time per master at ${top.masters} ≤ ${GOAL_RATIO}× that at ${base.masters}: ${ratio.toFixed(2)}× — ${ratio <= GOAL_RATIO ? "met" : "NOT met"}`, ratio <= GOAL_RATIO);
    }
    if (o.localMasters.length > 0) await local(report);
    if (o.scaleKeys.length > 0) await scale(report);
    report.loadAfter = loadavg();
    console.log(`load after: ${report.loadAfter}`);
    console.log(`goals: ${report.goals.filter((g) => g.met).length} met, ${report.goals.filter((g) => !g.met).length} NOT met`);
    if (o.json) writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
    if (o.svg) writeFileSync(o.svg, plot(report));
    // A lost acknowledged write or an unreadable key is a defect, not a missed goal.
    if (report.scale.some((b) => b.lost > 0 || b.unreadable > 0)) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();
