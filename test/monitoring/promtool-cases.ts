// Builds a `promtool test rules` file: synthetic redis_exporter series for a topology, scenarios that break one thing
// at a time, and the alerts expected (or expected to stay quiet) at given times. Times are in seconds; samples every 15 s.
import { stringify } from "yaml";
import type { AlertName, AlertRuleBase, RuleFile } from "../../monitoring/rules";

export const STEP = 15;
export const SAMPLES = 61; // 0 .. 15 min
export const JOB = "redis";
type Sample = number | "_" | "stale";

export interface NodeInfo {
  instance: string;
  role: "master" | "slave";
  shard: number;
  master?: string; // replicas: host of their master
  job: string; // the cluster's Prometheus job
}

/** Nodes of one cluster; `prefix` keeps instance names unique when several clusters share a scenario. */
export function topology(masters: number, replicas: number, opts: { job?: string; prefix?: string } = {}): NodeInfo[] {
  const job = opts.job ?? JOB;
  const p = opts.prefix ?? "";
  const nodes: NodeInfo[] = [];
  for (let s = 0; s < masters; s++) nodes.push({ instance: `${p}m${s}:6379`, role: "master", shard: s, job });
  for (let s = 0; s < masters; s++) {
    for (let r = 0; r < replicas; r++) nodes.push({ instance: `${p}r${s}-${r}:6379`, role: "slave", shard: s, master: `${p}m${s}`, job });
  }
  return nodes;
}

function key(metric: string, labels: Record<string, string>): string {
  const all = { job: JOB, ...labels };
  const body = Object.keys(all)
    .sort()
    .map((k) => `${k}="${all[k as keyof typeof all]}"`)
    .join(",");
  return `${metric}{${body}}`;
}

interface Expect {
  at: number;
  alert: AlertName;
  /** labels always include job (every rule sets it); instance for per-node alerts. */
  firing: { labels: Record<string, string>; value?: number }[];
}

/** One promtool test group: a healthy cluster's series, then edits. */
export class Scenario {
  readonly series = new Map<string, Sample[]>();
  readonly expects: Expect[] = [];
  /** Times at which no alert of the rule file may fire. */
  readonly quietTimes: number[] = [];
  constructor(
    readonly name: string,
    readonly nodes: NodeInfo[],
  ) {
    for (const n of nodes) {
      const i = { instance: n.instance, job: n.job };
      const put = (m: string, v: number, extra: Record<string, string> = {}) => this.set(m, { ...i, ...extra }, 0, v);
      put("up", 1);
      put("redis_up", 1);
      put("redis_instance_info", 1, { role: n.role });
      put("redis_exporter_last_scrape_error", 0, { err: "" });
      put("redis_connected_slaves", n.role === "master" ? nodes.filter((x) => x.job === n.job && x.shard === n.shard && x.role === "slave").length : 0);
      if (n.master) put("redis_master_link_up", 1, { master_host: n.master, master_port: "6379" });
      put("redis_cluster_state", 1);
      put("redis_cluster_size", nodes.filter((x) => x.job === n.job && x.role === "master").length);
      put("redis_cluster_slots_assigned", 16384);
      put("redis_cluster_slots_ok", 16384);
      put("redis_cluster_slots_pfail", 0);
      put("redis_cluster_slots_fail", 0);
      put("redis_memory_used_bytes", 2_000_000);
      put("redis_memory_max_bytes", 0); // Redis default: no limit
      put("redis_slowlog_last_id", 0);
      put("redis_rejected_connections_total", 0);
      put("redis_rdb_last_bgsave_status", 1);
      put("redis_aof_last_write_status", 1);
      put("redis_aof_last_bgrewrite_status", 1);
    }
  }

  private node(instance: string): NodeInfo {
    const n = this.nodes.find((x) => x.instance === instance);
    if (!n) throw new Error(`no node ${instance}`);
    return n;
  }

  /** Sets samples from `from` s (inclusive) to `to` s (exclusive, default end); creates the series if needed.
   *  `job` defaults to the job of the node named by `labels.instance`. */
  set(metric: string, labels: Record<string, string>, from: number, value: Sample | ((k: number) => number), to = SAMPLES * STEP): this {
    const k = key(metric, { job: labels.instance ? this.node(labels.instance).job : JOB, ...labels });
    const s = this.series.get(k) ?? Array<Sample>(SAMPLES).fill("_");
    for (let j = Math.ceil(from / STEP); j < SAMPLES && j * STEP < to; j++) s[j] = typeof value === "function" ? value(j) : value;
    this.series.set(k, s);
    return this;
  }

  /** The series disappears from scrapes at `from` (staleness marker) and comes back at `until` with `back`. */
  drop(metric: string, labels: Record<string, string>, from: number, until?: number, back?: number): this {
    this.set(metric, labels, from, "_", until);
    this.set(metric, labels, from, "stale", from + STEP);
    if (until !== undefined && back !== undefined) this.set(metric, labels, until, back);
    return this;
  }

  /** Redis stops answering while its exporter runs: only redis_up (0) and the scrape error remain. */
  redisDown(instance: string, from: number, until?: number): this {
    this.node(instance);
    for (const k of [...this.series.keys()]) {
      if (!k.includes(`instance="${instance}"`)) continue;
      const metric = k.slice(0, k.indexOf("{"));
      if (metric === "up" || metric === "redis_up") continue;
      // When Redis comes back its series return with the value they had before.
      const back = until === undefined ? undefined : (this.series.get(k)![Math.ceil(until / STEP)] as number);
      this.dropKey(k, from, until, back);
    }
    this.set("redis_up", { instance }, from, 0, until);
    this.set("redis_exporter_last_scrape_error", { instance, err: "dial tcp: connection refused" }, from, 1, until);
    if (until !== undefined) this.drop("redis_exporter_last_scrape_error", { instance, err: "dial tcp: connection refused" }, until);
    return this;
  }

