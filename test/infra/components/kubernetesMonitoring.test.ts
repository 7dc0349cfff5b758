// KubernetesMonitoring under Pulumi mocks: metrics Service, ServiceMonitor, PrometheusRule (same rules as rules:print),
// dashboard ConfigMap; every object validates against the Kubernetes / prometheus-operator schemas; the sidecar is hardened.
import { test } from "node:test";
import assert from "node:assert/strict";
import { installMocks, valueOf, type RecordedResource } from "../../helpers/pulumiMocks";
import { renderAlertRules } from "../../../monitoring/rules";
import { validateDashboard } from "../../../monitoring/grafanaDashboard";
// require-compatible v4 packages (v5 is ESM-only).
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { Pod } from "kubernetes-models/v1/Pod";
import { Service } from "kubernetes-models/v1/Service";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";

const mocks = installMocks({ config: {} });
const selector = { "app.kubernetes.io/name": "redis-cluster", "app.kubernetes.io/instance": "prod" };

async function build(name: string, extra: Record<string, unknown> = {}): Promise<RecordedResource[]> {
  const { KubernetesMonitoring } = await import("../../../infra/components/kubernetesMonitoring");
  const before = mocks.resources.length;
  const c = await mocks.run(async () =>
    new KubernetesMonitoring(name, {
      namespace: "redis",
      selector,
      labels: { "app.kubernetes.io/part-of": "redis-cluster" },
      job: "redis-cluster-prod",
      masters: 3,
      replicasPerMaster: 1,
      prometheusSelectorLabels: { release: "kube-prometheus-stack" },
      ...extra,
    }),
  );
  await valueOf(c.urn as never);
  await valueOf(c.dashboardConfigMapName as never);
  for (let i = 0, n = -1; i < 50 && n !== mocks.resources.length; i++) {
    n = mocks.resources.length;
    await new Promise((r) => setTimeout(r, 20));
  }
  return mocks.resources.slice(before);
}

const objectOf = (r: RecordedResource) => r.inputs as Record<string, any>;

test("metrics Service, ServiceMonitor, PrometheusRule and dashboard ConfigMap; all schema-valid", async () => {
  const rs = await build("mon");
  const byType = (t: string) => rs.filter((r) => r.type === t);
  assert.equal(byType("redis-cluster:monitoring:KubernetesMonitoring").length, 1);
  const [svc] = byType("kubernetes:core/v1:Service");
  const [sm] = byType("kubernetes:monitoring.coreos.com/v1:ServiceMonitor");
  const [pr] = byType("kubernetes:monitoring.coreos.com/v1:PrometheusRule");
  const [cm] = byType("kubernetes:core/v1:ConfigMap");
  for (const r of [svc, sm, pr, cm]) assert.ok(r, "object present");

  new Service(objectOf(svc) as never).validate();
  new ServiceMonitor(objectOf(sm) as never).validate();
  new PrometheusRule(objectOf(pr) as never).validate();
  new ConfigMap(objectOf(cm) as never).validate();

  // Service selects the Redis pods and exposes the sidecar's named port, not-ready pods included.
  assert.deepEqual(svc.inputs.spec.selector, selector);
  assert.equal(svc.inputs.spec.ports[0].targetPort, "metrics");
  assert.equal(svc.inputs.spec.publishNotReadyAddresses, true);
  // ServiceMonitor selects that Service, sets the job the rules filter on.
  assert.deepEqual(sm.inputs.spec.selector.matchLabels, svc.inputs.metadata.labels);
  assert.equal(sm.inputs.metadata.labels.release, "kube-prometheus-stack");
  // One job per cluster: the ServiceMonitor's job, the rules' job and the dashboard default are the same.
  assert.ok(sm.inputs.spec.endpoints[0].relabelings.some((r: any) => r.targetLabel === "job" && r.replacement === "redis-cluster-prod"));
  // PrometheusRule carries exactly the rendered rules.
  assert.deepEqual(pr.inputs.spec, JSON.parse(JSON.stringify(renderAlertRules({ masters: 3, replicasPerMaster: 1, job: "redis-cluster-prod" }))));
  for (const r of pr.inputs.spec.groups[0].rules) assert.ok(!r.expr.includes('job="redis"'), `${r.alert} counts only its own job`);
  const dash = JSON.parse(cm.inputs.data["redis-cluster.json"]);
  assert.equal(dash.templating.list.find((v: { name: string }) => v.name === "job").query, "redis-cluster-prod");
  // Dashboard for the Grafana sidecar.
  assert.equal(cm.inputs.metadata.labels.grafana_dashboard, "1");
  validateDashboard(JSON.parse(cm.inputs.data["redis-cluster.json"]));
});

test("prometheusOperator: false skips the CRD objects", async () => {
  const rs = await build("nocrd", { prometheusOperator: false, job: "redis-prod", names: { metricsService: "redis-metrics" } });
  const dash = JSON.parse(rs.find((r) => r.type === "kubernetes:core/v1:ConfigMap")!.inputs.data["redis-cluster.json"]);
  assert.equal(dash.templating.list.find((v: { name: string }) => v.name === "job").query, "redis-prod", "dashboard defaults to the job");
  assert.equal(rs.filter((r) => r.type.includes("monitoring.coreos.com")).length, 0);
  assert.equal(rs.filter((r) => r.type === "kubernetes:core/v1:Service").length, 1);
  assert.equal(rs.find((r) => r.type === "kubernetes:core/v1:Service")!.inputs.metadata.name, "redis-metrics");
  assert.equal(rs.filter((r) => r.type === "kubernetes:core/v1:ConfigMap").length, 1);
});

test("exporterSidecar: hardened container, password from a Secret via env, valid in a Pod", async () => {
  const { exporterSidecar, EXPORTER_SIDECAR_IMAGE } = await import("../../../infra/components/kubernetesMonitoring");
  const c = exporterSidecar({ image: EXPORTER_SIDECAR_IMAGE, passwordSecretName: "redis-auth", passwordSecretKey: "pw", redisPort: 6379, metricsPort: 9121 });
  new Pod({ metadata: { name: "redis-0" }, spec: { containers: [{ name: "redis", image: "redis:7.2" }, c as never] } }).validate();
  const sc = c.securityContext as Record<string, any>;
  assert.equal(sc.runAsNonRoot, true);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.deepEqual(sc.capabilities.drop, ["ALL"]);
  assert.equal(c.args, undefined);
  assert.equal(c.command, undefined);
  const env = c.env as { name: string; value?: string; valueFrom?: any }[];
  assert.deepEqual(env.find((e) => e.name === "REDIS_PASSWORD")!.valueFrom, { secretKeyRef: { name: "redis-auth", key: "pw" } });
  assert.equal(env.find((e) => e.name === "REDIS_ADDR")!.value, "redis://127.0.0.1:6379");
  assert.deepEqual(c.ports, [{ name: "metrics", containerPort: 9121, protocol: "TCP" }]);
  assert.match(String(c.image), /:v\d+\.\d+\.\d+$/);
  const noAuth = exporterSidecar({ image: "x:1", redisPort: 7000, metricsPort: 9200 });
  assert.ok(!(noAuth.env as { name: string }[]).some((e) => e.name === "REDIS_PASSWORD"));
});

test("a job the rules cannot quote is refused at construction", async () => {
  const { KubernetesMonitoring } = await import("../../../infra/components/kubernetesMonitoring");
  assert.throws(
    () => new KubernetesMonitoring("badjob", { namespace: "redis", selector, job: 'a"b', masters: 3, replicasPerMaster: 1 }),
    /job/,
  );
});
