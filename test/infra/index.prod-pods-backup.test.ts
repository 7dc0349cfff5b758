// The prod stack with backup.enabled on the pods runner (testbed/pods), Pulumi.prod.yaml as committed (TLS and ACL
// users on): the backup and restore-drill CronJobs are stored by `pulumi up`, then each one's job template runs as a
// Job (`kubectl create job --from=cronjob/…`) in the backup stand-in image (Debian nodejs, restic, redis-server) as
// uid 1000, read-only root: the backup logs in as the `backup` ACL user over TLS and stores a snapshot of the pods'
// keys in a restic repository behind `rclone serve restic` on the pods network's gateway (the host); the drill
// restores it into a throwaway cluster inside its own container and compares it with the manifest. monitoring is off
// here (no stand-in for the Pushgateway image): the push is tested live in test/monitoring/live-backup-alerts.test.ts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { PodsRunner, upOn } from "../../testbed/pods/runner";
import { CpuLedger } from "../../testbed/pods/cpu";
import { leftoverFailures, subnetPrefix } from "../../testbed/pods/daemon";
import { ensureBackupImage } from "../../testbed/docker/images";
import { startRestRepository, type RestRepository } from "../../testbed/restRepository";
import { BACKUP_TAG, Restic } from "../../infra/backup/restic";
import { repository, tempDir } from "./backup/fixtures";
import * as s from "../../tools/pods/scenarios";
import { rmSync } from "node:fs";

const IMAGE = "registry.example.com/redis-cluster-backup:test";
const REPO_PASSWORD = "pods-backup-repo-pw-0123";
let runner: PodsRunner | undefined;
/** The restore stack's: a second runner, its own dockerd and pods network. */
let runner2: PodsRunner | undefined;
let ledger: CpuLedger | undefined;
let rest: RestRepository | undefined;
let stopped = false;
const work = tempDir("pods-backup-");
const timings: Record<string, string> = {};
const t0 = Date.now();
const log = (l: string) => process.env.PODS_LOG && console.error(`${((Date.now() - t0) / 1000).toFixed(1)} ${l}`);

after(async () => {
  if (runner2 && !stopped) await runner2.stop();
  if (runner && !stopped) await runner.stop();
  ledger?.close();
  await rest?.stop();
  rmSync(work, { recursive: true, force: true });
  console.log(`pods backup test timings: ${JSON.stringify(timings)}`);
});

