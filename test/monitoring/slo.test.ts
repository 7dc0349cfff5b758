// The canary's SLO rules (monitoring/slo.ts): options, rendering, and `promtool test rules` on synthetic canary series for
// every burn-rate alert (fires when it should, quiet at half the burn and at a trickle of traffic, resolves), lost writes
// and the canary down. Expected times are worked out by hand from the thresholds, never from slo.ts's constants.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { ALERT_NAMES, REDIS_ALERT_NAMES, renderAlertRules, renderAlertRulesYaml, type AlertName } from "../../monitoring/rules";
import { CANARY_ALERT_NAMES, minRequests } from "../../monitoring/slo";
import { githubAnchors } from "../docs/markdown";
import { CanaryScenario, THRESHOLD, type Sli, type Traffic } from "./canary-cases";
import { alertsByName } from "./promtool-cases";
import { promtoolWorkspace } from "./promtoolWorkspace";

const OBJECTIVE = 0.999; // error budget 0.001: burn B = B * 0.1 % bad requests
const CANARY = { objective: OBJECTIVE, latencyThresholdSeconds: THRESHOLD };
const R = 120; // set|get requests per minute per shard: the canary's default 1 s interval
const ws = promtoolWorkspace("redis-slo-", 300_000);
const promtool = (args: string[]) => ws.run(args);

test("without the canary option no canary rule is rendered; with it, one SLO group after the Redis alerts", () => {
  const plain = renderAlertRules({ masters: 3, replicasPerMaster: 1 });
  assert.equal(plain.groups.length, 1);
  assert.ok(!renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1 }).includes("redis_canary"));
  const f = renderAlertRules({ masters: 3, replicasPerMaster: 1, job: "redis-cluster-prod", interval: "1s", canary: CANARY });
  assert.equal(f.groups.length, 2);
  assert.equal(f.groups[1].name, "redis-canary-slo");
  assert.equal(f.groups[1].interval, "1s");
  const alerts = f.groups.flatMap((g) => g.rules).flatMap((r) => ("alert" in r ? [r] : []));
  assert.deepEqual(
    alerts.map((r) => r.alert),
    [...REDIS_ALERT_NAMES, ...CANARY_ALERT_NAMES],
  );
  assert.deepEqual(ALERT_NAMES.slice(0, alerts.length), [...REDIS_ALERT_NAMES, ...CANARY_ALERT_NAMES]);
  const severity = Object.fromEntries(alerts.map((r) => [r.alert, r.labels.severity]));
  for (const [a, s] of Object.entries({
    RedisCanaryAvailabilityBurnFast: "page",
    RedisCanaryLatencyBurnFast: "page",
    RedisCanaryAckedWriteLost: "page",
    RedisCanaryAvailabilityBurnSlow: "ticket",
    RedisCanaryLatencyBurnSlow: "ticket",
    RedisCanaryDown: "ticket",
  })) {
    assert.equal(severity[a], s, a);
  }
  const canary = alerts.filter((r) => (CANARY_ALERT_NAMES as readonly string[]).includes(r.alert));
  for (const r of canary) {
    assert.equal(r.labels.job, "redis-cluster-prod", `${r.alert} names the cluster`);
    assert.match(r.expr, /job="redis-canary"/, `${r.alert} reads the canary's job`);
  }
  // Every runbook link lands on a section of docs/runbooks.md.
  const anchors = githubAnchors(readFileSync(resolve(__dirname, "../../docs/runbooks.md"), "utf8"));
  for (const r of canary) assert.ok(anchors.has(new URL(r.annotations.runbook_url).hash.slice(1)), `${r.alert} has a runbook section`);
  // A canary job of its own is used everywhere.
  const own = renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1, canary: { ...CANARY, job: "canary-prod" } });
  assert.ok(own.includes('job="canary-prod"') && !own.includes('job="redis-canary"'));
});