  private dropKey(k: string, from: number, until?: number, back?: number) {
    const s = this.series.get(k)!;
    for (let j = Math.ceil(from / STEP); j < SAMPLES && (until === undefined || j * STEP < until); j++) s[j] = "_";
    const j0 = Math.ceil(from / STEP);
    if (j0 < SAMPLES) s[j0] = "stale";
    if (until !== undefined && back !== undefined) for (let j = Math.ceil(until / STEP); j < SAMPLES; j++) s[j] = back;
  }

  /** The whole scrape target fails (frozen node, dead exporter): up 0, every redis_* series missing. */
  scrapeFails(instance: string, from: number): this {
    for (const k of [...this.series.keys()]) {
      if (k.includes(`instance="${instance}"`) && !k.startsWith("up{")) this.dropKey(k, from);
    }
    return this.set("up", { instance }, from, 0);
  }

  /** Target removed from service discovery: every series of the instance, `up` included, goes away. */
  targetGone(instance: string, from: number): this {
    for (const k of [...this.series.keys()]) if (k.includes(`instance="${instance}"`)) this.dropKey(k, from);
    return this;
  }

  /** Expect exactly these firing alerts (none when `firing` is empty) for `alert` at time `at` seconds.
   *  A per-node alert names its `instance` (its job follows); a cluster-wide one may name its `job` (default JOB). */
  expect(at: number, alert: AlertName, firing: { instance?: string; job?: string; value?: number }[] = []): this {
    this.expects.push({
      at,
      alert,
      firing: firing.map((f) => ({
        labels: (f.instance
          ? { job: f.job ?? this.node(f.instance).job, instance: f.instance }
          : { job: f.job ?? JOB }) as Record<string, string>,
        value: f.value,
      })),
    });
    return this;
  }

  /** Expect no alert of any kind (of those the rule file holds) at these times. */
  quiet(...times: number[]): this {
    this.quietTimes.push(...times);
    return this;
  }
}

/** Go's %v for the float values used here (integers and short decimals); refuses anything it would print differently. */
function goFloat(v: number): string {
  const s = String(v);
  if (/e/.test(s) || Math.abs(v) >= 1e21 || (v !== 0 && Math.abs(v) < 1e-4) || (Number.isInteger(v) && Math.abs(v) >= 1e6)) {
    throw new Error(`goFloat: pick a test value that prints the same in Go and JS, not ${v}`);
  }
  return s;
}

function expand(template: string, labels: Record<string, string>, value: number | undefined): string {
  return template.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_m, expr: string) => {
    const lab = /^\$labels\.(\w+)$/.exec(expr);
    if (lab) return labels[lab[1]] ?? "";
    if (value === undefined) throw new Error(`template needs $value: ${template}`);
    if (expr === "$value") return goFloat(value);
    if (expr === "$value | humanizePercentage") return `${Number((value * 100).toPrecision(4))}%`;
    throw new Error(`unsupported template expression ${expr}`);
  });
}

export function fmtTime(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

/** Alerting rules of a rule file by name (recording rules have no `alert`). */
export function alertsByName(rules: RuleFile): Map<AlertName, AlertRuleBase> {
  return new Map(
    rules.groups.flatMap((g) => g.rules).flatMap((r) => ("alert" in r ? [[r.alert, r] as [AlertName, AlertRuleBase]] : [])),
  );
}

/** A promtool alert_rule_test entry: `rule` firing exactly with these labels (added to the rule's own) at `at` s. */
export function alertRuleTest(rule: AlertRuleBase, at: number, firing: { labels: Record<string, string>; value?: number }[]) {
  return {
    eval_time: fmtTime(at),
    alertname: rule.alert,
    exp_alerts: firing.map((f) => ({
      exp_labels: { ...rule.labels, ...f.labels },
      exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, t]) => [k, expand(t, f.labels, f.value)])),
    })),
  };
}

/**
 * The promtool unit-test file for `rules` (rendered for this test's topology), naming the rule file(s) by path. Several
 * rule files = several clusters' rules in one Prometheus; their annotations are the same, the job comes from the expectation.
 */
export function renderPromtoolTests(rules: RuleFile, ruleFile: string | string[], scenarios: Scenario[]): string {
  const byName = alertsByName(rules);
  const tests = scenarios.map((sc) => ({
    name: sc.name,
    interval: `${STEP}s`,
    input_series: [...sc.series.entries()].map(([series, values]) => ({ series, values: values.join(" ") })),
    alert_rule_test: [
      ...sc.quietTimes.flatMap((at) => [...byName.keys()].map((alert) => ({ at, alert, firing: [] }) as Expect)),
      ...sc.expects,
    ].map((e) => {
      const rule = byName.get(e.alert);
      if (!rule) throw new Error(`no rule ${e.alert}`);
      return alertRuleTest(rule, e.at, e.firing);
    }),
  }));
  return stringify({ rule_files: Array.isArray(ruleFile) ? ruleFile : [ruleFile], evaluation_interval: `${STEP}s`, tests }, { lineWidth: 0 });
}
