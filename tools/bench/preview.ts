// Benchmark (not a test): `pulumi preview -s prod` program evaluation through Pulumi's own Node.js runtime, as the
// repository configures it (ts-node transpile-only) and with ts-node type checking (Pulumi's default without it).
// Run: npx tsx tools/bench/preview.ts [runs]. Reports the program process's wall and CPU time (median of the runs).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runProgram } from "../../testbed/engine/engine";

const runs = Number(process.argv[2] ?? 3);
const dir = mkdtempSync(join(tmpdir(), "engine-bench-"));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(label: string, typeCheck: boolean | undefined, program?: string) {
  const rows: { wallMs: number; userMs: number; systemMs: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const file = join(dir, `${label}-${i}.json`);
    const r = await runProgram({
      stack: "prod", mode: "preview", typeCheck, program, ...(program ? { stackConfig: {} } : {}),
      nodeArgs: [`--require=${join(__dirname, "cpu-report.cjs")}`], env: { ENGINE_CPU_REPORT: file },
    });
    if (r.exitCode !== 0) throw new Error(`${label}: preview failed: ${r.errors.join("\n")}`);
    rows.push(JSON.parse(readFileSync(file, "utf8")));
  }
  const w = median(rows.map((r) => r.wallMs));
  const c = median(rows.map((r) => r.userMs + r.systemMs));
  console.log(`${label.padEnd(26)} wall ${(w / 1000).toFixed(2)} s   cpu ${(c / 1000).toFixed(2)} s   (median of ${runs}; runs: ${rows.map((r) => (r.wallMs / 1000).toFixed(1)).join(", ")} s)`);
}

(async () => {
  try {
    // The floor: Pulumi's runtime (SDK, ts-node, TypeScript) with a one-resource program.
    await measure("floor: one-resource program", undefined, "testbed/engine/programs/one-resource.ts");
    await measure("transpile-only (repo)", undefined);
    await measure("type-check (ts-node)", true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();
