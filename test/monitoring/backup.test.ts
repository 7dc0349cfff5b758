// The backup and restore-drill alerts (monitoring/backup.ts): options, the push contract (backupMetrics.ts), rendering, and `promtool test
// rules` on synthetic Pushgateway series: each alert fires when it should, stays quiet when it should, and resolves.
// Expected minutes are worked out by hand from the ages below, never from backup.ts's constants.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { BACKUP_ALERT_NAMES, type BackupAlertName } from "../../monitoring/backup";
import { BACKUP_METRICS, DRILL_METRICS, METRIC_HELP, backupPushSamples, drillPushSamples } from "../../monitoring/backupMetrics";
import { ALERT_NAMES, renderAlertRules, renderAlertRulesYaml, type AlertRuleOptions } from "../../monitoring/rules";
import { githubAnchors } from "../docs/markdown";
import { alertRuleTest } from "./promtool-cases";
import { promtoolWorkspace } from "./promtoolWorkspace";

const JOB = "redis-cluster-prod";
const OTHER = "redis-cluster-staging";
const HOUR = 3600;
/** Backups may be 1 h old, drills 2 h: minutes-scale scenarios. */
const OPTS: AlertRuleOptions = { masters: 3, replicasPerMaster: 1, job: JOB, backup: { maxAgeSeconds: HOUR, drillMaxAgeSeconds: 2 * HOUR } };
const ws = promtoolWorkspace("redis-backup-rules-", 120_000);
const promtool = (args: string[]) => ws.run(args);
/** Keeps an assertion message short: a huge promtool report stalls the test runner's reporting. */
const short = (s: string) => (s.length > 4000 ? `${s.slice(0, 4000)}\n[... ${s.length - 4000} more characters]` : s);

const alertRules = (opts: AlertRuleOptions) =>
  renderAlertRules(opts)
    .groups.flatMap((g) => g.rules)
    .flatMap((r) => ("alert" in r ? [r] : []));

test("without the backup option no backup rule; with it, a group after the others, every alert named, severities", () => {
  assert.ok(!renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1 }).includes("redis_backup"));
  const f = renderAlertRules({ ...OPTS, interval: "1s", canary: { objective: 0.999, latencyThresholdSeconds: 0.1 } });
  assert.deepEqual(
    f.groups.map((g) => g.name),
    ["redis-cluster", "redis-canary-slo", "redis-backup"],
  );
  assert.equal(f.groups[2].interval, "1s");
  const alerts = f.groups.flatMap((g) => g.rules).flatMap((r) => ("alert" in r ? [r] : []));
  assert.deepEqual([...new Set(alerts.map((r) => r.alert))], [...ALERT_NAMES]);
  const backup = alerts.filter((r) => (BACKUP_ALERT_NAMES as readonly string[]).includes(r.alert));
  assert.deepEqual(
    backup.map((r) => [r.alert, r.labels.severity, r.for ?? "", r.labels.cause ?? ""]),
    [
      ["RedisBackupTooOld", "critical", "", "too-old"],
      ["RedisBackupTooOld", "critical", "1h", "none-pushed"],
      ["RedisBackupFailed", "warning", "", ""],
      ["RedisRestoreDrillFailed", "critical", "", ""],
      ["RedisRestoreDrillStale", "warning", "", "too-old"],
      ["RedisRestoreDrillStale", "warning", "2h", "none-pushed"],
    ],
  );
  const anchors = githubAnchors(readFileSync(resolve(__dirname, "../../docs/runbooks.md"), "utf8"));
  for (const r of backup) {
    assert.equal(r.labels.job, JOB, `${r.alert} names the cluster's job`);
    assert.match(r.expr, new RegExp(`cluster="${JOB}"`), `${r.alert} reads the cluster's pushed series`);
    assert.ok(!/rdb_last_save/.test(r.expr), `${r.alert} reads only what the jobs push`);
    assert.ok(anchors.has(new URL(r.annotations.runbook_url).hash.slice(1)), `${r.alert} has a runbook section`);
  }
  // Defaults: a daily schedule plus 2 h; the cluster label can differ from the job.
  const yaml = renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1, job: JOB, backup: { cluster: "prod-eu" } });
  assert.match(yaml, /^# Generated .*backup alerts \(cluster "prod-eu", backup max age 26h, drill max age 26h\)/);
  assert.ok(yaml.includes('time() - max by (cluster) (redis_backup_last_success_timestamp_seconds{cluster="prod-eu"}) > 93600'));
  assert.ok(yaml.includes("for: 26h") && !yaml.includes(`cluster="${JOB}"`));
});

