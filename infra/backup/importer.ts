// Key-level import of one temporary server into the target cluster: SCAN, then DUMP + PEXPIRETIME of each key from
// the temporary server, then RESTORE key <absolute expiry> value REPLACE ABSTTL into the cluster (auto-pipelined per
// node). ABSTTL keeps each key's original expiry time, so a key expires in the restored cluster when it would have
// in the backed-up one (and one already past it is not created); a key without expiry gets 0, i.e. none. REPLACE
// makes a second run idempotent.
import type { Cluster, Redis } from "ioredis";

export interface ImportResult {
  /** Keys RESTOREd with no expiry or one still ahead. */
  imported: number;
  /** Keys gone by their TTL between the load and their import (not created in the target). */
  expired: number;
  bytes: number;
  /** Absolute expiry times (ms) of imported keys that carry one: a verify later may find them gone. */
  expiries: number[];
}

export async function importKeys(src: Redis, target: Cluster, batch: number, onBatch?: (r: ImportResult) => void): Promise<ImportResult> {
  const r: ImportResult = { imported: 0, expired: 0, bytes: 0, expiries: [] };
  // SCAN may return a key twice; REPLACE makes that harmless, the sets keep the counts exact.
  const seen = new Set<string>();
  let cursor = "0";
  for (let round = 0; round < 100_000_000; round++) {
    const [next, keys] = await src.scanBuffer(cursor, "COUNT", batch);
    cursor = String(next);
    const fresh = keys.filter((k) => !seen.has(k.toString("latin1")));
    if (fresh.length) {
      const p = src.pipeline();
      for (const k of fresh) p.dumpBuffer(k).pexpiretime(k);
      const replies = (await p.exec()) ?? [];
      const now = Date.now();
      const restores: Promise<unknown>[] = [];
      fresh.forEach((k, i) => {
        seen.add(k.toString("latin1"));
        const [e1, value] = replies[2 * i];
        const [e2, at] = replies[2 * i + 1];
        if (e1 || e2) throw e1 ?? e2;
        const expireAt = Number(at);
        if (value === null || expireAt === -2 || (expireAt > 0 && expireAt <= now)) {
          r.expired++;
          return;
        }
        const ttl = expireAt > 0 ? expireAt : 0;
        if (ttl) r.expiries.push(ttl);
        r.imported++;
        r.bytes += (value as Buffer).length;
        restores.push(target.restore(k, ttl, value as Buffer, "REPLACE", "ABSTTL"));
      });
      await Promise.all(restores);
      onBatch?.(r);
    }
    if (cursor === "0") break;
  }
  return r;
}
