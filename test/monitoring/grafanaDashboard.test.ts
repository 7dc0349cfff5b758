// The Grafana dashboard: loads, validates, and every panel query is PromQL that promtool accepts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { dashboardExpressions, dashboardJson, loadDashboard, validateDashboard } from "../../monitoring/grafanaDashboard";
import { BACKUP_METRICS, DRILL_METRICS } from "../../monitoring/backupMetrics";
import { renderAlertRules } from "../../monitoring/rules";

test("dashboard.json loads and covers cluster state, slots, masters/replicas, memory, ops and link status", () => {
  const d = loadDashboard();
  assert.equal(d.uid, "redis-cluster");
  const exprs = dashboardExpressions(d).join("\n");
  for (const metric of [
    "redis_cluster_state",
    "redis_cluster_slots_ok",
    "redis_cluster_slots_fail",
    'role="master"',
    'role="slave"',
    "redis_connected_slaves",
    "redis_master_link_up",
    "redis_memory_used_bytes",
    "redis_commands_processed_total",
  ]) {
    assert.ok(exprs.includes(metric), metric);
  }
  // The memory ratio must never divide by maxmemory 0.
  assert.ok(exprs.includes("(redis_memory_max_bytes{job=\"redis\"} > 0)"));
});

test("the canary SLO panels read only series the SLO rules record, and follow the canary options", () => {
  const d = loadDashboard();
  const exprs = dashboardExpressions(d, "redis", "canary-x", "0.25").join("\n");
  const recorded = new Set(
    renderAlertRules({ masters: 3, replicasPerMaster: 1, canary: { objective: 0.999, latencyThresholdSeconds: 0.25 } })
      .groups.flatMap((g) => g.rules)
      .flatMap((r) => ("record" in r ? [r.record] : [])),
  );
  const used = new Set([...exprs.matchAll(/redis_canary:[a-z_]+:[a-z_0-9]+/g)].map((m) => m[0]));
  for (const name of ["redis_canary:sli_errors:ratio_rate5m", "redis_canary:latency_miss:ratio_rate5m", "redis_canary:objective:ratio"]) {
    assert.ok(used.has(name), `a panel shows ${name}`);
  }
  for (const name of used) assert.ok(recorded.has(name), `${name} is recorded by the rules`);
  assert.ok(!exprs.includes("$canary") && exprs.includes('job="canary-x"') && exprs.includes("le=~\"0.25(\\\\.0)?\""));
  const titles = d.panels.map((p) => p.title).join("\n");
  assert.match(titles, /Availability SLI/);
  assert.match(titles, /Latency SLI/);
  assert.match(titles, /Error budget left over 30 days, per shard/);
  const vars = (JSON.parse(dashboardJson({ job: "j", canaryJob: "c", latencyThresholdSeconds: 0.5 })) as ReturnType<typeof loadDashboard>).templating.list;
  assert.deepEqual(
    Object.fromEntries(vars.map((v) => [v.name, (v as unknown as { query: string }).query])),
    { datasource: "prometheus", job: "j", canary_job: "c", canary_le: "0.5", backup_cluster: "j" },
  );
});

test("the backup panels read only the metrics the jobs push, for the backup rules' cluster", () => {
  const d = loadDashboard();
  const exprs = dashboardExpressions(d, "redis-cluster-prod", "redis-canary", "0.1", "prod-eu").join("\n");
  const contract = new Set<string>([...Object.values(BACKUP_METRICS), ...Object.values(DRILL_METRICS)]);
  const used = new Set([...exprs.matchAll(/redis_(?:backup|restore_drill)_[a-z_]+/g)].map((m) => m[0]));
  for (const m of used) assert.ok(contract.has(m), `${m} is in the push contract`);
  for (const m of [
    BACKUP_METRICS.lastSuccessTimestamp,
    BACKUP_METRICS.lastRunSuccess,
    BACKUP_METRICS.durationSeconds,
    BACKUP_METRICS.bytes,
    BACKUP_METRICS.writePauseSeconds,
    DRILL_METRICS.lastSuccessTimestamp,
    DRILL_METRICS.lastRunSuccess,
  ]) {
    assert.ok(used.has(m), `a panel shows ${m}`);
  }
  for (const e of exprs.split("\n").filter((x) => /redis_(backup|restore_drill)_/.test(x))) assert.match(e, /\{cluster="prod-eu"\}/);
  const vars = (JSON.parse(dashboardJson({ job: "j", backupCluster: "b" })) as ReturnType<typeof loadDashboard>).templating.list;
  assert.equal((vars.find((v) => v.name === "backup_cluster") as unknown as { query: string }).query, "b");
});

test("every dashboard query parses (promtool check rules)", (t) => {
  if (spawnSync("promtool", ["--version"]).error) assert.fail("promtool not found: install with: npm run setup:system");
  const dir = mkdtempSync(join(tmpdir(), "redis-dash-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rules = dashboardExpressions(loadDashboard()).map((expr, i) => ({ record: `dashboard:query_${i}`, expr }));
  writeFileSync(join(dir, "dash.yml"), stringify({ groups: [{ name: "dashboard", rules }] }));
  const r = spawnSync("promtool", ["check", "rules", join(dir, "dash.yml")], { encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
});

test("the validator rejects broken dashboards", () => {
  const good = loadDashboard();
  const dupIds = { ...good, panels: [good.panels[1], good.panels[1]] };
  assert.throws(() => validateDashboard(dupIds), /unique/);
  const noExpr = structuredClone(good) as unknown as { panels: { targets?: { expr?: string }[] }[] };
  delete noExpr.panels[1].targets![0].expr;
  assert.throws(() => validateDashboard(noExpr), /expr/);
  assert.throws(() => validateDashboard({ ...good, templating: { list: [] } }), /datasource/);
});
