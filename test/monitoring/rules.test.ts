// Alert rules: structure, the rules:print CLI, `promtool check rules` for several topologies and `promtool test rules`
// with a firing and a quiet case for every alert.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import {
  REDIS_ALERT_NAMES,
  DEFAULT_RUNBOOK_BASE_URL,
  formatDuration,
  renderAlertRules,
  renderAlertRulesYaml,
  type AlertName,
} from "../../monitoring/rules";
import { JOB, Scenario, renderPromtoolTests, topology } from "./promtool-cases";
import { promtoolWorkspace } from "./promtoolWorkspace";

const ROOT = resolve(__dirname, "../..");
const ws = promtoolWorkspace("redis-rules-", 30_000);
const promtool = (args: string[]) => ws.run(args);

function printRules(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "monitoring/print-rules.ts"), ...args], {
    encoding: "utf8",
    cwd: ROOT,
    timeout: 30_000,
  });
}

test("every required alert exists once, with severity, summary, description and runbook_url", () => {
  const rules = renderAlertRules({ masters: 3, replicasPerMaster: 1 }).groups.flatMap((g) => g.rules);
  assert.deepEqual(
    rules.map((r) => r.alert),
    [...REDIS_ALERT_NAMES],
  );
  const required: AlertName[] = [
    "RedisDown",
    "RedisExporterScrapeFailed",
    "RedisClusterStateNotOk",
    "RedisClusterSlotsUnassigned",
    "RedisClusterSlotsFail",
    "RedisClusterSlotsPFail",
    "RedisClusterMastersMissing",
    "RedisClusterExtraMaster",
    "RedisReplicaMissing",
    "RedisMasterLinkDown",
    "RedisMemoryHigh",
    "RedisSlowQueries",
    "RedisRejectedConnections",
    "RedisPersistenceFailing",
  ];
  for (const name of required) assert.ok((REDIS_ALERT_NAMES as readonly AlertName[]).includes(name), name);
  for (const r of rules) {
    assert.match(r.labels.severity, /^(critical|warning)$/);
    assert.ok(r.annotations.summary.length > 0 && r.annotations.description.length > 0, r.alert);
    assert.equal(r.annotations.runbook_url, `${DEFAULT_RUNBOOK_BASE_URL}#${r.alert.toLowerCase()}`);
    assert.match(r.expr, /job="redis"/, `${r.alert} is scoped to the job`);
    assert.equal(r.labels.job, "redis", `${r.alert} names its cluster's job, aggregated alerts too`);
  }
});

test("options: runbook base, job, interval, forScale; bad topologies are refused", () => {
  const f = renderAlertRules({
    masters: 5,
    replicasPerMaster: 2,
    runbookBaseUrl: "https://example.org/rb.md",
    job: "redis-cluster",
    interval: "1s",
    forScale: 1 / 60,
  });
  const rules = f.groups[0].rules;
  assert.equal(f.groups[0].interval, "1s");
  const down = rules.find((r) => r.alert === "RedisDown")!;
  assert.equal(down.for, "1s"); // 1m / 60
  assert.equal(down.annotations.runbook_url, "https://example.org/rb.md#redisdown");
  assert.match(rules.find((r) => r.alert === "RedisClusterMastersMissing")!.expr, /< 5$/);
  assert.match(rules.find((r) => r.alert === "RedisReplicaMissing")!.expr, /< 2$/);
  assert.ok(rules.every((r) => r.expr.includes('job="redis-cluster"') && !r.expr.includes('job="redis"')));
  assert.ok(rules.every((r) => r.labels.job === "redis-cluster"));
  assert.throws(() => renderAlertRules({ masters: 3, replicasPerMaster: 1, job: 'a"b' }), /job/);
  assert.equal(formatDuration(1.5), "1500ms");
  assert.equal(formatDuration(300), "5m");
  assert.throws(() => renderAlertRules({ masters: 2, replicasPerMaster: 1 }), /at least 3 masters/);
  assert.throws(() => renderAlertRules({ masters: 3.5, replicasPerMaster: 1 }), /masters/);
  assert.throws(() => renderAlertRules({ masters: 3, replicasPerMaster: -1 }), /replicasPerMaster/);
  assert.deepEqual(parse(renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1 })), renderAlertRules({ masters: 3, replicasPerMaster: 1 }));
});

