// The manifest of one backup (manifest.json beside the RDBs in its restic snapshot): what the cut was, which master
// held which slots and how many keys, and each RDB's name, size, sha256 and format, so a restore can verify the
// backup before it touches anything.
import { createHash } from "node:crypto";
// zod/mini (tree-shakeable), not classic zod: this module is in the backup CLI's bundle, which ships in a ConfigMap.
import * as z from "zod/mini";
import { en } from "zod/locales";

export const MANIFEST_FILE = "manifest.json";
export const MANIFEST_FORMAT = 1;

const slot = () => z.int().check(z.gte(0), z.lte(16383));

const shardSchema = z.object({
  nodeId: z.string().check(z.regex(/^[0-9a-f]{40}$/)),
  addr: z.string(),
  /** Owned slot ranges at the cut, inclusive. */
  slots: z.array(z.tuple([slot(), slot()])),
  /** DBSIZE at the cut (writes and expiry paused). */
  keys: z.int().check(z.gte(0)),
  file: z.string().check(z.regex(/^[A-Za-z0-9._-]+$/)),
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  bytes: z.int().check(z.gte(0)),
  redisVersion: z.string(),
  rdbVersion: z.int().check(z.gte(1)),
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
  shards: z.array(shardSchema).check(z.minLength(1)),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ShardEntry = z.infer<typeof shardSchema>;

export function clusterIdOf(nodeIds: string[]): string {
  return createHash("sha256").update([...nodeIds].sort().join("\n")).digest("hex").slice(0, 16);
}

// Zod Mini loads no locale by itself: English is passed to the parse, so the messages stay classic zod's.
const ENGLISH = en();

/** Parses manifest.json text; throws naming the field that is wrong. */
export function parseManifest(text: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${MANIFEST_FILE} is not JSON: ${(e as Error).message}`);
  }
  const r = manifestSchema.safeParse(raw, { error: ENGLISH.localeError });
  if (!r.success) throw new Error(`${MANIFEST_FILE} is not a backup manifest: ${r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  return r.data;
}
