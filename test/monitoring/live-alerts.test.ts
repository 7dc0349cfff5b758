// Live alert test: a real local 3x1 cluster, one Debian prometheus-redis-exporter per node and a real Prometheus on
// 127.0.0.1, loaded with the rendered rules at 1 s scrape/eval and every `for:` scaled by FOR_SCALE.
// Healthy → quiet; kill a replica → RedisDown fires (timed); kill a master → cluster alerts fire until the failover
// completes; restart → everything resolves.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, openSync, closeSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { startLocalCluster, type LocalCluster } from "../../local/harness";
import { freePorts } from "../../local/ports";
import { renderAlertRulesYaml } from "../../monitoring/rules";
import { renderPrometheusConfigYaml } from "../../monitoring/prometheus";

const FOR_SCALE = 1 / 60; // 1m → 1s, 5m → 5s
const NODE_TIMEOUT_MS = 3000; // a failover window long enough to watch at 1 s resolution
// A hard kill: no shutdown save, no goodbye to peers.
const KILL_SIGNAL: NodeJS.Signals = "SIGKILL";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Alert {
  labels: Record<string, string>;
  state: "pending" | "firing";
  activeAt: string;
}

function requireBinary(name: string, arg = "--version"): void {
  const r = spawnSync(name, [arg], { encoding: "utf8", timeout: 10_000 });
  if (r.error) assert.fail(`${name} not found: install with: npm run setup:system`);
}

async function getJson<T>(url: string): Promise<T | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return undefined;
    return ((await res.json()) as { data: T }).data;
  } catch {
    return undefined;
  }
}

/** Polls `probe` every `everyMs` until it returns a value, at most `timeoutMs`. */
async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / everyMs) + 1 && Date.now() < deadline; i++) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

