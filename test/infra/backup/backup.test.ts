// Backup and restore end to end on real redis-server processes and a real restic repository behind restic's REST
// protocol (rclone serve restic): a 3x1 cluster with every data type, TTLs and three keys of several MB, a writer
// acknowledging each SET with WAIT 1 while the backup runs; restored into a 4x1 and into a 3x0 cluster (the second
// restore interrupted after its first shard and run again): every key with its value and expiry there, every write
// acknowledged before the pause there, no write refused, the pause under its bound.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import type { Cluster } from "ioredis";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { clusterClient } from "../../../testbed/local/scaleCluster";
import { startRestRepository, type RestRepository } from "../../../testbed/restRepository";
import { Writer, type Write } from "../../../smoke/writer";
import { sleep } from "../../../smoke/time";
import { parseClusterNodes, isMyself, slotsOf } from "../../../smoke/topology";
import { runBackup } from "../../../infra/backup/backup";
import { MARKER_KEY, runRestore } from "../../../infra/backup/restore";
import { backupOptions, describeKeys, repository, restoreOptions, seedDataset, tempDir } from "./fixtures";
import { rmSync } from "node:fs";

const PAUSE_BOUND_MS = 1000;
const started: { stop(): Promise<void> }[] = [];
const clients: Cluster[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of clients) c.disconnect();
  for (const s of started.reverse()) await s.stop().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function connected(c: LocalCluster): Promise<Cluster> {
  const cl = clusterClient(c);
  clients.push(cl);
  await cl.connect();
  return cl;
}

async function dbsizeOfMasters(c: LocalCluster): Promise<number> {
  let n = 0;
  for (let i = 0; i < c.nodes.length; i++) if ((await c.ask(i, "ROLE")).startsWith("master")) n += Number(await c.ask(i, "DBSIZE"));
  return n;
}

