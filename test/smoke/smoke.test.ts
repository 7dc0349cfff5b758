// The smoke test against real local clusters (harness): passes on healthy 3x1 clusters with and without a password in
// every failover mode, and fails within its timeout with a precise message on each broken case.
// Clusters are shared between cases; destructive cases run last on their cluster.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startLocalCluster, type LocalCluster } from "../../testbed/local/harness";
import { freePorts } from "../../testbed/local/ports";
import { runSmoke } from "../../smoke/run";
import { buildSmokeBundle } from "../../smoke/bundle";
import { smokeCliArgs, SMOKE_PASSWORD_ENV } from "../../infra/components/smokeTest";
import { CheckFailure, DEFAULT_OPTIONS, type SmokeOptions, type SmokeReport } from "../../smoke/types";
import { sleep } from "../../smoke/time";
import { forward } from "../../testbed/pods/serviceProxy";
import { clusterClient } from "../../smoke/clients";
import { checkFailover, OUTAGE_WRITER, type OutageFactory } from "../../smoke/checks/failover";
import { checkConnect } from "../../smoke/checks/connect";
import { SmokeContext } from "../../smoke/context";
import { Writer } from "../../smoke/writer";

const ROOT = resolve(__dirname, "../..");
const PASSWORD = "smoke-test-Password-0123";
/** Writes after a frozen master's promotion must resume within this (ms). */
const RESUME_BOUND_MS = 500;

function options(c: LocalCluster, o: Partial<SmokeOptions> = {}): SmokeOptions {
  return {
    ...DEFAULT_OPTIONS,
    nodes: c.seeds,
    password: c.password,
    expectMasters: 3,
    expectReplicas: 1,
    keys: 500,
    timeoutMs: 60_000,
    // The workloads run in the CLI cases and where named; test/smoke/workloads.test.ts covers them (healthy and broken).
    workloads: false,
    bench: { ops: 2000, concurrency: 20, pipeline: 4, valueSize: 3, connections: 2, rate: 0 },
    ...o,
  };
}

/** Bounded wait until every node reports cluster_state:ok, nobody is flagged fail and every replica link is up. */
async function waitHealthy(c: LocalCluster): Promise<void> {
  const healthy = async () => {
    for (let i = 0; i < c.nodes.length; i++) {
      const info = await c.tryAsk(i, "cluster", "info");
      const nodes = await c.tryAsk(i, "cluster", "nodes");
      const repl = await c.tryAsk(i, "info", "replication");
      if (!(/cluster_state:ok/.test(info) && !/\bfail\??\b/.test(nodes) && (!/role:slave/.test(repl) || /master_link_status:up/.test(repl)))) return false;
    }
    return true;
  };
  for (let i = 0; i < 100; i++) {
    if (await healthy()) return;
    await sleep(200);
  }
  assert.fail("cluster did not become healthy within 20 s");
}

/** True when the `myself` line of a CLUSTER NODES reply owns slot 100. */
function ownsSlot100(nodes: string): boolean {
  const me = nodes.split("\n").find((l) => l.includes("myself"));
  if (!me || !me.includes("master")) return false;
  return me.split(" ").slice(8).some((r) => {
    const [a, b] = r.split("-").map(Number);
    return a <= 100 && 100 <= (b ?? a);
  });
}

function check(r: SmokeReport, name: string) {
  const c = r.checks.find((x) => x.name === name);
  assert.ok(c, `report has no ${name} check: ${JSON.stringify(r.checks.map((x) => x.name))}`);
  return c;
}

