// The restore drill against real Redis and restic over REST (rclone serve restic): a good backup passes with every key
// of a small dataset compared (digest and expiry); a value or an expiry that differs after the restore fails it; a
// shard missing or corrupted in the repository fails it (refused); a drill SIGKILLed mid-run leaves no server running;
// with --cluster-name it drills that cluster's latest backup, not another cluster's newer one in the same repository.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import calculateSlot from "cluster-key-slot";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { clusterClient } from "../../../testbed/local/scaleCluster";
import { redisServersUnder } from "../../../testbed/local/processes";
import { startRestRepository, type RestRepository } from "../../../testbed/restRepository";
import { runBackup } from "../../../infra/backup/backup";
import { DRILL_CLUSTER_DIR, runDrill, type DrillOptions } from "../../../infra/backup/drill";
import type { RepositoryOptions } from "../../../infra/backup/restic";
import { sleep } from "../../../smoke/time";
import { backupOptions, craftedSnapshot, redisServersLeft, repository, seedDataset, tempDir } from "./fixtures";

const REPO_ROOT = join(__dirname, "..", "..", "..");
let src: LocalCluster;
let rest: RestRepository;
let work: string;
let repo: RepositoryOptions;
let original: string;
let keyCount: number;

before(async () => {
  rest = await startRestRepository();
  src = await startLocalCluster({ password: "drill-src-pw", masters: 3, replicasPerMaster: 0, config: { smoke: { failover: "none" } } });
  const cl = clusterClient(src);
  await cl.connect();
  keyCount = (await seedDataset(cl, 40)).length;
  cl.disconnect();
  work = tempDir("backup-drill-");
  repo = repository(rest.url, "drill-repo-pw", work);
  const b = await runBackup(backupOptions(src, repo, work));
  assert.equal(b.code, 0, b.message);
  original = b.snapshotId!;
});
after(async () => {
  await src?.stop();
  await rest?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const drill = (extra: Partial<DrillOptions> = {}) => runDrill({ repository: repo, workDir: work, log: () => undefined, ...extra });

function assertNothingLeft(what: string) {
  assert.deepEqual(redisServersUnder(work), [], `${what}: a redis-server was left running`);
  assert.ok(!existsSync(join(work, DRILL_CLUSTER_DIR)), `${what}: the throwaway cluster's folder was left`);
  assert.deepEqual(readdirSync(work).filter((d) => d.startsWith("temp-redis-") || d === "restore-download"), [], `${what}: temporary folders left`);
}

test("a good backup passes the drill: every key of the manifest, each one's digest and expiry equal", { timeout: 120_000 }, async () => {
  const r = await drill({ masters: 2, sampleKeys: 10_000 });
  assert.equal(r.code, 0, r.message);
  assert.ok(r.snapshotId?.startsWith(original), `drilled ${r.snapshotId}, not the latest ${original}`);
  assert.equal(r.keysChecked, keyCount);
  assert.equal(r.sampled, keyCount, "a small shard is compared whole");
  assert.match(r.message, /drill passed: .* 80\/80 keys with a TTL/);
  assertNothingLeft("passed");
});

test("a value or an expiry that differs after the restore fails the drill", { timeout: 120_000 }, async () => {
  // What a faulty restore would leave: one value changed, one TTL dropped, in the throwaway cluster before the compare.
  const tamper = ["str:3", "ttl:5"];
  const r = await drill({
    sampleKeys: 10_000,
    beforeCompare: async (c) => {
      for (const k of tamper) {
        const node = c.nodes.find((n) => calculateSlot(k) >= n.slots[0] && calculateSlot(k) <= n.slots[1])!;
        if (k.startsWith("ttl") && (await node.client.exists(k))) await node.client.persist(k);
        else if (await node.client.exists(k)) await node.client.set(k, "tampered");
      }
    },
  });
  assert.equal(r.code, 3, r.message);
  assert.match(r.message, new RegExp(`slot ${calculateSlot("str:3")} restored with another value \\(DEBUG DIGEST-VALUE\\)`));
  assert.match(r.message, new RegExp(`slot ${calculateSlot("ttl:5")} restored with expiry -1 instead of \\d+`));
  assert.ok(!r.message.includes("str:3") && !r.message.includes("ttl:5"), "key names in the message");
  assertNothingLeft("tampered");
});

test("a shard missing or corrupted in the repository fails the drill before any import", { timeout: 120_000 }, async () => {
  const missing = await craftedSnapshot(repo, original, (dir, m) => unlinkSync(join(dir, m.shards[1].file)));
  const r1 = await drill({ snapshot: missing });
  assert.equal(r1.code, 2, r1.message);
  assert.match(r1.message, /drill failed: refused: the backup does not verify.*\n.*is missing from the snapshot/);
  const corrupted = await craftedSnapshot(repo, original, (dir, m) => {
    const f = join(dir, m.shards[0].file);
    const b = readFileSync(f);
    b[Math.floor(b.length / 2)] ^= 0xff;
    writeFileSync(f, b);
  });
  const r2 = await drill({ snapshot: corrupted });
  assert.equal(r2.code, 2, r2.message);
  assert.match(r2.message, /sha256 .* does not match the manifest/);
  assertNothingLeft("refused");
});

test("a drill SIGKILLed mid-run leaves no redis-server running; the next drill clears its folder and passes", { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "infra/backup/cli.ts"), "drill", "--work-dir", work, "--masters", "3"], {
    cwd: REPO_ROOT, stdio: "ignore",
    env: { PATH: process.env.PATH, HOME: process.env.HOME, RESTIC_REPOSITORY: repo.repository, RESTIC_PASSWORD_FILE: repo.passwordFile, RESTIC_CACHE_DIR: repo.cacheDir },
  });
  try {
    let seen = 0;
    for (let i = 0; i < 300 && seen < 3; i++) {
      seen = redisServersUnder(join(work, DRILL_CLUSTER_DIR)).length;
      if (child.exitCode !== null) assert.fail(`the drill ended (${child.exitCode}) before its cluster was seen`);
      await sleep(100);
    }
    assert.equal(seen, 3, "the throwaway cluster's servers were never seen");
  } finally {
    child.kill("SIGKILL");
  }
  assert.deepEqual(await redisServersLeft(work, 5000), [], "servers outlived the killed drill");
  const r = await drill({ snapshot: original });
  assert.equal(r.code, 0, r.message);
  assertNothingLeft("after the kill");
});

test("--cluster-name: the drill takes that cluster's latest backup, not a newer one of another cluster in the same repository", { timeout: 120_000 }, async () => {
  const mine = await runBackup(backupOptions(src, repo, work, { clusterName: "drill-mine" }));
  assert.equal(mine.code, 0, mine.message);
  const other = await runBackup(backupOptions(src, repo, work, { clusterName: "drill-other" }));
  assert.equal(other.code, 0, other.message);
  const r = await drill({ clusterName: "drill-mine", sampleKeys: 5 });
  assert.equal(r.code, 0, r.message);
  assert.ok(r.snapshotId?.startsWith(mine.snapshotId!), `drilled ${r.snapshotId}: not drill-mine's ${mine.snapshotId} (the latest is drill-other's ${other.snapshotId})`);
  const none = await drill({ clusterName: "drill-nobody" });
  assert.equal(none.code, 2, none.message);
  assert.match(none.message, /no backup snapshot latest .*name-drill-nobody/);
  assertNothingLeft("named drills");
});
