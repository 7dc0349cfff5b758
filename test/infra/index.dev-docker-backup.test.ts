// Backup and restore through `pulumi up` on a real Docker engine (issue 23): a dev stack (3x1) that turns on
// backup.enabled backs up into a restic repository behind restic's REST protocol (`rclone serve restic`); a second
// dev stack of another shape (4x0, its own name, subnet and ports) with restore.snapshot of that backup comes up with
// every key (value digest and expiry) and passes the smoke test; an unchanged `up` repeats neither run; both stacks are destroyed.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { destroy, readState } from "../../testbed/docker/stack";
import { dockerDevConfig } from "../../testbed/docker/devStack";
import { startRestRepository, type RestRepository } from "../../testbed/restRepository";
import { plainStrings } from "../../testbed/engine/values";
import { BACKUP_TAG, Restic } from "../../infra/backup/restic";
import { MANIFEST_FILE, parseManifest } from "../../infra/backup/manifest";
import { parseClusterNodes } from "../../smoke/topology";
import { describeKeys, seedDataset } from "./backup/fixtures";
import { assertDestroyLeavesNothing, field, hostCluster, onNode, runUp, setUp, tearDown, upArgs, type Fixture } from "../helpers/dockerFixture";

const REPO_PASSWORD = "repo-password-for-the-backup-test";
const SOURCE_BACKUP = "redis-cluster-dev-backup";
const TARGET_RESTORE = "redis-cluster-dr-restore";
const TARGET_SMOKE = "redis-cluster-dr-smoke-run";

let source: Fixture | undefined;
let target: Fixture | undefined;
let repo: RestRepository | undefined;
let snapshotId = "";
/** The keys written into the source: every data type, TTLs, three keys of 4 MB. */
let dataset: string[] = [];

before(async () => {
  repo = await startRestRepository();
  source = await setUp({ smokeEnabled: false, monitoringEnabled: false });
  // Fast: no canary container; the target's smoke test is the one that gates.
  source.cfg.stackConfig["redis-cluster:canary"] = { enabled: false };
});
after(async () => {
  try {
    await tearDown(source, "docker backup/restore stacks");
  } finally {
    if (target) rmSync(target.dir, { recursive: true, force: true });
    await repo?.stop();
  }
});

/** Sum of DBSIZE over the masters, and each master's node id. */
async function masterKeys(f: Fixture, nodes: number): Promise<{ total: number; ids: string[] }> {
  let total = 0;
  const ids: string[] = [];
  for (let i = 0; i < nodes; i++) {
    await onNode(f, i, async (r) => {
      if (field((await r.info("replication")) as string, "role") !== "master") return;
      total += await r.dbsize();
      ids.push((await r.cluster("MYID")) as string);
    });
  }
  return { total, ids: ids.sort() };
}

/** Type, value digest and expiry of every key of the dataset (test/infra/backup/fixtures.ts), through the host path. */
async function describe(f: Fixture): Promise<Map<string, string>> {
  const c = hostCluster(f);
  try {
    await c.ping(); // the slot map first: describeKeys routes by it
    return await describeKeys(c, dataset);
  } finally {
    c.disconnect();
  }
}

const repository = () => new Restic({ repository: repo!.url, password: REPO_PASSWORD });

