// Live backup alerts: a real local cluster, restic over REST (rclone serve restic), the Debian prometheus-pushgateway
// and a real Prometheus scraping it (honor_labels, monitoring/prometheus.ts) with the backup rules at 1 s. Through the
// CLI as the CronJobs run it: a drill of a corrupted backup pushes its failure and RedisRestoreDrillFailed fires; a
// good drill resolves it and RedisRestoreDrillStale stays quiet; a refused backup (wrong repository password) fires
// RedisBackupFailed and keeps the last success time (pushAdd), a good one resolves it; a Pushgateway that is down
// does not fail a good backup. Every wait is bounded; every process is removed in `finally` and on exit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startLocalCluster, type LocalCluster } from "../../testbed/local/harness";
import { clusterClient } from "../../testbed/local/scaleCluster";
import { freePorts } from "../../testbed/local/ports";
import { startRestRepository, type RestRepository } from "../../testbed/restRepository";
import { renderAlertRulesYaml } from "../../monitoring/rules";
import { renderPrometheusConfigYaml } from "../../monitoring/prometheus";
import { BACKUP_METRICS, DRILL_METRICS } from "../../monitoring/backupMetrics";
import { runBackup } from "../../infra/backup/backup";
import { backupOptions, craftedSnapshot, repository, tempDir } from "../infra/backup/fixtures";
import { prometheusApi, requireBinary, waitExit, waitFor, type Alert } from "./live-prometheus";

const REPO_ROOT = join(__dirname, "..", "..");
const JOB = "redis-cluster-live-backup";
const CLUSTER = "live-backup";
const LIMIT = { up: 20_000, fire: 15_000, resolve: 15_000 };
const TEST_TIMEOUT_MS = 220_000;

