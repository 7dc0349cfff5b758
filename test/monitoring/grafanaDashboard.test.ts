// The Grafana dashboard: loads, validates, and every panel query is PromQL that promtool accepts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { dashboardExpressions, loadDashboard, validateDashboard } from "../../monitoring/grafanaDashboard";

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
