// The cut consistent across shards: writes paused on every master (CLIENT PAUSE <bound> WRITE, the bound being the
// pause's own timeout), one snapshot fork asked of each master, and CLIENT UNPAUSE as soon as every fork has started.
// The RDBs then stream while writes go on. A write waiting in the pause is delayed, not refused; a backup that dies
// here leaves the pause to its timeout. If the forks take longer than the bound, some master may have resumed
// writes before its fork, so the cut would not be consistent: the cut then fails instead of producing a backup.
import { parseAddr } from "../../smoke/clients";
import { tlsConnectOptions } from "../../smoke/tls";
import type { LiveCluster, LiveNode } from "../scale/survey";
import type { BackupOptions } from "./options";
import { BackupRefused } from "./preflight";
import { RdbPull } from "./rdbPull";

export interface CutShard {
  node: LiveNode;
  pull: RdbPull;
  /** DBSIZE while paused. */
  keys: number;
  redisVersion: string;
}

export interface CutResult {
  shards: CutShard[];
  pauseStartedAt: Date;
  cutAt: Date;
  unpausedAt: Date;
  /** First CLIENT PAUSE sent -> last CLIENT UNPAUSE answered. */
  pauseMs: number;
  /** First CLIENT PAUSE sent -> last fork started. */
  forkMs: number;
}

const withBound = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`${what} not within ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
};

/**
 * `guard` runs while every write is paused, before any fork: what it reads is what the snapshots will hold, so a
 * refusal it throws (the pause is then lifted, nothing forked) is exact, not a race with writers.
 */
export async function cut(live: LiveCluster, nodes: LiveNode[], o: BackupOptions, file: (n: LiveNode) => string, guard?: () => Promise<void>): Promise<CutResult> {
  const bound = o.pauseBoundMs ?? 1000;
  const log = o.log ?? (() => undefined);
  // Connections first (outside the pause): the replication handshake of each master, and the command connections.
  const shards: CutShard[] = nodes.map((node) => {
    const { host, port } = o.natMap?.[node.addr] ?? parseAddr(node.addr);
    const pull = new RdbPull({ host, port, username: o.username, password: o.password, tls: tlsConnectOptions(o.tls), transfer: o.transfer ?? "disk", file: file(node) });
    return { node, pull, keys: -1, redisVersion: node.info.redis_version ?? "" };
  });
  try {
    await Promise.all(shards.map((s) => s.pull.open()));
    await Promise.all(shards.map(async (s) => {
      await live.conn(s.node.addr).ping();
      s.redisVersion = /redis_version:(\S+)/.exec(String(await live.conn(s.node.addr).info("server")))?.[1] ?? "";
    }));
  } catch (e) {
    for (const s of shards) s.pull.abort();
    // Nothing was paused yet: a refusal (e.g. an ACL user without REPLCONF/PSYNC), not a failure.
    throw new BackupRefused(`cannot open the replication connections (${(e as Error).message}): check the backup user's permissions (REPLCONF, PSYNC); nothing was changed`);
  }

  const paused: LiveNode[] = [];
  const t0 = Date.now();
  const pauseStartedAt = new Date(t0);
  try {
    await Promise.all(shards.map(async (s) => {
      await live.conn(s.node.addr).call("CLIENT", "PAUSE", String(bound), "WRITE");
      paused.push(s.node);
    }));
    const cutAt = new Date();
    await Promise.all(shards.map(async (s) => (s.keys = Number(await live.conn(s.node.addr).dbsize()))));
    await guard?.();
    await o.onPaused?.();
    for (const s of shards) s.pull.startSync();
    await withBound(Promise.all(shards.map((s) => s.pull.forkStarted)), Math.max(1, t0 + bound - Date.now()), "every master's snapshot fork started");
    const forkMs = Date.now() - t0;
    await unpause(live, paused);
    const unpausedAt = new Date();
    // The pause of the last master to fork began after t0, so it lasted at least until t0 + bound: under the bound,
    // every fork happened while all writes were paused.
    if (forkMs >= bound) throw new Error(`the snapshot forks took ${forkMs} ms, not under the pause bound ${bound} ms: the cut would not be consistent`);
    log(`cut: ${shards.length} masters paused, forked and resumed in ${unpausedAt.getTime() - t0} ms (forks started after ${forkMs} ms, bound ${bound} ms)`);
    return { shards, pauseStartedAt, cutAt, unpausedAt, pauseMs: unpausedAt.getTime() - t0, forkMs };
  } catch (e) {
    for (const s of shards) s.pull.abort();
    // Every master, not only those that answered the pause: a pause may have taken effect with its reply lost.
    await unpause(live, nodes).catch(() => undefined);
    throw e;
  }
}

/** CLIENT UNPAUSE on every paused master (each tried even when another fails; the pause's timeout covers the rest). */
async function unpause(live: LiveCluster, paused: LiveNode[]): Promise<void> {
  const r = await Promise.allSettled(paused.map((n) => live.conn(n.addr).call("CLIENT", "UNPAUSE")));
  const bad = r.flatMap((x, i) => (x.status === "rejected" ? [`${paused[i].name}: ${(x.reason as Error).message}`] : []));
  if (bad.length) throw new Error(`CLIENT UNPAUSE failed (the pause ends by its timeout): ${bad.join("; ")}`);
}
