import { z } from "zod";
import { cpuQuantity, memoryQuantity } from "./kubernetes";

// Settings of the `backup` and `restore` stack-config objects (issue 23): scheduled backups into a restic repository
// and the restore of a backup into a new stack. The repository password and backend credentials are secrets: they
// are read beside the spec (infra/config/load.ts, backupSecrets) and never reach the spec, the plan or an output.

/** Debian's restic reads it; anything printable without a newline (it is handed over as an environment variable). */
const resticPassword = z.string().regex(/^[^\r\n]{8,1024}$/, "must be 8-1024 characters on one line");


/** S3 credentials: what restic reads as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (set the whole key with --secret). */
const credentialsSchema = z
  .object({
    accessKeyId: z.string().regex(/^\S{1,256}$/, "must be 1-256 characters without spaces").describe("S3 access key id (secret)"),
    secretAccessKey: z.string().regex(/^\S{1,256}$/, "must be 1-256 characters without spaces").describe("S3 secret access key (secret)"),
  })
  .strict();
export type BackupCredentials = z.infer<typeof credentialsSchema>;

/** Where a restic repository lives, from its string; undefined when this project does not accept it. */
export type RepositoryKind = "s3" | "rest" | "local";

/**
 * The kinds accepted: `s3:` (an S3-compatible bucket: `s3:https://host/bucket/prefix` or `s3:s3.amazonaws.com/bucket`),
 * `rest:` (restic's REST protocol: rest-server, `rclone serve restic`) and an absolute directory (Docker dev: a folder
 * on the Pulumi host). Credentials never travel in the string: it reaches plans and logs.
 */
export function repositoryProblem(repo: string): string | undefined {
  if (/^\//.test(repo)) return /\s/.test(repo) ? "must be a directory path without spaces" : undefined;
  const m = /^(s3|rest):(.*)$/.exec(repo);
  if (!m) {
    return "must be s3:https://host/bucket/prefix, rest:http://host:8000/ or (docker) an absolute directory like /var/backups/redis";
  }
  const [, kind, rest] = m;
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(rest)) {
    return kind === "s3"
      ? "holds credentials (user:password@): put them in backup.credentials (set with --secret) instead"
      : "holds credentials (user:password@): reach the REST server without them on a private network, or use an s3: repository with backup.credentials";
  }
  if (kind === "rest") return /^https?:\/\/[^/\s]+(\/\S*)?$/.test(rest) ? undefined : "must be rest:http://host:port/ or rest:https://host:port/path";
  return /^(https?:\/\/)?[^/\s]+\/[^/\s]+(\/\S*)?$/.test(rest) ? undefined : "must name a bucket: s3:https://host/bucket/prefix or s3:s3.amazonaws.com/bucket";
}

export function repositoryKind(repo: string): RepositoryKind {
  return repo.startsWith("s3:") ? "s3" : repo.startsWith("rest:") ? "rest" : "local";
}

/** Only a repository that passed its own check has a kind worth comparing (cross-field rules run after failed fields too). */
const kindOf = (repo: unknown): RepositoryKind | undefined => (typeof repo === "string" && repositoryProblem(repo) === undefined ? repositoryKind(repo) : undefined);

const repository = z.string().superRefine((v, ctx) => {
  const p = repositoryProblem(v);
  if (p) ctx.addIssue({ code: "custom", message: p });
});

const CRON_FIELDS: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] },
  { name: "day of week", min: 0, max: 6, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
];
const CRON_MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/**
 * Why `expr` is not a schedule a Kubernetes CronJob takes (its parser: five fields, names of months and weekdays,
 * `?` in the day fields, the @-macros), or undefined. The time zone is the CronJob's (the controller's, usually UTC).
 */
export function cronProblem(expr: string): string | undefined {
  const e = expr.trim();
  if (/^(CRON_)?TZ=/.test(e)) return "must not name a time zone (Kubernetes refuses TZ= in a schedule)";
  if (e.startsWith("@")) return CRON_MACROS.includes(e) ? undefined : `must be one of ${CRON_MACROS.join(", ")} or five fields like "0 2 * * *"`;
  const fields = e.split(/\s+/);
  if (fields.length !== 5) return `must have five fields (minute hour day-of-month month day-of-week), like "0 2 * * *"; got ${fields.length}`;
  for (let i = 0; i < 5; i++) {
    const f = CRON_FIELDS[i];
    const value = (t: string) => {
      const n = f.names?.indexOf(t.toUpperCase()) ?? -1;
      if (n >= 0) return n + f.min;
      return /^\d+$/.test(t) ? Number(t) : NaN;
    };
    for (const part of fields[i].split(",")) {
      const m = /^(\*|\?|([^-/]+)(-([^-/]+))?)(\/(\d+))?$/.exec(part);
      const bad = `the ${f.name} field "${fields[i]}" must be *, a value, a range a-b, a list a,b or a step */n, within ${f.min}-${f.max}`;
      if (!m || (m[1] === "?" && i !== 2 && i !== 4)) return bad;
      if (m[6] !== undefined && Number(m[6]) < 1) return bad;
      if (m[2] !== undefined) {
        const lo = value(m[2]);
        const hi = m[4] !== undefined ? value(m[4]) : lo;
        if (![lo, hi].every((v) => Number.isInteger(v) && v >= f.min && v <= f.max) || lo > hi) return bad;
      }
    }
  }
  return undefined;
}

