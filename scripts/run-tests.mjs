// Runs every test file under test/ with node's built-in runner.
// Node 20's `--test` does not expand globs, so the file list is built here.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return find(p);
    return p.endsWith(".test.ts") ? [p] : [];
  });
}

const only = process.argv.slice(2);
const files = only.length > 0 ? only : find("test").sort();
if (files.length === 0) {
  console.error("run-tests: no test files found under test/");
  process.exit(1);
}
// The whole suite (`npm test`) type-checks first: Pulumi loads the program transpile-only (tsconfig
// "ts-node".transpileOnly), so a type error would otherwise reach no one before a deploy. A run of chosen files skips it.
if (only.length === 0) {
  console.log("run-tests: tsc --noEmit -p tsconfig.json");
  const tsc = spawnSync(process.execPath, [join("node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", "tsconfig.json"], { stdio: "inherit" });
  if (tsc.status !== 0) {
    console.error("run-tests: the type check failed (tsc --noEmit -p tsconfig.json); fix the errors above");
    process.exit(tsc.status ?? 1);
  }
}
// One file at a time: integration tests start real servers and share 2 cores.
// Every test is bounded (--test-timeout), and a file whose tests are done exits even if a stray handle lingers.
const r = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=1", "--test-timeout=240000", "--test-force-exit", "--test-reporter=spec", ...files],
  { stdio: "inherit" },
);
process.exit(r.status ?? 1);