test("options: the threshold must be a canary bucket, the objective a ratio; integer buckets match both le spellings", () => {
  assert.throws(() => renderAlertRules({ masters: 3, replicasPerMaster: 1, canary: { ...CANARY, latencyThresholdSeconds: 0.2 } }), /bucket/);
  assert.throws(() => renderAlertRules({ masters: 3, replicasPerMaster: 1, canary: { ...CANARY, objective: 1 } }), /objective/);
  assert.throws(() => renderAlertRules({ masters: 3, replicasPerMaster: 1, canary: { ...CANARY, job: "a b" } }), /job/);
  assert.match(renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1, canary: { ...CANARY, latencyThresholdSeconds: 1 } }), /le=~"1\|1\.0"/);
  assert.match(renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1, canary: CANARY }), /le="0\.1"/);
});

test("low-traffic guard: the long window must hold enough requests for 10 failures at the alert's threshold", () => {
  // 10 / (burn * 0.001), rounded up.
  assert.deepEqual(
    [
      [14.4, 695],
      [6, 1667],
      [3, 3334],
      [1, 10000],
    ].map(([burn]) => [burn, minRequests(burn, OBJECTIVE)]),
    [
      [14.4, 695],
      [6, 1667],
      [3, 3334],
      [1, 10000],
    ],
  );
  assert.equal(minRequests(14.4, 0.99, 5), 35);
  const fast = renderAlertRules({ masters: 3, replicasPerMaster: 1, canary: CANARY })
    .groups[1].rules.flatMap((r) => ("alert" in r && r.alert === "RedisCanaryAvailabilityBurnFast" ? [r.expr] : []))[0];
  assert.match(fast, /\[1h\]\)\) >= 695\)/);
  assert.match(fast, /\[6h\]\)\) >= 1667\)/);
  assert.match(renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1, canary: { ...CANARY, minFailedRequests: 1 } }), /\[1h\]\)\) >= 70\)/);
});

test("the rule file with canary SLOs passes promtool check rules", () => {
  const file = join(ws.dir, "check.yml");
  writeFileSync(file, renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1, canary: CANARY }));
  const c = promtool(["check", "rules", file]);
  assert.equal(c.status, 0, c.out);
  // 15 Redis alerts + 6 canary alerts + 7 windows x 2 SLIs + 2 objectives.
  assert.match(c.out, /SUCCESS: 37 rules found/);
});

// ---- promtool unit tests ---------------------------------------------------------------------------------------------
const fast = (s: Sli): AlertName => (s === "availability" ? "RedisCanaryAvailabilityBurnFast" : "RedisCanaryLatencyBurnFast");
const slow = (s: Sli): AlertName => (s === "availability" ? "RedisCanaryAvailabilityBurnSlow" : "RedisCanaryLatencyBurnSlow");
const other = (s: Sli): Sli => (s === "availability" ? "latency" : "availability");
/** Burn B on shard traffic of `rate` requests per minute, between minutes `from` (exclusive) and `to` (inclusive). */
const burn = (b: number, from: number, to = Infinity, rate = R): Traffic => (m) => ({
  requests: rate,
  bad: m > from && m <= to ? (rate * b * (1 - OBJECTIVE)) : 0,
});
const healthy: Traffic = () => ({ requests: R, bad: 0 });
const shards = (f: string[]) => f.map((shard) => ({ shard }));