const retentionCount = (what: string, n: number) => z.int().min(0).max(100_000).default(n).describe(`Retention: ${what} (0 = not used)`);

export const backupSchema = z
  .object({
    enabled: z.boolean().default(false)
      .describe("Back the cluster up into a restic repository: a CronJob on kubernetes (schedule), one run after the smoke test of each `pulumi up` that changed the cluster or these settings on docker"),
    schedule: z.string().superRefine((v, ctx) => {
      const p = cronProblem(v);
      if (p) ctx.addIssue({ code: "custom", message: p });
    }).default("0 2 * * *").describe("Cron schedule of the backup CronJob (kubernetes), in the CronJob's time zone (usually UTC)"),
    drillSchedule: z.string().superRefine((v, ctx) => {
      const p = cronProblem(v);
      if (p) ctx.addIssue({ code: "custom", message: p });
    }).default("0 4 * * *").describe("Cron schedule of the restore drill CronJob (kubernetes): the latest backup restored into a throwaway cluster in the Job's container and compared with its manifest"),
    retention: z
      .object({
        keepLast: retentionCount("keep the last n backups", 0),
        keepHourly: retentionCount("one backup per hour for n hours", 0),
        keepDaily: retentionCount("one backup per day for n days", 7),
        keepWeekly: retentionCount("one backup per week for n weeks", 4),
        keepMonthly: retentionCount("one backup per month for n months", 6),
      })
      .strict()
      .default({ keepLast: 0, keepHourly: 0, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 })
      .describe("restic forget --keep-* after each backup, over this cluster's backups only; all 0 keeps every backup"),
    repository: repository.optional()
      .describe("restic repository: s3:https://host/bucket/prefix, rest:http://host:8000/, or on docker an absolute directory of the Pulumi host. Required with enabled"),
    password: resticPassword.optional()
      .describe("restic repository password (set with `pulumi config set --secret --path redis-cluster:backup.password`); required with enabled. Keep a copy outside the stack: without it no backup can be read"),
    credentials: credentialsSchema.optional().describe("S3 credentials (set each with --secret --path); absent: restic's own defaults (e.g. an instance role)"),
    pauseBoundMs: z.int().min(10).max(60_000).default(1000).describe("CLIENT PAUSE timeout of the cut: the longest writes wait during a backup"),
    image: z.string().min(1).optional()
      .describe("Image of the backup, restore and drill Jobs (kubernetes; required there): node >= 18, restic and redis-server at least as new as redisImage, running as uid 1000"),
    resources: z
      .object({
        requests: z
          .object({ cpu: cpuQuantity.default("100m").describe("CPU request"), memory: memoryQuantity.default("256Mi").describe("Memory request") })
          .strict()
          .default({ cpu: "100m", memory: "256Mi" }),
        limits: z
          .object({
            cpu: cpuQuantity.optional().describe("CPU limit (none by default)"),
            memory: memoryQuantity.default("2Gi").describe("Memory limit: room for the largest shard's RDB loaded into a temporary redis-server"),
          })
          .strict()
          .default({ memory: "2Gi" }),
      })
      .strict()
      .default({ requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "2Gi" } })
      .describe("Container resources of the backup, restore and drill Jobs (kubernetes); a restore holds one shard in a temporary server; a drill holds the whole restored dataset plus one shard: size the memory limit for it"),
  })
  .strict();

const SNAPSHOT_RE = /^(latest|[0-9a-f]{8,64})$/;

export const restoreSchema = z
  .object({
    snapshot: z.string().regex(SNAPSHOT_RE, "must be latest or a restic snapshot id (8-64 hex digits)").optional()
      .describe("Restore this backup (snapshot id or latest) after the bootstrap and before the smoke test of a new stack; refused at run time when the cluster already has keys"),
    clusterId: z.string().regex(/^[0-9a-f]{16}$/, "must be a backup manifest's clusterId (16 hex digits)").optional()
      .describe("Only backups of this cluster (the manifest's clusterId, also the tag cluster-<id>): latest never picks another cluster's"),
    repository: repository.optional().describe("restic repository to restore from; default backup.repository"),
    password: resticPassword.optional().describe("Its password (secret); default backup.password"),
    credentials: credentialsSchema.optional().describe("Its S3 credentials (secret); default backup.credentials"),
  })
  .strict();