test("options: bad ages and cluster names are refused naming the setting", () => {
  const bad: [AlertRuleOptions["backup"], RegExp][] = [
    [{ maxAgeSeconds: 30 }, /at least 60[\s\S]*backup\.maxAgeSeconds/],
    [{ drillMaxAgeSeconds: 1.5 * 60 + 0.5 }, /backup\.drillMaxAgeSeconds/],
    [{ cluster: 'a"b' }, /no quotes[\s\S]*backup\.cluster/],
  ];
  for (const [backup, msg] of bad) assert.throws(() => renderAlertRules({ masters: 3, replicasPerMaster: 1, backup }), msg);
});

test("push contract: a failed run keeps the last success time (pushes none), every pushed and read metric has HELP", () => {
  const endedAt = new Date(1_800_000_000_000);
  const ok = backupPushSamples({ success: true, endedAt, durationSeconds: 12.5, bytes: 1000, keys: 10, writePauseSeconds: 0.02 });
  assert.deepEqual(ok, {
    [BACKUP_METRICS.lastRunTimestamp]: 1_800_000_000,
    [BACKUP_METRICS.lastRunSuccess]: 1,
    [BACKUP_METRICS.durationSeconds]: 12.5,
    [BACKUP_METRICS.lastSuccessTimestamp]: 1_800_000_000,
    [BACKUP_METRICS.bytes]: 1000,
    [BACKUP_METRICS.keys]: 10,
    [BACKUP_METRICS.writePauseSeconds]: 0.02,
  });
  const failed = backupPushSamples({ success: false, endedAt, durationSeconds: 3, bytes: 5 });
  assert.deepEqual(Object.keys(failed).sort(), [BACKUP_METRICS.durationSeconds, BACKUP_METRICS.lastRunSuccess, BACKUP_METRICS.lastRunTimestamp].sort());
  assert.equal(failed[BACKUP_METRICS.lastRunSuccess], 0);
  assert.deepEqual(Object.keys(drillPushSamples({ success: false, endedAt, durationSeconds: 3, keysChecked: 4 })).sort(), [
    DRILL_METRICS.durationSeconds,
    DRILL_METRICS.lastRunSuccess,
    DRILL_METRICS.lastRunTimestamp,
  ]);
  assert.equal(drillPushSamples({ success: true, endedAt, durationSeconds: 3, keysChecked: 4 })[DRILL_METRICS.keysChecked], 4);
  const contract = [...Object.values(BACKUP_METRICS), ...Object.values(DRILL_METRICS)];
  assert.deepEqual(Object.keys(METRIC_HELP).sort(), [...contract].sort());
  const read = alertRules(OPTS).flatMap((r) => [...r.expr.matchAll(/redis_(?:backup|restore_drill)_[a-z_]+/g)].map((m) => m[0]));
  assert.ok(read.length > 0);
  for (const m of read) assert.ok(contract.includes(m as (typeof contract)[number]), `${m} is in the push contract`);
});

test("the rule file with backup alerts passes promtool check rules", () => {
  writeFileSync(join(ws.dir, "check.yml"), renderAlertRulesYaml(OPTS));
  const c = promtool(["check", "rules", join(ws.dir, "check.yml")]);
  assert.equal(c.status, 0, short(c.out));
  // 15 Redis alerts + 6 backup entries (two for each age alert).
  assert.match(c.out, /SUCCESS: 21 rules found/);
});