test("a dev stack that turns on backup.enabled backs up through `pulumi up`: a snapshot whose manifest lists every master and its keys", async () => {
  const f = source!;
  const first = await runUp(f);
  assert.ok(first.ok, `pulumi up failed: ${first.error}`);
  f.first = first;
  f.password = first.outputs.redisPassword as string;
  f.timings.up = `${first.totalMs} ms`;
  const c = hostCluster(f);
  try {
    dataset = await seedDataset(c, 100);
  } finally {
    c.disconnect();
  }

  f.cfg.stackConfig["redis-cluster:backup"] = { secret: JSON.stringify({ enabled: true, repository: repo!.url, password: REPO_PASSWORD, retention: { keepLast: 3 } }) };
  const r = await runUp(f);
  assert.ok(r.ok, `pulumi up with backup.enabled failed: ${r.error}`);
  f.timings.backupUp = `${r.totalMs} ms (backup done at ${r.doneAtMs[SOURCE_BACKUP]} ms)`;
  assert.ok(r.created.includes(SOURCE_BACKUP), `the backup ran: ${r.created.join(", ")}`);
  assert.ok(!r.created.some((n) => /node-\d$|bootstrap$/.test(n)), `no node or bootstrap re-created: ${r.created.join(", ")}`);
  const m = /^backup ([0-9a-f]{8}): 3 shards, \d+ bytes, pause (\d+) ms$/m.exec(String(r.outputs.lastBackup));
  assert.ok(m, `lastBackup output: ${r.outputs.lastBackup}`);
  snapshotId = m[1];
  f.timings.pauseMs = m[2];
  assert.equal(r.outputs.backupRepository, repo!.url);

  const snaps = await repository().snapshots([BACKUP_TAG]);
  assert.equal(snaps.length, 1, "one snapshot in the repository");
  assert.equal(snaps[0].short_id, snapshotId);
  // `restic backup .` keeps the files at the snapshot's root.
  const manifest = parseManifest((await repository().run(["dump", snaps[0].id, `/${MANIFEST_FILE}`])).stdout);
  const live = await masterKeys(f, 6);
  assert.deepEqual(manifest.shards.map((s) => s.nodeId).sort(), live.ids, "every master, and only masters, in the manifest");
  const nodes = parseClusterNodes((await onNode(f, 0, (x) => x.cluster("NODES"))) as string);
  for (const s of manifest.shards) {
    assert.deepEqual(s.slots, nodes.find((n) => n.id === s.nodeId)!.slots, `slots of ${s.nodeId}`);
  }
  assert.equal(manifest.shards.reduce((n, s) => n + s.keys, 0), live.total, "the manifest counts every key");
  assert.equal(live.total, dataset.length);

  // Secrets: the repository and admin passwords only in secret inputs and outputs of the engine's state.
  const plain = plainStrings(readState(upArgs(f).stateFile).engine).join("\n");
  assert.ok(!plain.includes(REPO_PASSWORD), "no repository password in plain state");
  assert.ok(!plain.includes(f.password), "no Redis password in plain state");

  // Unchanged: the backup does not run again.
  const again = await runUp(f);
  assert.ok(again.ok, again.error);
  assert.deepEqual(again.created, [], "nothing re-ran");
  assert.equal((await repository().snapshots([BACKUP_TAG])).length, 1);
});

test("a second dev stack (4x0) with restore.snapshot comes up with the keys and passes the smoke test; an unchanged `up` does not restore again", async () => {
  assert.ok(snapshotId, "the backup test ran first");
  const f = source!;
  const cfg = await dockerDevConfig({ ...f.images, node: undefined }, { stack: "dr", monitoringEnabled: false, canaryEnabled: false, smokeKeys: 1000 });
  Object.assign(cfg.stackConfig, {
    "redis-cluster:masters": 4,
    "redis-cluster:replicasPerMaster": 0,
    "redis-cluster:smoke": { enabled: true, failover: "none", keys: 1000 },
    "redis-cluster:restore": { secret: JSON.stringify({ snapshot: snapshotId, repository: repo!.url, password: REPO_PASSWORD }) },
  });
  target = { ...f, cfg, dir: mkdtempSync(join(tmpdir(), "docker-dr-stack-")), first: undefined, password: "", timings: f.timings };
  const t = target;
  const r = await runUp(t);
  assert.ok(r.ok, `pulumi up of the restore stack failed: ${r.error}`);
  t.first = r;
  t.password = r.outputs.redisPassword as string;
  f.timings.restoreUp = `${r.totalMs} ms (restore done at ${r.doneAtMs[TARGET_RESTORE]} ms, smoke at ${r.doneAtMs[TARGET_SMOKE]} ms)`;
  assert.ok(r.created.includes(TARGET_RESTORE) && r.created.includes(TARGET_SMOKE), r.created.join(", "));
  assert.ok(r.doneAtMs[TARGET_SMOKE] > r.doneAtMs[TARGET_RESTORE], "the smoke test ran after the restore");
  assert.match(String(r.outputs.restored), new RegExp(`${snapshotId}`), `restored output: ${r.outputs.restored}`);

  const [src, dst] = [await masterKeys(f, 6), await masterKeys(t, 4)];
  assert.equal(dst.ids.length, 4);
  // The smoke test removes its own keys: what is left is the backup's.
  assert.equal(dst.total, src.total, "DBSIZE totals");
  assert.deepEqual(await describe(t), await describe(f), "every key: type, DEBUG DIGEST-VALUE and PEXPIRETIME");

  const again = await runUp(t);
  assert.ok(again.ok, again.error);
  assert.deepEqual(again.created, [], "the restore did not run again");
  assert.equal((await masterKeys(t, 4)).total, src.total);
});

test("destroy removes both stacks: no container, volume or network left", async () => {
  const dr = await destroy(source!.engine.socket, upArgs(target!).stateFile);
  assert.ok(dr.includes(TARGET_RESTORE) && dr.length >= 10, `the restore stack's destroy: ${dr.join(", ")}`);
  // Then the source: nothing of either stack is left on the engine.
  const dev = await assertDestroyLeavesNothing(source!, 10);
  assert.ok(dev.includes(SOURCE_BACKUP), dev.join(", "));
});
