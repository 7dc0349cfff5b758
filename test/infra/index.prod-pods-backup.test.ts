// The prod stack with backup.enabled on the pods runner (testbed/pods), Pulumi.prod.yaml as committed (TLS and ACL
// users on): the backup and restore-drill CronJobs are stored by `pulumi up`, then each one's job template runs as a
// Job (`kubectl create job --from=cronjob/…`) in the backup stand-in image (Debian nodejs, restic, redis-server) as
// uid 1000, read-only root: the backup logs in as the `backup` ACL user over TLS and stores a snapshot of the pods'
// keys in a restic repository behind `rclone serve restic` on the pods network's gateway (the host); the drill
// restores it into a throwaway cluster inside its own container and compares it with the manifest. Then the in-place
// disaster recovery of docs/runbooks.md "Restore in place from a backup", step by step through the engine on the same
// stack (the section is read here: its steps must name the commands this test runs), after a refusal of the restore
// on a cluster that still holds keys. monitoring is on: the Pushgateway Deployment runs Debian's
// prometheus-pushgateway (testbed/docker/images.ts), and both Jobs' pushes are read from its Service; the alerts on
// them are tested live in test/monitoring/live-backup-alerts.test.ts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { PodsRunner, upOn, type UpResult } from "../../testbed/pods/runner";
import { CpuLedger } from "../../testbed/pods/cpu";
import { leftoverFailures, subnetPrefix } from "../../testbed/pods/daemon";
import { ensureBackupImage, ensurePushgatewayImage } from "../../testbed/docker/images";
import { PUSHGATEWAY_IMAGE } from "../../monitoring/images";
import { BACKUP_METRICS, BACKUP_PUSH_JOB, DRILL_METRICS, DRILL_PUSH_JOB } from "../../monitoring/backupMetrics";
import { PUSHGATEWAY_PORT } from "../../infra/plan/backup";
import { startRestRepository, type RestRepository } from "../../testbed/restRepository";
import { BACKUP_TAG, Restic, type SnapshotInfo } from "../../infra/backup/restic";
import type { ConfigInput, EngineState } from "../../testbed/engine/engine";
import { sleep } from "../../smoke/time";
import { repository, tempDir } from "./backup/fixtures";
import * as s from "../../tools/pods/scenarios";
import { MARKER_KEY } from "../../infra/backup/restore";
import { readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

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
/** Keys with an expiry, beside the scenario's KEYS without: the restore must bring back each one's absolute expiry. */
const TTL_KEYS = 50;
const ALL_KEYS = s.KEYS + TTL_KEYS;
const SMOKE_JOB = `${s.STS}-smoke-job`;

const RUNBOOK = "Restore in place from a backup";
/**
 * What each numbered step of the runbook must say, in order: the commands this test runs for it (or, for what the
 * runner cannot run, the command a person types). A step edited in the doc without the test fails here.
 */
const RUNBOOK_STEPS: string[][] = [
  ["kubectl -n \"$NS\" scale deployment", "--replicas=0", "-canary", '"suspend":true'],
  [`restic snapshots --tag ${BACKUP_TAG}`, "RESTIC_REPOSITORY", "RESTIC_PASSWORD"],
  ["dbsize", "flushall", "READONLY", MARKER_KEY],
  ["pulumi config set --path restore.snapshot <ID> -s prod"],
  ["pulumi up -s prod --replace", `::${SMOKE_JOB}`, "a restore goes into an empty cluster only, nothing was changed"],
  ["restored snapshot <id>: N keys", "dbsize"],
  ["pulumi config rm --path restore.snapshot -s prod", "pulumi up -s prod"],
];

/** The numbered steps of the runbook's section in docs/runbooks.md, each with its indented lines, on one line. */
function runbookSteps(): string[] {
  const doc = readFileSync(resolve(__dirname, "../../docs/runbooks.md"), "utf8");
  const at = doc.indexOf(`\n## ${RUNBOOK}\n`);
  assert.ok(at >= 0, `docs/runbooks.md has no section "## ${RUNBOOK}"`);
  const body = doc.slice(at + 1).split(/\n## /)[0];
  const steps: string[] = [];
  for (const line of body.split("\n")) {
    const m = /^(\d+)\. /.exec(line);
    if (m) {
      assert.equal(Number(m[1]), steps.length + 1, `runbook step ${m[1]} out of order`);
      steps.push(line);
    } else if (steps.length && /^ {3}/.test(line)) steps[steps.length - 1] += `\n${line}`;
  }
  // Prose wraps anywhere: compared with single spaces.
  return steps.map((t) => t.replace(/\s*\n\s*/g, " "));
}

after(async () => {
  if (runner2 && !stopped) await runner2.stop();
  if (runner && !stopped) await runner.stop();
  ledger?.close();
  await rest?.stop();
  rmSync(work, { recursive: true, force: true });
  console.log(`pods backup test timings: ${JSON.stringify(timings)}`);
});

test("prod with backup.enabled on pods: the backup CronJob's Job stores the pods' keys, the drill CronJob's Job restores and verifies them", { timeout: 480_000 }, async () => {
  ledger = CpuLedger.open();
  runner = await PodsRunner.start({ log, cgroupParent: ledger?.cgroupParent });
  timings.runnerStart = `${Date.now() - t0} ms`;
  // The pods reach the host at their network's gateway.
  rest = await startRestRepository(15_000, `${subnetPrefix(runner.subnet)}.1`);
  const img = await ensureBackupImage(runner.dockerd.docker, { log });
  runner.addStandIn(IMAGE, img.image);
  timings.backupImage = `${img.cached ? "cached" : `built ${img.buildMs} ms`}, imported ${img.importMs} ms`;
  const pg = await ensurePushgatewayImage(runner.dockerd.docker, { log });
  runner.addStandIn(PUSHGATEWAY_IMAGE, pg.image);
  timings.pushgatewayImage = `${pg.cached ? "cached" : `built ${pg.buildMs} ms`}, imported ${pg.importMs} ms`;

  const backup = { enabled: true, repository: rest.url, password: REPO_PASSWORD, image: IMAGE, retention: { keepLast: 5 } };
  // The smoke test on (without its failover: time), as on prod: the in-place restore runs it again.
  const config = (restore?: { snapshot: string }) =>
    s.scenarioConfig({
      smoke: true,
      failover: "none",
      smokeKeys: 200,
      canary: false,
      extra: { "redis-cluster:backup": { secret: JSON.stringify(backup) }, "redis-cluster:monitoring": { enabled: true }, ...(restore ? { "redis-cluster:restore": restore } : {}) },
    });
  const first = await s.firstDeploy(runner, config());
  timings.firstDeploy = `${first.row.timeToOkMs} ms`;
  assert.ok(first.row.pass, first.row.observed);
  const cluster = first.cluster!;
  const expiries = await writeTtlKeys(cluster);

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
  assert.equal(Number(m[2]), ALL_KEYS, `drill counted ${m[2]} keys, ${ALL_KEYS} written`);
  await assertPushed(runner, ns, tb);

  await restoreInPlace(runner, cluster, first.up.state, config, snaps[0], expiries);

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
  assert.match(rLog, new RegExp(`restored snapshot ${snaps[0].short_id}: ${ALL_KEYS} keys`));
  timings.restoreStackUp = `${Date.now() - tr} ms (restore Job ${r.durationMs} ms)`;
  const restored = await s.ProdCluster.fromUp(runner2, up2);
  await restored.waitWhole(120_000);
  assert.deepEqual(await restored.missingKeys("base", s.KEYS), [], "keys missing or different after the restore");
  assert.equal(await keyCount(restored), ALL_KEYS, "the restored cluster holds exactly the backed-up keys");

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

/** Keys on the masters (replicas mirror them). */
async function keyCount(c: s.ProdCluster): Promise<number> {
  let total = 0;
  for (const sh of await c.shards()) total += Number(await c.on(sh.master, (x) => x.dbsize()));
  return total;
}

/** TTL_KEYS keys expiring in an hour or so, each a second apart; their absolute expiry (PEXPIRETIME) by key. */
async function writeTtlKeys(c: s.ProdCluster): Promise<Map<string, number>> {
  const client = c.client();
  try {
    const out = new Map<string, number>();
    for (let i = 0; i < TTL_KEYS; i++) {
      const k = `ttl:${i}`;
      await client.set(k, `v-${k}`, "PX", 3_600_000 + i * 1000);
      out.set(k, Number(await client.call("PEXPIRETIME", k)));
    }
    return out;
  } finally {
    client.disconnect();
  }
}

/** The keys of writeTtlKeys whose value or absolute expiry is not what was written. */
async function ttlKeysLost(c: s.ProdCluster, expiries: Map<string, number>): Promise<string[]> {
  const client = c.client();
  try {
    const lost: string[] = [];
    for (const [k, at] of expiries) {
      const [v, exp] = await Promise.all([client.get(k), client.call("PEXPIRETIME", k)]);
      if (v !== `v-${k}` || Number(exp) !== at) lost.push(`${k} (${v}, expires ${exp}, wrote ${at})`);
    }
    return lost;
  } finally {
    client.disconnect();
  }
}

/** Every key written before the backup is there, with its value and expiry, and nothing else. */
async function assertBackedUpKeys(c: s.ProdCluster, expiries: Map<string, number>, when: string): Promise<void> {
  assert.deepEqual(await c.missingKeys("base", s.KEYS), [], `${when}: keys missing or different`);
  assert.deepEqual(await ttlKeysLost(c, expiries), [], `${when}: keys with an expiry missing or different`);
  assert.equal(await keyCount(c), ALL_KEYS, `${when}: key count`);
}

/** What an up did to the Kubernetes objects, for the timings. */
const changedBy = (up: UpResult) => up.run.resources.filter((r) => r.custom && r.op !== "same" && r.op !== "read").map((r) => `${r.op} ${r.name}`).join(", ");

const isRestoreJob = (name: string) => new RegExp(`^${s.STS}-restore-[0-9a-f]{8}$`).test(name);

/**
 * docs/runbooks.md "Restore in place from a backup" on the stack of the first deploy (state: its engine state):
 * first its refusal (restore.snapshot while the cluster still holds its keys), then the disaster (a FLUSHALL) and
 * each numbered step in order.
 */
async function restoreInPlace(
  runner: PodsRunner,
  cluster: s.ProdCluster,
  state: EngineState,
  config: (restore?: { snapshot: string }) => Record<string, ConfigInput>,
  snap: SnapshotInfo,
  expiries: Map<string, number>,
): Promise<void> {
  const steps = runbookSteps();
  assert.equal(steps.length, RUNBOOK_STEPS.length, `the runbook has ${steps.length} steps, this test runs ${RUNBOOK_STEPS.length}`);
  RUNBOOK_STEPS.forEach((says, i) => {
    for (const c of says) assert.ok(steps[i].includes(c), `runbook step ${i + 1} no longer says ${c}:\n${steps[i]}`);
  });
  const ti = Date.now();

  // Refused: restore.snapshot set while the cluster still holds its keys. The up fails with the engine's reason,
  // and the cluster keeps every key.
  let from = runner.jobs.length;
  const refused = await runner.up({ stack: s.STACK, config: config({ snapshot: snap.id }), priorState: state });
  const refusedJob = runner.jobs.slice(from).find((j) => isRestoreJob(j.name));
  assert.ok(refusedJob && !refusedJob.succeeded, `the restore Job on a cluster with keys: ${refusedJob?.reason ?? "did not run"}`);
  // A refusal is final: the Job's podFailurePolicy fails it on the first attempt, no retry with back-off.
  assert.deepEqual([refusedJob.reason, refusedJob.attempts.length, refusedJob.attempts[0].exitCode], ["PodFailurePolicy", 1, 2], "the refused restore was retried");
  assert.ok(!refused.run.ok, "the up of a restore into a cluster holding keys succeeded");
  assert.match(refused.run.errors.join("\n"), new RegExp(`the target cluster holds ${ALL_KEYS} keys: a restore goes into an empty cluster only, nothing was changed`));
  assert.ok(!runner.jobs.slice(from).some((j) => j.name.startsWith(SMOKE_JOB)), "the smoke Job ran after a refused restore");
  await assertBackedUpKeys(cluster, expiries, "after the refused restore");
  timings.refusedUp = `${refused.run.durationMs} ms (${refusedJob.attempts.length} restore attempts; changed: ${changedBy(refused)})`;
  state = refused.state;

  // The disaster: a bad FLUSHALL, sent to every node the way step 3 types it (masters flush, replicas refuse).
  const masters = new Set((await cluster.shards()).map((sh) => sh.master));
  for (const p of cluster.pods()) {
    const answer = await cluster.on(p, (r) => r.flushall()).catch((e: Error) => e.message);
    if (masters.has(p)) assert.equal(answer, "OK", `FLUSHALL on master ${p}`);
    else assert.match(String(answer), /READONLY/, `FLUSHALL on replica ${p}`);
  }
  assert.equal(await keyCount(cluster), 0, "keys left after the FLUSHALL");

  // 1. Writers: none here (no application; the canary, the program's only writer, is off); the runner schedules no
  // CronJob by itself.
  assert.deepEqual([...runner.objects.keys()].filter((k) => k.startsWith("Deployment/") && k.includes("canary")), [], "the canary runs");
  // 2. The snapshot, listed as the runbook types it (credentials in the environment).
  const listed = await promisify(execFile)("restic", ["snapshots", "--tag", BACKUP_TAG], {
    env: { PATH: process.env.PATH, HOME: work, RESTIC_REPOSITORY: rest!.url, RESTIC_PASSWORD: REPO_PASSWORD, RESTIC_CACHE_DIR: `${work}/restic-cache` },
    timeout: 60_000,
  });
  assert.ok(listed.stdout.includes(snap.short_id), `restic snapshots lists no ${snap.short_id}:\n${listed.stdout}`);
  // 3. Every node's key count: all 0 (the replicas follow their master's FLUSHALL), no restore marker: nothing to empty.
  let counts: string[] = [];
  for (let i = 0; i < 50; i++) {
    counts = [];
    for (const p of cluster.pods()) counts.push(`${p} ${await cluster.on(p, (r) => r.dbsize())}`);
    if (counts.every((c) => c.endsWith(" 0"))) break;
    await sleep(200);
  }
  assert.ok(counts.every((c) => c.endsWith(" 0")), `not empty: ${counts.join(", ")}`);
  // 4 and 5. restore.snapshot on the same stack; `pulumi up --replace <the smoke Job's URN>`.
  const smokeUrn = state.resources.find((r) => r.urn.endsWith(`::${SMOKE_JOB}`))?.urn;
  assert.ok(smokeUrn, `no ${SMOKE_JOB} in the stack's state`);
  from = runner.jobs.length;
  const up = await runner.up({ stack: s.STACK, config: config({ snapshot: snap.id }), priorState: state, replace: [smokeUrn] });
  const jobs = runner.jobs.slice(from);
  const names = jobs.map((j) => `${j.name} ${j.reason}`).join(", ");
  assert.ok(up.run.ok, `the in-place restore's up failed: ${names}; ${up.run.errors.join(" | ").slice(0, 800)}`);
  const restoreAt = jobs.findIndex((j) => isRestoreJob(j.name));
  const smokeAt = jobs.findIndex((j) => j.name.startsWith(SMOKE_JOB));
  assert.ok(restoreAt >= 0 && jobs[restoreAt].succeeded, `the restore Job: ${names}`);
  assert.match(jobs[restoreAt].attempts.at(-1)?.logTail ?? "", new RegExp(`restored snapshot ${snap.short_id}: ${ALL_KEYS} keys`));
  assert.ok(smokeAt > restoreAt && jobs[smokeAt].succeeded, `the smoke Job after the restore: ${names}`);
  timings.inPlaceUp = `${up.run.durationMs} ms (restore Job ${jobs[restoreAt].durationMs} ms, smoke Job ${jobs[smokeAt].durationMs} ms; changed: ${changedBy(up)})`;
  // 6. Every key back with its value and expiry, the counts the manifest's, the marker gone.
  await assertBackedUpKeys(cluster, expiries, "after the in-place restore");
  const marker = cluster.client();
  try {
    assert.equal(await marker.get(MARKER_KEY), null, "the restore marker stayed");
  } finally {
    marker.disconnect();
  }
  // 7. restore.snapshot removed: the up deletes the finished restore Job and runs none.
  from = runner.jobs.length;
  const after7 = await runner.up({ stack: s.STACK, config: config(), priorState: up.state });
  assert.ok(after7.run.ok, `the up without restore.snapshot: ${after7.run.errors.join(" | ").slice(0, 800)}`);
  assert.ok(!runner.jobs.slice(from).some((j) => isRestoreJob(j.name)), "a restore Job ran without restore.snapshot");
  assert.deepEqual([...runner.objects.keys()].filter((k) => k.startsWith("Job/") && isRestoreJob(k.split("/")[2])), [], "the restore Job is still there");
  await assertBackedUpKeys(cluster, expiries, "after restore.snapshot was removed");
  timings.removeUp = `${after7.run.durationMs} ms (changed: ${changedBy(after7)}; deleted: ${after7.run.deletes.join(", ")})`;
  timings.inPlaceTotal = `${Date.now() - ti} ms`;
}

/**
 * The backup Job's and the drill Job's pushes are in the stack's Pushgateway (its Service, from the host): each
 * group with the cluster label and a success timestamp of this run (after `since`, ms).
 */
async function assertPushed(runner: PodsRunner, ns: string, since: number): Promise<void> {
  const svc = `${s.STS}-pushgateway`;
  const f = await runner.forwardService(svc, PUSHGATEWAY_PORT, ns);
  const res = await fetch(`http://${f.host}:${f.port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200, `GET /metrics of ${svc}`);
  const text = await res.text();
  for (const [job, metric] of [[BACKUP_PUSH_JOB, BACKUP_METRICS.lastSuccessTimestamp], [DRILL_PUSH_JOB, DRILL_METRICS.lastSuccessTimestamp]]) {
    const line = text.split("\n").find((l) => l.startsWith(`${metric}{`) && l.includes(`cluster="${s.STS}"`) && l.includes(`job="${job}"`));
    assert.ok(line, `no ${metric}{cluster="${s.STS}",job="${job}"} in the Pushgateway:\n${text.split("\n").filter((l) => l.startsWith("redis_")).join("\n")}`);
    const at = Number(line.split(" ").at(-1)) * 1000;
    assert.ok(at >= since - 1000 && at <= Date.now() + 1000, `${job}'s success timestamp ${new Date(at).toISOString()} is not of this run (since ${new Date(since).toISOString()})`);
  }
}
