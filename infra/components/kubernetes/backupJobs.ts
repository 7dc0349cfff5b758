// The backup and restore-drill CronJobs (issue 23): the backup CLI's bundle (infra/backup/cli.ts) run by `node` in
// backup.image (node, restic, redis-server) as uid 1000 under the restricted security context, concurrencyPolicy
// Forbid, history limits. Secrets only through secretKeyRef: the repository's password and S3 credentials from the
// repository Secret, the cluster's from the `backup` ACL user's Secret (admin's without ACL users). The backup
// carries the client label (the cluster's NetworkPolicy admits it); the drill talks to no node, only to the
// repository and the Pushgateway, and runs its throwaway cluster inside its own container.
import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { runIdentity, type BackupPlan, type RepositorySecret, type RestorePlan } from "../../plan/backup";
import { EXIT_CODES } from "../../backup/outcome";
import { TLS_CLIENT_FILES } from "../../plan/tls";
import type { ClusterContext, PodRefs } from "./context";
import { envList } from "./env";
import { buildBackupBundle } from "../../backup/bundle";
import { mountedBundle, nodePodSpec, type NodeJobArgs } from "./nodeJob";
import type { ObjectMeta } from "./metadata";
import { PASSWORD_KEY } from "./secrets";
import { REPLACE_UNREADY } from "./annotations";
import { tlsEnvOf, tlsMounts, tlsVolumes } from "./volumes";

export const BACKUP_BUNDLE_FILE = "backup.js";
export const BACKUP_BUNDLE_DIR = "/opt/backup";

/** The backup CLI's bundle as the backup, drill and restore Jobs mount it. */
export function backupBundle(): NodeJobArgs["bundle"] {
  return mountedBundle(BACKUP_BUNDLE_FILE, BACKUP_BUNDLE_DIR, buildBackupBundle());
}
/** The Job's only writable place: RDBs in transit, the downloaded snapshot, the throwaway servers, restic's cache. */
const WORK_DIR = "/work";
/** Finished Jobs kept for their logs. */
export const BACKUP_HISTORY = { successful: 3, failed: 3 };

/** The repository Secret's keys, one per secret value (RepositorySecret). */
export const REPOSITORY_SECRET_KEYS: Record<RepositorySecret, string> = { password: "password", accessKeyId: "access-key-id", secretAccessKey: "secret-access-key" };

export function repositorySecretArgs(meta: ObjectMeta, values: Partial<Record<RepositorySecret, pulumi.Input<string>>>): k8s.core.v1.SecretArgs {
  const data: Record<string, pulumi.Input<string>> = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined) data[REPOSITORY_SECRET_KEYS[k as RepositorySecret]] = v;
  return { metadata: meta.auto("backup-repository"), type: "Opaque", stringData: data };
}

export interface BackupJobRefs {
  bundleConfigMapName: pulumi.Input<string>;
  repositorySecretName: pulumi.Input<string>;
  /** The Secret with the cluster password the backup logs in with (key `password`). */
  clusterSecretName: pulumi.Input<string>;
}

export type BackupJobKind = "backup" | "restore-drill" | "restore";

/** What one run needs: its engine arguments, repository, user, image and resources (plan.backup or plan.restore). */
type RunPlan = Pick<BackupPlan, "repository" | "user" | "image" | "resources">;

/**
 * The pod of a backup, drill or restore run. The backup and the restore reach the nodes (client label, cluster login,
 * TLS client certificate); the drill reaches none.
 */
function backupPod(cx: ClusterContext, refs: PodRefs, plan: RunPlan, kind: BackupJobKind, args: string[], jobRefs: BackupJobRefs, bundle: { text: string; sha256: string }) {
  const { spec } = cx;
  const client = kind !== "restore-drill";
  const labels = { ...cx.labels.of(kind), ...(client ? { [spec.kubernetes.clientLabel]: "true" } : {}) };
  const repoEnv = [
    ...envList(plan.repository.env),
    ...Object.entries(plan.repository.secretEnv).map(([name, key]) => ({ name, valueFrom: { secretKeyRef: { name: jobRefs.repositorySecretName, key: REPOSITORY_SECRET_KEYS[key] } } })),
    { name: "HOME", value: WORK_DIR },
    // restic's temporary packs: the root filesystem is read-only.
    { name: "TMPDIR", value: WORK_DIR },
    { name: "RESTIC_CACHE_DIR", value: `${WORK_DIR}/restic-cache` },
  ];
  const clusterEnv = client
    ? [
        { name: "REDISCLI_AUTH", valueFrom: { secretKeyRef: { name: jobRefs.clusterSecretName, key: PASSWORD_KEY } } },
        ...(plan.user ? [{ name: "REDIS_USER", value: plan.user }] : []),
        ...tlsEnvOf(refs, TLS_CLIENT_FILES),
        // Pod IPs from CLUSTER NODES are in no certificate: the chain is checked, not the name.
        ...(refs.tls ? [{ name: "REDIS_TLS_VERIFY_HOSTNAME", value: "no" }] : []),
      ]
    : [];
  const job: Omit<NodeJobArgs, "backoffLimit" | "activeDeadlineSeconds" | "definitionHash"> = {
    namespace: cx.namespace,
    labels,
    image: plan.image,
    bundle: { file: BACKUP_BUNDLE_FILE, dir: BACKUP_BUNDLE_DIR, ...bundle },
    container: {
      name: kind,
      args: [...args, ...(client ? ["--nodes", cx.plan.seeds.join(",")] : []), "--work-dir", WORK_DIR],
      env: [...repoEnv, ...clusterEnv],
      volumeMounts: [{ name: "work", mountPath: WORK_DIR }, ...(client ? tlsMounts(refs, "tls-client", TLS_CLIENT_FILES.dir) : [])],
    },
    volumes: [{ name: "work", emptyDir: {} }, ...(client ? tlsVolumes(refs, "client", "tls-client") : [])],
  };
  const pod = nodePodSpec(job, jobRefs.bundleConfigMapName, { restartPolicy: "Never" });
  const [container] = pod.containers as k8s.types.input.core.v1.Container[];
  const r = plan.resources;
  return { labels, spec: { ...pod, containers: [{ ...container, resources: { requests: r.requests, limits: { ...(r.limits.cpu ? { cpu: r.limits.cpu } : {}), memory: r.limits.memory } } }] } };
}

