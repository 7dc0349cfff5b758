// Runs every test file under test/ with node's built-in runner.
// Node 20's `--test` does not expand globs, so the file list is built here.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { spawn } from "node:child_process";

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return find(p);
    return p.endsWith(".test.ts") ? [p] : [];
  });
}

// Files that start no server, cluster or daemon and assert no timing (no wait-until-stable either): the program through
// the test engine (its per-program bound is minutes), component mocks, pure plan and config checks. In a full run they
// form a second lane beside the type check and then beside the server tests, which run one at a time in the first lane:
// on 2 cores this saves minutes, and nothing in this lane can fail on timing. Anything not listed runs alone in the
// first lane, after the type check passed.
const LIGHT = (f) =>
  /^test\/infra\/(index\.[a-z]+|components\/(kubernetes\/)?[A-Za-z]+|plan\/[A-Za-z]+|config\/[A-Za-z]+)\.test\.ts$/.test(f) ||
  new Set([
    "test/architecture/import-direction.test.ts",
    "test/testbed/pods/daemon.test.ts",
    "test/smoke/canary/ackRing.test.ts",
    "test/smoke/canary/shards.test.ts",
    "test/smoke/canary/view.test.ts",
    "test/smoke/canary/cli.test.ts",
    "test/infra/backup/manifest.test.ts",
    "test/testbed/pods/eviction.test.ts",
    "test/testbed/pods/networkPolicy.test.ts",
    "test/testbed/pods/serviceProxy.test.ts",
    "test/testbed/pods/pod.test.ts",
    "test/testbed/pods/resources/validate.test.ts",
    "test/testbed/pods/spec.test.ts",
    "test/testbed/pods/workloads.test.ts",
    "test/testbed/workload/checker.test.ts",
    "test/tools/pods/scenarios/report.test.ts",
    "test/docs/links.test.ts",
    "test/docs/runbooks.test.ts",
    "test/testbed/engine/engine.test.ts",
    "test/github/workflows.test.ts",
    "test/monitoring/grafanaDashboard.test.ts",
    "test/monitoring/prometheus.test.ts",
    "test/monitoring/rules.test.ts",
    "test/monitoring/slo.test.ts",
    "test/monitoring/backup.test.ts",
    "test/pulumi-project.test.ts",
    "test/tools/config-table.test.ts",
    "test/tools/dev-down.test.ts",
    "test/smoke/cli-input.test.ts",
    "test/smoke/topology.test.ts",
    "test/infra/index.prod-external.test.ts",
    "test/infra/index.dev-backup.test.ts",
    "test/infra/lastDeployment.test.ts",
    "test/testbed/pods/job.test.ts",
    "test/infra/typescriptLoader.test.ts",
    "test/tools/bench/plot.test.ts",
    "test/tools/bench/cpuProfile.test.ts",
    "test/tools/bench/bench.test.ts",
    "test/tools/bench/failover.test.ts",
    "test/tools/scale/bench.test.ts",
  ]).has(f);

// The server files run in two lanes after the type check, one file at a time in each (ports are picked at random
// from 20000-29999, so two lanes rarely race for one). The second lane holds files that mostly wait (gossip, failure
// detection, alert `for:` windows, restarts) rather than compute (CPU seconds of the file's process tree well below its
// wall time, each file alone), and the smoke file (its failovers wait on node timeouts). The first lane keeps the files that measure rates or error counts (load
// generator, rotation, TLS renewal), the bootstrap file (the most CPU), and every Docker file (the dev stack, the prod
// pods), so that two private Docker daemons never run at once.
const SECOND = new Set([
  "test/tools/chaos/run.test.ts",
  "test/smoke/checks/canary.test.ts",
  "test/infra/scale/scaler.test.ts",
  "test/infra/scripts/entrypoint-disk.test.ts",
  "test/infra/scripts/frozen-node.test.ts",
  "test/infra/scripts/full-restart-ip-reuse.test.ts",
  "test/infra/scripts/full-restart.test.ts",
  "test/infra/scripts/refresh-peers.test.ts",
  "test/infra/plan/acl-live.test.ts",
  "test/tools/local/cli.test.ts",
  "test/tools/demo/demo.test.ts",
  "test/testbed/local/harness.test.ts",
  "test/monitoring/live-alerts.test.ts",
  "test/monitoring/live-backup-alerts.test.ts",
  "test/infra/backup/drill.test.ts",
  "test/infra/plan/acl-backup-live.test.ts",
  "test/smoke/smoke.test.ts",
  "test/smoke/canary/canary.test.ts",
  "test/monitoring/live-canary-slo.test.ts",
  "test/smoke/workloads.test.ts",
]);

// Files the whole suite leaves out, each with the command that runs it (named, never skipped in silence): they add
// minutes a pull request does not need on every run.
const SEPARATE = new Map([
  ["test/infra/index.dev-docker-secure.test.ts", "npm run test:docker-secure (the dev stack with TLS and ACL on a private Docker engine, a rotation and a renewal: 82-130 s)"],
  // The two longest pods-runner stories (about 3.5 min each): with them the suite took 16 min instead of under 10.
  ["test/infra/index.prod-pods-backup.test.ts", "npm run test:pods-backup (prod backup and drill CronJobs as Jobs, the in-place restore runbook, a restore stack: ~215 s)"],
  ["test/infra/index.prod-pods-external.test.ts", "npm run test:pods-external (external access: smoke from outside the pod network with a failover, scale-out and scale-in: ~195 s)"],
]);