function assertPassed(r: SmokeReport) {
  const bad = r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.problems.join(" | ") || c.details}`);
  assert.deepEqual(bad, [], `expected every check to pass:\n${bad.join("\n")}`);
  assert.equal(r.exit_code, 0);
}

/** Runs the real CLI (tsx) with the password only in the environment. */
function run(file: string, argv: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(file, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => res({ code, stdout, stderr }));
  });
}

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string; argv: string[] }> {
  const argv = ["--import", "tsx", join(ROOT, "smoke/cli.ts"), ...args];
  return new Promise((res) => {
    const child = spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => res({ code, stdout, stderr, argv }));
  });
}

// Every cluster of this file starts at the beginning, together: a start is mostly waiting (the bootstrap polls), so four
// take about as long as one, and idle clusters cost nothing while the others' tests run. Each describe stops its own.
let clusters: Promise<Record<"plain" | "password" | "noReplicas" | "noDebug", LocalCluster>> | undefined;
const started: LocalCluster[] = [];
before(async () => {
  // One port search for all 21 nodes: searches run side by side could hand two clusters the same free port.
  const ports = await freePorts(6 + 6 + 3 + 6, { withBus: true });
  const start = (n: number, o: Parameters<typeof startLocalCluster>[0]) =>
    startLocalCluster({ ...o, ports: ports.splice(0, n) }).then((c) => (started.push(c), c));
  const all = [
    start(6, { masters: 3, replicasPerMaster: 1 }),
    start(6, { masters: 3, replicasPerMaster: 1, password: PASSWORD }),
    start(3, { replicasPerMaster: 0, config: { smoke: { failover: "none" } } }),
    start(6, { config: { enableDebugCommand: "no", smoke: { failover: "manual" } } }),
  ];
  // If a start fails, each describe's `before` reports it; the clusters that did start are stopped in `after` below.
  clusters = Promise.all(all).then(([plain, password, noReplicas, noDebug]) => ({ plain, password, noReplicas, noDebug }));
  clusters.catch(() => undefined);
});
after(async () => {
  // Normally each describe stopped its own already; stop() of a stopped cluster is a no-op.
  await Promise.allSettled(started.map((c) => c.stop()));
});

describe("smoke test on a 3x1 cluster without a password", () => {
  let c: LocalCluster;
  let dir: string;
  before(async () => {
    c = (await clusters!).plain;
    dir = mkdtempSync(join(tmpdir(), "smoke-test-"));
  });
  after(async () => {
    await c?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("CLI, failover none: exit 0, progress, summary table and a JSON report", async () => {
    const json = join(dir, "report.json");
    const r = await cli(["--nodes", c.seeds.join(","), "--expect-masters", "3", "--expect-replicas", "1", "--keys", "500", "--bench-ops", "1000", "--json", json]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /PASS slots/);
    assert.match(r.stdout, /check\s+result\s+time\s+details/);
    assert.match(r.stdout, /Smoke test PASSED/);
    const report = JSON.parse(readFileSync(json, "utf8")) as SmokeReport;
    assert.equal(report.ok, true);
    for (const name of ["connect", "slots", "distribution", "workloads", "replication", "auth", "benchmark"]) {
      const ch = check(report, name);
      assert.equal(typeof ch.duration_ms, "number");
      assert.equal(typeof ch.details, "string");
      assert.equal(typeof ch.measurements, "object");
    }
    assert.equal(check(report, "auth").status, "not-applicable");
    assert.equal(check(report, "slots").measurements.slots_covered, 16384);
    assert.ok(Number(check(report, "benchmark").measurements.set_ops_per_s) > 0);
    // The seed's workloads, each with its guarantee checked.
    const w = check(report, "workloads");
    assert.equal(w.status, "passed");
    assert.equal(w.measurements.counter_incr_total, 6 * 4 * 100);
    assert.equal(w.measurements.cache_entries_expired, 9);
    assert.equal(w.measurements.queue_items, 300);
    assert.equal(w.measurements.cross_slot_refused, true);
    assert.match(w.details, /MGET across slots \d+ and \d+ refused with CROSSSLOT \(expected\)/);
    // The benchmark reports p99.9/max per command and what each master served.
    const b = check(report, "benchmark").measurements;
    for (const k of ["set_p999_ms", "set_max_ms", "get_p999_ms", "get_max_ms"]) assert.equal(typeof b[k], "number", k);
    assert.equal(Object.keys(b).filter((k) => k.startsWith("set_ops_per_s@")).length, 3);
    assert.match(String(b.set_limit), /CPU|round trips/);
  });

  it("failover manual: roles swap in every view, data intact, fails back", async () => {
    const r = await runSmoke(options(c, { failover: "manual", bench: { ...DEFAULT_OPTIONS.bench, ops: 0 } }));
    assertPassed(r);
    const f = check(r, "failover");
    assert.ok(Number(f.measurements.roles_swapped_ms) > 0);
    assert.ok(Number(f.measurements.fail_back_ms) > 0, "failed back");
  });

  it("failover kill: a frozen master is replaced, no acknowledged write is lost, the old master rejoins as replica", async () => {
    const r = await runSmoke(options(c, { failover: "kill", failBack: false, bench: { ...DEFAULT_OPTIONS.bench, ops: 0 } }));
    assertPassed(r);
    const m = check(r, "failover").measurements;
    assert.equal(m.lost_acked_writes, 0);
    assert.equal(m.lost_keys_written_before, 0);
    assert.ok(Number(m.writes_acked) > 0);
    assert.ok(Number(m.promoted_ms) > 0 && Number(m.state_ok_ms) >= Number(m.promoted_ms));
    assert.ok(Number(m.rejoined_ms) > 0);
    // Issue 25's goal is 1 s; the bound is tighter so that a writer waiting out its 1500 ms command timeout on the frozen
    // master fails it (docs/smoke.md, "Writes after a failover", has the values of both).
    const resumed = Number(m.writes_resumed_after_promotion_ms);
    assert.ok(Number.isFinite(resumed) && resumed <= RESUME_BOUND_MS, `writes resumed ${m.writes_resumed_after_promotion_ms} ms after the promotion (bound ${RESUME_BOUND_MS} ms): ${check(r, "failover").details}`);
    assert.equal(Number(m.writes_resumed_ms), Number(m.promoted_ms) + resumed);
    assert.match(check(r, "failover").details, /writes resumed -?\d+ ms after the promotion \(\d+ ms after the freeze\)/);
  });

  it("healthy cluster under the smoke's load: the failover writer's options give no write error and send nothing twice", async () => {
    await waitHealthy(c);
    const client = clusterClient({ seeds: c.seeds, natMap: {}, nodeTimeoutMs: c.spec.nodeTimeoutMs, ...OUTAGE_WRITER.client });
    try {
      await client.connect();
      const w = new Writer(client, { key: (n) => `healthy:{w}:${n}`, ...OUTAGE_WRITER.writes, maxCommands: 100_000 }).start();
      // The whole smoke run (workloads, replication, the default benchmark) loads the cluster while the writer writes.
      const r = await runSmoke(options(c, { workloads: true, bench: DEFAULT_OPTIONS.bench }));
      await w.stop();
      assertPassed(r);
      assert.ok(w.attempts > 100, `${w.attempts} writes`);
      assert.deepEqual(w.errorsSeen(), []);
      assert.equal(w.unacked, 0);
      assert.deepEqual(w.timeline.filter((x) => x.resent), [], "no write sent again on a healthy cluster");
    } finally {
      client.disconnect();
    }
  });

  it("failover kill: an outage that fails by itself ends the check at once, and its error is the report", async () => {
    await waitHealthy(c);
    const ctx = new SmokeContext(options(c, { failover: "kill" }), () => {});
    try {
      await checkConnect(ctx);
      const broken: OutageFactory = async (_ctx, target) => ({
        noun: "test outage",
        what: `nothing done to ${target.label}`,
        lengthMs: 5000,
        measurements: {},
        begin: () => Promise.reject(new Error("no such process")),
        backWithinMs: 10_000,
        longer: "a longer test outage",
      });
      const t0 = Date.now();
      const e = await checkFailover(ctx, broken).then(() => undefined, (x: unknown) => x);
      assert.ok(e instanceof CheckFailure, String(e));
      assert.match(e.problems[0], /^the test outage of \S+ \(\w{6}\) failed by itself: no such process$/);
      // Its wait for a promotion would have lasted lengthMs + 2x node timeout + 10 s.
      assert.ok(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms`);
    } finally {
      ctx.close();
    }
    await waitHealthy(c);
  });

  it("failover kill fails when no replica may take over (cluster-replica-no-failover yes), naming the setting", async () => {
    await waitHealthy(c);
    // A short node timeout keeps the (expected) non-failover quick: FAIL is cleared 2x node timeout after it was set.
    const set = (k: string, v: string) => c.nodes.forEach((_, i) => assert.equal(c.cli(i, ["config", "set", k, v]).stdout.trim(), "OK"));
    set("cluster-replica-no-failover", "yes");
    set("cluster-node-timeout", "1000");
    try {
      const t0 = Date.now();
      const r = await runSmoke(options(c, { failover: "kill", failBack: false, freezeMs: 2500, timeoutMs: 40_000, bench: { ...DEFAULT_OPTIONS.bench, ops: 0 } }));
      const f = check(r, "failover");
      assert.equal(r.exit_code, 1, JSON.stringify(f));
      assert.equal(f.status, "failed");
      assert.match(f.problems[0], /^no replica of \S+ \(\w{6}\) was promoted/);
      assert.match(f.problems[0], /FAIL flagged after \d+ ms/);
      assert.match(f.problems[0], /cluster-replica-no-failover yes, master_link_status/);
      assert.doesNotMatch(f.problems[0], /--freeze-ms/, "the freeze outlasted FAIL: its length is not the cause");
      assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
    } finally {
      set("cluster-replica-no-failover", "no");
      set("cluster-node-timeout", "2000");
    }
    await waitHealthy(c);
  });

  it("fails on a replica whose link is down, naming it", async () => {
    // The replica cannot authenticate to its master: its link stays down.
    const replica = c.nodes.findIndex((_, i) => /role:slave/.test(c.cli(i, ["info", "replication"]).stdout));
    assert.ok(replica >= 0);
    c.cli(replica, ["config", "set", "masterauth", "not-the-password-xyz"]);
    c.cli(replica, ["client", "kill", "type", "master"]);
    try {
      const t0 = Date.now();
      const r = await runSmoke(options(c, { timeoutMs: 30_000, workloads: true, bench: { ...DEFAULT_OPTIONS.bench, ops: 0 } }));
      assert.ok(Date.now() - t0 < 30_000);
      assert.equal(r.exit_code, 1);
      const repl = check(r, "replication");
      assert.equal(repl.status, "failed");
      // Applications on the masters are unaffected by a replica's broken link: the workloads pass.
      assert.equal(check(r, "workloads").status, "passed", JSON.stringify(check(r, "workloads")));
      const node = c.nodes[replica];
      assert.ok(repl.problems.some((p) => p.includes(`${node.host}:${node.port}`) && p.includes("master_link_status:down")), repl.problems.join("\n"));
    } finally {
      c.cli(replica, ["config", "set", "masterauth", ""]);
    }
    await waitHealthy(c);
  });

  it("fails within its timeout on an unreachable (frozen) node, naming it", async () => {
    const replica = c.nodes.findIndex((_, i) => /role:slave/.test(c.cli(i, ["info", "replication"]).stdout));
    c.freeze(replica);
    try {
      const t0 = Date.now();
      const r = await runSmoke(options(c, { timeoutMs: 20_000, connectTimeoutMs: 1000, bench: { ...DEFAULT_OPTIONS.bench, ops: 0 } }));
      assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
      assert.equal(r.exit_code, 1);
      const conn = check(r, "connect");
      const node = c.nodes[replica];
      assert.ok(conn.problems.some((p) => p.includes(`${node.host}:${node.port}`) && /unreachable/.test(p)), conn.problems.join("\n"));
    } finally {
      c.thaw(replica);
    }
    await waitHealthy(c);
  });

  it("fails on a master without a replica, naming the master", async () => {
    await waitHealthy(c);
    // Move one replica to another master: that master gets two, the first none.
    const lines = c.cli(0, ["cluster", "nodes"]).stdout.trim().split("\n").map((l) => l.split(" "));
    const replicaLine = lines.find((l) => l[2].includes("slave"))!;
    const orphan = lines.find((l) => l[0] === replicaLine[3])!;
    const other = lines.find((l) => l[2].includes("master") && l[0] !== orphan[0] && l.length > 8)!;
    const idx = c.nodes.findIndex((n) => replicaLine[1].startsWith(`${n.host}:${n.port}@`));
    assert.ok(idx >= 0, replicaLine.join(" "));
    assert.equal(c.cli(idx, ["cluster", "replicate", other[0]]).stdout.trim(), "OK");
    // Bounded wait until every node sees the move.
    const moved = async () => (await Promise.all(c.nodes.map((_, i) => c.tryAsk(i, "cluster", "nodes")))).every((v) => v.split("\n").some((l) => l.startsWith(replicaLine[0]) && l.includes(`slave ${other[0]}`)));
    for (let i = 0; i < 50 && !(await moved()); i++) await sleep(100);
    const r = await runSmoke(options(c, { timeoutMs: 20_000, bench: { ...DEFAULT_OPTIONS.bench, ops: 0 } }));
    const slots = check(r, "slots");
    const orphanAddr = orphan[1].split("@")[0];
    const why = `${JSON.stringify(slots)}\n${c.cli(0, ["cluster", "nodes"]).stdout}`;
    assert.equal(r.exit_code, 1, why);
    assert.ok(slots.problems.some((p) => p.includes(`master ${orphanAddr}`) && p.includes("has 0 replica(s)") && p.includes("expected 1")), why);
  });

  it("fails on an open slot (MIGRATING/IMPORTING left set), naming both sides", async () => {
    await waitHealthy(c);
    const owner = c.nodes.findIndex((_, i) => ownsSlot100(c.cli(i, ["cluster", "nodes"]).stdout));
    const dest = c.nodes.findIndex((_, i) => i !== owner && /role:master/.test(c.cli(i, ["info", "replication"]).stdout));
    assert.ok(owner >= 0 && dest >= 0);
    const id = (i: number) => c.cli(i, ["cluster", "myid"]).stdout.trim();
    assert.equal(c.cli(owner, ["cluster", "setslot", "100", "migrating", id(dest)]).stdout.trim(), "OK");
    assert.equal(c.cli(dest, ["cluster", "setslot", "100", "importing", id(owner)]).stdout.trim(), "OK");
    try {
      const r = await runSmoke(options(c, { timeoutMs: 20_000, expectReplicas: undefined, bench: { ...DEFAULT_OPTIONS.bench, ops: 0 } }));
      assert.equal(r.exit_code, 1);
      const slots = check(r, "slots");
      const o = `${c.nodes[owner].host}:${c.nodes[owner].port}`;
      const d = `${c.nodes[dest].host}:${c.nodes[dest].port}`;
      const open = slots.problems.find((p) => p.startsWith("open slot 100 "));
      assert.ok(open, slots.problems.join("\n"));
      assert.ok(open.includes(`${o} (${id(owner).slice(0, 6)}) migrating to ${d}`) && open.includes(`${d} (${id(dest).slice(0, 6)}) importing from ${o}`), open);
      assert.equal(slots.measurements.open_slots, 1);
    } finally {
      c.cli(owner, ["cluster", "setslot", "100", "stable"]);
      c.cli(dest, ["cluster", "setslot", "100", "stable"]);
    }
  });

  it("fails on unassigned slots, naming the ranges", async () => {
    // The owner first: otherwise its gossip re-assigns the slots to nodes that already deleted them.
    const owner = c.nodes.findIndex((_, i) => ownsSlot100(c.cli(i, ["cluster", "nodes"]).stdout));
    assert.ok(owner >= 0, "owner of slot 100 found");
    c.cli(owner, ["cluster", "delslotsrange", "100", "199"]);
    for (let i = 0; i < c.nodes.length; i++) if (i !== owner) c.cli(i, ["cluster", "delslotsrange", "100", "199"]);
    const t0 = Date.now();
    const r = await runSmoke(options(c, { timeoutMs: 20_000, expectReplicas: undefined, bench: { ...DEFAULT_OPTIONS.bench, ops: 0 } }));
    assert.ok(Date.now() - t0 < 20_000);
    assert.equal(r.exit_code, 1);
    const slots = check(r, "slots");
    assert.ok(slots.problems.some((p) => /100 slot\(s\) not assigned to any master: 100-199 \(seen by every node/.test(p)), slots.problems.join("\n"));
    assert.ok(slots.problems.some((p) => /cluster_state:fail/.test(p)));
    // Nothing is written to a broken cluster.
    assert.equal(check(r, "distribution").status, "not-run");
  });
});

