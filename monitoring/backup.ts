// Backup and restore-drill alerts (issue 23): the metrics the backup and drill jobs push to a Prometheus Pushgateway
// (the contract), and the rules on them. Pure; rules.ts adds the group when its `backup` option is set.
// The common RedisMissingBackup rule reads redis_exporter's rdb_last_save, which misfires on AOF-only nodes like ours
// (and says nothing about whether a backup left the node): these rules read only what the jobs pushed.
import { z } from "zod";
import type { AlertRuleOf, RuleContext } from "./ruleShape";

/**
 * Pushgateway grouping: job BACKUP_PUSH_JOB or DRILL_PUSH_JOB, and `cluster` (the `cluster` option, by default the rules'
 * job), i.e. POST /metrics/job/<job>/cluster/<cluster>. Push with POST (prom-client's pushAdd), never PUT: POST replaces
 * only the metrics it sends, so a failed run, which does not send the last-success time, leaves the previous one in place.
 * Scrape the Pushgateway with honor_labels: true. The rules match the metric name and `cluster` only (not the push job,
 * which becomes exported_job without honor_labels) and aggregate `by (cluster)`, so scrape labels never split an alert.
 */
export const BACKUP_PUSH_JOB = "redis-backup";
export const DRILL_PUSH_JOB = "redis-restore-drill";

/** Gauges a backup run pushes; last_success_timestamp only when it succeeded. */
export const BACKUP_METRICS = {
  lastSuccessTimestamp: "redis_backup_last_success_timestamp_seconds",
  lastRunTimestamp: "redis_backup_last_run_timestamp_seconds",
  lastRunSuccess: "redis_backup_last_run_success",
  durationSeconds: "redis_backup_duration_seconds",
  bytes: "redis_backup_bytes",
  keys: "redis_backup_keys",
  writePauseSeconds: "redis_backup_write_pause_seconds",
} as const;
/** Gauges a restore drill pushes; last_success_timestamp only when it succeeded. */
export const DRILL_METRICS = {
  lastSuccessTimestamp: "redis_restore_drill_last_success_timestamp_seconds",
  lastRunTimestamp: "redis_restore_drill_last_run_timestamp_seconds",
  lastRunSuccess: "redis_restore_drill_last_run_success",
  durationSeconds: "redis_restore_drill_duration_seconds",
  keysChecked: "redis_restore_drill_keys_checked",
} as const;

/** HELP text of each pushed gauge. */
export const METRIC_HELP: Record<string, string> = {
  [BACKUP_METRICS.lastSuccessTimestamp]: "Unix time at which the last successful backup ended.",
  [BACKUP_METRICS.lastRunTimestamp]: "Unix time at which the last backup run ended, successful or not.",
  [BACKUP_METRICS.lastRunSuccess]: "1 if the last backup run succeeded, 0 if it failed or was refused.",
  [BACKUP_METRICS.durationSeconds]: "Duration of the last backup run.",
  [BACKUP_METRICS.bytes]: "Bytes of RDB files in the last successful backup.",
  [BACKUP_METRICS.keys]: "Keys in the last successful backup (sum over the masters at the cut).",
  [BACKUP_METRICS.writePauseSeconds]: "Time writes were paused on the masters for the last backup's cut.",
  [DRILL_METRICS.lastSuccessTimestamp]: "Unix time at which the last successful restore drill ended.",
  [DRILL_METRICS.lastRunTimestamp]: "Unix time at which the last restore drill ended, successful or not.",
  [DRILL_METRICS.lastRunSuccess]: "1 if the last restore drill restored and matched its manifest, 0 if not.",
  [DRILL_METRICS.durationSeconds]: "Duration of the last restore drill.",
  [DRILL_METRICS.keysChecked]: "Keys the last restore drill compared with the manifest.",
};

/** Outcome of one backup run, as the job knows it at its end. */
export interface BackupOutcome {
  success: boolean;
  endedAt: Date;
  durationSeconds: number;
  /** Only for a successful run. */
  bytes?: number;
  keys?: number;
  writePauseSeconds?: number;
}
export interface DrillOutcome {
  success: boolean;
  endedAt: Date;
  durationSeconds: number;
  keysChecked?: number;
}

/** Gauges of one run: its time and outcome always; the success time and `sizes` (those given) only on success. */
function runSamples(
  m: typeof BACKUP_METRICS | typeof DRILL_METRICS,
  o: { success: boolean; endedAt: Date; durationSeconds: number },
  sizes: [string, number | undefined][],
): Record<string, number> {
  const t = o.endedAt.getTime() / 1000;
  const out: Record<string, number> = { [m.lastRunTimestamp]: t, [m.lastRunSuccess]: o.success ? 1 : 0, [m.durationSeconds]: o.durationSeconds };
  if (!o.success) return out;
  out[m.lastSuccessTimestamp] = t;
  for (const [name, v] of sizes) if (v !== undefined) out[name] = v;
  return out;
}

/** The gauges (name -> value) to push for one backup run: a failed run pushes no success time and no size. */
export function backupPushSamples(o: BackupOutcome): Record<string, number> {
  const m = BACKUP_METRICS;
  return runSamples(m, o, [
    [m.bytes, o.bytes],
    [m.keys, o.keys],
    [m.writePauseSeconds, o.writePauseSeconds],
  ]);
}

/** The gauges to push for one restore drill. */
export function drillPushSamples(o: DrillOutcome): Record<string, number> {
  return runSamples(DRILL_METRICS, o, [[DRILL_METRICS.keysChecked, o.keysChecked]]);
}