test("live: a failed drill fires RedisRestoreDrillFailed, a good one resolves it; a refused backup fires RedisBackupFailed", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  requireBinary("prometheus");
  requireBinary("prometheus-pushgateway");
  const signal = t.signal;
  const dir = tempDir("redis-live-backup-");
  const procs: ChildProcess[] = [];
  let src: LocalCluster | undefined;
  let rest: RestRepository | undefined;
  const killAllSync = () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", killAllSync);
  const spawnLogged = (name: string, cmd: string, args: string[]) => {
    const fd = openSync(join(dir, `${name}.log`), "a");
    const child = spawn(cmd, args, { env: { PATH: process.env.PATH }, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    procs.push(child);
    return child;
  };
  try {
    rest = await startRestRepository();
    src = await startLocalCluster({ password: "live-backup-src-pw", masters: 3, replicasPerMaster: 0, config: { smoke: { failover: "none" } } });
    const cl = clusterClient(src);
    await cl.connect();
    await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 4 ? cl.set(`k:${i}`, String(i)) : cl.set(`k:${i}`, String(i), "PX", 3_600_000))));
    cl.disconnect();
    const repo = repository(rest.url, "live-backup-repo-pw", dir);
    const good = await runBackup(backupOptions(src, repo, dir));
    assert.equal(good.code, 0, good.message);
    const corrupted = await craftedSnapshot(repo, good.snapshotId!, (d, m) => {
      const f = join(d, m.shards[0].file);
      const b = readFileSync(f);
      b[Math.floor(b.length / 2)] ^= 0xff;
      writeFileSync(f, b);
    });

    const [pgPort, promPort, closedPort] = await freePorts(3);
    // In memory only, like the prom/pushgateway image: Debian's build defaults to a file under /var/lib, which would
    // carry one run's pushes into the next.
    spawnLogged("pushgateway", "prometheus-pushgateway", [`--web.listen-address=127.0.0.1:${pgPort}`, "--persistence.file="]);
    writeFileSync(join(dir, "rules.yml"), renderAlertRulesYaml({ masters: 3, replicasPerMaster: 0, job: JOB, interval: "1s", backup: { cluster: CLUSTER, maxAgeSeconds: 3600, drillMaxAgeSeconds: 3600 } }));
    writeFileSync(join(dir, "prometheus.yml"), renderPrometheusConfigYaml({
      // No exporter runs here: the Redis rules are not under test, only the backup group.
      exporters: { mode: "per-node", targets: [{ exporter: `127.0.0.1:${closedPort}`, node: src.seeds[0] }] },
      ruleFiles: [join(dir, "rules.yml")], job: JOB, scrapeInterval: "1s", evaluationInterval: "1s",
      pushgateway: { target: `127.0.0.1:${pgPort}` },
    }));
    mkdirSync(join(dir, "tsdb"));
    spawnLogged("prometheus", "prometheus", [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${promPort}`]);
    const { alerts, query } = prometheusApi(promPort, signal);
    await waitFor(signal, "the Pushgateway scraped", LIMIT.up, async () => (await query(`up{job="pushgateway"} == 1`))?.length === 1);

    const env = (password = "live-backup-repo-pw") => {
      const pw = join(dir, `pw-${password}`);
      writeFileSync(pw, password, { mode: 0o600 });
      return { PATH: process.env.PATH, HOME: process.env.HOME, RESTIC_REPOSITORY: repo.repository, RESTIC_PASSWORD_FILE: pw, RESTIC_CACHE_DIR: repo.cacheDir, REDISCLI_AUTH: src!.password, PUSHGATEWAY_URL: `http://127.0.0.1:${pgPort}`, BACKUP_PUSH_CLUSTER: CLUSTER };
    };
    const cli = (args: string[], e: NodeJS.ProcessEnv) => {
      const r = spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "infra/backup/cli.ts"), ...args, "--work-dir", dir], { cwd: REPO_ROOT, env: e, encoding: "utf8", timeout: 90_000 });
      return { code: r.status, out: r.stdout + r.stderr };
    };
    const state = async (name: string) => ((await alerts()) ?? []).find((a: Alert) => a.labels.alertname === name && a.labels.cluster === CLUSTER)?.state;
    const value = async (metric: string) => Number((await query(`${metric}{cluster="${CLUSTER}"}`))?.[0]?.value[1] ?? NaN);

    // A corrupted RDB in the repository: the drill fails, pushes 0, the alert fires.
    const bad = cli(["drill", "--snapshot", corrupted], env());
    assert.equal(bad.code, 2, bad.out);
    assert.match(bad.out, /pushed 3 metrics to http:\/\/127\.0\.0\.1:\d+ \(job redis-restore-drill, cluster live-backup\)/);
    const failedAt = Date.now();
    await waitFor(signal, "RedisRestoreDrillFailed firing", LIMIT.fire, async () => (await state("RedisRestoreDrillFailed")) === "firing");
    const fireMs = Date.now() - failedAt;
    assert.ok(Number.isNaN(await value(DRILL_METRICS.lastSuccessTimestamp)), "a failed drill pushed a success time");

    // A good drill resolves it; the drill is not stale.
    const ok = cli(["drill", "--snapshot", good.snapshotId!], env());
    assert.equal(ok.code, 0, ok.out);
    const okAt = Date.now();
    await waitFor(signal, "RedisRestoreDrillFailed resolved", LIMIT.resolve, async () => (await state("RedisRestoreDrillFailed")) === undefined && (await value(DRILL_METRICS.lastRunSuccess)) === 1);
    const resolveMs = Date.now() - okAt;
    assert.equal(await state("RedisRestoreDrillStale"), undefined);
    assert.equal(await value(DRILL_METRICS.keysChecked), 200);
    const drillSeconds = await value(DRILL_METRICS.durationSeconds);

    // Backups: a good one, then one refused by the repository (wrong password): RedisBackupFailed fires, the success time stays.
    const b1 = cli(["backup", "--nodes", src.seeds.join(",")], env());
    assert.equal(b1.code, 0, b1.out);
    await waitFor(signal, "the backup's success pushed", LIMIT.fire, async () => (await value(BACKUP_METRICS.lastRunSuccess)) === 1 && (await value(BACKUP_METRICS.keys)) === 200);
    const lastSuccess = await value(BACKUP_METRICS.lastSuccessTimestamp);
    const pushed = { bytes: await value(BACKUP_METRICS.bytes), pause: await value(BACKUP_METRICS.writePauseSeconds), duration: await value(BACKUP_METRICS.durationSeconds) };
    const b2 = cli(["backup", "--nodes", src.seeds.join(",")], env("not-the-password"));
    assert.equal(b2.code, 2, b2.out);
    await waitFor(signal, "RedisBackupFailed firing", LIMIT.fire, async () => (await state("RedisBackupFailed")) === "firing");
    assert.equal(await value(BACKUP_METRICS.lastSuccessTimestamp), lastSuccess, "a refused backup moved the last success time");
    assert.equal(await state("RedisBackupTooOld"), undefined);
    const b3 = cli(["backup", "--nodes", src.seeds.join(",")], env());
    assert.equal(b3.code, 0, b3.out);
    await waitFor(signal, "RedisBackupFailed resolved", LIMIT.resolve, async () => (await state("RedisBackupFailed")) === undefined);

    // A Pushgateway that is down: the push fails, logged; the backup stands.
    const down = cli(["backup", "--nodes", src.seeds.join(","), "--pushgateway", `http://127.0.0.1:${closedPort}`], env());
    assert.equal(down.code, 0, down.out);
    assert.match(down.out, /push to http:\/\/127\.0\.0\.1:\d+ failed \(the run's outcome stands\)/);
    for (const r of [bad, ok, b1, b2, b3, down]) assert.ok(!r.out.includes("live-backup-repo-pw") && !r.out.includes(src.password!), "a secret was printed");
    t.diagnostic(`drill failed -> firing ${fireMs} ms; good drill -> resolved ${resolveMs} ms; drill pushed duration ${drillSeconds} s; backup pushed ${JSON.stringify(pushed)}`);
  } finally {
    for (const p of procs) {
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
      await waitExit(p, 5000);
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    }
    await src?.stop();
    await rest?.stop();
    rmSync(dir, { recursive: true, force: true });
    process.removeListener("exit", killAllSync);
  }
});
