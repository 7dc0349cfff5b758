// The prod stack with canary.enabled through the test engine, as `pulumi up -s prod` runs it: a one-replica
// Deployment of the canary's bundle after the smoke test, seeded through the client Service, as its own ACL
// user with a password from that user's Secret (never on argv), TLS like every client, admitted by the NetworkPolicy's
// client label; a PodMonitor with the canary's job; its SLO rules in the cluster's PrometheusRule.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { runProgram, type RunResult } from "../../testbed/engine/engine";
import { unwrapSecrets } from "../../testbed/engine/values";
import { readStackFile } from "../helpers/stackConfig";

const k8sConfig = readStackFile("prod")["redis-cluster:kubernetes"] as Record<string, unknown>;
let up: RunResult;
let off: RunResult;

before(async () => {
  const config = { password: { secret: "prodPassword-0123456789abc" }, "redis-cluster:kubernetes": { ...k8sConfig, context: "prod" }, "redis-cluster:canary": { enabled: true, objective: 0.995, latencyThresholdMs: 250 } };
  [up, off] = await Promise.all([runProgram({ stack: "prod", mode: "up", config }), runProgram({ stack: "prod", mode: "preview" })]);
  assert.equal(up.exitCode, 0, up.errors.join("\n"));
});

test("canary: a restricted one-replica Deployment after the cluster, through the client Service, as user canary, TLS on", () => {
  const d = up.resources.find((r) => r.type === "kubernetes:apps/v1:Deployment");
  assert.ok(d, up.resources.map((r) => r.type).join());
  const spec = unwrapSecrets<any>(d.inputs).spec;
  assert.equal(spec.replicas, 1);
  const pod = spec.template.spec;
  const c = pod.containers[0];
  const argv = (c.args as string[]).join(" ");
  assert.match(argv, /--nodes redis-cluster-prod\.[a-z0-9-]+\.svc\.cluster\.local:6379 /);
  assert.match(argv, /--password-env REDIS_CANARY_PASSWORD .*--user canary/);
  assert.ok(!argv.includes("prodPassword"), "no password on argv");
  const pw = c.env.find((e: any) => e.name === "REDIS_CANARY_PASSWORD");
  assert.match(pw.valueFrom.secretKeyRef.name, /user-canary|canary/, JSON.stringify(pw));
  assert.ok(c.env.some((e: any) => e.name === "REDIS_TLS_CA_FILE"), "TLS like every client");
  assert.equal(spec.template.metadata.labels["redis-cluster-client"], "true", "the NetworkPolicy's client label");
  assert.deepEqual(c.ports, [{ name: "metrics", containerPort: 9122 }]);
  assert.equal(c.readinessProbe.httpGet.path, "/healthz");
  assert.equal(c.livenessProbe, undefined, "an outage of the cluster must not restart the canary");
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  // After the smoke test (itself after the cluster's last step): the deploy's failover drill spends no error budget.
  const deps = d.options.dependsOn.join(" ");
  assert.match(deps, /Job::redis-cluster-prod-smoke-job( |$)/, deps);
});

test("canary: a PodMonitor with its own job; SLO rules for that job in the cluster's PrometheusRule; nothing without canary.enabled", () => {
  const pm = up.resources.find((r) => r.type === "kubernetes:monitoring.coreos.com/v1:PodMonitor");
  assert.ok(pm);
  assert.equal(pm.inputs.spec.podMetricsEndpoints[0].relabelings[0].replacement, "redis-cluster-prod-canary");
  const rule = up.resources.find((r) => r.type === "kubernetes:monitoring.coreos.com/v1:PrometheusRule")!;
  const text = JSON.stringify(rule.inputs.spec);
  assert.match(text, /redis-canary-slo/);
  assert.match(text, /job=\\"redis-cluster-prod-canary\\"/);
  assert.match(text, /le=\\"0\.25\\"/, "the configured latency threshold");
  assert.ok(!off.resources.some((r) => r.type === "kubernetes:apps/v1:Deployment" || r.type.endsWith(":PodMonitor")), "no canary by default");
  assert.doesNotMatch(JSON.stringify(off.resources.find((r) => r.type.endsWith(":PrometheusRule"))?.inputs ?? {}), /canary/);
});

test("canary: a NetworkPolicy admits its port to the namespace's client-labelled pods (the smoke Job) and the monitoring namespace only", () => {
  const np = up.resources.find((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" && r.name.endsWith("canary-netpol"));
  assert.ok(np, up.resources.filter((r) => r.type.endsWith("NetworkPolicy")).map((r) => r.name).join(", "));
  const spec = np.inputs.spec;
  assert.equal(spec.podSelector.matchLabels["app.kubernetes.io/component"], "canary");
  assert.deepEqual(spec.policyTypes, ["Ingress"]);
  assert.deepEqual(spec.ingress.map((i: { from: unknown[] }) => i.from[0]), [
    { podSelector: { matchLabels: { "redis-cluster-client": "true" } } },
    { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
  ]);
  assert.ok(spec.ingress.every((i: { ports: { port: number }[] }) => i.ports.length === 1 && i.ports[0].port === 9122));
});