test("prod with backup.enabled on pods: the backup CronJob's Job stores the pods' keys, the drill CronJob's Job restores and verifies them", { timeout: 330_000 }, async () => {
  ledger = CpuLedger.open();
  runner = await PodsRunner.start({ log, cgroupParent: ledger?.cgroupParent });
  timings.runnerStart = `${Date.now() - t0} ms`;
  // The pods reach the host at their network's gateway.
  rest = await startRestRepository(15_000, `${subnetPrefix(runner.subnet)}.1`);
  const img = await ensureBackupImage(runner.dockerd.docker, { log });
  runner.addStandIn(IMAGE, img.image);
  timings.backupImage = `${img.cached ? "cached" : `built ${img.buildMs} ms`}, imported ${img.importMs} ms`;

  const backup = { enabled: true, repository: rest.url, password: REPO_PASSWORD, image: IMAGE, retention: { keepLast: 5 } };
  const config = s.scenarioConfig({ smoke: false, canary: false, extra: { "redis-cluster:backup": { secret: JSON.stringify(backup) }, "redis-cluster:monitoring": { enabled: false } } });
  const first = await s.firstDeploy(runner, config);
  timings.firstDeploy = `${first.row.timeToOkMs} ms`;
  assert.ok(first.row.pass, first.row.observed);

  const ns = runner.pod(`${s.STS}-0`).namespace;
  const cronJob = (kind: string) => {
    const key = [...runner!.objects.keys()].find((k) => k.startsWith(`CronJob/${ns}/${s.STS}-${kind}`));
    assert.ok(key, `CronJob ${kind} stored (have: ${[...runner!.objects.keys()].filter((k) => k.startsWith("CronJob/")).join(", ")})`);
    return key.split("/")[2];
  };

  const tb = Date.now();
  const b = await runner.runCronJob(cronJob("backup"), ns);
  timings.backupJob = `${b.durationMs} ms`;
  const bLog = b.attempts.at(-1)?.logTail ?? "";
  log(`backup job ${b.reason}:\n${bLog}`);
  assert.ok(b.succeeded, `backup Job ${b.reason}:\n${bLog}`);
  assert.match(bLog, /backup [0-9a-f]{8}: 3 shards, \d+ bytes, pause \d+ ms/);
  assert.ok(!bLog.includes(REPO_PASSWORD), "the repository password in the Job's log");
  const snaps = await new Restic(repository(rest.url, REPO_PASSWORD, work)).snapshots([BACKUP_TAG]);
  assert.equal(snaps.length, 1, "one snapshot in the repository");
  timings.backupWall = `${Date.now() - tb} ms`;

  const d = await runner.runCronJob(cronJob("restore-drill"), ns);
  timings.drillJob = `${d.durationMs} ms`;
  const dLog = d.attempts.at(-1)?.logTail ?? "";
  log(`drill job ${d.reason}:\n${dLog}`);
  assert.ok(d.succeeded, `drill Job ${d.reason}:\n${dLog}`);
  const m = /drill passed: snapshot ([0-9a-f]{8}), (\d+) keys in the manifest's slot ranges, (\d+) sampled/.exec(dLog);
  assert.ok(m, dLog);
  assert.ok(snaps[0].id.startsWith(m[1]), `drilled ${m[1]}, stored ${snaps[0].id}`);
  // The keys the scenario wrote (and nothing else: the drill compares every key against the manifest).
  assert.ok(Number(m[2]) >= s.KEYS, `drill counted ${m[2]} keys, ${s.KEYS} written`);

  // A new stack with restore.snapshot on a second runner: the restore Job fills the new cluster after it formed; the
  // keys the first stack held are there with their values, and nothing else.
  runner2 = await PodsRunner.start({ log, cgroupParent: ledger?.cgroupParent });
  const img2 = await ensureBackupImage(runner2.dockerd.docker, { log });
  runner2.addStandIn(IMAGE, img2.image);
  const restore = { snapshot: snaps[0].id, repository: rest.url, password: REPO_PASSWORD };
  const tr = Date.now();
  const up2 = await upOn(Promise.resolve(runner2), {
    stack: s.STACK,
    config: s.scenarioConfig({ smoke: false, canary: false, extra: { "redis-cluster:restore": { secret: JSON.stringify(restore) }, "redis-cluster:backup": { image: IMAGE }, "redis-cluster:monitoring": { enabled: false } } }),
  });
  const jobs2 = up2.jobs.map((j) => `${j.name.replace(/-[0-9a-f]{8}$/, "")} ${j.reason}`);
  assert.ok(up2.run.ok, `restore stack up failed: ${jobs2.join(", ")}; ${up2.run.errors.join(" | ").slice(0, 800)}`);
  const r = up2.jobs.find((j) => j.name.includes("-restore"));
  assert.ok(r?.succeeded, `restore Job: ${jobs2.join(", ")}\n${r?.attempts.at(-1)?.logTail ?? ""}`);
  const rLog = r.attempts.at(-1)?.logTail ?? "";
  log(`restore job:\n${rLog}`);
  assert.match(rLog, new RegExp(`restored snapshot ${snaps[0].short_id}: ${s.KEYS} keys`));
  timings.restoreStackUp = `${Date.now() - tr} ms (restore Job ${r.durationMs} ms)`;
  const restored = await s.ProdCluster.fromUp(runner2, up2);
  await restored.waitWhole(120_000);
  assert.deepEqual(await restored.missingKeys("base", s.KEYS), [], "keys missing or different after the restore");
  let total = 0;
  for (const sh of await restored.shards()) total += Number(await restored.on(sh.master, (x) => x.dbsize()));
  assert.equal(total, s.KEYS, "the restored cluster holds exactly the backed-up keys");

  assert.deepEqual(leftoverFailures(await runner2.stop(), []), [], "the restore stack's runner leaves nothing");
  const left = await runner.stop();
  stopped = true;
  // rclone, a child of this process, lives in the ledger's cgroup too.
  await rest.stop();
  rest = undefined;
  const cgroupsLeft = ledger?.close();
  ledger = undefined;
  assert.deepEqual(leftoverFailures(left, cgroupsLeft), [], "the runner leaves nothing");
  timings.total = `${Date.now() - t0} ms`;
});
