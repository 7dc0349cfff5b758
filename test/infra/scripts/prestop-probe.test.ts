// The pod lifecycle scripts for real: probe.sh (startup/liveness/readiness) and prestop.sh (a master hands over
// to its most up-to-date replica before it stops), on local redis-server processes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { scriptPaths } from "../../../infra/plan/scripts";
import { sleep } from "../../../smoke/time";

const PASSWORD = "lifecycleTestPassword-0123456789";
let cluster: LocalCluster | undefined;

function c(): LocalCluster {
  assert.ok(cluster, "cluster started");
  return cluster;
}

/** Runs one of the scripts against node i the way the kubelet would (password only in the environment). */
function run(script: string, i: number, args: string[] = [], env: Record<string, string> = {}) {
  const n = c().nodes[i];
  const r = spawnSync("sh", [script, ...args], {
    env: { ...c().cliEnv(), REDIS_HOST: n.host, REDIS_PORT: String(n.port), ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const role = (i: number) => /role:(\w+)/.exec(c().cli(i, ["info", "replication"]).stdout)?.[1];

before(async () => {
  cluster = await startLocalCluster({ password: PASSWORD, nodeTimeoutMs: 5000, bootstrap: false, timeoutMs: 60_000 });
});

after(async () => {
  await cluster?.stop();
});

test("probes: a new, empty node is alive and ready (the first deploy must reach the bootstrap Job)", () => {
  assert.equal(run(scriptPaths.probe, 0, ["alive"]).code, 0);
  assert.equal(run(scriptPaths.probe, 0, ["ready"]).code, 0);
  const bad = run(scriptPaths.probe, 0, ["ready"], { REDISCLI_AUTH: "wrong-password-0123456789" });
  assert.notEqual(bad.code, 0, "a wrong password is not ready");
  assert.equal(run(scriptPaths.probe, 0, ["bogus"]).code, 2);
});

test("bootstrap (retried like the Job) forms the cluster; probes then report ready", { timeout: 90_000 }, async () => {
  let ok = false;
  for (let k = 0; k < 3 && !ok; k++) {
    ok = (await c().runBootstrap()).code === 0;
    if (!ok) await sleep(3000);
  }
  assert.ok(ok, "bootstrap succeeded within 3 attempts");
  for (let i = 0; i < 6; i++) assert.equal(run(scriptPaths.probe, i, ["ready"]).code, 0, `node ${i} ready`);
});

test("prestop on a replica does nothing", () => {
  const replica = c().nodes.findIndex((_, i) => role(i) === "slave");
  const r = run(scriptPaths.prestop, replica);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /nothing to hand over/);
  assert.equal(role(replica), "slave");
});

test("prestop on a master hands its slots to the replica, bounded, without losing a write", { timeout: 90_000 }, async () => {
  const master = c().nodes.findIndex((_, i) => role(i) === "master");
  const myId = c().cli(master, ["cluster", "myid"]).stdout.trim();
  // A key this master owns, written just before the hand-over.
  const slots = c().cli(master, ["cluster", "nodes"]).stdout.split("\n").find((l) => l.startsWith(myId))!.split(" ").slice(8);
  const firstSlot = Number(slots[0].split("-")[0]);
  let key = "";
  for (let k = 0; k < 100_000 && !key; k++) {
    if (Number(c().cli(master, ["cluster", "keyslot", `k${k}`]).stdout.trim()) === firstSlot) key = `k${k}`;
  }
  assert.ok(key, "found a key of the master's first slot");
  assert.equal(c().cli(master, ["set", key, "before-prestop"]).stdout.trim(), "OK");

  const t0 = Date.now();
  const r = run(scriptPaths.prestop, master, [], { PRESTOP_TIMEOUT: "30" });
  const ms = Date.now() - t0;
  console.log(`# prestop hand-over took ${ms} ms:\n${r.out.trim().replace(/^/gm, "#   ")}`);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /now a replica/);
  assert.equal(role(master), "slave");
  const promoted = c().nodes.findIndex((_, i) => i !== master && c().cli(i, ["cluster", "myid"]).stdout.trim() !== myId &&
    c().cli(i, ["cluster", "nodes"]).stdout.split("\n").some((l) => l.includes("myself,master") && l.split(" ").slice(8).includes(slots[0])));
  assert.ok(promoted >= 0, "a former replica now serves the slots");
  assert.equal(c().cli(promoted, ["get", key]).stdout.trim(), "before-prestop");
  assert.ok(ms < 30_000, "bounded by PRESTOP_TIMEOUT");
});

test("prestop never blocks when the server is gone", () => {
  const r = run(scriptPaths.prestop, 0, [], { REDIS_PORT: "1", PRESTOP_TIMEOUT: "5" });
  assert.equal(r.code, 0, r.out);
  assert.equal(run(scriptPaths.probe, 0, ["alive"], { REDIS_PORT: "1" }).code, 1);
});
