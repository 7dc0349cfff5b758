// Shared pieces of the backup tests: a dataset with every data type, TTLs and three keys of several MB; per-key
// comparison of two clusters (DEBUG DIGEST-VALUE on the key's master, PEXPIRETIME); a restic repository over
// restic's REST protocol (rclone); options of runBackup/runRestore for a local cluster.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import calculateSlot from "cluster-key-slot";
import type { Cluster } from "ioredis";
import type { LocalCluster } from "../../../testbed/local/harness";
import { redisServersUnder } from "../../../testbed/local/processes";
import { sleep } from "../../../smoke/time";
import type { BackupOptions, RestoreOptions } from "../../../infra/backup/options";
import { BACKUP_TAG, Restic, type RepositoryOptions } from "../../../infra/backup/restic";
import { clusterTag } from "../../../infra/backup/backup";
import { MANIFEST_FILE, parseManifest, type Manifest } from "../../../infra/backup/manifest";

export const BIG_KEY_BYTES = 4 * 1024 * 1024;

/** Writes the dataset; returns every key it wrote. TTL keys expire an hour or more from now. */
export async function seedDataset(cl: Cluster, n = 300): Promise<string[]> {
  const keys: string[] = [];
  const p: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    keys.push(`str:${i}`, `hash:${i}`, `list:${i}`, `set:${i}`, `zset:${i}`, `stream:${i}`, `ttl:${i}`, `ttlh:${i}`);
    p.push(
      cl.set(`str:${i}`, `value-${i}`),
      cl.hset(`hash:${i}`, { a: String(i), b: "x".repeat(i % 50), c: "3" }),
      cl.rpush(`list:${i}`, "a", String(i), "c"),
      cl.sadd(`set:${i}`, "m1", `m${i}`, "m3"),
      cl.zadd(`zset:${i}`, 1, "one", i, `n${i}`, 2.5, "two.5"),
      cl.xadd(`stream:${i}`, `${i + 1}-1`, "f", String(i)),
      cl.set(`ttl:${i}`, `t-${i}`, "PX", 3_600_000 + i * 1000),
      cl.hset(`ttlh:${i}`, "f", String(i)).then(() => cl.pexpireat(`ttlh:${i}`, Date.now() + 7_200_000 + i)),
    );
  }
  await Promise.all(p);
  // Three keys of several MB: a string, a hash and a list.
  const big = randomBytes(BIG_KEY_BYTES);
  await cl.set("big:string", big);
  const fields: Record<string, Buffer> = {};
  for (let i = 0; i < 256; i++) fields[`f${i}`] = big.subarray(i * 16384, (i + 1) * 16384);
  await cl.hset("big:hash", fields);
  await cl.rpush("big:list", ...Array.from({ length: 256 }, (_, i) => big.subarray(i * 16384, (i + 1) * 16384)));
  keys.push("big:string", "big:hash", "big:list");
  return keys;
}

/** The ioredis node serving `key` (DEBUG has no key position: ioredis would send it anywhere). */
function nodeFor(cl: Cluster, key: string) {
  const addr = cl.slots[calculateSlot(key)]?.[0];
  const node = cl.nodes("master").find((n) => `${n.options.host}:${n.options.port}` === addr);
  if (!node) throw new Error(`no master known for ${key} (slot ${calculateSlot(key)})`);
  return node;
}

/** Per key: type, DEBUG DIGEST-VALUE and PEXPIRETIME. */
export async function describeKeys(cl: Cluster, keys: string[]): Promise<Map<string, string>> {
  await cl.refreshSlotsCache?.();
  const out = new Map<string, string>();
  for (let i = 0; i < keys.length; i += 200) {
    const chunk = keys.slice(i, i + 200);
    const r = await Promise.all(chunk.map(async (k) => {
      const node = nodeFor(cl, k);
      const [type, digest, at] = await Promise.all([node.type(k), node.call("DEBUG", "DIGEST-VALUE", k), node.call("PEXPIRETIME", k)]);
      return `${type} ${String(digest)} ${String(at)}`;
    }));
    chunk.forEach((k, j) => out.set(k, r[j]));
  }
  return out;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Repository options with the password in a mode-600 file (how restic gets it: RESTIC_PASSWORD_FILE). */
export function repository(url: string, password: string, dir: string): RepositoryOptions {
  const passwordFile = join(dir, `restic-password-${randomBytes(4).toString("hex")}`);
  writeFileSync(passwordFile, password, { mode: 0o600 });
  return { repository: url, passwordFile, cacheDir: join(dir, "restic-cache") };
}

export function backupOptions(c: LocalCluster, repo: RepositoryOptions, workDir: string, extra: Partial<BackupOptions> = {}): BackupOptions {
  return { nodes: c.seeds, password: c.password, repository: repo, workDir, settleMs: 0, initRepository: true, log: () => undefined, ...extra };
}

export function restoreOptions(c: LocalCluster, repo: RepositoryOptions, workDir: string, extra: Partial<RestoreOptions> = {}): RestoreOptions {
  return { nodes: c.seeds, password: c.password, repository: repo, workDir, log: () => undefined, ...extra };
}

/** A local repository's files with their sizes (locks excluded: restic's readers lock and unlock). */
export function repoFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) {
        if (e !== "locks") walk(p);
      } else out.push(`${p.slice(dir.length)} ${statSync(p).size}`);
    }
  };
  walk(dir);
  return out.sort();
}

/** A copy of snapshot `original` changed by `edit` (given the folder holding manifest.json and the RDBs), stored as a new snapshot of the same cluster. */
export async function craftedSnapshot(repo: RepositoryOptions, original: string, edit: (dir: string, m: Manifest) => void): Promise<string> {
  const restic = new Restic(repo);
  const dir = tempDir("backup-crafted-");
  try {
    await restic.restore(original, dir);
    const m = parseManifest(readFileSync(join(dir, MANIFEST_FILE), "utf8"));
    edit(dir, m);
    return await restic.backup(dir, [BACKUP_TAG, clusterTag(m.clusterId)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** redis-servers still running under `dir` once `ms` have passed or none is left (after their parent was killed). */
export async function redisServersLeft(dir: string, ms: number): Promise<number[]> {
  let left = redisServersUnder(dir);
  for (let i = 0; i < Math.ceil(ms / 50) && left.length; i++) {
    await sleep(50);
    left = redisServersUnder(dir);
  }
  return left;
}