describe("smoke test on a 3x1 cluster with a password", () => {
  let c: LocalCluster;
  before(async () => {
    c = (await clusters!).password;
  });
  after(async () => {
    await c?.stop();
  });

  it("CLI with a wrong password: exit 2 with WRONGPASS, the password never printed", async () => {
    const wrong = "definitely-Wrong-pass-42";
    const r = await cli(["--nodes", c.seeds.join(","), "--password-env", "SMOKE_TEST_PW", "--timeout-ms", "20000"], { SMOKE_TEST_PW: wrong });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /WRONGPASS/);
    assert.ok(!(r.stdout + r.stderr).includes(wrong), "password printed");
    assert.ok(!r.argv.join(" ").includes(wrong), "password on argv");
  });

  it("CLI without the password against a protected cluster: exit 2 naming --password-env", async () => {
    const r = await cli(["--nodes", c.seeds.join(","), "--timeout-ms", "20000"]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /NOAUTH.*--password-env/s);
  });

  it("a password refused by one non-seed node: exit 2 naming that node", async () => {
    const replica = c.nodes.findIndex((_, i) => /role:slave/.test(c.cli(i, ["info", "replication"]).stdout));
    const seed = c.nodes.findIndex((_, i) => i !== replica);
    const other = "another-Password-0987654";
    assert.equal(c.cli(replica, ["config", "set", "requirepass", other]).stdout.trim(), "OK");
    try {
      const r = await cli(["--nodes", c.seeds[seed], "--password-env", "SMOKE_TEST_PW", "--timeout-ms", "20000", "--bench-ops", "0"], { SMOKE_TEST_PW: PASSWORD });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`authentication failed at ${c.seeds[replica].replace(/\./g, "\\.")} \\(\\w{6}\\) \\(WRONGPASS`));
    } finally {
      const n = c.nodes[replica];
      spawnSync("redis-cli", ["-h", n.host, "-p", String(n.port), "config", "set", "requirepass", PASSWORD], { env: { ...c.cliEnv(), REDISCLI_AUTH: other }, encoding: "utf8" });
    }
    assert.match(c.cli(replica, ["ping"]).stdout, /PONG/);
  });

  it("the Pulumi steps' commands pass: docker's shell command and kubernetes' esbuild bundle run by plain node", async () => {
    const args = {
      platform: "docker" as const, plan: c.plan, nodeTimeoutMs: 2000,
      settings: { enabled: true, failover: "none" as const, keys: 300, timeoutMs: 60_000, benchOps: 500 },
    };
    const argv = smokeCliArgs(args, c.seeds, true);
    // Docker: the exact command line of the local Command (shell, project root, password and natMap in the environment).
    const docker = await run("sh", ["-c", ["npx", "--no-install", "tsx", "smoke/cli.ts", ...argv].join(" ")], { [SMOKE_PASSWORD_ENV]: PASSWORD, SMOKE_NAT_MAP: "{}" });
    assert.equal(docker.code, 0, docker.stdout + docker.stderr);
    assert.match(docker.stdout, /PASS auth/);
    // Kubernetes: the single-file bundle, as the Job runs it.
    const dir = mkdtempSync(join(tmpdir(), "smoke-bundle-"));
    try {
      const file = join(dir, "smoke.js");
      writeFileSync(file, buildSmokeBundle());
      const k8s = await run(process.execPath, [file, ...argv, "--termination-log", join(dir, "termination-log")], { [SMOKE_PASSWORD_ENV]: PASSWORD });
      assert.equal(k8s.code, 0, k8s.stdout + k8s.stderr);
      assert.match(k8s.stdout, /Smoke test PASSED/);
      assert.ok(!(k8s.stdout + k8s.stderr).includes(PASSWORD));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("failover none: every check passes and auth refuses NOAUTH", async () => {
    const r = await runSmoke(options(c, { workloads: true }));
    assertPassed(r);
    assert.equal(check(r, "workloads").status, "passed");
    assert.equal(check(r, "auth").status, "passed");
    assert.equal(check(r, "auth").measurements.refused_noauth, 6);
  });

  it("seeded through a load-balanced address (as a Kubernetes Service): each node is still reached at its own address", async () => {
    // Each connection to the seed goes to a random node: mapping the node that answered through it would scatter
    // that node's traffic over the cluster (MOVED storms, a "replica" answering as a master).
    const nodes = c.seeds.map((a) => ({ ip: a.split(":")[0], port: Number(a.split(":")[1]) }));
    const lb = await forward(() => nodes);
    try {
      const r = await runSmoke(options(c, { nodes: [`${lb.host}:${lb.port}`], failover: "manual", failBack: true, workloads: true }));
      assertPassed(r);
      assert.equal(check(r, "connect").measurements.nat_mapped, 0, "no node mapped through the balancer");
    } finally {
      await lb.close();
    }
  });

  it("failover manual (no fail back)", async () => {
    assertPassed(await runSmoke(options(c, { failover: "manual", failBack: false, bench: { ...DEFAULT_OPTIONS.bench, ops: 0 } })));
  });

  it("failover kill with fail back: layout restored", async () => {
    const r = await runSmoke(options(c, { failover: "kill", bench: { ...DEFAULT_OPTIONS.bench, ops: 0 } }));
    assertPassed(r);
    const m = check(r, "failover").measurements;
    assert.equal(m.lost_acked_writes, 0);
    assert.ok(Number(m.fail_back_ms) > 0);
  });
});

describe("smoke test on a 3x0 cluster and on a cluster that refuses DEBUG", () => {
  let c30: LocalCluster;
  let noDebug: LocalCluster;
  before(async () => {
    ({ noReplicas: c30, noDebug } = await clusters!);
  });
  after(async () => {
    await Promise.all([c30?.stop(), noDebug?.stop()]);
  });

  it("a healthy 3x0 cluster passes without --expect-replicas (replication not applicable)", async () => {
    const r = await runSmoke(options(c30, { expectReplicas: undefined, keys: 300, bench: { ...DEFAULT_OPTIONS.bench, ops: 300 } }));
    assertPassed(r);
    assert.equal(check(r, "replication").status, "not-applicable");
    assert.equal(check(r, "slots").measurements.replicas, 0);
  });

  it("failover kill where DEBUG is refused: fails naming enable-debug-command, nothing frozen", async () => {
    const t0 = Date.now();
    const r = await runSmoke(options(noDebug, { failover: "kill", keys: 200, bench: { ...DEFAULT_OPTIONS.bench, ops: 0 } }));
    const f = check(r, "failover");
    assert.equal(r.exit_code, 1);
    assert.equal(f.status, "failed");
    assert.match(f.problems[0], /refused .*DEBUG.*not allowed.*: set enable-debug-command yes/);
    assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
  });
});

describe("smoke CLI exit codes without a cluster", () => {
  it("exit 2 when no seed is reachable, within the connect timeout", async () => {
    const [port] = await freePorts(1);
    const t0 = Date.now();
    const r = await cli(["--nodes", `127.0.0.1:${port}`, "--connect-timeout-ms", "500", "--timeout-ms", "10000"]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`no seed node answered: 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    assert.match(r.stdout, /\[exit 2\]/);
    assert.ok(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms`);
  });
});