export const BACKUP_ALERT_NAMES = ["RedisBackupTooOld", "RedisBackupFailed", "RedisRestoreDrillFailed", "RedisRestoreDrillStale"] as const;
export type BackupAlertName = (typeof BACKUP_ALERT_NAMES)[number];

/** A daily schedule plus 2 h for a slow or late run. */
export const DEFAULT_BACKUP_MAX_AGE_SECONDS = 26 * 3600;
export const DEFAULT_DRILL_MAX_AGE_SECONDS = 26 * 3600;

export const backupAlertSchema = z.object({
  // Pushgateway grouping label of this cluster's backups; unset = the rules' job (the cluster's name).
  cluster: z.string().regex(/^[^"\\\s]+$/, "no quotes, backslashes or whitespace").optional(),
  // Age of the last successful backup beyond which RedisBackupTooOld fires: the recovery point objective.
  maxAgeSeconds: z.int().min(60, "at least 60 (seconds)").optional(),
  // Age of the last successful restore drill beyond which RedisRestoreDrillStale fires.
  drillMaxAgeSeconds: z.int().min(60, "at least 60 (seconds)").optional(),
});
export type BackupAlertOptions = z.input<typeof backupAlertSchema>;

export type BackupAlertRule = AlertRuleOf<BackupAlertName, "critical" | "warning">;

export interface BackupAlertContext extends RuleContext<BackupAlertName> {
  /** Seconds -> Prometheus duration, unscaled (for the text). */
  durationOf: (seconds: number) => string;
}

/**
 * Severities: critical when the protection is gone now (no successful backup within the objective; the latest drill
 * could not restore, and a backup that does not restore is no backup); warning when it will be gone unless someone acts
 * (one failed run while the last good backup is still young enough; no drill lately).
 */
export function renderBackupAlertRules(opts: BackupAlertOptions, ctx: BackupAlertContext): BackupAlertRule[] {
  const o = backupAlertSchema.parse(opts);
  const cluster = o.cluster ?? ctx.clusterJob;
  const maxAge = o.maxAgeSeconds ?? DEFAULT_BACKUP_MAX_AGE_SECONDS;
  const drillMaxAge = o.drillMaxAgeSeconds ?? DEFAULT_DRILL_MAX_AGE_SECONDS;
  const sel = (metric: string) => `${metric}{cluster="${cluster}"}`;
  const last = (metric: string) => `max by (cluster) (${sel(metric)})`;

  const alert = (
    name: BackupAlertName,
    expr: string,
    forSeconds: number,
    severity: "critical" | "warning",
    summary: string,
    description: string,
    extraLabels: Record<string, string> = {},
  ): BackupAlertRule => ({
    alert: name,
    expr,
    ...(forSeconds > 0 ? { for: ctx.forOf(forSeconds) } : {}),
    labels: { severity, job: ctx.clusterJob, ...extraLabels },
    annotations: { summary, description, runbook_url: ctx.runbookUrl(name) },
  });
  // Too old, or never pushed at all: absent() cannot say since when, so its entry waits the whole age with `for:`
  // (counted from when Prometheus first evaluates the rule). The `cause` label keeps the two entries apart (promtool
  // refuses two rules with the same name and labels); both give {cluster}, and they never fire together.
  const tooOld = (name: BackupAlertName, metric: string, age: number, severity: "critical" | "warning", what: string): BackupAlertRule[] => {
    const summary = `No successful ${what} of cluster {{ $labels.cluster }} within ${ctx.durationOf(age)}`;
    return [
      alert(
        name,
        `time() - ${last(metric)} > ${age}`,
        0,
        severity,
        summary,
        `The last successful ${what} of cluster {{ $labels.cluster }} ended more than ${ctx.durationOf(age)} ago.`,
        { cause: "too-old" },
      ),
      alert(
        name,
        `absent(${sel(metric)})`,
        age,
        severity,
        summary,
        `The Pushgateway has held no ${metric} for cluster {{ $labels.cluster }} for ${ctx.durationOf(age)}: no ${what} ` +
          "succeeded since Prometheus loaded these rules, or the Pushgateway lost its groups.",
        { cause: "none-pushed" },
      ),
    ];
  };
  return [
    ...tooOld("RedisBackupTooOld", BACKUP_METRICS.lastSuccessTimestamp, maxAge, "critical", "backup"),
    alert(
      "RedisBackupFailed",
      `${last(BACKUP_METRICS.lastRunSuccess)} == 0`,
      0,
      "warning",
      "The last backup of cluster {{ $labels.cluster }} failed",
      "The last backup run of cluster {{ $labels.cluster }} failed or was refused (its log names the reason). The previous " +
        `good backup still counts until it is ${ctx.durationOf(maxAge)} old, then RedisBackupTooOld fires.`,
    ),
    alert(
      "RedisRestoreDrillFailed",
      `${last(DRILL_METRICS.lastRunSuccess)} == 0`,
      0,
      "critical",
      "The last restore drill of cluster {{ $labels.cluster }} failed",
      "The last restore drill of cluster {{ $labels.cluster }} could not restore the latest backup into a throwaway cluster, " +
        "or what it restored did not match the backup's manifest: that backup may not restore when it is needed.",
    ),
    ...tooOld("RedisRestoreDrillStale", DRILL_METRICS.lastSuccessTimestamp, drillMaxAge, "warning", "restore drill"),
  ];
}