// ---- promtool unit tests: one sample a minute, times in minutes ------------------------------------------------------
type Sample = number | "_" | "stale";
/** The two entries of the age alerts: the last success too old, or none pushed. */
type Cause = "too-old" | "none-pushed" | "";
/** The rendered rule entry of an alert with that `cause` label (none: "" ). */
function entry(alert: BackupAlertName, cause: Cause) {
  const r = alertRules(OPTS).find((x) => x.alert === alert && (x.labels.cause ?? "") === cause) ?? alertRules(OPTS).find((x) => x.alert === alert);
  if (!r) throw new Error(`no rule ${alert}`);
  return r;
}
/** What the Pushgateway exposes for a group, by minute: the last pushed value, "_" before the first push. */
type Pushed = (minute: number) => Sample;

class Scenario {
  private readonly series: { series: string; values: string }[] = [];
  private readonly expects: { at: number; alert: BackupAlertName; firing: Cause | false }[] = [];
  constructor(
    readonly name: string,
    readonly minutes: number,
  ) {}

  /** A gauge as scraped from the Pushgateway (labels the push and the scrape add: job, instance). */
  gauge(metric: string, pushed: Pushed, cluster = JOB, instance = "pushgateway:9091"): this {
    const job = metric.startsWith("redis_backup_") ? "redis-backup" : "redis-restore-drill";
    const values = Array.from({ length: this.minutes + 1 }, (_, m) => pushed(m));
    this.series.push({ series: `${metric}{cluster="${cluster}",instance="${instance}",job="${job}"}`, values: values.join(" ") });
    return this;
  }

  /** Runs ending at these minutes (success or not): the gauges a job pushes with POST, as backupPushSamples says. */
  runs(kind: "backup" | "drill", results: [minute: number, success: boolean][], cluster = JOB): this {
    const m = kind === "backup" ? BACKUP_METRICS : DRILL_METRICS;
    const lastAt = (minute: number, ok?: boolean) => results.filter(([at, s]) => at <= minute && (ok === undefined || s === ok)).at(-1);
    this.gauge(m.lastRunTimestamp, (t) => lastAt(t)?.[0] !== undefined ? lastAt(t)![0] * 60 : "_", cluster);
    this.gauge(m.lastRunSuccess, (t) => (lastAt(t) ? (lastAt(t)![1] ? 1 : 0) : "_"), cluster);
    this.gauge(m.lastSuccessTimestamp, (t) => (lastAt(t, true) ? lastAt(t, true)![0] * 60 : "_"), cluster);
    return this;
  }

  /** `alert` firing for our cluster at `minute` from the entry with that cause ("" for the one-entry alerts), or quiet. */
  expect(minute: number, alert: BackupAlertName, firing: Cause | false): this {
    this.expects.push({ at: minute * 60, alert, firing });
    return this;
  }

  render() {
    return {
      name: this.name,
      interval: "1m",
      input_series: this.series,
      alert_rule_test: this.expects.map((e) =>
        e.firing === false ? alertRuleTest(entry(e.alert, ""), e.at, []) : alertRuleTest(entry(e.alert, e.firing), e.at, [{ labels: { cluster: JOB } }]),
      ),
    };
  }
}

const every = (from: number, to: number, step: number, success: boolean): [number, boolean][] =>
  Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => [from + i * step, success]);

