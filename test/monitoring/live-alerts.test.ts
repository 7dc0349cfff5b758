// Live alert test: a real local 3x1 cluster, one Debian prometheus-redis-exporter per node and a real Prometheus on
// 127.0.0.1, loaded with the rendered rules at 2 s scrape / 1 s eval and every `for:` scaled by FOR_SCALE.
// Healthy → nothing fires; kill a replica → RedisDown fires (timed); kill a master → cluster alerts fire until the
// failover completes; restart → everything resolves. The cluster runs with TLS on every channel and client certificates
// required (tls-auth-clients yes): the exporters connect over rediss:// with the client certificate, as deployed in prod.
//
// Bounded and leak-free: every wait has its own limit and the limits plus start-up and teardown allowances stay under
// the test timeout (checked below); every wait also stops when the test is aborted (t.signal). When the runner gives
// up anyway, `--test-force-exit` exits without running `finally`: a process "exit" hook SIGKILLs Prometheus and the
// exporters and removes the temp dir (the harness has the same hook for the Redis nodes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";
import { mkdtempSync, mkdirSync, openSync, closeSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { startLocalCluster, type LocalCluster } from "../../testbed/local/harness";
import { freePorts } from "../../testbed/local/ports";
import { renderAlertRulesYaml } from "../../monitoring/rules";
import { renderPrometheusConfigYaml } from "../../monitoring/prometheus";
import { exporterAddress, exporterTlsEnv } from "../../infra/plan/tls";
import { prometheusApi, requireBinary, waitExit, waitFor, type Alert } from "./live-prometheus";

const FOR_SCALE = 1 / 60; // 1m → 1s, 5m → 5s
// 2 s scrape with a 1.8 s timeout: 13 processes share 2 cores here, and a scrape cut short would read as a down node.
const SCRAPE_INTERVAL = "2s";
const SCRAPE_TIMEOUT = "1800ms";
const EVAL_INTERVAL = "1s";
// A failover window (node timeout + election) long enough for RedisClusterMastersMissing to fire at 2 s scrapes.
const NODE_TIMEOUT_MS = 5000;
// Its own job, as a deployed stack has (never the default "redis").
const JOB = "redis-cluster-live";
// A hard kill: no shutdown save, no goodbye to peers.
const KILL_SIGNAL: NodeJS.Signals = "SIGKILL";
// Alerts whose expression reads `up` (scrape success): a slow scrape may briefly make them pending on a healthy
// cluster. They must still never fire there, and no other alert may even pend.
const SCRAPE_BASED = new Set(["RedisDown", "RedisExporterScrapeFailed", "RedisTargetsMissing"]);

// Wait limits (ms). Measured here: the whole test ~35 s, kill → RedisDown firing 2–4 s.
const LIMIT = {
  replicationLinks: 10_000,
  scraped: 15_000,
  calm: 10_000,
  healthyHold: 4_000,
  replicaDownFiring: 10_000,
  replicaDownResolved: 10_000,
  replicaResynced: 10_000,
  failover: 20_000,
  masterDownFiring: 6_000,
  replicaMissingFiring: 12_000,
  allResolved: 20_000,
};
const CLUSTER_START_MS = 30_000; // harness start + bootstrap bound (bootstrap gets +15 s below)
const TEARDOWN_MS = 20_000; // SIGTERM grace for Prometheus/exporters (5 s) + harness stop
const TEST_TIMEOUT_MS = 200_000; // below the runner's --test-timeout (240 s)
const WAIT_SUM_MS = Object.values(LIMIT).reduce((a, b) => a + b, 0);
// Every wait may run to its limit and the test still ends (and cleans up) before the runner's timeout.
if (WAIT_SUM_MS + CLUSTER_START_MS + 15_000 + TEARDOWN_MS >= TEST_TIMEOUT_MS) {
  throw new Error(`live-alerts: wait limits (${WAIT_SUM_MS} ms) + start-up + teardown exceed the ${TEST_TIMEOUT_MS} ms test timeout`);
}

test("live: nothing fires when healthy, alerts fire on node and master loss, resolve on restart", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  requireBinary("prometheus");
  requireBinary("prometheus-redis-exporter", "-version");
  const T0 = Date.now();
  const signal = t.signal;
  const dir = mkdtempSync(join(tmpdir(), "redis-live-alerts-"));
  const password = randomBytes(12).toString("hex");
  const procs: ChildProcess[] = [];
  let cluster: LocalCluster | undefined;
  // Runs on any process exit, `--test-force-exit` after a timeout included, when `finally` never gets to run.
  const killAllSync = () => {
    for (const p of procs) {
      try {
        if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
      } catch {
        /* already gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", killAllSync);
  // The harness SIGKILLs its Redis nodes from its own exit hook; this one, registered after it, removes their temp dir.
  const rmClusterDirSync = () => {
    if (cluster) rmSync(cluster.dir, { recursive: true, force: true });
  };
  const sleep = (ms: number) => delay(ms, undefined, { signal });
  const timings: Record<string, number> = {};
  const spawnLogged = (name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv) => {
    const fd = openSync(join(dir, `${name}.log`), "a");
    const child = spawn(cmd, args, { env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    procs.push(child);
    return child;
  };

  try {
    cluster = await startLocalCluster({
      masters: 3,
      replicasPerMaster: 1,
      password,
      nodeTimeoutMs: NODE_TIMEOUT_MS,
      restartOnExit: false,
      timeoutMs: CLUSTER_START_MS,
      tls: { authClients: "yes" },
    });
    process.once("exit", rmClusterDirSync);
    signal.throwIfAborted();
    const c = cluster;
    timings.clusterUp = Date.now() - T0;
    const info = (i: number) => c.cli(i, ["info", "replication"]).stdout;
    const role = (i: number) => /role:(\w+)/.exec(info(i))?.[1];
    // A replica that never synced does not take over: wait for every link first.
    await waitFor(signal, "replication links up", LIMIT.replicationLinks, async () =>
      c.nodes.every((_, i) => role(i) === "master" || /master_link_status:up/.test(info(i))),
    );

    // One exporter per node, like the sidecar / Docker layout; the password only in its environment.
    const exporterPorts = await freePorts(c.nodes.length);
    const [promPort] = await freePorts(1);
    c.nodes.forEach((n, i) => {
      spawnLogged(`exporter-${n.name}`, "prometheus-redis-exporter", ["--web.listen-address", `127.0.0.1:${exporterPorts[i]}`], {
        PATH: process.env.PATH,
        REDIS_ADDR: exporterAddress(true, n.host, n.port),
        REDIS_PASSWORD: password,
        ...exporterTlsEnv({ ca: c.tls!.ca, ...c.tls!.client }),
      });
    });
    writeFileSync(
      join(dir, "rules.yml"),
      renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1, job: JOB, interval: EVAL_INTERVAL, forScale: FOR_SCALE }),
    );
    writeFileSync(
      join(dir, "prometheus.yml"),
      renderPrometheusConfigYaml({
        exporters: { mode: "per-node", targets: c.nodes.map((n, i) => ({ exporter: `127.0.0.1:${exporterPorts[i]}`, node: `${n.host}:${n.port}` })) },
        ruleFiles: [join(dir, "rules.yml")],
        job: JOB,
        scrapeInterval: SCRAPE_INTERVAL,
        scrapeTimeout: SCRAPE_TIMEOUT,
        evaluationInterval: EVAL_INTERVAL,
      }),
    );
    mkdirSync(join(dir, "tsdb"));
    const promStarted = Date.now();
    spawnLogged(
      "prometheus",
      "prometheus",
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { PATH: process.env.PATH },
    );
    const { alerts, query } = prometheusApi(promPort, signal);
    // Alerts a healthy cluster must not show: anything firing, or pending for a rule that does not read `up`.
    const unexpected = (as: Alert[]) =>
      as.filter((a) => a.state === "firing" || !SCRAPE_BASED.has(a.labels.alertname)).map((a) => `${a.labels.alertname}/${a.state}`);
    const calm = async () => {
      const as = await alerts();
      return as !== undefined && unexpected(as).length === 0;
    };
    const find = (as: Alert[], name: string, instance?: string) =>
      as.find((a) => a.labels.alertname === name && (instance === undefined || a.labels.instance === instance));

    await waitFor(signal, "all 6 nodes scraped with redis_up 1", LIMIT.scraped, async () => (await query(`count(redis_up{job="${JOB}"} == 1) == 6`))?.length === 1);
    timings.prometheusData = Date.now() - promStarted;
    assert.ok(!readFileSync(join(dir, "prometheus.yml"), "utf8").includes(password), "no password in prometheus.yml");

    // --- healthy: startup transients (targets not yet scraped) clear; then for 4 s nothing fires and only a scrape-based
    // rule may pend (a scrape slowed by the shared cores). Firing would page; that is what must not happen.
    await waitFor(signal, "no alerts (beyond a scrape-based pending) on a healthy cluster", LIMIT.calm, calm);
    const holdUntil = Date.now() + LIMIT.healthyHold;
    let healthyPolls = 0;
    while (Date.now() < holdUntil) {
      const as = await alerts();
      assert.ok(as !== undefined, "Prometheus answers /api/v1/alerts");
      assert.deepEqual(unexpected(as), [], "healthy cluster: nothing fires, only scrape-based rules may pend");
      healthyPolls++;
      await sleep(250);
    }
    assert.ok(healthyPolls >= 4, `healthy cluster polled ${healthyPolls} times`);

    // --- kill a replica (no restart): RedisDown must fire; measure kill → redis_up 0 → pending → firing.
    const replica = c.nodes.findIndex((_, i) => role(i) === "slave");
    const rInst = c.seeds[replica];
    const killAt = Date.now();
    await c.kill(replica, KILL_SIGNAL);
    const seen: Record<string, number> = {};
    await waitFor(signal, "RedisDown firing for the killed replica", LIMIT.replicaDownFiring, async () => {
      const now = Date.now() - killAt;
      if (seen.redisUp0 === undefined && (await query(`redis_up{instance="${rInst}"} == 0`))?.length) seen.redisUp0 = now;
      const a = find((await alerts()) ?? [], "RedisDown", rInst);
      if (a?.state === "pending" && seen.pending === undefined) seen.pending = now;
      return a?.state === "firing";
    }, 100);
    timings.killToRedisUp0 = seen.redisUp0;
    timings.killToRedisDownPending = seen.pending;
    timings.killToRedisDownFiring = Date.now() - killAt;
    c.startNode(replica);
    const restartAt = Date.now();
    await waitFor(signal, "RedisDown resolved after the replica restarted", LIMIT.replicaDownResolved, async () => {
      const as = await alerts();
      return as !== undefined && !find(as, "RedisDown", rInst);
    }, 100);
    timings.restartToRedisDownResolved = Date.now() - restartAt;
    await waitFor(signal, "replica resynced", LIMIT.replicaResynced, async () => /master_link_status:up/.test(info(replica)));

    // --- kill a master (no restart): node and shard alerts fire until its replica is promoted.
    const master = c.nodes.findIndex((_, i) => role(i) === "master");
    const mInst = c.seeds[master];
    const mKill = Date.now();
    await c.kill(master, KILL_SIGNAL);
    const states: Record<string, string> = {};
    const seenAt: Record<string, number> = {};
    let failoverAt: number | undefined;
    await waitFor(signal, "failover: 3 reachable masters again and RedisClusterMastersMissing resolved", LIMIT.failover, async () => {
      const as = (await alerts()) ?? [];
      for (const a of as) {
        const k = `${a.labels.alertname}/${a.state}`;
        if (seenAt[k] === undefined) seenAt[k] = Date.now() - mKill;
        states[a.labels.alertname] = a.state;
      }
      if (failoverAt === undefined) {
        const masters = c.nodes.filter((_, i) => i !== master && role(i) === "master").length;
        if (masters === 3) failoverAt = Date.now() - mKill;
      }
      return failoverAt !== undefined && seenAt["RedisClusterMastersMissing/firing"] !== undefined && !find(as, "RedisClusterMastersMissing");
    }, 150);
    timings.masterKillToFailover = failoverAt!;
    assert.ok(seenAt["RedisDown/firing"] !== undefined || find((await alerts()) ?? [], "RedisDown", mInst), "RedisDown fired for the master");
    await waitFor(signal, "RedisDown firing for the killed master", LIMIT.masterDownFiring, async () => find((await alerts()) ?? [], "RedisDown", mInst)?.state === "firing");
    await waitFor(signal, "RedisReplicaMissing firing for the promoted replica", LIMIT.replicaMissingFiring, async () => find((await alerts()) ?? [], "RedisReplicaMissing")?.state === "firing");
    t.diagnostic(`master kill: first seen (ms after kill) ${JSON.stringify(seenAt)}`);

    // --- restart the old master: it rejoins as a replica, every alert resolves (a scrape-based pending aside).
    c.startNode(master);
    const mRestart = Date.now();
    await waitFor(signal, "all alerts resolved after the old master rejoined", LIMIT.allResolved, calm, 200);
    timings.restartToAllResolved = Date.now() - mRestart;
    assert.equal(role(master), "slave", "old master rejoined as a replica");

    timings.total = Date.now() - T0;
    const secs = (ms: number | undefined) => (ms === undefined ? "n/a" : `${(ms / 1000).toFixed(2)} s`);
    const line =
      `kill → RedisDown firing: ${secs(timings.killToRedisDownFiring)} (redis_up 0 after ${secs(timings.killToRedisUp0)}, ` +
      `pending after ${secs(timings.killToRedisDownPending)}; ${SCRAPE_INTERVAL} scrape, ${EVAL_INTERVAL} eval, for ${60 * FOR_SCALE} s)`;
    console.log(line);
    console.log(`live-alerts timings (ms): ${JSON.stringify(timings)}`);
    t.diagnostic(line);
  } finally {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => waitExit(p, 5000)));
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    if (cluster) await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
    process.removeListener("exit", killAllSync);
    process.removeListener("exit", rmClusterDirSync);
  }
});
