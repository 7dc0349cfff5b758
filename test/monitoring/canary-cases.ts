// Builds `promtool test rules` groups for the canary's SLO rules: synthetic canary series (requests by shard/op/result,
// the latency histogram, lost writes, `up`) from per-shard traffic, and the canary alerts expected at given times.
import type { AlertName, AlertRuleBase } from "../../monitoring/rules";
import { alertRuleTest } from "./promtool-cases";

export const CANARY_JOB = "redis-canary";
const INSTANCE = "canary:9122";
/** The latency threshold the tests render the rules with; a bucket below it holds half the requests. */
export const THRESHOLD = 0.1;

export type Sli = "availability" | "latency";
/** set|get requests per minute, and how many of them are bad (failed, or slower than THRESHOLD). */
export interface Step {
  requests: number;
  bad: number;
}
export type Traffic = (minute: number) => Step;

interface Expect {
  at: number; // seconds
  alert: AlertName;
  firing: Record<string, string>[];
}

/** One promtool test group. `step` seconds between samples; times given in minutes. */
export class CanaryScenario {
  private readonly series = new Map<string, (number | "_" | "stale")[]>();
  private readonly expects: Expect[] = [];
  constructor(
    readonly name: string,
    readonly sli: Sli,
    readonly step: number,
    readonly minutes: number,
  ) {
    this.put("up", { instance: INSTANCE }, () => 1);
  }

  get samples(): number {
    return Math.floor((this.minutes * 60) / this.step) + 1;
  }

  private put(metric: string, labels: Record<string, string>, value: (j: number) => number | "_" | "stale"): void {
    const all: Record<string, string> = { job: CANARY_JOB, ...labels };
    const key = `${metric}{${Object.keys(all)
      .sort()
      .map((k) => `${k}="${all[k]}"`)
      .join(",")}}`;
    this.series.set(key, Array.from({ length: this.samples }, (_, j) => value(j)));
  }

  /** Cumulative counter from per-minute rates (the sample at minute m counts the step that ends at m at m's rate). */
  private counter(metric: string, labels: Record<string, string>, perMinute: (minute: number) => number): void {
    let sum = 0;
    const values = Array.from({ length: this.samples }, (_, j) => (j === 0 ? 0 : (sum += (perMinute((j * this.step) / 60) * this.step) / 60)));
    this.put(metric, labels, (j) => Number(values[j].toFixed(6)));
  }

  /** A shard's canary traffic: half SET, half GET; bad ones fail (availability) or are slow (latency). Also replica reads,
   *  half failed and all slow: outside both SLIs, so they must not count. */
  shard(shard: string, traffic: Traffic): this {
    const l = { instance: INSTANCE, shard };
    const half = (f: (s: Step) => number) => (m: number) => f(traffic(m)) / 2;
    const failed = this.sli === "availability" ? half((s) => s.bad) : () => 0;
    const slow = this.sli === "latency" ? half((s) => s.bad) : () => 0;
    for (const op of ["set", "get"]) {
      this.counter("redis_canary_requests_total", { ...l, op, result: "ok" }, (m) => half((s) => s.requests)(m) - failed(m));
      this.counter("redis_canary_request_duration_seconds_count", { ...l, op }, half((s) => s.requests));
      this.counter("redis_canary_request_duration_seconds_bucket", { ...l, op, le: "+Inf" }, half((s) => s.requests));
      this.counter("redis_canary_request_duration_seconds_bucket", { ...l, op, le: String(THRESHOLD) }, (m) => half((s) => s.requests)(m) - slow(m));
      this.counter("redis_canary_request_duration_seconds_bucket", { ...l, op, le: "0.05" }, half((s) => s.requests / 2));
    }
    // Failure series exist only on a shard that fails at all (prom-client exports a labeled counter once it is used).
    if (this.sli === "availability" && Array.from({ length: this.samples }, (_, j) => failed((j * this.step) / 60)).some((v) => v > 0)) {
      this.counter("redis_canary_requests_total", { ...l, op: "set", result: "error" }, failed);
      this.counter("redis_canary_requests_total", { ...l, op: "get", result: "timeout" }, failed);
    }
    this.counter("redis_canary_requests_total", { ...l, op: "replica_read", result: "ok" }, half((s) => s.requests));
    this.counter("redis_canary_requests_total", { ...l, op: "replica_read", result: "error" }, half((s) => s.requests));
    this.counter("redis_canary_request_duration_seconds_count", { ...l, op: "replica_read" }, (m) => traffic(m).requests);
    this.counter("redis_canary_request_duration_seconds_bucket", { ...l, op: "replica_read", le: "+Inf" }, (m) => traffic(m).requests);
    this.counter("redis_canary_request_duration_seconds_bucket", { ...l, op: "replica_read", le: String(THRESHOLD) }, () => 0);
    return this;
  }

  /** redis_canary_acked_writes_lost_total of a shard: absent before `from` minute (when given), then these values. */
  lost(shard: string, value: (minute: number) => number, from?: number): this {
    this.put("redis_canary_acked_writes_lost_total", { instance: INSTANCE, shard }, (j) =>
      from !== undefined && (j * this.step) / 60 < from ? "_" : value((j * this.step) / 60),
    );
    return this;
  }

  /** The canary's scrape: `up` by minute, "gone" = the target left discovery (staleness marker, then nothing). */
  up(value: (minute: number) => 0 | 1 | "gone"): this {
    let gone = false;
    this.put("up", { instance: INSTANCE }, (j) => {
      const v = value((j * this.step) / 60);
      if (v !== "gone") return v;
      if (gone) return "_";
      gone = true;
      return "stale";
    });
    return this;
  }

  /** Exactly these alerts (labels beyond the rule's, e.g. { shard: "1" }) at `minute`; none when `firing` is empty. */
  expect(minute: number, alert: AlertName, firing: Record<string, string>[] = []): this {
    this.expects.push({ at: minute * 60, alert, firing });
    return this;
  }

  /** The promtool test group; `rules` holds the rendered alerting rules by name. */
  render(rules: Map<AlertName, AlertRuleBase>) {
    return {
      name: `${this.sli}: ${this.name}`,
      interval: `${this.step}s`,
      input_series: [...this.series].map(([series, values]) => ({ series, values: values.join(" ") })),
      alert_rule_test: this.expects.map((e) => {
        const rule = rules.get(e.alert);
        if (!rule) throw new Error(`no rule ${e.alert}`);
        return alertRuleTest(rule, e.at, e.firing.map((labels) => ({ labels })));
      }),
    };
  }
}
