// SLO rules for the canary (issue 24): availability and latency SLIs, recorded per shard and for the cluster over the
// windows of a multi-window multi-burn-rate policy (Google SRE workbook, ch. 5; named the way Sloth names its rules),
// and the burn-rate, lost-write and canary-down alerts. Pure; rules.ts adds the group when its `canary` option is set.
import { z } from "zod";
import { CANARY_LATENCY_BUCKETS } from "./canaryBuckets";
import type { AlertRuleOf, RuleContext } from "./ruleShape";

export const DEFAULT_CANARY_JOB = "redis-canary";
/** Fewest failed requests that can make a burn alert fire, by default (see minRequests). */
export const DEFAULT_MIN_FAILED_REQUESTS = 10;

export const CANARY_ALERT_NAMES = [
  "RedisCanaryAvailabilityBurnFast",
  "RedisCanaryAvailabilityBurnSlow",
  "RedisCanaryLatencyBurnFast",
  "RedisCanaryLatencyBurnSlow",
  "RedisCanaryAckedWriteLost",
  "RedisCanaryDown",
] as const;
export type CanaryAlertName = (typeof CANARY_ALERT_NAMES)[number];

export const canarySloSchema = z.object({
  // Prometheus job of the canary's scrape target; one per cluster when clusters share a Prometheus.
  job: z.string().regex(/^[^"\\\s]+$/, "no quotes, backslashes or whitespace").optional(),
  // Share of good requests, e.g. 0.999; the error budget is 1 - objective. Both SLIs use it.
  objective: z.number().gt(0).lt(1),
  latencyThresholdSeconds: z
    .number()
    .refine((v) => (CANARY_LATENCY_BUCKETS as readonly number[]).includes(v), `one of the canary's buckets: ${CANARY_LATENCY_BUCKETS.join(", ")}`),
  minFailedRequests: z.number().int().min(1).optional(),
});
export type CanarySloOptions = z.input<typeof canarySloSchema>;

export const SLO_WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"] as const;
export type SloWindow = (typeof SLO_WINDOWS)[number];
const WINDOW_SECONDS: Record<SloWindow, number> = { "5m": 300, "30m": 1800, "1h": 3600, "2h": 7200, "6h": 21600, "1d": 86400, "3d": 259200 };

/** One multi-window condition: burn above `burn` over the long window and over the short one. */
export interface BurnCondition {
  burn: number;
  long: SloWindow;
  short: SloWindow;
}
/** The workbook's policy: page on 2 % of a 30-day budget in 1 h or 5 % in 6 h, ticket on 10 % in 1 d or in 3 d. */
export const PAGE_CONDITIONS: readonly BurnCondition[] = [
  { burn: 14.4, long: "1h", short: "5m" },
  { burn: 6, long: "6h", short: "30m" },
];
export const TICKET_CONDITIONS: readonly BurnCondition[] = [
  { burn: 3, long: "1d", short: "2h" },
  { burn: 1, long: "3d", short: "6h" },
];

export const SLI_ERRORS = "redis_canary:sli_errors:ratio_rate";
export const LATENCY_MISS = "redis_canary:latency_miss:ratio_rate";
export const OBJECTIVE = "redis_canary:objective:ratio";

/** 1 - objective, without float noise (1 - 0.999 is 0.0010000000000000009 in float64). */
export function errorBudget(objective: number): number {
  return Number((1 - objective).toPrecision(12));
}

/**
 * Requests the long window must hold before a burn alert may fire (pyrra#1602: with a trickle of requests one failure is a
 * huge ratio). Enough that the alert's threshold ratio means at least `minFailed` failed requests: one failure then
 * weighs at most 1/minFailed of the threshold.
 */
export function minRequests(burn: number, objective: number, minFailed = DEFAULT_MIN_FAILED_REQUESTS): number {
  return Math.ceil(Number((minFailed / (burn * errorBudget(objective))).toPrecision(12)));
}

export interface RecordingRule {
  record: string;
  expr: string;
  labels?: Record<string, string>;
}
export type CanaryAlertRule = AlertRuleOf<CanaryAlertName, "page" | "ticket">;
export type CanarySloContext = RuleContext<CanaryAlertName>;

/** Matcher for the threshold bucket: Prometheus 3 ingests le="1" as "1.0", 2.x keeps the exposition's text. */
function leMatcher(threshold: number): string {
  return Number.isInteger(threshold) ? `le=~"${threshold}|${threshold}.0"` : `le="${threshold}"`;
}

/** Recording rules (per shard, then cluster-wide without `shard`) and alerts of the canary's SLOs. */
export function renderCanarySloRules(opts: CanarySloOptions, ctx: CanarySloContext): (RecordingRule | CanaryAlertRule)[] {
  const o = canarySloSchema.parse(opts);
  const job = o.job ?? DEFAULT_CANARY_JOB;
  const budget = errorBudget(o.objective);
  const minFailed = o.minFailedRequests ?? DEFAULT_MIN_FAILED_REQUESTS;
  const sel = `job="${job}", op=~"set|get"`;
  const requests = `redis_canary_requests_total{${sel}}`;
  const failed = `redis_canary_requests_total{${sel}, result!="ok"}`;
  const count = `redis_canary_request_duration_seconds_count{${sel}}`;
  const fast = `redis_canary_request_duration_seconds_bucket{${sel}, ${leMatcher(o.latencyThresholdSeconds)}}`;

  // Per shard, `or` the cluster-wide series (no `shard` label): one rule per window, as two would record the same name.
  const perShardAndCluster = (ratio: (by: string) => string) => `${ratio("job, shard")} or ${ratio("job")}`;
  const recordings: RecordingRule[] = [];
  for (const w of SLO_WINDOWS) {
    const total = (by: string) => `sum by (${by}) (rate(${requests}[${w}]))`;
    // Counters with no failure yet may not exist: count them as 0 rather than lose the ratio.
    recordings.push({
      record: `${SLI_ERRORS}${w}`,
      expr: perShardAndCluster((by) => `(sum by (${by}) (rate(${failed}[${w}])) or 0 * ${total(by)}) / ${total(by)}`),
    });
    recordings.push({
      record: `${LATENCY_MISS}${w}`,
      expr: perShardAndCluster((by) => `(1 - sum by (${by}) (rate(${fast}[${w}])) / sum by (${by}) (rate(${count}[${w}])))`),
    });
  }
  for (const sli of ["availability", "latency"]) {
    recordings.push({ record: OBJECTIVE, expr: `vector(${o.objective})`, labels: { job, sli } });
  }

  // Alerts per shard: a client's keys live on one shard, and a broken shard averaged over all shards is diluted N times.
  const burnExpr = (ratio: string, denominator: string, conditions: readonly BurnCondition[]) =>
    conditions
      .map(
        (c) =>
          `(${ratio}${c.long}{job="${job}", shard!=""} > (${c.burn} * ${budget})` +
          ` and ${ratio}${c.short}{job="${job}", shard!=""} > (${c.burn} * ${budget})` +
          ` and on (job, shard) sum by (job, shard) (increase(${denominator}[${c.long}])) >= ${minRequests(c.burn, o.objective, minFailed)})`,
      )
      .join(" or ");
  const describe = (conditions: readonly BurnCondition[]) => conditions.map((c) => `${c.burn}x over ${c.long} and ${c.short}`).join(", or ");

  const alert = (
    name: CanaryAlertName,
    expr: string,
    forSeconds: number,
    severity: "page" | "ticket",
    summary: string,
    description: string,
  ): CanaryAlertRule => ({
    alert: name,
    expr,
    ...(forSeconds > 0 ? { for: ctx.forOf(forSeconds) } : {}),
    labels: { severity, job: ctx.clusterJob },
    annotations: { summary, description, runbook_url: ctx.runbookUrl(name) },
  });
  const burnAlert = (name: CanaryAlertName, sli: "availability" | "latency", severity: "page" | "ticket", conditions: readonly BurnCondition[]) => {
    const [ratio, denominator, what] =
      sli === "availability"
        ? [SLI_ERRORS, requests, "failed requests (error or timeout)"]
        : [LATENCY_MISS, count, `requests slower than ${o.latencyThresholdSeconds} s`];
    return alert(
      name,
      burnExpr(ratio, denominator, conditions),
      0,
      severity,
      `Canary ${sli} SLO of shard {{ $labels.shard }} burns its error budget ${severity === "page" ? "fast" : "steadily"}`,
      `The canary's ${what} on shard {{ $labels.shard }} burn the ${o.objective} ${sli} objective's budget at more than ` +
        `${describe(conditions)} (burn = ratio / ${budget}).`,
    );
  };

  const lost = `redis_canary_acked_writes_lost_total{job="${job}"}`;
  const alerts: CanaryAlertRule[] = [
    burnAlert("RedisCanaryAvailabilityBurnFast", "availability", "page", PAGE_CONDITIONS),
    burnAlert("RedisCanaryAvailabilityBurnSlow", "availability", "ticket", TICKET_CONDITIONS),
    burnAlert("RedisCanaryLatencyBurnFast", "latency", "page", PAGE_CONDITIONS),
    burnAlert("RedisCanaryLatencyBurnSlow", "latency", "ticket", TICKET_CONDITIONS),
    // A counter series that first appears at 1 has no increase() within its window: count a new non-zero series too.
    alert(
      "RedisCanaryAckedWriteLost",
      `sum by (job, shard) (increase(${lost}[5m])) > 0 or sum by (job, shard) (${lost} unless ${lost} offset 5m) > 0`,
      0,
      "page",
      "The canary lost acknowledged writes on shard {{ $labels.shard }}",
      "Writes acknowledged by the master and by at least one replica (SET + WAIT 1) were re-read missing or wrong on shard " +
        "{{ $labels.shard }} in the last 5 minutes: the cluster lost data that clients were told was replicated.",
    ),
    // Without its canary the burn alerts cannot fire: the SLO is blind.
    alert(
      "RedisCanaryDown",
      `up{job="${job}"} == 0 or absent(up{job="${job}"})`,
      120,
      "ticket",
      "The Redis canary is down or not scraped",
      `Prometheus has no healthy scrape of the canary (job ${job}) for ${ctx.forOf(120)}: the SLO burn-rate alerts are blind.`,
    ),
  ];
  return [...recordings, ...alerts];
}
