// Benchmark (not a test): `pulumi preview -s prod` program evaluation through Pulumi's own Node.js runtime, as the
// repository configures it (Pulumi.yaml runtime options: tsx), with the runtime floor (a one-resource program under
// the same runtime options) measured in the same run, and the goal lines.
// Run: npx tsx tools/bench/preview.ts [runs] (default 5). Reports the program process's wall and CPU time (median).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { evaluationTime, FLOOR_PROGRAM, loadavg } from "./evaluation";

const runs = Number(process.argv[2] ?? 5);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a whole number >= 1 (got ${process.argv[2]}): npx tsx tools/bench/preview.ts 5`);
/** Issue 25's goals for the prod preview's evaluation. */
const GOAL_WALL_S = 2.5;
const GOAL_FLOOR_RATIO = 1.5;
const dir = mkdtempSync(join(tmpdir(), "engine-bench-"));

async function measure(label: string, program?: string): Promise<number> {
  const t = await evaluationTime({ stack: "prod", runs, dir, label, program });
  console.log(`${label.padEnd(28)} wall ${t.wall.toFixed(2)} s   cpu ${t.cpu.toFixed(2)} s   (median of ${runs}; runs: ${t.walls.map((w) => w.toFixed(2)).join(", ")} s)`);
  return t.wall;
}

(async () => {
  try {
    console.log(`load before: ${loadavg()}`);
    // The floor: Pulumi's runtime (SDK, the loader) with a one-resource program.
    const floor = await measure("floor: one-resource program", FLOOR_PROGRAM);
    const prod = await measure("prod preview");
    const met = (ok: boolean) => (ok ? "met" : "NOT met");
    console.log(`goal: prod preview ≤ ${GOAL_WALL_S} s: ${prod.toFixed(2)} s — ${met(prod <= GOAL_WALL_S)}`);
    console.log(`goal: prod preview ≤ ${GOAL_FLOOR_RATIO}× floor: ${(prod / floor).toFixed(2)}× (floor ${floor.toFixed(2)} s) — ${met(prod <= GOAL_FLOOR_RATIO * floor)}`);
    console.log(`load after: ${loadavg()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();
