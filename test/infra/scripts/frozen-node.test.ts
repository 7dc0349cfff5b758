// One frozen node (SIGSTOP: the TCP connection opens, nothing ever answers) must not hang the scripts past their
// own limits: bootstrap.sh within BOOTSTRAP_TIMEOUT, prestop.sh within PRESTOP_TIMEOUT, probe.sh within seconds.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { scriptPaths } from "../../../infra/plan/scripts";

const PASSWORD = "frozenNodeTestPassword-0123456";
let cluster: LocalCluster | undefined;
const frozen = new Set<number>();

function c(): LocalCluster {
  assert.ok(cluster, "cluster started");
  return cluster;
}

/** Runs a script in its own process group, killed (whole group) after `killAfterMs`; resolves with its duration. */
function runBounded(script: string, args: string[], env: Record<string, string>, killAfterMs: number) {
  const t0 = Date.now();
  return new Promise<{ code: number | null; ms: number; out: string; killed: boolean }>((resolve) => {
    const child = spawn("sh", [script, ...args], { env: { ...c().cliEnv(), ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    let killed = false;
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    }, killAfterMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, ms: Date.now() - t0, out, killed });
    });
  });
}

const role = (i: number) => /role:(\w+)/.exec(c().cli(i, ["info", "replication"]).stdout)?.[1];

before(async () => {
  // A long node timeout: the frozen nodes must not cause a failover while the scripts run.
  cluster = await startLocalCluster({ password: PASSWORD, nodeTimeoutMs: 60_000, timeoutMs: 90_000 });
});

after(async () => {
  for (const i of frozen) cluster?.thaw(i);
  await cluster?.stop();
});

function freeze(i: number) {
  frozen.add(i);
  c().freeze(i);
}
function thaw(i: number) {
  c().thaw(i);
  frozen.delete(i);
}

test("probe.sh alive fails within seconds on a frozen node (not hung until the kubelet kills it)", { timeout: 60_000 }, async () => {
  const replica = c().nodes.findIndex((_, i) => role(i) === "slave");
  const n = c().nodes[replica];
  freeze(replica);
  try {
    const r = await runBounded(scriptPaths.probe, ["alive"], { REDIS_HOST: n.host, REDIS_PORT: String(n.port) }, 40_000);
    assert.equal(r.killed, false, `probe hung for ${r.ms} ms`);
    assert.equal(r.code, 1, r.out);
    assert.ok(r.ms < 10_000, `probe took ${r.ms} ms`);
  } finally {
    thaw(replica);
  }
});

test("prestop.sh with the master's only replica frozen returns within PRESTOP_TIMEOUT", { timeout: 90_000 }, async () => {
  const master = c().nodes.findIndex((_, i) => role(i) === "master");
  const myId = c().cli(master, ["cluster", "myid"]).stdout.trim();
  const replicaAddr = c().cli(master, ["cluster", "replicas", myId]).stdout.trim().split(" ")[1].split("@")[0];
  const replica = c().nodes.findIndex((n) => `${n.host}:${n.port}` === replicaAddr);
  assert.ok(replica >= 0, `replica ${replicaAddr} found`);
  const n = c().nodes[master];
  freeze(replica);
  try {
    const r = await runBounded(scriptPaths.prestop, [], { REDIS_HOST: n.host, REDIS_PORT: String(n.port), PRESTOP_TIMEOUT: "5" }, 60_000);
    assert.equal(r.killed, false, `prestop hung for ${r.ms} ms:\n${r.out}`);
    assert.equal(r.code, 0, r.out);
    assert.ok(r.ms < 5_000 + 3_000, `prestop took ${r.ms} ms with PRESTOP_TIMEOUT=5:\n${r.out}`);
    assert.equal(role(master), "master", "no hand-over to a frozen replica");
  } finally {
    thaw(replica);
  }
});

test("bootstrap.sh with one node frozen gives up (exit 3) within BOOTSTRAP_TIMEOUT", { timeout: 120_000 }, async () => {
  freeze(4);
  try {
    const env = { ...c().plan.bootstrapEnv, REDIS_NODES: c().seeds.join(" "), BOOTSTRAP_TIMEOUT: "10" };
    const r = await runBounded(scriptPaths.bootstrap, [], env, 60_000);
    assert.equal(r.killed, false, `bootstrap hung for ${r.ms} ms:\n${r.out}`);
    assert.equal(r.code, 3, r.out);
    assert.match(r.out, new RegExp(`${c().nodes[4].host}:${c().nodes[4].port}`), "names the node that did not answer");
    assert.ok(r.ms < 10_000 + 6_000, `bootstrap took ${r.ms} ms with BOOTSTRAP_TIMEOUT=10`);
  } finally {
    thaw(4);
  }
});
