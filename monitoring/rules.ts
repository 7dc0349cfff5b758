// Prometheus alert rules for a sharded Redis Cluster scraped through redis_exporter.
// Pure: the same object feeds the Docker Prometheus container, the Kubernetes PrometheusRule,
// `npm run rules:print` and the promtool tests.
import { stringify } from "yaml";
import { z } from "zod";
import type { AlertRuleOf } from "./ruleShape";
import {
  BACKUP_ALERT_NAMES,
  DEFAULT_BACKUP_MAX_AGE_SECONDS,
  DEFAULT_DRILL_MAX_AGE_SECONDS,
  backupAlertSchema,
  renderBackupAlertRules,
  type BackupAlertRule,
} from "./backup";
import { CANARY_ALERT_NAMES, DEFAULT_CANARY_JOB, canarySloSchema, renderCanarySloRules, type CanaryAlertRule, type RecordingRule } from "./slo";

/** Alerts on redis_exporter's metrics: always rendered. */
export const REDIS_ALERT_NAMES = [
  "RedisDown",
  "RedisExporterScrapeFailed",
  "RedisTargetsMissing",
  "RedisClusterStateNotOk",
  "RedisClusterSlotsUnassigned",
  "RedisClusterSlotsFail",
  "RedisClusterSlotsPFail",
  "RedisClusterMastersMissing",
  "RedisClusterExtraMaster",
  "RedisReplicaMissing",
  "RedisMasterLinkDown",
  "RedisMemoryHigh",
  "RedisSlowQueries",
  "RedisRejectedConnections",
  "RedisPersistenceFailing",
] as const;
export type RedisAlertName = (typeof REDIS_ALERT_NAMES)[number];
/** Every alert the rules can render: the Redis alerts, then the canary's SLO alerts (only with the `canary` option), then
 *  the backup alerts (only with the `backup` option). */
export const ALERT_NAMES = [...REDIS_ALERT_NAMES, ...CANARY_ALERT_NAMES, ...BACKUP_ALERT_NAMES] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

export const DEFAULT_RUNBOOK_BASE_URL = "https://github.com/redis-cluster/redis-cluster/blob/main/docs/runbooks.md";
/** Job label when none is given (`rules:print` without --job). Deployed stacks use their cluster name (one job per cluster). */
export const DEFAULT_JOB = "redis";
export const REDIS_CLUSTER_SLOTS = 16384;