test("rules:print: the printed file passes promtool check rules for 3x1, 5x2, 3x0", () => {
  for (const [m, r] of [
    [3, 1],
    [5, 2],
    [3, 0],
  ]) {
    const p = printRules(["--masters", String(m), "--replicas", String(r)]);
    assert.equal(p.status, 0, p.stderr);
    const file = join(ws.dir, `printed-${m}x${r}.yml`);
    writeFileSync(file, p.stdout);
    const c = promtool(["check", "rules", file]);
    assert.equal(c.status, 0, c.out);
    assert.match(c.out, new RegExp(`SUCCESS: ${REDIS_ALERT_NAMES.length} rules found`));
  }
});

test("rules:print --job scopes every rule to that job; without it the default job", () => {
  const p = printRules(["--masters", "3", "--replicas", "1", "--job", "redis-cluster-prod"]);
  assert.equal(p.status, 0, p.stderr);
  assert.deepEqual(parse(p.stdout), renderAlertRules({ masters: 3, replicasPerMaster: 1, job: "redis-cluster-prod" }));
  const d = printRules(["--masters", "3", "--replicas", "1"]);
  assert.deepEqual(parse(d.stdout), renderAlertRules({ masters: 3, replicasPerMaster: 1, job: "redis" }));
});

test("rules:print: bad input exits 2 with a clear message", () => {
  const cases: [string[], RegExp][] = [
    [["--masters", "2", "--replicas", "1"], /at least 3 masters/],
    [["--masters", "3.5", "--replicas", "1"], /not an integer/],
    [["--masters", "three", "--replicas", "1"], /not an integer/],
    [["--masters", "3", "--replicas", "-1"], /replicasPerMaster/],
    [["--masters", "3"], /--replicas/],
    [["--masters", "3", "--replicas", "1", "--job", 'a"b'], /job/],
  ];
  for (const [args, msg] of cases) {
    const p = printRules(args);
    assert.equal(p.status, 2, `${args.join(" ")}: ${p.stderr}`);
    assert.match(p.stderr, msg);
    assert.equal(p.stdout, "");
  }
});

// ---- promtool unit tests ---------------------------------------------------------------------------------------------
const M = 60;
const SLOTS_PER_SHARD = 5461;

