// The restore drill: the latest (or a given) backup restored into a throwaway cluster inside this process's own
// machine or container (./throwawayCluster.ts) by the restore itself (./restore.ts: verify, temporary servers, import,
// key counts per source master's slot ranges against the manifest), then compared with the RDBs: while each shard's
// temporary server still holds its RDB, sampled keys' DEBUG DIGEST-VALUE and PEXPIRETIME must equal the restored
// ones; keys with a TTL in the RDBs must have one after the restore. Everything it starts is gone when it returns,
// and dies with it when it is killed. Exit codes as the others: 0 passed, 2 refused (the backup did not verify: a
// shard missing, a checksum wrong, a format too new; or the repository refused), 3 failed.
import { rmSync } from "node:fs";
import { join } from "node:path";
import calculateSlot from "cluster-key-slot";
import { parseInfo } from "../../smoke/topology";
import type { RestoreOptions } from "./options";
import { runRestore, type ShardRestore } from "./restore";
import type { TempServer } from "./tempServer";
import { startThrowawayCluster, type ThrowawayCluster } from "./throwawayCluster";

export type DrillOptions = Omit<RestoreOptions, "nodes" | "password" | "username" | "tls" | "natMap" | "onShardLoaded"> & {
  /** Masters of the throwaway cluster (no replicas). Default 1: the drill checks the backup, not a shape. */
  masters?: number;
  /** Keys per shard whose digest and expiry are compared (every key of a shard with no more). Default 100. */
  sampleKeys?: number;
  /** Test hook: called after a shard's import, before its keys are compared. */
  beforeCompare?: (cluster: ThrowawayCluster, index: number) => void | Promise<void>;
};

export interface DrillResult {
  code: 0 | 2 | 3;
  message: string;
  snapshotId?: string;
  /** Keys counted in the throwaway cluster against the manifest. */
  keysChecked?: number;
  /** Keys whose digest and expiry were compared. */
  sampled?: number;
  shards?: ShardRestore[];
  ms: number;
}

/** Folder of the throwaway cluster's servers under the work dir (the restore clears its own temp dirs at the top). */
export const DRILL_CLUSTER_DIR = "drill-cluster";

/** Both sides of one key: DEBUG DIGEST-VALUE (which covers whether it has an expiry) and PEXPIRETIME (-2 gone, -1 none). */
function sameKey(src: [string, number], dst: [string, number], now: number): boolean {
  if (src[1] === -2) return dst[1] === -2; // expired on both sides between the sample and the comparison
  if (dst[1] === -2) return src[1] > 0 && src[1] <= now; // gone since: only by its own TTL
  return src[0] === dst[0] && src[1] === dst[1];
}

async function expiresOf(client: { info(section: string): Promise<string> }): Promise<number> {
  const db0 = parseInfo(String(await client.info("keyspace"))).db0 ?? "";
  return Number(/expires=(\d+)/.exec(db0)?.[1] ?? 0);
}

export async function runDrill(o: DrillOptions): Promise<DrillResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} drill: ${l}\n`));
  const t0 = Date.now();
  const clusterDir = join(o.workDir, DRILL_CLUSTER_DIR);
  // Left by a drill that was killed (its servers died with it).
  rmSync(clusterDir, { recursive: true, force: true });
  let cluster: ThrowawayCluster | undefined;
  const mismatches: string[] = [];
  let sampled = 0;
  let sourceExpires = 0;
  const sample = async (index: number, temp: TempServer) => {
    const c = cluster!;
    sourceExpires += await expiresOf(temp.client);
    const want = o.sampleKeys ?? 100;
    const keys = new Map<string, Buffer>();
    if (Number(await temp.client.dbsize()) <= want) {
      // A small shard is compared whole.
      let cursor = "0";
      for (let round = 0; round < 1_000_000; round++) {
        const [next, found] = await temp.client.scanBuffer(cursor, "COUNT", 1000);
        for (const k of found) keys.set(k.toString("latin1"), k);
        cursor = String(next);
        if (cursor === "0") break;
      }
    } else {
      for (let i = 0; i < want * 3 && keys.size < want; i++) {
        const k = await temp.client.randomkeyBuffer();
        if (k === null) break;
        keys.set(k.toString("latin1"), k);
      }
    }
    await o.beforeCompare?.(c, index);
    for (const k of keys.values()) {
      const node = c.nodes.find((n) => calculateSlot(k) >= n.slots[0] && calculateSlot(k) <= n.slots[1])!;
      const [src, dst] = await Promise.all([temp.client, node.client].map(async (r) => {
        const [digest, at] = await Promise.all([r.call("DEBUG", "DIGEST-VALUE", k), r.call("PEXPIRETIME", k)]);
        return [String(digest), Number(at)] as [string, number];
      }));
      sampled++;
      // Slots, not key names, in the message: names may carry data.
      if (!sameKey(src, dst, Date.now())) mismatches.push(`shard ${index + 1}: a key in slot ${calculateSlot(k)} restored ${dst[1] === -2 ? "missing" : src[1] !== dst[1] ? `with expiry ${dst[1]} instead of ${src[1]}` : "with another value (DEBUG DIGEST-VALUE)"}`);
    }
  };
  try {
    cluster = await startThrowawayCluster(o.masters ?? 1, clusterDir, { bin: o.redisServer });
    log(`throwaway cluster of ${cluster.nodes.length} master(s) on ${cluster.seeds.join(", ")}`);
    const r = await runRestore({ ...o, nodes: cluster.seeds, password: cluster.password, log, onShardLoaded: sample });
    const ms = () => Date.now() - t0;
    if (r.code !== 0) return { code: r.code, message: `drill failed: ${r.message}`, snapshotId: r.snapshotId, sampled, ms: ms() };
    let targetExpires = 0;
    for (const n of cluster.nodes) targetExpires += await expiresOf(n.client);
    if (sourceExpires > 0 && targetExpires === 0) mismatches.push(`the RDBs hold ${sourceExpires} keys with a TTL, the restored cluster none`);
    if (targetExpires > sourceExpires) mismatches.push(`the restored cluster holds ${targetExpires} keys with a TTL, the RDBs ${sourceExpires}`);
    const keysChecked = (r.shards ?? []).reduce((n, s) => n + s.found, 0);
    const base = { snapshotId: r.snapshotId, keysChecked, sampled, shards: r.shards };
    if (mismatches.length) {
      const message = `drill failed: snapshot ${r.snapshotId?.slice(0, 8)} restored but differs from its RDBs (${mismatches.length} problems):\n  ${mismatches.slice(0, 10).join("\n  ")}`;
      log(message);
      return { code: 3, message, ...base, ms: ms() };
    }
    const message = `drill passed: snapshot ${r.snapshotId?.slice(0, 8)}, ${keysChecked} keys in the manifest's slot ranges, ${sampled} sampled keys' digests and expiries equal, ${targetExpires}/${sourceExpires} keys with a TTL, ${ms()} ms`;
    log(message);
    return { code: 0, message, ...base, ms: ms() };
  } catch (e) {
    const message = `drill failed: ${(e as Error).message}`;
    log(message);
    return { code: 3, message, sampled, ms: Date.now() - t0 };
  } finally {
    await cluster?.stop();
    rmSync(clusterDir, { recursive: true, force: true });
  }
}