const optionsSchema = z.object({
  masters: z.number().int().min(3, "a Redis Cluster needs at least 3 masters"),
  replicasPerMaster: z.number().int().min(0),
  runbookBaseUrl: z.string().url().optional(),
  // Rule group evaluation interval, e.g. "1s" in tests; unset = Prometheus' global evaluation_interval.
  interval: z.string().regex(/^\d+(ms|s|m|h)$/, "a Prometheus duration such as 15s").optional(),
  // Test-only: multiplies every `for:` so a live test can watch alerts fire within seconds.
  forScale: z.number().positive().max(1).optional(),
  // Prometheus `job` label of this cluster's exporter targets, one per cluster (e.g. "redis-cluster-prod"): every rule is
  // scoped to it, so clusters sharing a Prometheus never count each other's nodes. Also set as a label on every alert.
  job: z.string().regex(/^[^"\\\s]+$/, "no quotes, backslashes or whitespace").optional(),
  // Fraction of maxmemory that counts as "high".
  memoryHighRatio: z.number().gt(0).lt(1).optional(),
  // The canary's SLOs (monitoring/slo.ts): absent = no canary rules at all.
  canary: canarySloSchema.optional(),
  // Backup and restore-drill alerts on what those jobs push (monitoring/backup.ts): absent = no backup rules.
  backup: backupAlertSchema.optional(),
});
export type AlertRuleOptions = z.input<typeof optionsSchema>;

export type AlertRuleBase = AlertRuleOf<AlertName, string>;
export interface AlertRule extends AlertRuleBase {
  alert: RedisAlertName;
  labels: { severity: "critical" | "warning"; job: string } & Record<string, string>;
}
export type Rule = AlertRule | CanaryAlertRule | BackupAlertRule | RecordingRule;
export interface RuleGroup<R = Rule> {
  name: string;
  interval?: string;
  rules: R[];
}
export interface RuleFile<R = Rule> {
  groups: RuleGroup<R>[];
}

/** Throws an Error with a readable message when the topology or options are invalid. */
export function validateAlertRuleOptions(opts: AlertRuleOptions): z.output<typeof optionsSchema> {
  const r = optionsSchema.safeParse(opts);
  if (!r.success) throw new Error(`invalid alert rule options: ${z.prettifyError(r.error)}`);
  return r.data;
}

/** Prometheus duration for a number of seconds: whole hours as "26h", whole minutes as "5m", whole seconds as "30s",
 *  else milliseconds. */
export function formatDuration(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  if (ms === 0) return "0s";
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function runbookUrl(name: AlertName, base = DEFAULT_RUNBOOK_BASE_URL): string {
  return `${base}#${name.toLowerCase()}`;
}

/** Without `canary` and `backup`, only the Redis alerts (typed so). */
export function renderAlertRules(opts: AlertRuleOptions & { canary?: undefined; backup?: undefined }): RuleFile<AlertRule>;
export function renderAlertRules(opts: AlertRuleOptions): RuleFile;
export function renderAlertRules(opts: AlertRuleOptions): RuleFile {
  const o = validateAlertRuleOptions(opts);
  const job = o.job ?? DEFAULT_JOB;
  const base = o.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL;
  const scale = o.forScale ?? 1;
  const ratio = o.memoryHighRatio ?? 0.8;
  const nodes = o.masters * (1 + o.replicasPerMaster);
  const sel = `job="${job}"`;
  const forOf = (seconds: number) => formatDuration(seconds * scale);

  const rule = (
    alert: RedisAlertName,
    expr: string,
    forSeconds: number,
    severity: "critical" | "warning",
    summary: string,
    description: string,
  ): AlertRule => ({
    alert,
    expr,
    ...(forSeconds > 0 ? { for: forOf(forSeconds) } : {}),
    // job on every alert, including the aggregated ones (count() drops labels): names the cluster in Alertmanager.
    labels: { severity, job },
    annotations: { summary, description, runbook_url: runbookUrl(alert, base) },
  });

  const rules: AlertRule[] = [
    // A killed node gives redis_up 0 (exporter alive), a frozen node or dead sidecar makes the scrape fail:
    // then redis_up is *missing* and only the target's `up` is 0. One minute keeps a restart (< 1 s) from paging.
    rule(
      "RedisDown",
      `redis_up{${sel}} == 0 or up{${sel}} == 0`,
      60,
      "critical",
      "Redis node {{ $labels.instance }} is down",
      "Redis node {{ $labels.instance }} has not answered the exporter, or the exporter could not be scraped, for more than " +
        `${forOf(60)}. Its shard runs without redundancy or is failing over.`,
    ),
    // The exporter endpoint itself is unreachable, or it reaches Redis but part of its scrape errors (e.g. ACL denies INFO).
    rule(
      "RedisExporterScrapeFailed",
      `up{${sel}} == 0 or (max without (err) (redis_exporter_last_scrape_error{${sel}}) == 1 and on (instance, job) redis_up{${sel}} == 1)`,
      300,
      "warning",
      "Metrics for Redis node {{ $labels.instance }} are not being collected",
      "Prometheus cannot scrape the redis_exporter of {{ $labels.instance }}, or the exporter reports scrape errors while Redis is up. " +
        "Alerts for this node are blind.",
    ),
    // Targets vanished from service discovery (pods deleted, exporters removed): neither `up` nor redis_up exist for them.
    // The count is over this cluster's job only: another cluster in the same Prometheus must not make up the number.
    rule(
      "RedisTargetsMissing",
      `(count(up{${sel}}) or vector(0)) < ${nodes}`,
      300,
      "warning",
      "Prometheus scrapes fewer Redis exporters than the planned cluster size",
      `The planned topology has ${nodes} nodes (${o.masters} masters with ${o.replicasPerMaster} replicas each); ` +
        "Prometheus only has {{ $value }} exporter targets.",
    ),
    rule(
      "RedisClusterStateNotOk",
      `redis_cluster_state{${sel}} == 0`,
      60,
      "critical",
      "Redis Cluster state is not ok on {{ $labels.instance }}",
      "CLUSTER INFO on {{ $labels.instance }} reports cluster_state:fail: some hash slots are not served, " +
        "clients get CLUSTERDOWN errors. A failover that lasts longer than this alert's `for` did not complete.",
    ),
    rule(
      "RedisClusterSlotsUnassigned",
      `redis_cluster_slots_assigned{${sel}} < ${REDIS_CLUSTER_SLOTS}`,
      60,
      "critical",
      "Hash slots are not assigned to any master",
      `{{ $labels.instance }} sees only {{ $value }} of ${REDIS_CLUSTER_SLOTS} slots assigned; keys in the others cannot be stored.`,
    ),
    rule(
      "RedisClusterSlotsFail",
      `redis_cluster_slots_fail{${sel}} > 0`,
      60,
      "critical",
      "Hash slots are served by a failed master",
      "{{ $labels.instance }} sees {{ $value }} slots on a master in FAIL state and no replica took over.",
    ),
    // PFAIL is one node's suspicion and normally turns into FAIL (then a failover) or clears within seconds.
    rule(
      "RedisClusterSlotsPFail",
      `redis_cluster_slots_pfail{${sel}} > 0`,
      120,
      "warning",
      "Hash slots are on a master suspected down (PFAIL)",
      "{{ $labels.instance }} has seen {{ $value }} slots in PFAIL state for a while: a network partition or an overloaded master.",
    ),
    // Counts reachable masters across the whole sharded cluster (never "more than one master", which is normal here),
    // and only this cluster's (its job): another cluster's masters would hide a lost one.
    rule(
      "RedisClusterMastersMissing",
      `(count(redis_instance_info{${sel}, role="master"} and on (instance, job) redis_up{${sel}} == 1) or vector(0)) < ${o.masters}`,
      60,
      "critical",
      "Fewer Redis masters than planned",
      `The cluster is planned with ${o.masters} masters (shards); only {{ $value }} reachable masters report in. ` +
        "A master is down and no replica has been promoted.",
    ),
    // A cluster replica whose master it knows only without an address (noaddr: the master's name did not resolve when
    // the replica started, infra/scripts/refresh-peers.sh) never configures replication, so INFO says role:master
    // (no slots, no link metric): it counts as a reachable master above, RedisMasterLinkDown cannot fire, and its
    // view can say cluster_state:ok while its master's slots are unreachable. More nodes saying master than shards
    // holding slots (cluster_size, the largest any node reports) is that, or a new node joined without slots.
    rule(
      "RedisClusterExtraMaster",
      `(count(redis_instance_info{${sel}, role="master"} and on (instance, job) redis_up{${sel}} == 1) or vector(0)) > max(redis_cluster_size{${sel}})`,
      60,
      "critical",
      "More Redis nodes report role master than shards hold slots",
      "{{ $value }} reachable nodes report role:master, more than the shards holding slots: a replica is not replicating " +
        "because it knows its master only without an address (noaddr), or a node joined without slots. Its shard may be " +
        "unserved or without redundancy although cluster_state says ok.",
    ),
    // Only masters: replicas report connected_slaves 0 too. Five minutes covers a replica restart plus a full resync.
    rule(
      "RedisReplicaMissing",
      `(redis_connected_slaves{${sel}} and on (instance, job) redis_instance_info{${sel}, role="master"}) < ${o.replicasPerMaster}`,
      300,
      "warning",
      "Redis master {{ $labels.instance }} has fewer replicas than planned",
      `Master {{ $labels.instance }} has {{ $value }} connected replicas, planned ${o.replicasPerMaster}. ` +
        "Its shard is not redundant: one more failure loses its slots.",
    ),
    // redis_master_link_up carries master_host/master_port, which change after a failover: aggregate them away
    // so the alert keeps its identity (and its `for` timer) per replica.
    rule(
      "RedisMasterLinkDown",
      `max by (instance, job) (redis_master_link_up{${sel}}) == 0`,
      120,
      "warning",
      "Replica {{ $labels.instance }} lost its link to its master",
      "master_link_status is down on replica {{ $labels.instance }}: it is not replicating and its data is going stale.",
    ),
    // maxmemory 0 (the default) means "no limit" and would make the ratio +Inf: keep only nodes with a limit.
    rule(
      "RedisMemoryHigh",
      `redis_memory_used_bytes{${sel}} / (redis_memory_max_bytes{${sel}} > 0) > ${ratio}`,
      300,
      "warning",
      "Redis node {{ $labels.instance }} uses more than " + `${Math.round(ratio * 100)} % of maxmemory`,
      "{{ $labels.instance }} uses {{ $value | humanizePercentage }} of its maxmemory; it will start evicting keys or rejecting writes.",
    ),
    // slowlog_length saturates at slowlog-max-len and never decreases by itself: count new entries by their id instead.
    rule(
      "RedisSlowQueries",
      `increase(redis_slowlog_last_id{${sel}}[5m]) > 10`,
      300,
      "warning",
      "Redis node {{ $labels.instance }} logs slow commands",
      "{{ $labels.instance }} logged {{ $value }} commands slower than slowlog-log-slower-than in the last 5 minutes.",
    ),
    rule(
      "RedisRejectedConnections",
      `increase(redis_rejected_connections_total{${sel}}[5m]) > 0`,
      60,
      "warning",
      "Redis node {{ $labels.instance }} rejects connections",
      "{{ $labels.instance }} rejected {{ $value }} connections in the last 5 minutes (maxclients reached).",
    ),
    // With stop-writes-on-bgsave-error (default yes) a failed RDB save makes the master refuse writes.
    rule(
      "RedisPersistenceFailing",
      `redis_rdb_last_bgsave_status{${sel}} == 0 or redis_aof_last_write_status{${sel}} == 0 or redis_aof_last_bgrewrite_status{${sel}} == 0`,
      60,
      "critical",
      "Redis node {{ $labels.instance }} fails to persist data",
      "The last RDB save, AOF write or AOF rewrite failed on {{ $labels.instance }} (disk full or read-only?). " +
        "Writes may be refused and a restart would lose data.",
    ),
  ];

  const group = <R>(name: string, rules: R[]): RuleGroup<R> => ({ name, ...(o.interval ? { interval: o.interval } : {}), rules });
  const groups: RuleGroup<Rule>[] = [group<Rule>("redis-cluster", rules)];
  // One group: Prometheus evaluates a group's rules in order, so the alerts read this evaluation's recordings.
  if (o.canary) groups.push(group<Rule>("redis-canary-slo", renderCanarySloRules(o.canary, { clusterJob: job, runbookUrl: (a) => runbookUrl(a, base), forOf })));
  if (o.backup) {
    const ctx = { clusterJob: job, runbookUrl: (a: AlertName) => runbookUrl(a, base), forOf, durationOf: formatDuration };
    groups.push(group<Rule>("redis-backup", renderBackupAlertRules(o.backup, ctx)));
  }
  return { groups };
}

export function renderAlertRulesYaml(opts: AlertRuleOptions): string {
  const header =
    `# Generated by monitoring/rules.ts for ${opts.masters} masters x ${opts.replicasPerMaster} replicas, job "${opts.job ?? DEFAULT_JOB}"` +
    `${opts.canary ? `, canary SLOs (job "${opts.canary.job ?? DEFAULT_CANARY_JOB}")` : ""}` +
    `${opts.backup ? `, backup alerts (cluster "${opts.backup.cluster ?? opts.job ?? DEFAULT_JOB}", backup max age ${formatDuration(opts.backup.maxAgeSeconds ?? DEFAULT_BACKUP_MAX_AGE_SECONDS)}, drill max age ${formatDuration(opts.backup.drillMaxAgeSeconds ?? DEFAULT_DRILL_MAX_AGE_SECONDS)})` : ""}. Do not edit.\n`;
  // lineWidth 0: never fold long PromQL expressions.
  return header + stringify(renderAlertRules(opts), { lineWidth: 0 });
}
