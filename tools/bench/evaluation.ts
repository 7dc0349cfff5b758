// The program's evaluation time through Pulumi's own Node.js runtime (the test engine), as the benchmarks measure it:
// the program process's wall and CPU time from cpu-report.cjs, the median of several runs.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runProgram, type ConfigInput } from "../../testbed/engine/engine";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** The runtime floor: a one-resource program under the repository's runtime options. */
export const FLOOR_PROGRAM = "testbed/engine/programs/one-resource.ts";

export interface EvaluationTime {
  /** Medians, seconds. */
  wall: number;
  cpu: number;
  /** Each run's wall time, seconds. */
  walls: number[];
  /** Resources the program registered (last run). */
  resources: number;
}

/**
 * `runs` previews of `stack` (with `config` changes), or of `program` on an empty stack; `dir` holds the reports.
 * A failed preview throws with its errors.
 */
export async function evaluationTime(o: { stack: string; runs: number; dir: string; label: string; program?: string; config?: Record<string, ConfigInput> }): Promise<EvaluationTime> {
  const rows: { wallMs: number; userMs: number; systemMs: number }[] = [];
  let resources = 0;
  for (let i = 0; i < o.runs; i++) {
    const file = join(o.dir, `${o.label.replace(/\W+/g, "-")}-${i}.json`);
    const r = await runProgram({
      stack: o.stack,
      mode: "preview",
      ...(o.program ? { program: o.program, stackConfig: {} } : { config: o.config }),
      nodeArgs: [`--require=${join(__dirname, "cpu-report.cjs")}`],
      env: { ENGINE_CPU_REPORT: file },
    });
    if (r.exitCode !== 0) throw new Error(`${o.label}: preview failed: ${r.errors.join("\n").slice(0, 2000)}`);
    resources = r.resources.length;
    rows.push(JSON.parse(readFileSync(file, "utf8")));
  }
  return {
    wall: median(rows.map((r) => r.wallMs)) / 1000,
    cpu: median(rows.map((r) => r.userMs + r.systemMs)) / 1000,
    walls: rows.map((r) => r.wallMs / 1000),
    resources,
  };
}
