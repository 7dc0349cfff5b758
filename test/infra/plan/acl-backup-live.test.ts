// The `backup` ACL user (infra/plan/acl.ts) on real local clusters with ACL users (`default` off): a backup run as
// `backup` on a cluster whose config enables backups, and a restore run as `backup` into a new cluster whose config
// sets restore.snapshot, both through the engine against a restic REST repository; each user gets NOPERM for what its
// runs do not need (the backup-only user cannot RESTORE or write; the restore-only user cannot pause clients).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import Redis, { Cluster } from "ioredis";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { startRestRepository, type RestRepository } from "../../../testbed/restRepository";
import { runBackup } from "../../../infra/backup/backup";
import { runRestore } from "../../../infra/backup/restore";
import { backupOptions, describeKeys, repository, restoreOptions, seedDataset, tempDir } from "../backup/fixtures";

const REPO_PASSWORD = "acl-backup-test-repository";
let repo: RestRepository | undefined;
const clusters: LocalCluster[] = [];
const dir = tempDir("acl-backup-live-");
after(async () => {
  for (const c of clusters) await c.stop();
  await repo?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A work folder inside the test's temp dir (removed with it). */
const workDir = (name: string) => {
  const d = join(dir, name);
  mkdirSync(d);
  return d;
};

/** An admin cluster client (the `default` user is off). */
function adminClient(c: LocalCluster): Cluster {
  // Seeded with the planned masters, as testbed/local/scaleCluster.ts clusterClient is (which has no user name).
  const cl = new Cluster(c.seeds.slice(0, c.spec.masters).map((s) => ({ host: s.split(":")[0], port: Number(s.split(":")[1]) })), {
    redisOptions: { username: "admin", password: c.acl!.passwords.admin, connectTimeout: 2000, commandTimeout: 5000 },
    slotsRefreshTimeout: 2000, lazyConnect: true,
  });
  cl.on("error", () => undefined);
  return cl;
}

/** One command as `backup` on node 0: its reply, or the error's message. */
async function asBackup(c: LocalCluster, ...args: string[]): Promise<string> {
  const n = c.nodes[0];
  const r = new Redis({ host: n.host, port: n.port, username: "backup", password: c.acl!.passwords.backup, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on("error", () => undefined);
  try {
    await r.connect();
    return String(await r.call(args[0], ...args.slice(1)));
  } catch (e) {
    return (e as Error).message;
  } finally {
    r.disconnect();
  }
}

test("the backup user backs up (backup.enabled) and restores (restore.snapshot) through the engine, and can do nothing else", { timeout: 180_000 }, async () => {
  repo = await startRestRepository();
  const repoOpts = repository(repo.url, REPO_PASSWORD, dir);
  const backupConfig = { enabled: true, repository: repo.url, password: REPO_PASSWORD };
  const src = await startLocalCluster({ acl: { defaultUser: "off" }, config: { backup: backupConfig } });
  clusters.push(src);
  const srcClient = adminClient(src);
  let keys: string[];
  let want: Map<string, string>;
  try {
    keys = await seedDataset(srcClient, 50);
    want = await describeKeys(srcClient, keys);
  } finally {
    srcClient.disconnect();
  }

  const b = await runBackup(backupOptions(src, repoOpts, workDir("backup"), { username: "backup", password: src.acl!.passwords.backup }));
  assert.equal(b.code, 0, b.message);
  // What a backup does not need.
  for (const cmd of [["RESTORE", "x", "0", "payload"], ["SET", "x", "1"], ["FLUSHALL"], ["CONFIG", "GET", "masterauth"], ["KEYS", "*"], ["CLUSTER", "FORGET", "0"], ["DEBUG", "SLEEP", "0"]]) {
    assert.match(await asBackup(src, ...cmd), /NOPERM/, `${cmd.join(" ")} as backup`);
  }

  const dst = await startLocalCluster({ replicasPerMaster: 0, acl: { defaultUser: "off" }, config: { smoke: { failover: "none" }, restore: { snapshot: "latest", repository: repo.url, password: REPO_PASSWORD } } });
  clusters.push(dst);
  const r = await runRestore(restoreOptions(dst, repoOpts, workDir("restore"), { username: "backup", password: dst.acl!.passwords.backup }));
  assert.equal(r.code, 0, r.message);
  const dstClient = adminClient(dst);
  try {
    await dstClient.connect(); // the slot map first: describeKeys routes by it
    assert.deepEqual(await describeKeys(dstClient, keys), want, "every key, its value and expiry");
  } finally {
    dstClient.disconnect();
  }
  // What a restore does not need.
  for (const cmd of [["CLIENT", "PAUSE", "10", "WRITE"], ["PSYNC", "?", "-1"], ["FLUSHALL"], ["CONFIG", "SET", "save", ""], ["KEYS", "*"]]) {
    assert.match(await asBackup(dst, ...cmd), /NOPERM/, `${cmd.join(" ")} as the restore-only backup user`);
  }
});
