// What every platform's backup, restore and drill runs need (issue 23), from the validated spec: the engine's CLI
// arguments (infra/backup/cli.ts), the repository's environment, and where the secrets go. Pure, secret-free: the
// secret values (LoadedConfig.backupSecrets) are wired by the components into the names given here.
import { createHash } from "node:crypto";
import type { ClusterSpec } from "../config/schema";
import { repositoryKind, type RepositoryKind } from "../config/backup";

/** The Pushgateway's own port (container and Service); Docker publishes it on docker.pushgatewayPort. */
export const PUSHGATEWAY_PORT = 9091;

/** Which secret value an environment variable carries (a field of LoadedConfig.backupSecrets.backup / .restore). */
export type RepositorySecret = "password" | "accessKeyId" | "secretAccessKey";

/** How a run reaches one restic repository. */
export interface RepositoryPlan {
  kind: RepositoryKind;
  /** Plain environment of restic: RESTIC_REPOSITORY (the config refuses credentials in it). */
  env: Record<string, string>;
  /**
   * Environment variable -> the secret it carries: RESTIC_PASSWORD always, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
   * when credentials are configured. Docker: set in the host command's environment (secret); Kubernetes: secretKeyRef
   * into a Secret holding these values. Never argv, never a ConfigMap.
   */
  secretEnv: Record<string, RepositorySecret>;
}

/** backup.enabled: what the Docker step and the Kubernetes CronJobs (backup, drill) run. */
export interface BackupPlan {
  /** Cron schedule of the backup CronJob (Kubernetes). Docker runs one backup per `pulumi up` whose definition changed. */
  schedule: string;
  /**
   * The engine's arguments of a backup run (subcommand first, no secret): pause bound, retention, --init-repository.
   * The platform appends --nodes and --work-dir (Docker: host seeds, with the natMap in BACKUP_NAT_MAP).
   */
  backupArgs: string[];
  /** Cron schedule of the restore drill CronJob (Kubernetes). */
  drillSchedule: string;
  /** The restore drill's arguments (subcommand first): the latest backup; the drill command adds its own options. */
  drillArgs: string[];
  repository: RepositoryPlan;
  /**
   * Where backup and drill runs push their outcome (monitoring.enabled): Kubernetes, the Pushgateway Service
   * `http://<cluster>-pushgateway.<ns>.svc.cluster.local:9091`; Docker, the container's published port on the announce host.
   */
  pushgatewayUrl?: string;
  /** `--pushgateway <url> --push-cluster <name>` for backup and drill runs when pushgatewayUrl is set, else empty. */
  pushArgs: string[];
  /** Name of the Pushgateway's Deployment/Service (Kubernetes) or container (Docker). */
  pushgatewayName: string;
  /** Pushgateway grouping label `cluster` (monitoring/backup.ts: the rules' default, the cluster's name). */
  pushCluster: string;
  /** ACL user of the runs (acl.enabled): `backup`, with only what a backup and a restore need. Else admin's password. */
  user?: "backup";
  /** Kubernetes: image (node, restic, redis-server) and resources of the Jobs. */
  image?: string;
  resources: ClusterSpec["backup"]["resources"];
}

/** restore.snapshot: the restore run between the bootstrap and the smoke test of a new stack. */
export interface RestorePlan {
  snapshot: string;
  /** The engine's arguments (subcommand first, no secret); the platform appends --nodes and --work-dir. */
  args: string[];
  repository: RepositoryPlan;
  /** ACL user of the run (acl.enabled): `backup`. Else admin's password. */
  user?: "backup";
  /** Kubernetes: image and resources of the Job (backup.image, backup.resources). */
  image?: string;
  resources: ClusterSpec["backup"]["resources"];
}

/** The ACL user of backup and restore runs. */
export const BACKUP_USER = "backup";