/** Page alerts: 1-minute samples and evaluations. Healthy traffic until T0 (2 h). */
function pageScenarios(sli: Sli): CanaryScenario[] {
  const T0 = 120;
  const F = fast(sli);
  return [
    // Shard 0 at 16x for 2 h: its 1h ratio is 1.6 % * k/60 after k minutes, above 14.4 x 0.1 % once k > 54. Then it stops
    // (minute 240): the 5m window is clean after 5 min, but the 6h ratio stays above 6x, and so does the 30m window's
    // 1.6 % * (270 - t)/30 until minute 258.75.
    // Shard 1 at 8x: never 14.4x; its 6h ratio 0.8 % * k/360 passes 6 x 0.1 % once k > 270.
    new CanaryScenario("thresholds: 16x pages after 54 min and resolves 19 min after it stops; 8x pages after 270 min", sli, 60, T0 + 280)
      .shard("0", burn(16, T0, T0 + 120))
      .shard("1", burn(8, T0))
      .shard("2", healthy)
      .expect(T0 + 53, F)
      .expect(T0 + 56, F, shards(["0"]))
      .expect(T0 + 56, fast(other(sli)))
      .expect(T0 + 135, F, shards(["0"]))
      .expect(T0 + 141, F)
      .expect(T0 + 268, F)
      .expect(T0 + 273, F, shards(["1"]))
      .expect(T0 + 273, fast(other(sli))),
    // DEBUG SLEEP on a master: every request of its shard fails or is slow. Pages within 2 min; resolves once the 30m
    // window no longer holds the 10 bad minutes. A 2-minute freeze of shard 2 after 6 h healthy pages through 1h/5m only
    // (its 6h ratio, 2/360, stays under 6 x 0.1 %), so it resolves as soon as its 5m window is clean.
    new CanaryScenario("frozen shard for 10 min: pages within 2 min, resolves 30 min after; a 2-min freeze, 5 min after", sli, 60, 410)
      .shard("0", healthy)
      .shard("1", burn(1000, 360, 370))
      .shard("2", burn(1000, 360, 362))
      .expect(360, F)
      .expect(362, F, shards(["1", "2"]))
      .expect(368, F, shards(["1"]))
      .expect(395, F, shards(["1"]))
      .expect(401, F),
    // Half of each page threshold, and a trickle: one request every 2 min, three of them bad within 5 min (a 10 % 1h ratio
    // without the guard, which asks for 695 requests in 1 h and 1667 in 6 h).
    new CanaryScenario("quiet: 7.2x for 90 min, 3x for 5 h, a trickle with three failures", sli, 60, T0 + 300)
      .shard("0", burn(7.2, T0, T0 + 90))
      .shard("1", burn(3, T0))
      .shard("2", (m) => ({ requests: m % 2 === 0 ? 1 : 0, bad: [T0 + 30, T0 + 32, T0 + 34].includes(m) ? 1 : 0 }))
      .expect(T0 + 35, F)
      .expect(T0 + 60, F)
      .expect(T0 + 90, F)
      .expect(T0 + 300, F),
  ];
}

/** Ticket alerts: 10-minute samples and evaluations. */
function ticketScenarios(sli: Sli): CanaryScenario[] {
  const D = 1440;
  const S = slow(sli);
  return [
    // Shard 0 at 1.5x after 1 d healthy: over all data (under 3 d) its ratio is 1.5x * k/(1440 + k), above 1x once
    // k > 2880 (then the 3d window is full: 1.5x * k/4320). It stops at k = 3000 (minute 4440): its 6h window's ratio,
    // 1.5x * (4800 - t)/360, is 1x at minute 4560, 2 h later.
    // Shard 1 runs at 10x the traffic for 2 d, then at the normal rate with 4x: its 1d ratio 4x * k/(k + 10 (1440 - k))
    // passes 3x once k > 1393.5 while its 3d ratio stays far below 1x (the 1d condition alone).
    new CanaryScenario("thresholds: 1.5x tickets after 48 h and resolves 2 h after it stops; 4x after 23.2 h", sli, 600, D + 3200)
      .shard("0", burn(1.5, D, D + 3000))
      .shard("1", (m) => (m <= 2 * D ? { requests: 10 * R, bad: 0 } : burn(4, 2 * D)(m)))
      .shard("2", healthy)
      .expect(2 * D + 1380, S)
      .expect(2 * D + 1420, S, shards(["1"]))
      .expect(D + 2940, S, shards(["0", "1"]))
      .expect(D + 2940, slow(other(sli)))
      .expect(D + 3100, S, shards(["0", "1"]))
      .expect(D + 3140, S, shards(["1"])),
    // Half the 3d threshold for 3 days, and a trickle (one request every 10 min, 144 a day) with three failures within
    // 1 h: a 2 % 1d ratio without the guard (3334 requests in 1 d, 10000 in 3 d).
    new CanaryScenario("quiet: 0.5x for 3 days, a trickle with three failures", sli, 600, 3 * D + 60)
      .shard("0", burn(0.5, 0))
      .shard("1", (m) => ({ requests: 0.1, bad: [3 * D - 60, 3 * D - 40, 3 * D - 20].includes(m) ? 0.1 : 0 }))
      .shard("2", healthy)
      .expect(D, S)
      .expect(2 * D, S)
      .expect(3 * D, S)
      .expect(3 * D + 60, S),
  ];
}