function scenarios(): Scenario[] {
  const drillsOk = every(5, 300, 30, true);
  return [
    // Good backups at 10, 40, 70; failures at 100, 130, 160; good again at 190. Age of the last good one (minute 70)
    // passes 1 h after minute 130.
    new Scenario("backups fail for 90 min: Failed at once, TooOld past 1 h, both resolve with a good backup", 200)
      .runs("backup", [...every(10, 70, 30, true), ...every(100, 160, 30, false), [190, true]])
      .runs("drill", drillsOk)
      .expect(9, "RedisBackupTooOld", false)
      .expect(70, "RedisBackupTooOld", false)
      .expect(99, "RedisBackupFailed", false)
      .expect(100, "RedisBackupFailed", "")
      .expect(130, "RedisBackupTooOld", false)
      .expect(131, "RedisBackupTooOld", "too-old")
      .expect(189, "RedisBackupTooOld", "too-old")
      .expect(189, "RedisBackupFailed", "")
      .expect(190, "RedisBackupTooOld", false)
      .expect(190, "RedisBackupFailed", false)
      .expect(200, "RedisRestoreDrillFailed", false)
      .expect(200, "RedisRestoreDrillStale", false),
    // Nothing pushed at all (the CronJob never ran, or the Pushgateway lost its groups): TooOld after the full hour
    // from the first evaluation, Stale after two. A cluster whose runs only ever fail: Failed at once, TooOld after 1 h.
    new Scenario("never pushed: TooOld after 1 h, DrillStale after 2 h", 130)
      .expect(59, "RedisBackupTooOld", false)
      .expect(60, "RedisBackupTooOld", "none-pushed")
      .expect(60, "RedisBackupFailed", false)
      .expect(119, "RedisRestoreDrillStale", false)
      .expect(120, "RedisRestoreDrillStale", "none-pushed")
      .expect(120, "RedisRestoreDrillFailed", false),
    // A good backup at minute 0, then nothing. The Pushgateway moves (a new pod scraped beside the old one from minute
    // 80, the old one gone at 85): the same pushed value under two scrape addresses is still one alert.
    new Scenario("the Pushgateway's scrape address changes while TooOld fires: one alert throughout", 100)
      .gauge(BACKUP_METRICS.lastSuccessTimestamp, (m) => (m < 85 ? 0 : m === 85 ? "stale" : "_"), JOB, "pushgateway-a:9091")
      .gauge(BACKUP_METRICS.lastSuccessTimestamp, (m) => (m >= 80 ? 0 : "_"), JOB, "pushgateway-b:9091")
      .runs("drill", drillsOk)
      .expect(60, "RedisBackupTooOld", false)
      .expect(61, "RedisBackupTooOld", "too-old")
      .expect(82, "RedisBackupTooOld", "too-old")
      .expect(100, "RedisBackupTooOld", "too-old"),
    new Scenario("a backup that never succeeded: Failed at once, TooOld after 1 h", 70)
      .runs("backup", every(5, 65, 10, false))
      .runs("drill", drillsOk)
      .expect(4, "RedisBackupFailed", false)
      .expect(5, "RedisBackupFailed", "")
      .expect(59, "RedisBackupTooOld", false)
      .expect(60, "RedisBackupTooOld", "none-pushed"),
    // Drills at 20 (good), 50 (fails), 80 (good), then none (the drill's CronJob suspended): Failed from 50 to 80,
    // Stale once the drill at 80 is 2 h old (past minute 200). Another cluster's failing backups and drills on the same
    // Pushgateway alert nothing here.
    new Scenario("drill: Failed until the next good drill, Stale past 2 h, another cluster's failures ignored", 210)
      .runs("backup", every(0, 210, 30, true))
      .runs("drill", [
        [20, true],
        [50, false],
        [80, true],
      ])
      .runs("backup", every(0, 210, 30, false), OTHER)
      .runs("drill", every(0, 210, 30, false), OTHER)
      .expect(49, "RedisRestoreDrillFailed", false)
      .expect(50, "RedisRestoreDrillFailed", "")
      .expect(79, "RedisRestoreDrillFailed", "")
      .expect(80, "RedisRestoreDrillFailed", false)
      .expect(140, "RedisRestoreDrillStale", false)
      .expect(200, "RedisRestoreDrillStale", false)
      .expect(201, "RedisRestoreDrillStale", "too-old")
      .expect(201, "RedisBackupFailed", false)
      .expect(201, "RedisBackupTooOld", false),
  ];
}

test("promtool: each backup and drill alert fires when it should, stays quiet when it should, resolves", () => {
  writeFileSync(join(ws.dir, "rules.yml"), renderAlertRulesYaml(OPTS));
  const list = scenarios();
  for (const name of BACKUP_ALERT_NAMES) {
    const rendered = list.flatMap((s) => s.render().alert_rule_test).filter((t) => t.alertname === name);
    assert.ok(rendered.some((t) => t.exp_alerts.length > 0) && rendered.some((t) => t.exp_alerts.length === 0), `${name}: a firing and a quiet case`);
  }
  const file = join(ws.dir, "tests.yml");
  writeFileSync(file, stringify({ rule_files: ["rules.yml"], evaluation_interval: "1m", tests: list.map((s) => s.render()) }, { lineWidth: 0 }));
  const r = promtool(["test", "rules", file]);
  assert.equal(r.status, 0, short(r.out));
  assert.match(r.out, /SUCCESS/);
});