/** The backup or drill CronJob; `bundle` is the backup CLI's text and hash. */
export function backupCronJobArgs(cx: ClusterContext, refs: PodRefs, plan: BackupPlan, kind: "backup" | "restore-drill", jobRefs: BackupJobRefs, bundle: { text: string; sha256: string }): k8s.batch.v1.CronJobArgs {
  const backup = kind === "backup";
  const pod = backupPod(cx, refs, plan, kind, backup ? [...plan.backupArgs, ...plan.pushArgs] : [...plan.drillArgs, ...plan.pushArgs], jobRefs, bundle);
  return {
    metadata: { namespace: cx.namespace, labels: pod.labels },
    spec: {
      schedule: backup ? plan.schedule : plan.drillSchedule,
      concurrencyPolicy: "Forbid",
      successfulJobsHistoryLimit: BACKUP_HISTORY.successful,
      failedJobsHistoryLimit: BACKUP_HISTORY.failed,
      jobTemplate: {
        metadata: { labels: pod.labels },
        spec: {
          // One attempt: a failed run pushes its failure (the alert), and the next schedule tries again.
          backoffLimit: 0,
          activeDeadlineSeconds: 6 * 3600,
          template: { metadata: { labels: pod.labels }, spec: pod.spec },
        },
      },
    },
  };
}

/**
 * The restore Job's name, logical and in Kubernetes: one per restore (snapshot, cluster id, repository). Another
 * snapshot is another Job; the same one keeps its Job whatever else changes (RESTORE_JOB_IGNORE).
 */
export const restoreJobName = (cluster: string, plan: RestorePlan) => `${cluster}-restore-${runIdentity(plan.args, plan.repository).slice(0, 8)}`;

/**
 * A changed Job is replaced by pulumi-kubernetes (its pod template is immutable): a new image, bundle, resources or
 * seeds would run the restore again into the now-populated cluster, which the engine refuses (failing that `up`).
 * Its name carries what a restore is; once it has completed (the last deployment's `restoreJob` output), nothing else
 * of its spec may re-run it. Not before: a failed restore Job is replaced from the current spec (a Secret or bundle
 * renamed since would leave the old spec's pod unable to start).
 */
export const RESTORE_JOB_IGNORE = ["spec"];

/**
 * restore.snapshot: the Job that fills the cluster after the bootstrap and before the smoke test, once per restore
 * (restoreJobName). A failure (exit 3) is retried: the restore resumes (its marker key, infra/backup/restore.ts); a
 * refusal (a non-empty cluster, a backup that does not verify) or a usage error is final, so the Job fails at once
 * (podFailurePolicy) instead of repeating it with back-off. Exit 1 is not in the rule: besides a usage error it is
 * what Node exits with on a crash, which the next attempt resumes from.
 */
export function restoreJobArgs(cx: ClusterContext, refs: PodRefs, plan: RestorePlan, jobRefs: BackupJobRefs, bundle: { text: string; sha256: string }): k8s.batch.v1.JobArgs {
  const pod = backupPod(cx, refs, plan, "restore", plan.args, jobRefs, bundle);
  return {
    // A refused restore fails its Job: once the cluster is emptied, the next `up` replaces it instead of awaiting the
    // failed one again.
    metadata: { name: restoreJobName(cx.spec.name, plan), namespace: cx.namespace, labels: pod.labels, annotations: { [REPLACE_UNREADY]: "true" } },
    spec: {
      backoffLimit: 2,
      activeDeadlineSeconds: 6 * 3600,
      podFailurePolicy: { rules: [{ action: "FailJob", onExitCodes: { containerName: "restore", operator: "In", values: [EXIT_CODES.refused] } }] },
      template: { metadata: { labels: pod.labels }, spec: pod.spec },
    },
  };
}
