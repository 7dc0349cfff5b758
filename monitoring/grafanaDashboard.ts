// Loads and validates monitoring/dashboard.json (the Grafana dashboard shipped to the Kubernetes dashboard sidecar and
// the Docker dev setup). Structural checks only; the PromQL is checked by promtool in the tests.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

export const DASHBOARD_PATH = join(__dirname, "dashboard.json");

const target = z.object({ expr: z.string().min(1), refId: z.string().min(1), datasource: z.object({ uid: z.literal("${datasource}") }).passthrough() }).passthrough();
const gridPos = z.object({ x: z.int().min(0).max(23), y: z.int().min(0), w: z.int().min(1).max(24), h: z.int().min(1) });
const panel = z.discriminatedUnion("type", [
  z.object({ type: z.literal("row"), id: z.int(), title: z.string().min(1), gridPos }).passthrough(),
  z.object({ type: z.enum(["stat", "timeseries", "gauge", "table"]), id: z.int(), title: z.string().min(1), gridPos, targets: z.array(target).min(1) }).passthrough(),
]);
const dashboardSchema = z
  .object({
    uid: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/),
    title: z.string().min(1),
    schemaVersion: z.int().min(30),
    templating: z.object({ list: z.array(z.object({ name: z.string(), type: z.string() }).passthrough()) }),
    panels: z.array(panel).min(1),
  })
  .passthrough()
  .superRefine((d, ctx) => {
    const ids = d.panels.map((p) => p.id);
    if (new Set(ids).size !== ids.length) ctx.addIssue({ code: "custom", message: "panel ids must be unique" });
    const vars = new Set(d.templating.list.map((v) => v.name));
    for (const v of ["datasource", "job", "backup_cluster"]) if (!vars.has(v)) ctx.addIssue({ code: "custom", message: `missing template variable $${v}` });
    for (const p of d.panels) {
      if (p.gridPos.x + p.gridPos.w > 24) ctx.addIssue({ code: "custom", message: `panel ${p.id} is wider than the grid` });
    }
  });
export type Dashboard = z.infer<typeof dashboardSchema>;

export function validateDashboard(json: unknown): Dashboard {
  const r = dashboardSchema.safeParse(json);
  if (!r.success) throw new Error(`invalid Grafana dashboard: ${z.prettifyError(r.error)}`);
  return r.data;
}

export function loadDashboard(path = DASHBOARD_PATH): Dashboard {
  return validateDashboard(JSON.parse(readFileSync(path, "utf8")));
}

/**
 * The dashboard as the JSON text Grafana imports. Each option sets the default of a variable: `job` of $job (the rules'
 * job label), `canaryJob` of $canary_job and `latencyThresholdSeconds` of $canary_le (the rules' canary options),
 * `backupCluster` of $backup_cluster (the backup rules' cluster; by default the job, as in the rules).
 */
export function dashboardJson(
  opts: { job?: string; canaryJob?: string; latencyThresholdSeconds?: number; backupCluster?: string; path?: string } = {},
): string {
  const d = loadDashboard(opts.path);
  const defaults: Record<string, string | undefined> = {
    job: opts.job,
    canary_job: opts.canaryJob,
    canary_le: opts.latencyThresholdSeconds === undefined ? undefined : String(opts.latencyThresholdSeconds),
    backup_cluster: opts.backupCluster ?? opts.job,
  };
  for (const v of d.templating.list) {
    const value = defaults[v.name];
    if (value) Object.assign(v, { query: value, current: { text: value, value } });
  }
  return JSON.stringify(d, null, 2);
}

/** Every PromQL expression of the dashboard, with Grafana variables replaced so promtool can parse them. */
export function dashboardExpressions(d: Dashboard, job = "redis", canaryJob = "redis-canary", latencyThreshold = "0.1", backupCluster = job): string[] {
  return d.panels.flatMap((p) => ("targets" in p ? (p.targets as { expr: string }[]) : [])).map((t) =>
    t.expr
      .replaceAll("$backup_cluster", backupCluster)
      .replaceAll("$canary_job", canaryJob)
      .replaceAll("$canary_le", latencyThreshold)
      .replaceAll("$job", job)
      .replaceAll("$__rate_interval", "1m"),
  );
}
