// Benchmark (not a test), issue 25's cost growth, first part: how the prod preview's program evaluation grows with the
// number of masters (one replica each), through Pulumi's own Node.js runtime (the test engine), with the runtime floor
// measured in the same run. Run: npm run bench:scale-cost [-- --masters 3,12,48,96 --runs 3].
// The goal line is the issue's: seconds per master at the largest size ≤ 1.2× that at the second smallest. Beside it the
// marginal cost of each step (ms per added master) and the largest size's time over the second smallest's, which show
// growth the per-master ratio would hide behind the fixed cost.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { runProgram } from "../../testbed/engine/engine";

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
  .option("--masters <list>", "cluster sizes (masters) to evaluate", list, [3, 12, 48, 96])
  .option("--runs <n>", "runs per size (median)", whole, 3)
  .option("--stack <name>", "stack file to start from: prod (one StatefulSet) or dev (a container per node; at most 58 masters x 1)", "prod")
  .parse()
  .opts<{ masters: number[]; runs: number; stack: string }>();

const dir = mkdtempSync(join(tmpdir(), "scale-cost-"));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** Median wall seconds of the program process (and the resources it registered) for one size; no size: the floor. */
async function evaluate(masters?: number): Promise<{ wall: number; cpu: number; resources: number }> {
  const rows: { wallMs: number; userMs: number; systemMs: number }[] = [];
  let resources = 0;
  for (let i = 0; i < o.runs; i++) {
    const file = join(dir, `${masters ?? "floor"}-${i}.json`);
    const r = await runProgram({
      stack: o.stack,
      mode: "preview",
      ...(masters === undefined
        ? { program: "testbed/engine/programs/one-resource.ts", stackConfig: {} }
        : { config: { "redis-cluster:masters": masters, "redis-cluster:replicasPerMaster": 1 } }),
      nodeArgs: [`--require=${join(__dirname, "cpu-report.cjs")}`],
      env: { ENGINE_CPU_REPORT: file },
    });
    if (r.exitCode !== 0) throw new Error(`preview at ${masters ?? "floor"} masters failed: ${r.errors.join("\n").slice(0, 2000)}`);
    resources = r.resources.length;
    rows.push(JSON.parse(readFileSync(file, "utf8")));
  }
  return { wall: median(rows.map((r) => r.wallMs)) / 1000, cpu: median(rows.map((r) => r.userMs + r.systemMs)) / 1000, resources };
}

(async () => {
  try {
    console.log(`load before: ${loadavg()}`);
    const floor = await evaluate();
    console.log(`floor (one-resource program): ${floor.wall.toFixed(2)} s wall, ${floor.cpu.toFixed(2)} s cpu (median of ${o.runs})`);
    const rows: { masters: number; wall: number; cpu: number; resources: number }[] = [];
    for (const m of o.masters) {
      const r = await evaluate(m);
      rows.push({ masters: m, ...r });
      console.log(`${String(m).padStart(4)} masters x 1 replica: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s cpu, ${r.resources} resources (median of ${o.runs})`);
    }
    const slope = (a: (typeof rows)[number], b: (typeof rows)[number]) => (b.wall - a.wall) / (b.masters - a.masters);
    for (let i = 1; i < rows.length; i++) {
      console.log(`  ${rows[i - 1].masters} -> ${rows[i].masters}: ${(slope(rows[i - 1], rows[i]) * 1000).toFixed(1)} ms per added master`);
    }
    const base = rows[1];
    const top = rows[rows.length - 1];
    console.log(`  ${top.masters} masters take ${(top.wall / base.wall).toFixed(2)}× the time of ${base.masters} (${(top.masters / base.masters).toFixed(0)}× the masters)`);
    const ratio = top.wall / top.masters / (base.wall / base.masters);
    console.log(`goal: preview time per master at ${top.masters} ≤ ${GOAL_RATIO}× that at ${base.masters}: ${ratio.toFixed(2)}× — ${ratio <= GOAL_RATIO ? "met" : "NOT met"}`);
    console.log(`load after: ${loadavg()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();
