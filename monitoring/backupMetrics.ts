// What the backup and restore-drill jobs push to a Prometheus Pushgateway (issue 23): the contract between those jobs
// and the alert rules on them (backup.ts). Apart from backup.ts (zod) so that the backup CLI's bundle, which pushes
// these gauges, does not carry the rules' validation.

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
