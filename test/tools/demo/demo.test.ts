// demo/bench helpers: the stack file is planned like the Pulumi program plans it; redis-benchmark output is parsed;
// the demo itself runs end to end on the dev spec (failover none, few keys) and leaves no redis-server behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { demoPassword, main as demoMain } from "../../../tools/demo/demo";
import { loadStackSpecFile } from "../../../testbed/local/stackSpec";
import { parseRedisBenchmark } from "../../../tools/bench/bench";
import { isAlive } from "../../../testbed/local/processes";

test("Pulumi.dev.yaml plans a valid spec (prefix stripped, kill failover allowed)", () => {
  const spec = loadStackSpecFile(resolve(__dirname, "../../../Pulumi.dev.yaml"), "demo");
  assert.ok(spec.masters >= 3);
  assert.equal(spec.smokeFailover, "kill");
  assert.equal(spec.enableDebugCommand, "yes");
});

test("a secure password in the stack file is ignored; bad values fail with the key named", () => {
  const dir = mkdtempSync(join(tmpdir(), "demo-stack-"));
  try {
    const f = join(dir, "Pulumi.x.yaml");
    writeFileSync(f, "config:\n  redis-cluster:masters: 3\n  redis-cluster:password:\n    secure: AAABAxyz\n  aws:region: x\n");
    assert.equal(loadStackSpecFile(f, "demo").passwordProvided, false);
    writeFileSync(f, "config:\n  redis-cluster:masters: 2\n");
    assert.throws(() => loadStackSpecFile(f, "demo"), /redis-cluster:masters must be >= 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.match(demoPassword(), /^[A-Za-z0-9]{32}$/);
});

test("parses redis-benchmark -q output", () => {
  const out = "SET: rps=0.0 (overall: nan) avg_msec=nan\rSET: 133156.86 requests per second, p50=0.199 msec\nGET: 199203.20 requests per second, p50=0.135 msec\n";
  assert.deepEqual(parseRedisBenchmark(out), { SET: { opsPerSec: 133157, p50Ms: 0.199 }, GET: { opsPerSec: 199203, p50Ms: 0.135 } });
});


test("demo main(): the dev spec's cluster passes the smoke test (failover none) and is torn down", async () => {
  const lines: string[] = [];
  let pids: (number | undefined)[] = [];
  let dir = "";
  const code = await demoMain(["--failover", "none", "--keys", "300", "--bench-ops", "300"], {
    log: (l) => lines.push(l),
    onCluster: (c) => {
      pids = c.nodes.map((n) => n.pid());
      dir = c.dir;
    },
  });
  const out = lines.join("\n");
  assert.equal(code, 0, out);
  assert.match(out, /demo: planning 3 masters x 1 replica\(s\)/);
  assert.match(out, /Smoke test PASSED/);
  assert.match(out, /PASS auth/, "the demo cluster has a generated password");
  assert.equal(pids.length, 6);
  assert.ok(pids.every((p) => p !== undefined && !isAlive(p)), `redis-server left running: ${pids.filter(isAlive).join(",")}`);
  assert.ok(dir && !existsSync(dir), "temp dir removed");
});
