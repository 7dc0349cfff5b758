// One backup: survey and refuse what cannot be cut (./preflight.ts), check the repository, the cut (./cut.ts), the
// RDBs streamed into the staging folder, the manifest, one restic snapshot of both, then the retention.
// Exit codes of the CLI: 0 done, 2 refused (nothing changed on the cluster or in the repository; a restore marker found
// inside the cut's pause: writes paused for milliseconds, no snapshot), 3 failed.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatRanges } from "../../smoke/topology";
import { LiveCluster } from "../scale/survey";
import { thrownOutcome } from "./outcome";
import { clusterIdOf, MANIFEST_FILE, MANIFEST_FORMAT, type Manifest } from "./manifest";
import type { BackupOptions } from "./options";
import { MARKER_KEY, RESTORE_RUNBOOK, restoreMarker } from "./marker";
import { BackupRefused, masters, surveyForBackup } from "./preflight";
import { BACKUP_TAG, Restic, RepositoryRefused } from "./restic";
import { cut } from "./cut";

export interface BackupResult {
  code: 0 | 2 | 3;
  message: string;
  snapshotId?: string;
  manifest?: Manifest;
}

/** restic tag of one cluster's snapshots. */
export const clusterTag = (clusterId: string) => `cluster-${clusterId}`;

/** restic tag of the backups of one named cluster (the stack's cluster name), whatever its members. */
export const clusterNameTag = (name: string) => `name-${name}`;

/** Ranges as manifest tuples. */
function ranges(slots: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const s of [...slots].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && last[1] === s - 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

export async function runBackup(o: BackupOptions): Promise<BackupResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} backup: ${l}\n`));
  const opts = { ...o, log };
  const live = new LiveCluster(o);
  const startedAt = new Date();
  const staging = join(o.workDir, "redis-backup");
  try {
    const restic = new Restic(o.repository);
    const s = await surveyForBackup(live, o.nodes, o.settleMs ?? 10_000);
    // A restore not finished: the cluster holds part of a snapshot, which must never be stored as a good backup.
    // Checked here (refused before anything is paused or written) and again inside the cut's pause, where it is
    // exact: a restore that began in between wrote its marker first, so the pause sees it.
    const refuseRestoreMarker = async (when: string, outcome: string) => {
      const marker = await restoreMarker(live, s);
      if (marker === null) return;
      throw new BackupRefused(`the cluster holds the restore marker ${MARKER_KEY} of snapshot ${marker}${when}: a restore of it is unfinished and the cluster holds only part of it, so a backup now would store a partial dataset; finish the restore first (${RESTORE_RUNBOOK}: run the restore of ${marker} again, it resumes); ${outcome}`);
    };
    await refuseRestoreMarker("", "nothing was changed");
    await restic.check({ init: o.initRepository });
    const ms = masters(s);
    const clusterId = clusterIdOf(s.members.map((m) => m.id));
    log(`cluster ${clusterId}: ${ms.length} masters (${ms.map((m) => `${m.name} ${formatRanges(m.slots)}`).join("; ")}); repository ${restic.where}`);
    // A constant path: restic groups a cluster's snapshots by path for retention, and restore finds the files under it.
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true, mode: 0o700 });
    const fileOf = (id: string) => `shard-${id}.rdb`;
    const c = await cut(live, ms, opts, (n) => join(staging, fileOf(n.id)), () => refuseRestoreMarker(" (written after this backup's first check: a restore began meanwhile; found while writes were paused)", "the pause was lifted before any snapshot fork, nothing was stored"));
    const files = await Promise.all(c.shards.map((x) => x.pull.done));
    const endedAt = new Date();
    const manifest: Manifest = {
      kind: "redis-cluster-backup",
      format: MANIFEST_FORMAT,
      clusterId,
      startedAt: startedAt.toISOString(),
      pauseStartedAt: c.pauseStartedAt.toISOString(),
      cutAt: c.cutAt.toISOString(),
      unpausedAt: c.unpausedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      pauseMs: c.pauseMs,
      pauseBoundMs: o.pauseBoundMs ?? 1000,
      transfer: o.transfer ?? "disk",
      shards: c.shards.map((x, i) => ({
        nodeId: x.node.id, addr: x.node.addr, slots: ranges(x.node.slots), keys: x.keys, file: fileOf(x.node.id),
        sha256: files[i].sha256, bytes: files[i].bytes, redisVersion: x.redisVersion, rdbVersion: files[i].rdbVersion,
      })),
    };
    writeFileSync(join(staging, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n", { mode: 0o600 });
    const bytes = files.reduce((n, f) => n + f.bytes, 0);
    log(`RDBs streamed: ${bytes} bytes, ${manifest.shards.reduce((n, x) => n + x.keys, 0)} keys in ${endedAt.getTime() - c.unpausedAt.getTime()} ms after the unpause`);
    const tags = [BACKUP_TAG, clusterTag(clusterId)];
    const snapshotId = await restic.backup(staging, [...tags, ...(o.clusterName ? [clusterNameTag(o.clusterName)] : [])]);
    log(`snapshot ${snapshotId.slice(0, 8)} stored (tags ${tags.join(", ")})`);
    if (o.retention) log(`retention: ${(await restic.forget(tags, o.retention)).split("\n").filter((l) => /snapshots|remove|keep/i.test(l)).slice(0, 4).join(" / ")}`);
    return { code: 0, message: `backup ${snapshotId.slice(0, 8)}: ${ms.length} shards, ${bytes} bytes, pause ${c.pauseMs} ms`, snapshotId, manifest };
  } catch (e) {
    return thrownOutcome(e, [BackupRefused, RepositoryRefused], log);
  } finally {
    live.close();
    rmSync(staging, { recursive: true, force: true });
  }
}
