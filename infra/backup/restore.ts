// Restore of a backup into a cluster of any shape (key-level): the snapshot is downloaded and verified (manifest,
// every shard file present with its size and sha256, RDB format not newer than the target's and the local
// redis-server's) before anything is touched; a non-empty target is refused unless it carries this restore's marker.
// Then each RDB is loaded into a temporary redis-server (./tempServer.ts) and imported (./importer.ts), and the key
// count in each source master's slot ranges is compared with the manifest.
// Resume: before the first key, a marker key (MARKER_KEY, holding the snapshot id) is written; a target that is not
// empty but holds the marker of the same snapshot is an interrupted restore of it, and the run imports every shard
// again (RESTORE ... REPLACE: idempotent). The marker is deleted once the counts verified.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, openSync, readSync, closeSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import calculateSlot from "cluster-key-slot";
import { Cluster } from "ioredis";
import { failoverRetryOptions, parseAddr } from "../../smoke/clients";
import { tlsConnectOptions } from "../../smoke/tls";
import { healthProblems } from "../scale/health";
import { LiveCluster, type Survey } from "../scale/survey";
import { importKeys } from "./importer";
import { MANIFEST_FILE, parseManifest, type Manifest } from "./manifest";
import type { RestoreOptions } from "./options";
import { thrownOutcome } from "./outcome";
import { masters } from "./preflight";
import { MARKER_KEY, restoreMarker } from "./marker";
import { maxRdbVersion, rdbVersionOf } from "./rdb";
import { BACKUP_TAG, Restic, RepositoryRefused, type SnapshotInfo } from "./restic";
import { clusterNameTag, clusterTag } from "./backup";
import { redisServerVersion, startTempServer, TEMP_DIR_PREFIX } from "./tempServer";

export { MARKER_KEY };

export class RestoreRefused extends Error {}

export interface ShardRestore {
  nodeId: string;
  manifestKeys: number;
  loaded: number;
  expiredOnLoad: number;
  imported: number;
  expiredOnImport: number;
  /** Keys found afterwards in the target within this shard's slot ranges. */
  found: number;
}

export interface RestoreResult {
  code: 0 | 2 | 3;
  message: string;
  snapshotId?: string;
  manifest?: Manifest;
  resumed?: boolean;
  shards?: ShardRestore[];
  ms?: number;
  bytes?: number;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

function header(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(9);
    readSync(fd, b, 0, 9, 0);
    return b;
  } finally {
    closeSync(fd);
  }
}

async function pickSnapshot(restic: Restic, o: RestoreOptions): Promise<SnapshotInfo> {
  const tags = [BACKUP_TAG, ...(o.clusterId ? [clusterTag(o.clusterId)] : []), ...(o.clusterName ? [clusterNameTag(o.clusterName)] : [])];
  const all = await restic.snapshots(tags);
  const want = o.snapshot ?? "latest";
  const snap = want === "latest" ? all[all.length - 1] : all.find((s) => s.id === want || s.short_id === want || s.id.startsWith(want));
  if (!snap) throw new RestoreRefused(`no backup snapshot ${want} in ${restic.where} (tags ${tags.join(",")}; ${all.length} backups there): pick one from \`restic snapshots --tag ${BACKUP_TAG}\``);
  return snap;
}

