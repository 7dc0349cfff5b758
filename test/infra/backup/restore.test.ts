// What a restore refuses before it touches anything, with the target cluster and the repository unchanged and no
// temporary redis-server left: a shard file missing from the snapshot, a checksum mismatch, an RDB format newer than
// the target's Redis (a header patched in a copy whose manifest agrees), a non-empty target. And the CLI end to end:
// secrets from the environment, a backup and a restore through it.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Cluster } from "ioredis";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { clusterClient } from "../../../testbed/local/scaleCluster";
import { redisServersUnder } from "../../../testbed/local/processes";
import { runBackup } from "../../../infra/backup/backup";
import { MARKER_KEY, runRestore } from "../../../infra/backup/restore";
import { BACKUP_TAG, Restic, type RepositoryOptions } from "../../../infra/backup/restic";
import { MANIFEST_FILE, type Manifest } from "../../../infra/backup/manifest";
import { backupOptions, craftedSnapshot as craftedCopy, repoFiles, repository, restoreOptions, tempDir } from "./fixtures";

const REPO_ROOT = join(__dirname, "..", "..", "..");
let src: LocalCluster;
let target: LocalCluster;
let tcl: Cluster;
let work: string;
let repo: RepositoryOptions;
let manifest: Manifest;
let original: string;
const repoDir = () => join(work, "repo");
const threeByZero = { masters: 3, replicasPerMaster: 0, config: { smoke: { failover: "none" } } };

before(async () => {
  src = await startLocalCluster({ password: "restore-src-pw", ...threeByZero });
  target = await startLocalCluster({ password: "restore-target-pw", ...threeByZero });
  const cl = clusterClient(src);
  await cl.connect();
  await Promise.all(Array.from({ length: 300 }, (_, i) => cl.set(`k:${i}`, String(i))));
  cl.disconnect();
  tcl = clusterClient(target);
  await tcl.connect();
  work = tempDir("backup-restore-");
  repo = repository(repoDir(), "restore-repo-pw", work);
  const b = await runBackup(backupOptions(src, repo, work));
  assert.equal(b.code, 0, b.message);
  manifest = b.manifest!;
  original = b.snapshotId!;
});
after(async () => {
  tcl?.disconnect();
  await src?.stop();
  await target?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A copy of the original backup changed by `edit` (given the folder holding manifest.json and the RDBs), as a new snapshot. */
const craftedSnapshot = (edit: (dir: string, m: Manifest) => void) => craftedCopy(repo, original, edit);

async function targetKeys(): Promise<number> {
  let n = 0;
  for (let i = 0; i < target.nodes.length; i++) n += Number(await target.ask(i, "DBSIZE"));
  return n;
}

async function assertRefused(what: string, snapshot: string, expect: RegExp, keysBefore = 0) {
  const files = repoFiles(repoDir());
  const r = await runRestore(restoreOptions(target, repo, work, { snapshot }));
  assert.equal(r.code, 2, `${what}: ${r.message}`);
  assert.match(r.message, expect, what);
  assert.equal(await targetKeys(), keysBefore, `${what}: the target's keys changed`);
  assert.equal(await tcl.exists(MARKER_KEY), 0, `${what}: a restore marker was written`);
  assert.deepEqual(repoFiles(repoDir()), files, `${what}: the repository changed`);
  assert.deepEqual(redisServersUnder(work), [], `${what}: a temporary redis-server was left running`);
}

test("a backup with a shard file missing is refused before anything is touched", { timeout: 60_000 }, async () => {
  const id = await craftedSnapshot((dir, m) => unlinkSync(join(dir, m.shards[1].file)));
  await assertRefused("missing shard", id, new RegExp(`${manifest.shards[1].file} is missing from the snapshot`));
});

test("a checksum mismatch is refused before anything is touched", { timeout: 60_000 }, async () => {
  const id = await craftedSnapshot((dir, m) => {
    const f = join(dir, m.shards[0].file);
    const b = readFileSync(f);
    b[Math.floor(b.length / 2)] ^= 0xff;
    writeFileSync(f, b);
  });
  await assertRefused("checksum", id, /sha256 .* does not match the manifest/);
});

test("an RDB format newer than the target's Redis is refused before anything is touched", { timeout: 60_000 }, async () => {
  // A well-formed backup of a newer Redis: header and manifest agree, only the format is too new (7.4 writes 12).
  const id = await craftedSnapshot((dir, m) => {
    const f = join(dir, m.shards[2].file);
    const b = readFileSync(f);
    b.write("REDIS0012", 0, "latin1");
    writeFileSync(f, b);
    m.shards[2] = { ...m.shards[2], rdbVersion: 12, redisVersion: "7.4.0", sha256: createHash("sha256").update(b).digest("hex") };
    writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(m));
  });
  await assertRefused("too new", id, /RDB format 12 \(Redis 7\.4\.0\) is newer than the target's Redis 7\.0\.\d+/);
});

test("a non-empty target is refused with nothing changed", { timeout: 60_000 }, async () => {
  await tcl.set("someone-elses-key", "1");
  try {
    await assertRefused("non-empty target", original, /holds 1 keys: a restore goes into an empty cluster only/, 1);
  } finally {
    await tcl.del("someone-elses-key");
  }
});

test("the CLI: secrets from the environment; a restore of the original backup then succeeds", { timeout: 120_000 }, async () => {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, RESTIC_REPOSITORY: repo.repository, RESTIC_PASSWORD_FILE: repo.passwordFile, RESTIC_CACHE_DIR: repo.cacheDir };
  const cli = (args: string[], password: string) => spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "infra/backup/cli.ts"), ...args], {
    env: { ...env, REDISCLI_AUTH: password }, encoding: "utf8", timeout: 90_000, cwd: REPO_ROOT,
  });
  const usage = cli(["backup", "--work-dir", work], src.password!);
  assert.equal(usage.status, 1, usage.stderr);
  const b = cli(["backup", "--nodes", src.seeds.join(","), "--work-dir", work, "--keep-last", "3"], src.password!);
  assert.equal(b.status, 0, b.stderr + b.stdout);
  const snaps = await new Restic(repo).snapshots([BACKUP_TAG]);
  assert.ok(snaps.length <= 3, `retention kept ${snaps.length} snapshots`);
  const r = cli(["restore", "--nodes", target.seeds.join(","), "--work-dir", work, "--cluster-id", manifest.clusterId], target.password!);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.equal(await targetKeys(), 300);
  assert.equal(await tcl.get("k:7"), "7");
  for (const out of [b, r]) assert.ok(!(out.stdout + out.stderr).includes("restore-repo-pw") && !(out.stdout + out.stderr).includes(src.password!), "a secret was printed");
});
