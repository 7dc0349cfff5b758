// Benchmark (not a test): `pulumi preview -s prod` program evaluation through Pulumi's own Node.js runtime, as the
// repository configures it (Pulumi.yaml runtime options: infra/typescriptLoader.cjs), with the runtime floor (a one-resource program under
// the same runtime options) measured in the same run, and the goal lines; beside them (no goal) a program of as
// many trivial resources, which tells the SDK's own per-resource work from the program's.
// Run: npx tsx tools/bench/preview.ts [runs] [--profile] (default 5 runs). Reports the program process's wall and CPU
// time (median). --profile: then one profiled run of each (node --cpu-prof) and where its time went, by owner.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ownerTable, timeByOwner, type CpuProfile } from "./cpuProfile";
import { evaluationTime, FLOOR_PROGRAM, loadavg, TRIVIAL_PROGRAM, type EvaluationTime } from "./evaluation";
import type { ConfigInput } from "../../testbed/engine/engine";
import { REPO_ROOT } from "../../testbed/engine/engine";

const args = process.argv.slice(2);
const profile = args.includes("--profile");
const runsArg = args.find((a) => a !== "--profile");
const runs = Number(runsArg ?? 5);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a whole number >= 1 (got ${runsArg}): npx tsx tools/bench/preview.ts 5 [--profile]`);
/** Issue 25's goals for the prod preview's evaluation. */
const GOAL_WALL_S = 2.5;
const GOAL_FLOOR_RATIO = 1.5;
const dir = mkdtempSync(join(tmpdir(), "engine-bench-"));

async function measure(label: string, program?: string, config?: Record<string, ConfigInput>): Promise<EvaluationTime> {
  const t = await evaluationTime({ stack: "prod", runs, dir, label, program, config });
  console.log(`${label.padEnd(34)} wall ${t.wall.toFixed(2)} s   cpu ${t.cpu.toFixed(2)} s   (median of ${runs}; runs: ${t.walls.map((w) => w.toFixed(2)).join(", ")} s)`);
  return t;
}

(async () => {
  try {
    console.log(`load before: ${loadavg()}`);
    // The floor: Pulumi's runtime (SDK, the loader) with a one-resource program.
    const floor = (await measure("floor: one-resource program", FLOOR_PROGRAM)).wall;
    const prodRun = await measure("prod preview");
    const prod = prodRun.wall;
    const met = (ok: boolean) => (ok ? "met" : "NOT met");
    console.log(`goal: prod preview ≤ ${GOAL_WALL_S} s: ${prod.toFixed(2)} s — ${met(prod <= GOAL_WALL_S)}`);
    console.log(`goal: prod preview ≤ ${GOAL_FLOOR_RATIO}× floor: ${(prod / floor).toFixed(2)}× (floor ${floor.toFixed(2)} s) — ${met(prod <= GOAL_FLOOR_RATIO * floor)}`);
    // No goal: how much of the prod preview is the SDK's own work for that many resources. Its failure costs no goal line.
    try {
      const trivialRun = await measure(`${prodRun.resources} trivial resources`, TRIVIAL_PROGRAM, { resources: prodRun.resources });
      if (trivialRun.resources !== prodRun.resources) throw new Error(`it registered ${trivialRun.resources} resources, the prod preview ${prodRun.resources}: not like with like`);
      const trivial = trivialRun.wall;
      console.log(`beside it (no goal): ${prodRun.resources} trivial resources take ${(trivial / floor).toFixed(2)}× the floor; the prod preview takes ${(prod / trivial).toFixed(2)}× them`);
    } catch (e) {
      console.log(`beside it (no goal): the trivial program was not measured: ${e instanceof Error ? e.message : String(e)}`);
    }
    console.log(`load after: ${loadavg()}`);
    if (profile) {
      const owners = async (label: string, program?: string) =>
        timeByOwner((await evaluationTime({ stack: "prod", runs: 1, dir, label: `${label} profiled`, program, cpuProfile: true })).profile as CpuProfile, REPO_ROOT);
      const f = await owners("floor", FLOOR_PROGRAM);
      const p = await owners("prod");
      const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
      console.log(`\nwhere the time went (one profiled run each, self time): prod preview ${(total(p) / 1000).toFixed(2)} s, floor ${(total(f) / 1000).toFixed(2)} s`);
      console.log(`${"prod".padStart(10)} ${"floor".padStart(10)}  owner`);
      for (const l of ownerTable(p, f)) console.log(l);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();
