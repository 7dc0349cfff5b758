// demo/bench helpers: the stack file is planned like the Pulumi program plans it; redis-benchmark output is parsed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { demoPassword, specFromStackFile } from "../../local/demo";
import { parseRedisBenchmark } from "../../local/bench";

test("Pulumi.dev.yaml plans a valid spec (prefix stripped, kill failover allowed)", () => {
  const spec = specFromStackFile(resolve(__dirname, "../../Pulumi.dev.yaml"));
  assert.ok(spec.masters >= 3);
  assert.equal(spec.smokeFailover, "kill");
  assert.equal(spec.enableDebugCommand, "yes");
});

test("a secure password in the stack file is ignored; bad values fail with the key named", () => {
  const dir = mkdtempSync(join(tmpdir(), "demo-stack-"));
  try {
    const f = join(dir, "Pulumi.x.yaml");
    writeFileSync(f, "config:\n  redis-cluster:masters: 3\n  redis-cluster:password:\n    secure: AAABAxyz\n  aws:region: x\n");
    assert.equal(specFromStackFile(f).passwordProvided, false);
    writeFileSync(f, "config:\n  redis-cluster:masters: 2\n");
    assert.throws(() => specFromStackFile(f), /redis-cluster:masters must be >= 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.match(demoPassword(), /^[A-Za-z0-9]{32}$/);
});

test("parses redis-benchmark -q output", () => {
  const out = "SET: rps=0.0 (overall: nan) avg_msec=nan\rSET: 133156.86 requests per second, p50=0.199 msec\nGET: 199203.20 requests per second, p50=0.135 msec\n";
  assert.deepEqual(parseRedisBenchmark(out), { SET: { opsPerSec: 133157, p50Ms: 0.199 }, GET: { opsPerSec: 199203, p50Ms: 0.135 } });
});