test("live: alerts are quiet when healthy, fire on node and master loss, resolve on restart", { timeout: 120_000 }, async (t) => {
  requireBinary("prometheus");
  requireBinary("prometheus-redis-exporter", "-version");
  const T0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "redis-live-alerts-"));
  const password = randomBytes(12).toString("hex");
  const procs: ChildProcess[] = [];
  let cluster: LocalCluster | undefined;
  const timings: Record<string, number> = {};
  const spawnLogged = (name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv) => {
    const fd = openSync(join(dir, `${name}.log`), "a");
    const child = spawn(cmd, args, { env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    procs.push(child);
    return child;
  };

  try {
    cluster = await startLocalCluster({ masters: 3, replicasPerMaster: 1, password, nodeTimeoutMs: NODE_TIMEOUT_MS, restartOnExit: false });
    const c = cluster;
    timings.clusterUp = Date.now() - T0;
    const info = (i: number) => c.cli(i, ["info", "replication"]).stdout;
    const role = (i: number) => /role:(\w+)/.exec(info(i))?.[1];
    // A replica that never synced does not take over: wait for every link first.
    await waitFor("replication links up", 20_000, async () =>
      c.nodes.every((_, i) => role(i) === "master" || /master_link_status:up/.test(info(i))),
    );

    // One exporter per node, like the sidecar / Docker layout; the password only in its environment.
    const exporterPorts = await freePorts(c.nodes.length);
    const [promPort] = await freePorts(1);
    c.nodes.forEach((n, i) => {
      spawnLogged(`exporter-${n.name}`, "prometheus-redis-exporter", ["--web.listen-address", `127.0.0.1:${exporterPorts[i]}`], {
        PATH: process.env.PATH,
        REDIS_ADDR: `redis://${n.host}:${n.port}`,
        REDIS_PASSWORD: password,
      });
    });
    writeFileSync(join(dir, "rules.yml"), renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1, interval: "1s", forScale: FOR_SCALE }));
    writeFileSync(
      join(dir, "prometheus.yml"),
      renderPrometheusConfigYaml({
        exporters: { mode: "per-node", targets: c.nodes.map((n, i) => ({ exporter: `127.0.0.1:${exporterPorts[i]}`, node: `${n.host}:${n.port}` })) },
        ruleFiles: [join(dir, "rules.yml")],
        scrapeInterval: "1s",
        scrapeTimeout: "900ms",
        evaluationInterval: "1s",
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
    const api = `http://127.0.0.1:${promPort}/api/v1`;
    const alerts = async () => (await getJson<{ alerts: Alert[] }>(`${api}/alerts`))?.alerts;
    const query = async (q: string) =>
      (await getJson<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`${api}/query?query=${encodeURIComponent(q)}`))?.result;
    const find = (as: Alert[], name: string, instance?: string) =>
      as.find((a) => a.labels.alertname === name && (instance === undefined || a.labels.instance === instance));

    await waitFor("all 6 nodes scraped with redis_up 1", 30_000, async () => (await query('count(redis_up{job="redis"} == 1) == 6'))?.length === 1);
    timings.prometheusData = Date.now() - promStarted;
    assert.ok(!readFileSync(join(dir, "prometheus.yml"), "utf8").includes(password), "no password in prometheus.yml");

    // --- healthy: startup transients (targets not yet scraped) clear, then nothing pends or fires for 4 s.
    await waitFor("no alerts on a healthy cluster", 20_000, async () => (await alerts())?.length === 0);
    for (let k = 0; k < 16; k++) {
      const as = await alerts();
      assert.deepEqual(as?.map((a) => `${a.labels.alertname}/${a.state}`), [], "healthy cluster must be quiet");
      await sleep(250);
    }

    // --- kill a replica (no restart): RedisDown must fire; measure kill → redis_up 0 → pending → firing.
    const replica = c.nodes.findIndex((_, i) => role(i) === "slave");
    const rInst = c.seeds[replica];
    const killAt = Date.now();
    await c.kill(replica, KILL_SIGNAL);
    const seen: Record<string, number> = {};
    await waitFor("RedisDown firing for the killed replica", 20_000, async () => {
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
    await waitFor("RedisDown resolved after the replica restarted", 20_000, async () => {
      const as = await alerts();
      return as !== undefined && !find(as, "RedisDown", rInst);
    }, 100);
    timings.restartToRedisDownResolved = Date.now() - restartAt;
    await waitFor("replica resynced", 20_000, async () => /master_link_status:up/.test(info(replica)));

    // --- kill a master (no restart): node and shard alerts fire until its replica is promoted.
    const master = c.nodes.findIndex((_, i) => role(i) === "master");
    const mInst = c.seeds[master];
    const mKill = Date.now();
    await c.kill(master, KILL_SIGNAL);
    const states: Record<string, string> = {};
    const seenAt: Record<string, number> = {};
    let failoverAt: number | undefined;
    await waitFor("failover: 3 reachable masters again and RedisClusterMastersMissing resolved", 30_000, async () => {
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
    await waitFor("RedisDown firing for the killed master", 10_000, async () => find((await alerts()) ?? [], "RedisDown", mInst)?.state === "firing");
    await waitFor("RedisReplicaMissing firing for the promoted replica", 15_000, async () => find((await alerts()) ?? [], "RedisReplicaMissing")?.state === "firing");
    t.diagnostic(`master kill: first seen (ms after kill) ${JSON.stringify(seenAt)}`);

    // --- restart the old master: it rejoins as a replica, every alert resolves.
    c.startNode(master);
    const mRestart = Date.now();
    await waitFor("all alerts resolved after the old master rejoined", 30_000, async () => (await alerts())?.length === 0, 200);
    timings.restartToAllResolved = Date.now() - mRestart;
    assert.equal(role(master), "slave", "old master rejoined as a replica");

    timings.total = Date.now() - T0;
    const line = `kill → RedisDown firing: ${(timings.killToRedisDownFiring / 1000).toFixed(2)} s (redis_up 0 after ${(timings.killToRedisUp0 / 1000).toFixed(2)} s, pending after ${(timings.killToRedisDownPending / 1000).toFixed(2)} s; 1 s scrape/eval, for ${60 * FOR_SCALE} s)`;
    console.log(line);
    console.log(`live-alerts timings (ms): ${JSON.stringify(timings)}`);
    t.diagnostic(line);
  } finally {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => waitExit(p, 5000)));
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    if (cluster) await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
