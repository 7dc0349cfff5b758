// The program's evaluation time through Pulumi's own Node.js runtime (the test engine), as the benchmarks measure it:
// the program process's wall and CPU time from cpu-report.cjs, the median of several runs.
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runProgram, type ConfigInput } from "../../testbed/engine/engine";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** The runtime floor: a one-resource program under the repository's runtime options. */
export const FLOOR_PROGRAM = "testbed/engine/programs/one-resource.ts";
/** As many trivial resources as a program declares (config `resources`): the SDK's own cost per resource. */
export const TRIVIAL_PROGRAM = "testbed/engine/programs/trivial-resources.ts";

export interface EvaluationTime {
  /** Medians, seconds. */
  wall: number;
  cpu: number;
  /** Each run's wall time, seconds. */
  walls: number[];
  /** Resources the program registered (last run). */
  resources: number;
  /** With `cpuProfile`: the last run's V8 CPU profile (.cpuprofile JSON). */
  profile?: unknown;
}

/**
 * `runs` previews of `stack` (with `config` changes), or of `program` on an empty stack; `dir` holds the reports.
 * A failed preview throws with its errors.
 */
export async function evaluationTime(o: { stack: string; runs: number; dir: string; label: string; program?: string; config?: Record<string, ConfigInput>; cpuProfile?: boolean }): Promise<EvaluationTime> {
  const rows: { wallMs: number; userMs: number; systemMs: number }[] = [];
  let resources = 0;
  const base = join(o.dir, o.label.replace(/\W+/g, "-"));
  // The profiler slows the run it watches: a profiled run's times are not the benchmark's.
  const profDir = `${base}-profile`;
  if (o.cpuProfile) mkdirSync(profDir, { recursive: true });
  for (let i = 0; i < o.runs; i++) {
    const file = `${base}-${i}.json`;
    const r = await runProgram({
      stack: o.stack,
      mode: "preview",
      ...(o.program ? { program: o.program, stackConfig: {}, config: o.config } : { config: o.config }),
      nodeArgs: [`--require=${join(__dirname, "cpu-report.cjs")}`, ...(o.cpuProfile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [])],
      env: { ENGINE_CPU_REPORT: file },
    });
    if (r.exitCode !== 0) throw new Error(`${o.label}: preview failed: ${r.errors.join("\n").slice(0, 2000)}`);
    resources = r.resources.length;
    rows.push(JSON.parse(readFileSync(file, "utf8")));
  }
  const profiles = o.cpuProfile ? readdirSync(profDir).filter((f) => f.endsWith(".cpuprofile")).sort() : [];
  return {
    ...(profiles.length ? { profile: JSON.parse(readFileSync(join(profDir, profiles[profiles.length - 1]), "utf8")) } : {}),
    wall: median(rows.map((r) => r.wallMs)) / 1000,
    cpu: median(rows.map((r) => r.userMs + r.systemMs)) / 1000,
    walls: rows.map((r) => r.wallMs / 1000),
    resources,
  };
}
