// Bad smoke CLI input is a usage error (exit 2, naming the flag) found before any connection is made — not a broken
// cluster, a timer overflow, or a report lost after the whole run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../helpers/stackConfig";

function smoke(args: string[]) {
  const t0 = Date.now();
  // Port 1 on loopback: nothing listens, so a run that starts at all fails differently (and says so).
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "smoke", "cli.ts"), "--nodes", "127.0.0.1:1", ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, err: r.stderr, ms: Date.now() - t0 };
}

test("--keys is bounded", () => {
  for (const v of ["5000000000", "1000001"]) {
    const r = smoke(["--keys", v]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /--keys must be an integer between 1 and 1000000/);
  }
});

test("--timeout-ms must fit Node's timer (2^31-1 ms)", () => {
  const r = smoke(["--timeout-ms", "99999999999"]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--timeout-ms must be an integer between 1000 and 2147483647/);
});

test("--json's folder is checked before the run", () => {
  const r = smoke(["--json", "/no/such/dir/r.json"]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--json: cannot write \/no\/such\/dir\/r\.json/);
  assert.doesNotMatch(r.err, /connect/i, "nothing was run");
});