test("3x1 with every type, TTLs, big keys and a WAIT writer -> backup over REST -> restore into 4x1 and (interrupted, resumed) 3x0", { timeout: 300_000 }, async () => {
  const src = await startLocalCluster({ password: "backup-src-pw", nodeTimeoutMs: 2000 });
  started.push(src);
  const repo: RestRepository = await startRestRepository();
  started.push(repo);
  const work = tempDir("backup-test-");
  dirs.push(work);
  const repoOpts = repository(repo.url, "repo-secret-1", work);
  const cl = await connected(src);
  const keys = await seedDataset(cl);

  // The writer: unique keys, each SET pipelined with WAIT 1 (acknowledged = a replica has it).
  const writes: Write[] = [];
  const writer = new Writer(cl, {
    key: (n) => `w:${n}`, value: (_, n) => String(n), wait: { replicas: 1, timeoutMs: 1000 }, loops: 4,
    maxCommands: 1_000_000, pause: { ok: 2, error: 20 }, keepTimeline: false, onWrite: (w) => writes.push(w),
  }).start();
  await sleep(700);
  const b = await runBackup(backupOptions(src, repoOpts, work, { pauseBoundMs: PAUSE_BOUND_MS }));
  await sleep(500);
  await writer.stop();
  assert.equal(b.code, 0, b.message);
  const m = b.manifest!;

  // The manifest describes the source's masters as they are.
  const own = src.nodes.map((_, i) => parseClusterNodes(src.cli(i, ["cluster", "nodes"]).stdout).find(isMyself)!).filter((n) => n.flags.includes("master"));
  assert.deepEqual(m.shards.map((s) => s.nodeId).sort(), own.map((n) => n.id).sort());
  for (const s of m.shards) {
    const n = own.find((x) => x.id === s.nodeId)!;
    assert.deepEqual(slotsOf(s.slots), slotsOf(n.slots), `slots of ${s.nodeId}`);
    assert.equal(s.rdbVersion, 10);
    assert.match(s.redisVersion, /^7\.0\./);
    assert.match(s.sha256, /^[0-9a-f]{64}$/);
    assert.ok(s.bytes > 0 && s.keys > 0, JSON.stringify(s));
  }
  assert.ok(m.pauseMs < PAUSE_BOUND_MS, `pause ${m.pauseMs} ms`);
  const pauseStart = Date.parse(m.pauseStartedAt);
  const unpaused = Date.parse(m.unpausedAt);

  // Writes were delayed by the pause, never refused.
  assert.equal(writes.filter((w) => w.result === "error").length, 0, writes.filter((w) => w.error).slice(0, 3).map((w) => w.error).join("; "));
  const duringPause = writes.filter((w) => w.start <= unpaused && w.end >= pauseStart);
  assert.ok(duringPause.length > 0, "no write overlapped the pause: the writer did not run during the cut");
  const slowest = Math.max(...duringPause.map((w) => w.end - w.start));
  assert.ok(slowest < PAUSE_BOUND_MS + 1000, `a write overlapping the pause took ${slowest} ms`);
  const ackedBeforeCut = writes.filter((w) => w.result === "acked" && w.end < pauseStart);
  assert.ok(ackedBeforeCut.length > 20, `only ${ackedBeforeCut.length} writes acknowledged before the cut`);
  const sourceView = await describeKeys(cl, keys);
  process.stderr.write(`backup: ${m.shards.reduce((n, s) => n + s.bytes, 0)} bytes, ${m.shards.reduce((n, s) => n + s.keys, 0)} keys, pause ${m.pauseMs} ms, ${duringPause.length} writes overlapped it (slowest ${slowest} ms), ${ackedBeforeCut.length} acknowledged before it\n`);

  async function checkRestored(target: LocalCluster, label: string) {
    const tc = await connected(target);
    const view = await describeKeys(tc, keys);
    const wrong = keys.filter((k) => view.get(k) !== sourceView.get(k));
    assert.deepEqual(wrong.slice(0, 5).map((k) => `${k}: ${view.get(k)} != ${sourceView.get(k)}`), [], `${label}: ${wrong.length} keys differ`);
    const ttls = keys.filter((k) => k.startsWith("ttl")).map((k) => Number(view.get(k)!.split(" ")[2]));
    assert.ok(ttls.every((t) => t > Date.now()), `${label}: a TTL key has no expiry`);
    const got = await Promise.all(ackedBeforeCut.map((w) => tc.get(w.key)));
    const lost = ackedBeforeCut.filter((w, i) => got[i] !== w.value);
    assert.deepEqual(lost.slice(0, 5).map((w) => w.key), [], `${label}: ${lost.length} writes acknowledged before the cut are missing`);
    assert.equal(await dbsizeOfMasters(target), m.shards.reduce((n, s) => n + s.keys, 0), `${label}: keys in the target vs the manifest`);
    assert.equal(await tc.exists(MARKER_KEY), 0, `${label}: the restore marker was left`);
  }

  // Into 4 masters x 1 replica.
  const t4 = await startLocalCluster({ password: "target-4x1-pw", masters: 4, replicasPerMaster: 1 });
  started.push(t4);
  const r4 = await runRestore(restoreOptions(t4, repoOpts, work));
  assert.equal(r4.code, 0, r4.message);
  assert.ok(r4.snapshotId?.startsWith(b.snapshotId!), `restored ${r4.snapshotId}, backed up ${b.snapshotId}`);
  await checkRestored(t4, "4x1");

  // Into 3 masters without replicas, stopped after its first shard (the marker stays), then run again: it resumes.
  const t3 = await startLocalCluster({ password: "target-3x0-pw", masters: 3, replicasPerMaster: 0, config: { smoke: { failover: "none" } } });
  started.push(t3);
  const first = await runRestore(restoreOptions(t3, repoOpts, work, { onShardImported: (i) => {
    if (i === 0) throw new Error("stopped on purpose after the first shard");
  } }));
  assert.equal(first.code, 3, first.message);
  const t3c = await connected(t3);
  assert.equal(await t3c.get(MARKER_KEY), r4.snapshotId, "the interrupted restore left its marker (the snapshot's id)");
  const partial = await dbsizeOfMasters(t3);
  assert.ok(partial > 1 && partial < m.shards.reduce((n, s) => n + s.keys, 0), `partial restore holds ${partial} keys`);
  const again = await runRestore(restoreOptions(t3, repoOpts, work));
  assert.equal(again.code, 0, again.message);
  assert.equal(again.resumed, true);
  await checkRestored(t3, "3x0");
  process.stderr.write(`restore 4x1: ${r4.bytes} bytes in ${r4.ms} ms; 3x0 resumed: ${again.ms} ms\n`);
});