/** Whether the cluster needs the `backup` ACL user: a backup or a restore will run against it. */
export const needsBackupUser = (spec: Pick<ClusterSpec, "backup" | "restore">) => spec.backup.enabled || spec.restore !== undefined;

export function repositoryPlan(repository: string, withCredentials: boolean): RepositoryPlan {
  return {
    kind: repositoryKind(repository),
    env: { RESTIC_REPOSITORY: repository },
    secretEnv: {
      RESTIC_PASSWORD: "password",
      ...(withCredentials && { AWS_ACCESS_KEY_ID: "accessKeyId", AWS_SECRET_ACCESS_KEY: "secretAccessKey" }),
    },
  } as RepositoryPlan;
}

/** retention.keepX: n -> --keep-x n (0: not used). */
function retentionArgs(r: ClusterSpec["backup"]["retention"]): string[] {
  const flags: [keyof typeof r, string][] = [["keepLast", "--keep-last"], ["keepHourly", "--keep-hourly"], ["keepDaily", "--keep-daily"], ["keepWeekly", "--keep-weekly"], ["keepMonthly", "--keep-monthly"]];
  return flags.filter(([k]) => r[k] > 0).flatMap(([k, f]) => [f, String(r[k])]);
}

/** http://host:port, an IPv6 host in brackets (::1 is no URL host otherwise). */
export const httpUrl = (host: string, port: number) => `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

export function planBackup(spec: ClusterSpec, placement: "docker" | "kubernetes" | "local"): BackupPlan | undefined {
  const b = spec.backup;
  if (!b.enabled || b.repository === undefined) return undefined;
  const pushgatewayName = `${spec.name}-pushgateway`;
  const pushgatewayUrl = !spec.monitoring.enabled || placement === "local" ? undefined
    : placement === "kubernetes" ? `http://${pushgatewayName}.${spec.kubernetes.namespace}.svc.cluster.local:${PUSHGATEWAY_PORT}`
    : httpUrl(spec.docker.announceHost, spec.docker.pushgatewayPort);
  return {
    schedule: b.schedule,
    // --init-repository: the first backup into an empty bucket creates the repository (never over an existing one).
    // --cluster-name: the drill picks this cluster's backups by it in a repository several clusters share (the
    // cluster id of the backups' other tag is known only after a backup, and changes with each scale step).
    backupArgs: ["backup", "--pause-bound-ms", String(b.pauseBoundMs), ...retentionArgs(b.retention), "--init-repository", "--cluster-name", spec.name],
    drillSchedule: b.drillSchedule,
    drillArgs: ["drill", "--snapshot", "latest", "--cluster-name", spec.name],
    repository: repositoryPlan(b.repository, b.credentialsProvided),
    ...(pushgatewayUrl && { pushgatewayUrl }),
    pushArgs: pushgatewayUrl ? ["--pushgateway", pushgatewayUrl, "--push-cluster", spec.name] : [],
    pushgatewayName,
    pushCluster: spec.name,
    ...(spec.acl.enabled && { user: BACKUP_USER }),
    ...(b.image !== undefined && { image: b.image }),
    resources: b.resources,
  };
}

export function planRestore(spec: ClusterSpec): RestorePlan | undefined {
  const r = spec.restore;
  if (!r) return undefined;
  return {
    snapshot: r.snapshot,
    args: ["restore", "--snapshot", r.snapshot, ...(r.clusterId ? ["--cluster-id", r.clusterId] : [])],
    repository: repositoryPlan(r.repository, r.secretsFrom.credentials !== undefined),
    ...(spec.acl.enabled && { user: BACKUP_USER }),
    ...(spec.backup.image !== undefined && { image: spec.backup.image }),
    resources: spec.backup.resources,
  };
}

/** What a run is (its arguments and repository), as a hash: the Docker runs' trigger, the restore Job's name on Kubernetes. */
export const runIdentity = (args: string[], repository: RepositoryPlan) => createHash("sha256").update(JSON.stringify([args, repository.env])).digest("hex");