export type BackupConfig = z.infer<typeof backupSchema>;
export type RestoreConfig = z.infer<typeof restoreSchema>;

/** The `backup` settings without any secret. */
export interface BackupSpec extends Omit<BackupConfig, "password" | "credentials"> {
  /** Whether backup.password / backup.credentials were given (their values never travel in the spec). */
  passwordProvided: boolean;
  credentialsProvided: boolean;
}

/** restore.snapshot set: what to restore and from where (the repository settings resolved against backup's). */
export interface RestoreSpec {
  snapshot: string;
  clusterId?: string;
  repository: string;
  /** Which object the password and credentials come from (restore's own, else backup's). */
  secretsFrom: { password: "restore" | "backup"; credentials?: "restore" | "backup" };
}

/** Cross-field problems of `backup` and `restore` as [path, message]; each names the setting and the fix. */
export function backupProblems(platform: "docker" | "kubernetes", b: BackupConfig, r: RestoreConfig): [string[], string][] {
  const out: [string[], string][] = [];
  const setSecret = (key: string) => `set it with \`pulumi config set --secret --path redis-cluster:${key} <value>\``;
  const kubernetesRepo = (path: string[], repo: string | undefined) => {
    if (platform === "kubernetes" && kindOf(repo) === "local") {
      out.push([path, "is a directory, which on kubernetes is inside the Job's container and lost with it; use an s3: or rest: repository"]);
    }
  };
  const credentialsFit = (path: string[], repo: string | undefined, creds: unknown) => {
    const kind = kindOf(repo);
    if (creds !== undefined && kind !== undefined && kind !== "s3") out.push([path, `are S3 credentials but the repository is not s3:; remove ${path.join(".")} or use an s3: repository`]);
  };
  if (b.enabled) {
    if (b.repository === undefined) out.push([["backup", "repository"], "is required with backup.enabled: set it to s3:https://host/bucket/prefix, rest:http://host:8000/ or (docker) an absolute directory"]);
    if (b.password === undefined) out.push([["backup", "password"], `is required with backup.enabled (the restic repository's password); ${setSecret("backup.password")}`]);
    if (platform === "kubernetes" && b.image === undefined) out.push([["backup", "image"], "is required with backup.enabled on kubernetes: an image with node >= 18, restic and redis-server (docs/backup.md)"]);
  }
  kubernetesRepo(["backup", "repository"], b.repository);
  credentialsFit(["backup", "credentials"], b.repository, b.credentials);
  if (r.snapshot === undefined) {
    for (const k of ["clusterId", "repository", "password", "credentials"] as const) {
      if (r[k] !== undefined) out.push([["restore", k], "is set but restore.snapshot is not: nothing is restored; set restore.snapshot or remove it"]);
    }
    return out;
  }
  const repo = r.repository ?? b.repository;
  if (repo === undefined) out.push([["restore", "repository"], "is required with restore.snapshot (or backup.repository): the restic repository holding the backup"]);
  if ((r.password ?? b.password) === undefined) out.push([["restore", "password"], `is required with restore.snapshot (or backup.password); ${setSecret("restore.password")}`]);
  if (platform === "kubernetes" && b.image === undefined) out.push([["backup", "image"], "is required with restore.snapshot on kubernetes (the restore Job's image): node >= 18, restic and redis-server (docs/backup.md)"]);
  kubernetesRepo(["restore", "repository"], r.repository);
  credentialsFit(["restore", "credentials"], repo, r.credentials);
  return out;
}

/** The spec parts of `backup` and `restore` (no secret). */
export function backupSpecs(b: BackupConfig, r: RestoreConfig): { backup: BackupSpec; restore?: RestoreSpec } {
  const { password, credentials, ...rest } = b;
  const backup: BackupSpec = { ...rest, passwordProvided: password !== undefined, credentialsProvided: credentials !== undefined };
  if (r.snapshot === undefined) return { backup };
  const credentialsFrom = r.credentials !== undefined ? "restore" : r.repository === undefined && credentials !== undefined ? "backup" : undefined;
  return {
    backup,
    restore: {
      snapshot: r.snapshot,
      ...(r.clusterId !== undefined && { clusterId: r.clusterId }),
      repository: (r.repository ?? b.repository)!,
      secretsFrom: { password: r.password !== undefined ? "restore" : "backup", ...(credentialsFrom && { credentials: credentialsFrom }) },
    },
  };
}

/** The secret values of `backup` and `restore`, resolved the way RestoreSpec.secretsFrom says. */
export interface BackupSecrets<T> {
  backup?: { password?: T; credentials?: { accessKeyId: T; secretAccessKey: T } };
  restore?: { password?: T; credentials?: { accessKeyId: T; secretAccessKey: T } };
}
