// The manifest of one backup (manifest.json beside the RDBs in its restic snapshot): what the cut was, which master
// held which slots and how many keys, and each RDB's name, size, sha256 and format, so a restore can verify the
// backup before it touches anything.
import { createHash } from "node:crypto";
import { z } from "zod";

export const MANIFEST_FILE = "manifest.json";
export const MANIFEST_FORMAT = 1;

const shardSchema = z.object({
  nodeId: z.string().regex(/^[0-9a-f]{40}$/),
  addr: z.string(),
  /** Owned slot ranges at the cut, inclusive. */
  slots: z.array(z.tuple([z.int().min(0).max(16383), z.int().min(0).max(16383)])),
  /** DBSIZE at the cut (writes and expiry paused). */
  keys: z.int().min(0),
  file: z.string().regex(/^[A-Za-z0-9._-]+$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.int().min(0),
  redisVersion: z.string(),
  rdbVersion: z.int().min(1),
});

export const manifestSchema = z.object({
  kind: z.literal("redis-cluster-backup"),
  format: z.literal(MANIFEST_FORMAT),
  /** sha256 (16 hex) of the sorted node ids of every member: the same cluster backs up under the same id. */
  clusterId: z.string(),
  startedAt: z.string(),
  /** When the first CLIENT PAUSE was sent: a write acknowledged before this is in the backup. */
  pauseStartedAt: z.string(),
  /** When every master had paused writes: the cut. */
  cutAt: z.string(),
  unpausedAt: z.string(),
  endedAt: z.string(),
  /** From the first CLIENT PAUSE sent to the last CLIENT UNPAUSE answered. */
  pauseMs: z.number(),
  pauseBoundMs: z.int(),
  transfer: z.enum(["disk", "diskless"]),
  shards: z.array(shardSchema).min(1),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ShardEntry = z.infer<typeof shardSchema>;

export function clusterIdOf(nodeIds: string[]): string {
  return createHash("sha256").update([...nodeIds].sort().join("\n")).digest("hex").slice(0, 16);
}

/** Parses manifest.json text; throws naming the field that is wrong. */
export function parseManifest(text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${MANIFEST_FILE} is not JSON: ${(e as Error).message}`);
  }
  const r = manifestSchema.safeParse(raw);
  if (!r.success) throw new Error(`${MANIFEST_FILE} is not a backup manifest: ${r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  return r.data;
}
