// Backup and restore-drill alerts (issue 23) on the metrics the backup and drill jobs push to a Prometheus Pushgateway
// (the contract: backupMetrics.ts). Pure; rules.ts adds the group when its `backup` option is set.
// The common RedisMissingBackup rule reads redis_exporter's rdb_last_save, which misfires on AOF-only nodes like ours
// (and says nothing about whether a backup left the node): these rules read only what the jobs pushed.
import { z } from "zod";
import { BACKUP_METRICS, DRILL_METRICS } from "./backupMetrics";
import type { AlertRuleOf, RuleContext } from "./ruleShape";

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