function scenarios3x1(): Scenario[] {
  const n = topology(3, 1);
  const all = n.map((x) => x.instance);
  const list: Scenario[] = [];
  const add = (name: string) => {
    const s = new Scenario(name, n);
    list.push(s);
    return s;
  };

  add("healthy 3 masters x 1 replica, maxmemory 0 everywhere: quiet").quiet(1 * M, 5 * M, 10 * M, 15 * M);

  add("replica killed, exporter up: RedisDown after 1m, RedisReplicaMissing on its master after 5m")
    .redisDown("r0-0:6379", 2 * M)
    .set("redis_connected_slaves", { instance: "m0:6379" }, 2 * M, 0)
    .expect(2 * M + 45, "RedisDown")
    .expect(3 * M + 15, "RedisDown", [{ instance: "r0-0:6379" }])
    .expect(6 * M + 45, "RedisReplicaMissing")
    .expect(7 * M + 15, "RedisReplicaMissing", [{ instance: "m0:6379", value: 0 }])
    .expect(7 * M + 15, "RedisExporterScrapeFailed") // the exporter reports the error, but Redis being down is RedisDown's job
    .expect(7 * M + 15, "RedisMasterLinkDown") // its series is gone with the node
    .expect(7 * M + 15, "RedisClusterMastersMissing");

  add("frozen master (scrape times out, redis_up missing), no failover yet")
    .scrapeFails("m1:6379", 2 * M)
    .set("redis_master_link_up", { instance: "r1-0:6379", master_host: "m1", master_port: "6379" }, 2 * M, 0)
    .expect(2 * M + 45, "RedisDown")
    .expect(3 * M + 15, "RedisDown", [{ instance: "m1:6379" }])
    .expect(2 * M + 45, "RedisClusterMastersMissing")
    .expect(3 * M + 15, "RedisClusterMastersMissing", [{ value: 2 }])
    .expect(3 * M + 45, "RedisMasterLinkDown")
    .expect(4 * M + 15, "RedisMasterLinkDown", [{ instance: "r1-0:6379" }])
    .expect(6 * M + 45, "RedisExporterScrapeFailed")
    .expect(7 * M + 15, "RedisExporterScrapeFailed", [{ instance: "m1:6379" }]);

  const survivors = all.filter((i) => !i.startsWith("m2") && !i.startsWith("r2"));
  const lost = add("shard lost (master and its only replica down): cluster state, failed slots, masters missing")
    .redisDown("m2:6379", 2 * M)
    .redisDown("r2-0:6379", 2 * M);
  for (const i of survivors) {
    lost
      .set("redis_cluster_slots_pfail", { instance: i }, 2 * M, SLOTS_PER_SHARD, 2 * M + 30)
      .set("redis_cluster_slots_fail", { instance: i }, 2 * M + 30, SLOTS_PER_SHARD)
      .set("redis_cluster_slots_ok", { instance: i }, 2 * M, 16384 - SLOTS_PER_SHARD)
      .set("redis_cluster_state", { instance: i }, 2 * M + 30, 0);
  }
  lost
    .expect(3 * M + 15, "RedisClusterStateNotOk")
    .expect(3 * M + 45, "RedisClusterStateNotOk", survivors.map((instance) => ({ instance })))
    .expect(3 * M + 15, "RedisClusterSlotsFail")
    .expect(3 * M + 45, "RedisClusterSlotsFail", survivors.map((instance) => ({ instance, value: SLOTS_PER_SHARD })))
    .expect(3 * M + 15, "RedisClusterMastersMissing", [{ value: 2 }])
    .expect(3 * M + 45, "RedisClusterSlotsPFail") // PFAIL turned into FAIL after 30 s: no PFAIL page
    .expect(3 * M + 15, "RedisDown", [{ instance: "m2:6379" }, { instance: "r2-0:6379" }]);

  add("PFAIL that persists (partition without majority)")
    .set("redis_cluster_slots_pfail", { instance: "m0:6379" }, 2 * M, SLOTS_PER_SHARD)
    .expect(3 * M + 45, "RedisClusterSlotsPFail")
    .expect(4 * M + 15, "RedisClusterSlotsPFail", [{ instance: "m0:6379", value: SLOTS_PER_SHARD }]);

  const unassigned = add("slots unassigned on every node");
  for (const i of all) unassigned.set("redis_cluster_slots_assigned", { instance: i }, 2 * M, 16384 - SLOTS_PER_SHARD);
  unassigned
    .expect(2 * M + 45, "RedisClusterSlotsUnassigned")
    .expect(3 * M + 15, "RedisClusterSlotsUnassigned", all.map((instance) => ({ instance, value: 16384 - SLOTS_PER_SHARD })));

  add("master killed, replica promoted within 30 s, old master back as replica at 10m: no cluster page")
    .redisDown("m0:6379", 2 * M, 10 * M)
    .drop("redis_instance_info", { instance: "m0:6379", role: "master" }, 10 * M) // comes back as a replica
    .set("redis_instance_info", { instance: "m0:6379", role: "slave" }, 10 * M, 1)
    .set("redis_master_link_up", { instance: "m0:6379", master_host: "r0-0", master_port: "6379" }, 10 * M, 0, 10 * M + 15)
    .set("redis_master_link_up", { instance: "m0:6379", master_host: "r0-0", master_port: "6379" }, 10 * M + 15, 1)
    .set("redis_connected_slaves", { instance: "m0:6379" }, 10 * M, 0)
    .drop("redis_instance_info", { instance: "r0-0:6379", role: "slave" }, 2 * M + 30)
    .set("redis_instance_info", { instance: "r0-0:6379", role: "master" }, 2 * M + 30, 1)
    .set("redis_master_link_up", { instance: "r0-0:6379", master_host: "m0", master_port: "6379" }, 2 * M + 15, 0)
    .drop("redis_master_link_up", { instance: "r0-0:6379", master_host: "m0", master_port: "6379" }, 2 * M + 30)
    .set("redis_connected_slaves", { instance: "r0-0:6379" }, 2 * M + 30, 0, 10 * M + 15)
    .set("redis_connected_slaves", { instance: "r0-0:6379" }, 10 * M + 15, 1)
    .set("redis_cluster_state", { instance: "m1:6379" }, 2 * M + 15, 0, 2 * M + 30)
    .expect(2 * M + 45, "RedisClusterMastersMissing")
    .expect(3 * M + 15, "RedisClusterMastersMissing")
    .expect(3 * M + 15, "RedisClusterStateNotOk")
    .expect(3 * M + 15, "RedisDown", [{ instance: "m0:6379" }])
    .expect(5 * M, "RedisMasterLinkDown")
    .expect(7 * M + 15, "RedisReplicaMissing")
    .expect(7 * M + 45, "RedisReplicaMissing", [{ instance: "r0-0:6379", value: 0 }])
    .quiet(11 * M, 15 * M);

  add("a master's only replica restarts briefly (30 s down, 1 min resync): no page")
    .redisDown("r1-0:6379", 2 * M, 2 * M + 30)
    .set("redis_master_link_up", { instance: "r1-0:6379", master_host: "m1", master_port: "6379" }, 2 * M + 30, 0, 3 * M)
    .set("redis_connected_slaves", { instance: "m1:6379" }, 2 * M, 0, 3 * M)
    .quiet(2 * M + 45, 3 * M + 15, 5 * M, 7 * M + 15, 10 * M);

  add("replica link down across a label change (its master failed over)")
    .set("redis_master_link_up", { instance: "r1-0:6379", master_host: "m1", master_port: "6379" }, 2 * M, 0)
    .drop("redis_master_link_up", { instance: "r1-0:6379", master_host: "m1", master_port: "6379" }, 3 * M)
    .set("redis_master_link_up", { instance: "r1-0:6379", master_host: "m1b", master_port: "6379" }, 3 * M, 0)
    .expect(3 * M + 45, "RedisMasterLinkDown")
    .expect(4 * M + 15, "RedisMasterLinkDown", [{ instance: "r1-0:6379" }]);

  add("memory: 90 % of maxmemory alerts, 50 % and maxmemory 0 do not")
    .set("redis_memory_max_bytes", { instance: "m2:6379" }, 0, 100_000_000)
    .set("redis_memory_used_bytes", { instance: "m2:6379" }, 2 * M, 90_000_000)
    .set("redis_memory_max_bytes", { instance: "m1:6379" }, 0, 100_000_000)
    .set("redis_memory_used_bytes", { instance: "m1:6379" }, 0, 50_000_000)
    .set("redis_memory_used_bytes", { instance: "m0:6379" }, 0, 900_000) // maxmemory 0: ratio would be +Inf
    .expect(6 * M + 45, "RedisMemoryHigh")
    .expect(7 * M + 15, "RedisMemoryHigh", [{ instance: "m2:6379", value: 0.9 }]);

  add("slow queries: a steady stream alerts, old slowlog entries do not")
    .set("redis_slowlog_last_id", { instance: "m0:6379" }, 2 * M, (k) => k - 8)
    .set("redis_slowlog_last_id", { instance: "m1:6379" }, 0, 5)
    .expect(9 * M + 15, "RedisSlowQueries")
    .expect(10 * M, "RedisSlowQueries", [{ instance: "m0:6379", value: 20 }]);

  add("rejected connections: a burst alerts, then resolves")
    .set("redis_rejected_connections_total", { instance: "m0:6379" }, 2 * M, (k) => Math.min(k - 8, 4))
    .expect(3 * M, "RedisRejectedConnections")
    .expect(3 * M + 30, "RedisRejectedConnections", [{ instance: "m0:6379", value: 4 }])
    .expect(9 * M, "RedisRejectedConnections");

  add("persistence: RDB save, AOF write and AOF rewrite errors")
    .set("redis_rdb_last_bgsave_status", { instance: "m0:6379" }, 2 * M, 0)
    .set("redis_aof_last_write_status", { instance: "r1-0:6379" }, 2 * M, 0)
    .set("redis_aof_last_bgrewrite_status", { instance: "r2-0:6379" }, 2 * M, 0)
    .expect(2 * M + 45, "RedisPersistenceFailing")
    .expect(3 * M + 15, "RedisPersistenceFailing", [{ instance: "m0:6379" }, { instance: "r1-0:6379" }, { instance: "r2-0:6379" }]);

  add("exporter reaches Redis but its scrape errors")
    .drop("redis_exporter_last_scrape_error", { instance: "m0:6379", err: "" }, 2 * M)
    .set("redis_exporter_last_scrape_error", { instance: "m0:6379", err: "NOPERM this user has no permissions" }, 2 * M, 1)
    .expect(6 * M + 45, "RedisExporterScrapeFailed")
    .expect(7 * M + 15, "RedisExporterScrapeFailed", [{ instance: "m0:6379" }])
    .expect(7 * M + 15, "RedisDown");

  // Issue 15: a replica whose master has no address (noaddr) says role:master and has no link metric; every view says ok.
  add("a replica knows its master only without an address (noaddr): RedisClusterExtraMaster after 1m")
    .drop("redis_instance_info", { instance: "r0-0:6379", role: "slave" }, 2 * M)
    .set("redis_instance_info", { instance: "r0-0:6379", role: "master" }, 2 * M, 1)
    .drop("redis_master_link_up", { instance: "r0-0:6379", master_host: "m0", master_port: "6379" }, 2 * M)
    .expect(2 * M + 45, "RedisClusterExtraMaster")
    .expect(3 * M + 15, "RedisClusterExtraMaster", [{ value: 4 }])
    .expect(3 * M + 15, "RedisMasterLinkDown") // no link metric on a node that calls itself master
    .expect(3 * M + 15, "RedisClusterStateNotOk");

  // Issue 15, defect 1 as it was seen: the master's pod absent, its replica replicating from whatever took the old IP
  // (link up), every view ok. Reachable masters are short of the plan: RedisClusterMastersMissing pages.
  add("a master's pod absent while its replica replicates from an impostor (link up, state ok everywhere)")
    .targetGone("m0:6379", 2 * M)
    .expect(2 * M + 45, "RedisClusterMastersMissing")
    .expect(3 * M + 15, "RedisClusterMastersMissing", [{ value: 2 }])
    .expect(3 * M + 15, "RedisClusterStateNotOk")
    .expect(3 * M + 15, "RedisClusterExtraMaster")
    .expect(6 * M + 45, "RedisTargetsMissing")
    .expect(7 * M + 15, "RedisTargetsMissing", [{ value: 5 }]);

  add("a target disappears from service discovery")
    .targetGone("r2-0:6379", 2 * M)
    .expect(6 * M + 45, "RedisTargetsMissing")
    .expect(7 * M + 15, "RedisTargetsMissing", [{ value: 5 }]);

  return list;
}