function lostAndDown(): CanaryScenario {
  return (
    new CanaryScenario("lost writes and canary down", "availability", 60, 90)
      .shard("0", healthy)
      .shard("1", healthy)
      .shard("2", healthy)
      .lost("0", (m) => (m < 21 ? 0 : 1))
      // A counter first exported at 2: increase() alone never sees it.
      .lost("2", () => 2, 40)
      .up((m) => (m < 60 ? 1 : m < 70 ? 0 : m < 80 ? 1 : "gone"))
      .expect(20, "RedisCanaryAckedWriteLost")
      .expect(21, "RedisCanaryAckedWriteLost", shards(["0"]))
      .expect(25, "RedisCanaryAckedWriteLost", shards(["0"]))
      .expect(27, "RedisCanaryAckedWriteLost")
      .expect(30, "RedisCanaryDown")
      .expect(30, "RedisCanaryAvailabilityBurnFast")
      .expect(30, "RedisCanaryAvailabilityBurnSlow")
      .expect(30, "RedisCanaryLatencyBurnFast")
      .expect(30, "RedisCanaryLatencyBurnSlow")
      .expect(40, "RedisCanaryAckedWriteLost", shards(["2"]))
      .expect(44, "RedisCanaryAckedWriteLost", shards(["2"]))
      .expect(46, "RedisCanaryAckedWriteLost")
      .expect(61, "RedisCanaryDown")
      .expect(63, "RedisCanaryDown", [{ instance: "canary:9122" }])
      .expect(71, "RedisCanaryDown")
      .expect(81, "RedisCanaryDown")
      .expect(83, "RedisCanaryDown", [{}])
  );
}

function runPromtool(name: string, evaluationInterval: string, scenarios: CanaryScenario[]): void {
  const rulesFile = `${name}-rules.yml`;
  writeFileSync(join(ws.dir, rulesFile), renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1, canary: CANARY }));
  const byName = alertsByName(renderAlertRules({ masters: 3, replicasPerMaster: 1, canary: CANARY }));
  const file = join(ws.dir, `${name}-tests.yml`);
  writeFileSync(
    file,
    stringify({ rule_files: [rulesFile], evaluation_interval: evaluationInterval, tests: scenarios.map((s) => s.render(byName)) }, { lineWidth: 0 }),
  );
  const started = Date.now();
  const r = promtool(["test", "rules", file]);
  console.log(`promtool test rules ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // The first failures are enough, and a report of many failures stalls the test runner's reporting.
  assert.equal(r.status, 0, r.out.length > 6000 ? `${r.out.slice(0, 6000)}\n[... ${r.out.length - 6000} more characters]` : r.out);
  assert.match(r.out, /SUCCESS/);
}

test("promtool: page alerts (both SLIs) fire, stay quiet at half burn and at a trickle, resolve; lost writes; canary down", () => {
  runPromtool("page", "1m", [...pageScenarios("availability"), ...pageScenarios("latency"), lostAndDown()]);
});

test("promtool: ticket alerts (both SLIs) fire on each condition, stay quiet at half burn and at a trickle, resolve", () => {
  runPromtool("ticket", "10m", [...ticketScenarios("availability"), ...ticketScenarios("latency")]);
});
