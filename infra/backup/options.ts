// What a backup or a restore is asked to do, and how it reaches the cluster and the repository.
import type { TlsClientOptions } from "../../smoke/types";
import type { RepositoryOptions, Retention } from "./restic";
import type { Transfer } from "./rdbPull";
import type { TempServer } from "./tempServer";

export interface ClusterReach {
  /** Seed nodes "host:port" (any members; the rest is found through them). */
  nodes: string[];
  password?: string;
  username?: string;
  tls?: TlsClientOptions;
  /** Announced "ip:port" -> where this process reaches it (Docker host). */
  natMap?: Record<string, { host: string; port: number }>;
}

export interface BackupOptions extends ClusterReach {
  repository: RepositoryOptions;
  /** Create the repository when there is none (never when it exists with another password). */
  initRepository?: boolean;
  /** CLIENT PAUSE's own timeout: writes wait at most this long, even if the backup dies mid-cut. Default 1000. */
  pauseBoundMs?: number;
  /** disk (default): the master forks at once; diskless: no RDB on the node's disk, the fork waits repl-diskless-sync-delay. */
  transfer?: Transfer;
  /** Staging folder for the RDBs and the manifest (needs room for the whole dataset's RDBs). */
  workDir: string;
  retention?: Retention;
  /** Tags the snapshot name-<clusterName> too: a stable name the drill picks this cluster's backups by (the id changes with every scale step). */
  clusterName?: string;
  /** How long an unhealthy-looking cluster, or a running fork (save, AOF rewrite), may take to settle before refusing. Default 10 s. */
  settleMs?: number;
  log?: (line: string) => void;
  /** Test hook: called while every master is paused, before the snapshots are asked for. */
  onPaused?: () => void | Promise<void>;
}

export interface RestoreOptions extends ClusterReach {
  repository: RepositoryOptions;
  /** Snapshot id (or its short id), or "latest" (default). */
  snapshot?: string;
  /** Only snapshots of this cluster id (the backup's manifest clusterId): the latest of another cluster is never taken by mistake. */
  clusterId?: string;
  /** Only snapshots tagged with this cluster name (the backup's --cluster-name). */
  clusterName?: string;
  /** Folder for the downloaded snapshot and the temporary servers' dirs. */
  workDir: string;
  /** Keys per SCAN/DUMP/RESTORE round. Default 500. */
  batchKeys?: number;
  /** redis-server binary of the temporary servers. */
  redisServer?: string;
  log?: (line: string) => void;
  /** Called after a shard's keys are imported, while its temporary server still holds the RDB (the restore drill samples it). */
  onShardLoaded?: (index: number, temp: TempServer) => void | Promise<void>;
  /** Test hook: called after each shard is imported. */
  onShardImported?: (index: number) => void | Promise<void>;
}