/** Runs the scenarios against the rules of every job in `jobs` loaded side by side, as one Prometheus would. */
function runPromtoolTests(masters: number, replicas: number, scenarios: Scenario[], jobs: string[] = [JOB]): void {
  const ruleFiles = jobs.map((job) => {
    const f = `rules-${masters}x${replicas}-${job}.yml`;
    writeFileSync(join(ws.dir, f), renderAlertRulesYaml({ masters, replicasPerMaster: replicas, job }));
    return f;
  });
  const rules = renderAlertRules({ masters, replicasPerMaster: replicas, job: jobs[0] });
  const testFile = join(ws.dir, `tests-${masters}x${replicas}-${jobs.join("+")}.yml`);
  writeFileSync(testFile, renderPromtoolTests(rules, ruleFiles, scenarios));
  const r = promtool(["test", "rules", testFile]);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /SUCCESS/);
}

test("promtool test rules, 3x1: every alert fires after its `for` and stays quiet when it should", () => {
  const scenarios = scenarios3x1();
  // Coverage: each alert has at least one case where it fires and one where it is expected quiet.
  for (const name of REDIS_ALERT_NAMES) {
    const es = scenarios.flatMap((s) => s.expects).filter((e) => e.alert === name);
    assert.ok(es.some((e) => e.firing.length > 0), `${name} has a firing case`);
    // quiet() expects every alert of the rule file quiet.
    assert.ok(es.some((e) => e.firing.length === 0) || scenarios.some((s) => s.quietTimes.length > 0), `${name} has a quiet case`);
  }
  runPromtoolTests(3, 1, scenarios);
});