/** Every check on the downloaded backup; throws RestoreRefused naming the first problem of each shard. */
async function verifyBackup(dir: string, targetRedis: string, localRedis: string): Promise<Manifest> {
  const mpath = join(dir, MANIFEST_FILE);
  if (!existsSync(mpath)) throw new RestoreRefused(`the snapshot has no ${MANIFEST_FILE}: not a backup made by this tool`);
  let m: Manifest;
  try {
    m = parseManifest(readFileSync(mpath, "utf8"));
  } catch (e) {
    throw new RestoreRefused((e as Error).message);
  }
  const canLoad = Math.min(maxRdbVersion(targetRedis), maxRdbVersion(localRedis));
  const problems: string[] = [];
  for (const s of m.shards) {
    const f = join(dir, s.file);
    if (!existsSync(f)) {
      problems.push(`shard ${s.nodeId.slice(0, 8)}: ${s.file} is missing from the snapshot`);
      continue;
    }
    const size = statSync(f).size;
    if (size !== s.bytes) {
      problems.push(`shard ${s.nodeId.slice(0, 8)}: ${s.file} has ${size} bytes, the manifest says ${s.bytes}`);
      continue;
    }
    const sum = await sha256File(f);
    if (sum !== s.sha256) {
      problems.push(`shard ${s.nodeId.slice(0, 8)}: ${s.file} sha256 ${sum.slice(0, 12)}… does not match the manifest's ${s.sha256.slice(0, 12)}…`);
      continue;
    }
    let v: number;
    try {
      v = rdbVersionOf(header(f));
    } catch (e) {
      problems.push(`shard ${s.nodeId.slice(0, 8)}: ${(e as Error).message}`);
      continue;
    }
    if (v > canLoad) {
      problems.push(`shard ${s.nodeId.slice(0, 8)}: RDB format ${v} (Redis ${s.redisVersion}) is newer than the target's Redis ${targetRedis} / the local redis-server ${localRedis} load (up to ${canLoad}): restore into a Redis at least as new as the backup's`);
    }
  }
  const covered = m.shards.reduce((n, s) => n + s.slots.reduce((k, [a, b]) => k + b - a + 1, 0), 0);
  if (covered !== 16384) problems.push(`the manifest's shards cover ${covered} slots, not 16384`);
  if (problems.length) throw new RestoreRefused(`the backup does not verify, nothing was changed:\n  ${problems.join("\n  ")}`);
  return m;
}

/** Keys per slot in the target, read from each master for the slots it owns (the marker excluded). */
async function keysPerSlot(live: LiveCluster, s: Survey): Promise<number[]> {
  const counts = new Array<number>(16384).fill(0);
  for (const m of masters(s)) {
    const p = live.conn(m.addr).pipeline();
    for (const slot of m.slots) p.call("CLUSTER", "COUNTKEYSINSLOT", String(slot));
    const r = (await p.exec()) ?? [];
    m.slots.forEach((slot, i) => {
      if (r[i][0]) throw r[i][0];
      counts[slot] = Number(r[i][1]);
    });
  }
  return counts;
}

