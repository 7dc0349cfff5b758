// prometheus.yml rendering: per-node and multi-target layouts pass `promtool check config`, nodes become `instance`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderPrometheusConfig, renderPrometheusConfigYaml } from "../../monitoring/prometheus";
import { renderAlertRulesYaml } from "../../monitoring/rules";

function checkConfig(yml: string): void {
  if (spawnSync("promtool", ["--version"]).error) assert.fail("promtool not found: install with: npm run setup:system");
  const dir = mkdtempSync(join(tmpdir(), "redis-promcfg-"));
  try {
    writeFileSync(join(dir, "rules.yml"), renderAlertRulesYaml({ masters: 3, replicasPerMaster: 1 }));
    writeFileSync(join(dir, "prometheus.yml"), yml.replaceAll("RULES_DIR", dir));
    const r = spawnSync("promtool", ["check", "config", join(dir, "prometheus.yml")], { encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(`${r.stdout}${r.stderr}`, /SUCCESS/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const nodes = ["redis-0:6379", "redis-1:6379", "redis-2:6379"];

test("per-node: one target per exporter, the Redis node is the instance label; promtool accepts it", () => {
  const opts = {
    exporters: { mode: "per-node" as const, targets: nodes.map((n, i) => ({ exporter: `exporter-${i}:9121`, node: n })) },
    ruleFiles: ["RULES_DIR/rules.yml"],
    scrapeInterval: "10s",
    scrapeTimeout: "5s",
  };
  const cfg = renderPrometheusConfig(opts) as { scrape_configs: { job_name: string; static_configs: unknown[] }[]; global: Record<string, string> };
  assert.equal(cfg.scrape_configs[0].job_name, "redis");
  assert.deepEqual(cfg.scrape_configs[0].static_configs[1], { targets: ["exporter-1:9121"], labels: { instance: "redis-1:6379" } });
  assert.equal(cfg.global.evaluation_interval, "10s");
  checkConfig(renderPrometheusConfigYaml(opts));
});

test("multi-target: one exporter scraped via /scrape?target=; promtool accepts it", () => {
  const opts = { exporters: { mode: "multi-target" as const, exporter: "exporter:9121", nodes }, ruleFiles: ["RULES_DIR/rules.yml"], job: "redis-cluster" };
  const yml = renderPrometheusConfigYaml(opts);
  assert.match(yml, /metrics_path: \/scrape/);
  assert.match(yml, /redis:\/\/redis-2:6379/);
  assert.match(yml, /__param_target/);
  checkConfig(yml);
});

test("bad addresses and empty node lists are refused", () => {
  assert.throws(() => renderPrometheusConfig({ exporters: { mode: "per-node", targets: [{ exporter: "x", node: "redis-0:6379" }] } }), /host:port/);
  assert.throws(() => renderPrometheusConfig({ exporters: { mode: "multi-target", exporter: "e:9121", nodes: [] } }), /no Redis nodes/);
});