const only = process.argv.slice(2);
const files = only.length > 0 ? only : find("test").sort().filter((f) => !SEPARATE.has(f.split("\\").join("/")));
if (only.length === 0) for (const [f, how] of SEPARATE) console.log(`run-tests: not in this run: ${f}; run it with ${how}`);
if (files.length === 0) {
  console.error("run-tests: no test files found under test/");
  process.exit(1);
}
const durationsDir = mkdtempSync(join(tmpdir(), "run-tests-"));
process.on("exit", () => rmSync(durationsDir, { recursive: true, force: true }));

function run(cmd, args, opts) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, opts);
    let out = "";
    child.stdout?.on("data", (d) => (out += d));
    child.stderr?.on("data", (d) => (out += d));
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), out }));
  });
}

// One file at a time: integration tests start real servers and share 2 cores.
// Node 20 applies --test-timeout to each file as a whole (not to each test in it): every file ends within 6 minutes,
// and a file whose tests are done exits even if a stray handle lingers. The Docker dev-stack file is the longest.
let phase = 0;
const runFiles = (list) =>
  run(
    process.execPath,
    [
      "--import", "tsx", "--test", "--test-concurrency=1", "--test-timeout=360000", "--test-force-exit",
      "--test-reporter=spec", "--test-reporter-destination=stdout",
      `--test-reporter=${new URL("./file-durations-reporter.mjs", import.meta.url).href}`, `--test-reporter-destination=${join(durationsDir, `phase-${++phase}.tsv`)}`,
      ...list,
    ],
    { stdio: "inherit" },
  );

const started = Date.now();
let failed = false;
const extra = [];
if (only.length === 0) {
  // The whole suite (`npm test`) type-checks first: Pulumi loads the program transpile-only (tsconfig
  // "ts-node".transpileOnly), so a type error would otherwise reach no one before a deploy. A run of chosen files skips
  // it. tsc takes one core; the files beside it take the other, then the rest run only if it passed.
  const light = files.filter((f) => LIGHT(f.split("\\").join("/")));
  const heavy = files.filter((f) => !light.includes(f));
  console.log(`run-tests: tsc --noEmit -p tsconfig.json; beside it and then beside the ${heavy.length} server files (two lanes): ${light.length} files without servers or timing`);
  const t0 = Date.now();
  // Incremental: a later run on the same checkout re-checks only what changed (and what depends on it); the build info
  // lives under node_modules, so a fresh clone (CI) always checks everything.
  const tscArgs = ["--noEmit", "-p", "tsconfig.json", "--incremental", "--tsBuildInfoFile", join("node_modules", ".cache", "redis-cluster", "tsc.tsbuildinfo")];
  const tscRun = run(process.execPath, [join("node_modules", "typescript", "bin", "tsc"), ...tscArgs], { stdio: ["ignore", "pipe", "pipe"] }).then((r) => {
    extra.push([Date.now() - t0, r.code === 0, "tsc --noEmit -p tsconfig.json (beside the light files)"]);
    return r;
  });
  // The Docker files' stand-in images (debootstrap rootfs, cached under /var/cache/redis-cluster-test): built here on a
  // machine that has none yet (a fresh CI machine: .ci/run does not run scripts/setup.sh), so a cold cache does not eat
  // the time bound of whichever Docker file comes first. With a warm cache this takes about a second.
  const imagesRun = run(process.execPath, ["--import", "tsx", join("testbed", "docker", "images.ts")], { stdio: ["ignore", "pipe", "pipe"] }).then((r) => {
    extra.push([Date.now() - t0, r.code === 0, "stand-in images (testbed/docker/images.ts, beside the type check)"]);
    return r;
  });
  const lightRun = light.length > 0 ? runFiles(light) : Promise.resolve({ code: 0 });
  const images = await imagesRun;
  if (images.code !== 0) {
    await Promise.all([lightRun, tscRun]);
    process.stdout.write(images.out);
    console.error("run-tests: the stand-in images could not be built (above); the Docker files need them: run sh scripts/setup.sh");
    process.exit(images.code);
  }
  const built = images.out.split("\n").filter((l) => l.trim() && !l.includes(" is cached "));
  if (built.length > 0) console.log(built.join("\n"));
  const tsc = await tscRun;
  if (tsc.code !== 0) {
    await lightRun;
    process.stdout.write(tsc.out);
    console.error("run-tests: the type check failed (tsc --noEmit -p tsconfig.json); fix the errors above");
    process.exit(tsc.code);
  }
  console.log(`run-tests: type check passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const second = heavy.filter((f) => SECOND.has(f.split("\\").join("/")));
  const first = heavy.filter((f) => !second.includes(f));
  const runs = [lightRun, ...[first, second].filter((l) => l.length > 0).map(runFiles)];
  failed = (await Promise.all(runs)).some((r) => r.code !== 0);
} else {
  failed = (await runFiles(files)).code !== 0;
}

// The slowest files, to keep `npm test` well under its 15-minute budget.
if (files.length > 1) {
  const rows = [...extra];
  for (let p = 1; p <= phase; p++) {
    let text = "";
    try {
      text = readFileSync(join(durationsDir, `phase-${p}.tsv`), "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").filter(Boolean)) {
      const [ms, passed, file] = line.split("\t");
      rows.push([Number(ms), passed === "true", relative(process.cwd(), file)]);
    }
  }
  rows.sort((a, b) => b[0] - a[0]);
  const secs = (ms) => `${(ms / 1000).toFixed(1).padStart(6)} s`;
  console.log(`\nrun-tests: the ${Math.min(15, rows.length)} slowest of ${rows.length} (wall ${secs(Date.now() - started).trim()}):`);
  for (const [ms, passed, name] of rows.slice(0, 15)) console.log(`${secs(ms)}  ${passed ? "   " : "✖  "}${name}`);
}
process.exit(failed ? 1 : 0);