export async function runRestore(o: RestoreOptions): Promise<RestoreResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} restore: ${l}\n`));
  const t0 = Date.now();
  const live = new LiveCluster(o);
  let cluster: Cluster | undefined;
  const dl = join(o.workDir, "restore-download");
  try {
    const restic = new Restic(o.repository);
    await restic.check();
    // Temp dirs of a restore that was killed (its servers died with it: tempServer.ts).
    for (const d of existsSync(o.workDir) ? readdirSync(o.workDir) : []) if (d.startsWith(TEMP_DIR_PREFIX)) rmSync(join(o.workDir, d), { recursive: true, force: true });
    const localRedis = redisServerVersion(o.redisServer);
    // The target: healthy, and empty unless it carries the marker of this snapshot.
    const s = await live.survey();
    const problems = healthProblems(live, o.nodes, s, "all");
    if (!s.members.length) problems.push(`no target node answers (${s.unreachable.join(", ")})`);
    if (problems.length) throw new RestoreRefused(`the target cluster is not healthy, nothing was changed:\n  ${problems.join("\n  ")}`);
    const targetMasters = masters(s);
    const targetRedis = /redis_version:(\S+)/.exec(String(await live.conn(targetMasters[0].addr).info("server")))?.[1] ?? "";
    const snap = await pickSnapshot(restic, o);
    log(`snapshot ${snap.short_id} of ${snap.time} from ${restic.where} into ${targetMasters.length} masters`);

    rmSync(dl, { recursive: true, force: true });
    mkdirSync(dl, { recursive: true, mode: 0o700 });
    await restic.restore(snap.id, dl);
    // restic keeps the files of `backup .` at the snapshot's root; older layouts keep them under the backed-up path.
    const dir = existsSync(join(dl, MANIFEST_FILE)) ? dl : join(dl, snap.paths[0] ?? "");
    const m = await verifyBackup(dir, targetRedis, localRedis);
    log(`backup verified: cluster ${m.clusterId}, cut ${m.cutAt}, ${m.shards.length} shards, ${m.shards.reduce((n, x) => n + x.keys, 0)} keys, RDB format ${[...new Set(m.shards.map((x) => x.rdbVersion))].join(",")}`);

    let keys = 0;
    for (const t of targetMasters) keys += Number(await live.conn(t.addr).dbsize());
    let resumed = false;
    if (keys > 0) {
      const marker = await restoreMarker(live, s);
      if (marker !== snap.id) {
        // A finished restore leaves no mark (its keys are the application's from then on): the same snapshot restored
        // here before cannot be told from other data, so a second run is refused too, not taken as done.
        throw new RestoreRefused(`the target cluster holds ${keys} keys${marker ? ` and the marker of another restore (${marker.slice(0, 8)})` : ""}: a restore goes into an empty cluster only, nothing was changed (if snapshot ${snap.short_id} was restored here already, there is nothing to do)`);
      }
      resumed = true;
      log(`resuming: the target holds ${keys} keys and the marker of this snapshot (an interrupted restore); every shard is imported again`);
    }

    cluster = new Cluster(o.nodes.map(parseAddr), {
      ...failoverRetryOptions(5000),
      natMap: o.natMap, enableAutoPipelining: true, slotsRefreshTimeout: 2000, lazyConnect: true,
      redisOptions: { username: o.username, password: o.password, tls: tlsConnectOptions(o.tls), connectTimeout: 3000, commandTimeout: 60_000 },
    });
    cluster.on("error", () => undefined);
    await cluster.connect();
    await cluster.set(MARKER_KEY, snap.id);

    const shards: ShardRestore[] = [];
    const expiries: number[][] = [];
    let bytes = 0;
    for (const [i, sh] of m.shards.entries()) {
      const temp = await startTempServer(join(dir, sh.file), o.workDir, { bin: o.redisServer });
      try {
        if (temp.loaded + temp.expiredOnLoad !== sh.keys) {
          throw new Error(`shard ${sh.nodeId.slice(0, 8)}: the RDB holds ${temp.loaded + temp.expiredOnLoad} keys (${temp.loaded} loaded, ${temp.expiredOnLoad} expired), the manifest says ${sh.keys}`);
        }
        const r = await importKeys(temp.client, cluster, o.batchKeys ?? 500);
        bytes += r.bytes;
        shards.push({ nodeId: sh.nodeId, manifestKeys: sh.keys, loaded: temp.loaded, expiredOnLoad: temp.expiredOnLoad, imported: r.imported, expiredOnImport: r.expired, found: -1 });
        expiries.push(r.expiries);
        log(`shard ${i + 1}/${m.shards.length} ${sh.nodeId.slice(0, 8)}: ${r.imported} keys imported (${temp.expiredOnLoad + r.expired} expired since the backup), ${r.bytes} bytes`);
        await o.onShardLoaded?.(i, temp);
      } finally {
        await temp.stop();
      }
      await o.onShardImported?.(i);
    }

    // Verify: keys in each source master's slot ranges, as many as were imported from it (less any that expired since).
    const after = await live.survey();
    const counts = await keysPerSlot(live, after);
    counts[calculateSlot(MARKER_KEY)]--;
    const now = Date.now();
    const bad: string[] = [];
    m.shards.forEach((sh, i) => {
      const r = shards[i];
      r.found = sh.slots.reduce((n, [a, b]) => n + counts.slice(a, b + 1).reduce((x, y) => x + y, 0), 0);
      const mayBeGone = expiries[i].filter((t) => t <= now + 1000).length;
      if (r.found > r.imported || r.found < r.imported - mayBeGone) bad.push(`shard ${sh.nodeId.slice(0, 8)}: ${r.found} keys in its slots, ${r.imported} imported`);
    });
    if (bad.length) throw new Error(`the restored key counts do not match (the marker stays; run the restore again):\n  ${bad.join("\n  ")}`);
    await cluster.del(MARKER_KEY);
    const ms = Date.now() - t0;
    const total = shards.reduce((n, x) => n + x.imported, 0);
    log(`restored ${total} keys (${bytes} bytes) in ${ms} ms; counts per shard match the manifest`);
    return { code: 0, message: `restored snapshot ${snap.short_id}: ${total} keys`, snapshotId: snap.id, manifest: m, resumed, shards, ms, bytes };
  } catch (e) {
    return thrownOutcome(e, [RestoreRefused, RepositoryRefused], log);
  } finally {
    cluster?.disconnect();
    live.close();
    rmSync(dl, { recursive: true, force: true });
  }
}