test("promtool test rules, 5x2 and 3x0: healthy is quiet; a master short of one of two replicas alerts", () => {
  const n52 = topology(5, 2);
  runPromtoolTests(5, 2, [
    new Scenario("healthy 5x2", n52).quiet(1 * M, 10 * M),
    new Scenario("m3 has 1 of 2 replicas", n52)
      .redisDown("r3-1:6379", 2 * M)
      .set("redis_connected_slaves", { instance: "m3:6379" }, 2 * M, 1)
      .expect(6 * M + 45, "RedisReplicaMissing")
      .expect(7 * M + 15, "RedisReplicaMissing", [{ instance: "m3:6379", value: 1 }]),
  ]);
  runPromtoolTests(3, 0, [new Scenario("healthy 3x0 (no replicas planned)", topology(3, 0)).quiet(1 * M, 10 * M)]);
});

test("promtool test rules, two clusters in one Prometheus (own job each): only the cluster that lost a master alerts", () => {
  const PROD = "redis-cluster-prod";
  const STAGING = "redis-cluster-staging";
  const both = [...topology(3, 1, { job: PROD, prefix: "prod-" }), ...topology(3, 1, { job: STAGING, prefix: "stg-" })];
  const scenarios = [
    new Scenario("two healthy clusters: quiet", both).quiet(1 * M, 10 * M),
    // A frozen prod master, no failover: prod has 2 reachable masters. Counted over both clusters there would be 5 (>= 3)
    // and the alert would never fire; each node alert must come once, from its own cluster's rules.
    new Scenario("prod loses a master, staging healthy", both)
      .scrapeFails("prod-m1:6379", 2 * M)
      .expect(2 * M + 45, "RedisClusterMastersMissing")
      .expect(3 * M + 15, "RedisClusterMastersMissing", [{ job: PROD, value: 2 }])
      .expect(3 * M + 15, "RedisDown", [{ instance: "prod-m1:6379" }])
      .expect(3 * M + 15, "RedisClusterStateNotOk")
      .expect(7 * M + 15, "RedisClusterMastersMissing", [{ job: PROD, value: 2 }])
      .expect(7 * M + 15, "RedisTargetsMissing"),
    // A staging target vanishes: 5 of 6 staging targets (11 in all, which a count over both jobs would not catch).
    new Scenario("a staging target disappears, prod healthy", both)
      .targetGone("stg-r2-0:6379", 2 * M)
      .expect(7 * M + 15, "RedisTargetsMissing", [{ job: STAGING, value: 5 }])
      .expect(7 * M + 15, "RedisClusterMastersMissing"),
  ];
  runPromtoolTests(3, 1, scenarios, [PROD, STAGING]);
});
