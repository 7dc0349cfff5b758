// RedisKubernetesCluster under Pulumi mocks with the prod stack config: every object of the topology, key fields,
// every Kubernetes object validated offline against the Kubernetes (and prometheus-operator) OpenAPI schemas with
// kubernetes-models, and no password outside the Secret.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, valueOf, isSecretInput, plainStrings, type RecordedResource } from "../../helpers/pulumiMocks";
import { engineConfig, rawProjectConfig } from "../../helpers/stackConfig";
import { validateConfig, type ClusterSpec } from "../../../infra/config/schema";
import { planCluster } from "../../../infra/plan/plan";
import { scriptFiles, scriptPaths, sourcedFiles } from "../../../infra/plan/scripts";
// require-compatible v4 packages (v5 is ESM-only).
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Job } from "kubernetes-models/batch/v1/Job";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const PASSWORD = "prodPassword-0123456789abcdef";
const GENERATED = "generatedPassword0123456789abcdef"; // what the mock RandomPassword returns
const mocks = installMocks({ config: engineConfig("prod"), stack: "prod" });
// The same mocks, plus Pulumi's auto-naming: a Kubernetes object without metadata.name gets "<pulumi name>-<suffix>".
// The suffix derives from the inputs here, so a changed ConfigMap/Secret gets a new name, as its replacement would.
pulumi.runtime.setMocks(
  {
    newResource(args) {
      mocks.resources.push({ type: args.type, name: args.name, inputs: args.inputs });
      const state: Record<string, any> = { ...args.inputs };
      if (args.type === "random:index/randomPassword:RandomPassword") state.result = "generatedPassword0123456789abcdef";
      if (args.type.startsWith("kubernetes:") && args.inputs.metadata && !args.inputs.metadata.name) {
        const suffix = createHash("sha256").update(JSON.stringify(args.inputs)).digest("hex").slice(0, 8);
        state.metadata = { ...args.inputs.metadata, name: `${args.name}-${suffix}` };
      }
      return { id: `${args.name}-id`, state };
    },
    call(args) {
      return args.inputs;
    },
  },
  "redis-cluster",
  "prod",
  false,
);

const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  "kubernetes:core/v1:Namespace": Namespace,
  "kubernetes:core/v1:Secret": Secret,
  "kubernetes:core/v1:ConfigMap": ConfigMap,
  "kubernetes:core/v1:Service": Service,
  "kubernetes:core/v1:ServiceAccount": ServiceAccount,
  "kubernetes:apps/v1:StatefulSet": StatefulSet,
  "kubernetes:batch/v1:Job": Job,
  "kubernetes:policy/v1:PodDisruptionBudget": PodDisruptionBudget,
  "kubernetes:networking.k8s.io/v1:NetworkPolicy": NetworkPolicy,
  "kubernetes:monitoring.coreos.com/v1:PrometheusRule": PrometheusRule,
  "kubernetes:monitoring.coreos.com/v1:ServiceMonitor": ServiceMonitor,
};

function prodSpec(overrides: (raw: Record<string, any>) => void = () => {}): ClusterSpec {
  const raw = structuredClone(rawProjectConfig("prod")) as Record<string, any>;
  // The single-password wiring (acl.enabled false); ACL users (the prod default) are checked in
  // test/infra/index.acl.test.ts (engine) and test/infra/components/aclUsers.test.ts.
  raw["acl"] = { enabled: false };
  overrides(raw);
  return validateConfig(raw, { name: "redis-cluster-prod" });
}

interface Built {
  rs: RecordedResource[];
  options: typeof mocks.options;
  component: import("../../../infra/components/kubernetesCluster").RedisKubernetesCluster;
  spec: ClusterSpec;
  parents: { type: string; name: string; parent?: string; ignoreChanges?: string[] }[];
}

async function build(name: string, spec: ClusterSpec, password?: string, plan = planCluster(spec)): Promise<Built> {
  const { RedisKubernetesCluster } = await import("../../../infra/components/kubernetesCluster");
  const before = mocks.resources.length;
  const optsBefore = mocks.options.length;
  const parents: Built["parents"] = [];
  const component = await mocks.run(async () => {
    // Records each resource's parent (the mock monitor does not see options).
    pulumi.runtime.registerStackTransformation((a) => {
      parents.push({ type: a.type, name: a.name, parent: (a.opts.parent as any)?.__name, ignoreChanges: a.opts.ignoreChanges });
      return undefined;
    });
    return new RedisKubernetesCluster(name, { spec, plan, password });
  });
  await valueOf(component.urn as never);
  await valueOf(component.bootstrapJobName as never);
  await valueOf(component.clientEndpoint as never);
  await valueOf(component.secretName as never);
  for (let i = 0, n = -1; i < 100 && n !== mocks.resources.length; i++) {
    n = mocks.resources.length;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { rs: mocks.resources.slice(before).filter((r) => r.type !== "pulumi:pulumi:Stack"), options: mocks.options.slice(optsBefore), component, spec, parents };
}

/** The object as the API server would get it: secrets unwrapped. */
function objectOf(r: RecordedResource): any {
  const unwrap = (v: any): any =>
    isSecretInput(v) ? unwrap(v.value) : Array.isArray(v) ? v.map(unwrap) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)])) : v;
  return unwrap(r.inputs);
}

const of = (b: Built, type: string) => b.rs.filter((r) => r.type === type);
/** The scale step's Jobs and bundles (infra/components/scaleStep.ts) are checked in their own tests. */
const isScaleStep = (r: { name: string }) => /-scale-(in|out)-job$|-scale-bundle$/.test(r.name);
const one = (b: Built, type: string) => {
  const list = of(b, type).filter((r) => !isScaleStep(r));
  assert.equal(list.length, 1, `exactly one ${type}`);
  return objectOf(list[0]);
};
const env = (c: any, name: string) => c.env.find((e: any) => e.name === name);

let prodBuild: Promise<Built> | undefined;
const prod = () => (prodBuild ??= build("prod", prodSpec(), PASSWORD));

test("Pulumi.prod.yaml validates: kubernetes, 3x1, node timeout 5000, AOF everysec, manual smoke failover", () => {
  const spec = prodSpec();
  assert.equal(spec.platform, "kubernetes");
  assert.equal(spec.masters, 3);
  assert.equal(spec.replicasPerMaster, 1);
  assert.equal(spec.nodeTimeoutMs, 5000);
  assert.equal(spec.appendonly, true);
  assert.equal(spec.appendfsync, "everysec");
  assert.ok(spec.maxmemoryBytes > 0);
  assert.equal(spec.smokeFailover, "manual");
  assert.equal(spec.kubernetes.protect, true);
  assert.ok(Object.keys(engineConfig("prod")).every((k) => k.startsWith("redis-cluster:")));
});

test("the prod graph: every object, once, parented to the component", async () => {
  const b = await prod();
  const count = (t: string) => of(b, t).length;
  assert.equal(count("redis-cluster:kubernetes:RedisKubernetesCluster"), 1);
  assert.equal(count("kubernetes:core/v1:Namespace"), 1);
  assert.equal(count("kubernetes:core/v1:Secret"), 3, "password + TLS Secrets of the node and client certificates (tls.enabled: the kubernetes default)");
  assert.equal(count("kubernetes:core/v1:ServiceAccount"), 1);
  assert.equal(count("kubernetes:core/v1:ConfigMap") - 1, 3, "pod files + bootstrap.sh + dashboard (+ the scale step's bundle)");
  // One bundle ConfigMap for both scale phases, mounted by both Jobs.
  const scaleJobs = of(b, "kubernetes:batch/v1:Job").filter(isScaleStep);
  assert.deepEqual(of(b, "kubernetes:core/v1:ConfigMap").filter((c) => /scale/.test(c.name)).map((c) => c.name), ["prod-scale-bundle"]);
  const mounted = scaleJobs.map((j) => objectOf(j).spec.template.spec.volumes.find((v: { name: string }) => v.name === "bundle").configMap.name);
  assert.equal(new Set(mounted).size, 1, JSON.stringify(mounted));
  assert.equal(count("kubernetes:core/v1:Service"), 3, "headless, client, metrics");
  assert.equal(count("kubernetes:apps/v1:StatefulSet"), 1);
  assert.equal(count("kubernetes:batch/v1:Job") - 2, 1, "bootstrap (+ the scale step's Jobs, in and out)");
  assert.deepEqual(of(b, "kubernetes:batch/v1:Job").filter(isScaleStep).map((r) => r.name).sort(), ["prod-scale-in-job", "prod-scale-out-job"]);
  assert.equal(count("kubernetes:policy/v1:PodDisruptionBudget"), 1);
  assert.equal(count("kubernetes:networking.k8s.io/v1:NetworkPolicy"), 1);
  assert.equal(count("kubernetes:monitoring.coreos.com/v1:ServiceMonitor"), 1);
  assert.equal(count("kubernetes:monitoring.coreos.com/v1:PrometheusRule"), 1);
  assert.equal(count("redis-cluster:monitoring:KubernetesMonitoring"), 1);
  // The scale plan is computed by the program (infra/plan/scaling.ts scalePreview): no dynamic provider host to start.
  assert.deepEqual(b.rs.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic")).map((r) => r.name), []);
  assert.equal(count("random:index/randomPassword:RandomPassword"), 0, "password given: nothing generated");
  const stray = b.rs.filter((r) => !r.name.startsWith("prod")).map((r) => `${r.type} ${r.name}`);
  assert.deepEqual(stray, [], "Pulumi names derive from the component name");
  // Children of the component (monitoring objects are children of the monitoring component inside it).
  const byName = new Map(b.parents.map((p) => [p.name, p.parent]));
  for (const r of b.rs.filter((x) => x.type !== "redis-cluster:kubernetes:RedisKubernetesCluster")) {
    let p = byName.get(r.name);
    while (p && p !== "prod") p = byName.get(p);
    assert.equal(p, "prod", `${r.type} ${r.name} is (a descendant of) the component`);
  }
});

test("every Kubernetes object validates against the OpenAPI schema (kubernetes-models)", async () => {
  const b = await prod();
  const k8sObjects = b.rs.filter((r) => r.type.startsWith("kubernetes:"));
  assert.ok(k8sObjects.length >= 13);
  for (const r of k8sObjects) {
    const Model = MODELS[r.type];
    assert.ok(Model, `a model for ${r.type}`);
    const obj = objectOf(r);
    assert.ok(obj.apiVersion && obj.kind, `${r.name} has apiVersion/kind`);
    assert.doesNotThrow(() => new Model(obj).validate(), `${r.type} ${r.name} is schema-valid`);
  }
  // The check is real: a wrong type is caught.
  const sts = one(b, "kubernetes:apps/v1:StatefulSet");
  assert.throws(() => new StatefulSet({ ...sts, spec: { ...sts.spec, replicas: "six" } }).validate());
});

test("recommended app.kubernetes.io labels on every object; the selector is immutable-safe (no version)", async () => {
  const b = await prod();
  for (const r of b.rs.filter((x) => x.type.startsWith("kubernetes:"))) {
    const l = objectOf(r).metadata?.labels ?? {};
    for (const key of ["name", "instance", "part-of", "managed-by", "component"]) {
      assert.ok(l[`app.kubernetes.io/${key}`], `${r.type} ${r.name} has app.kubernetes.io/${key}`);
    }
  }
  const sts = one(b, "kubernetes:apps/v1:StatefulSet");
  assert.deepEqual(Object.keys(sts.spec.selector.matchLabels).sort(), ["app.kubernetes.io/component", "app.kubernetes.io/instance", "app.kubernetes.io/name"]);
  assert.equal(sts.spec.template.metadata.labels["app.kubernetes.io/version"], "7.2.5");
  for (const [k, v] of Object.entries(sts.spec.selector.matchLabels)) assert.equal(sts.spec.template.metadata.labels[k], v);
});

test("namespace is created under the restricted Pod Security Standard; existing namespace: none created", async () => {
  const b = await prod();
  const ns = one(b, "kubernetes:core/v1:Namespace");
  assert.equal(ns.metadata.name, "redis");
  assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
  const existing = await build("existing", prodSpec((r) => (r["kubernetes"].createNamespace = false)), PASSWORD);
  assert.equal(of(existing, "kubernetes:core/v1:Namespace").length, 0);
  assert.equal(one(existing, "kubernetes:apps/v1:StatefulSet").metadata.namespace, "redis");
});

test("StatefulSet: 6 pods, Parallel, headless serviceName, volumes from config, PVCs retained", async () => {
  const b = await prod();
  const sts = one(b, "kubernetes:apps/v1:StatefulSet");
  const headless = of(b, "kubernetes:core/v1:Service").map(objectOf).find((s) => s.spec.clusterIP === "None" && s.spec.ports.some((p: any) => p.port === 16379));
  assert.equal(sts.metadata.name, "redis-cluster-prod");
  assert.equal(sts.metadata.namespace, "redis");
  assert.equal(sts.spec.replicas, 6);
  assert.equal(sts.spec.podManagementPolicy, "Parallel");
  assert.equal(sts.spec.serviceName, headless.metadata.name);
  assert.deepEqual(sts.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Retain", whenScaled: "Retain" });
  const [vct] = sts.spec.volumeClaimTemplates;
  assert.equal(vct.metadata.name, "data");
  assert.deepEqual(vct.spec.accessModes, ["ReadWriteOnce"]);
  assert.equal(vct.spec.resources.requests.storage, "20Gi");
  assert.equal(vct.spec.storageClassName, undefined, "no storageClass in prod config: the cluster default");
  const withClass = await build("sc", prodSpec((r) => (r["kubernetes"].storageClass = "fast-ssd")), PASSWORD);
  assert.equal(one(withClass, "kubernetes:apps/v1:StatefulSet").spec.volumeClaimTemplates[0].spec.storageClassName, "fast-ssd");
});

test("redis container: shared entrypoint, identity env, resources, probes, preStop", async () => {
  const b = await prod();
  const sts = one(b, "kubernetes:apps/v1:StatefulSet");
  const plan = planCluster(b.spec);
  const redis = sts.spec.template.spec.containers.find((c: any) => c.name === "redis");
  assert.deepEqual(redis.command, ["sh", "/etc/redis-cluster/entrypoint.sh"]);
  assert.equal(redis.image, "redis:7.2.5");
  assert.deepEqual(redis.ports.map((p: any) => [p.name, p.containerPort]), [["redis", 6379], ["bus", 16379]]);
  assert.deepEqual(redis.resources, { requests: { cpu: "500m", memory: "2Gi" }, limits: { memory: "2Gi" } });
  // Identity: pod IP announced; the stable name (into nodes.conf) expands to the plan's host of every ordinal.
  assert.deepEqual(env(redis, "POD_IP").valueFrom, { fieldRef: { fieldPath: "status.podIP" } });
  assert.deepEqual(env(redis, "POD_NAME").valueFrom, { fieldRef: { fieldPath: "metadata.name" } });
  assert.equal(env(redis, "REDIS_ANNOUNCE_IP").value, "$(POD_IP)");
  plan.nodes.forEach((n, i) => assert.equal(env(redis, "REDIS_ANNOUNCE_HOSTNAME").value.replace("$(POD_NAME)", `${sts.metadata.name}-${i}`), n.host));
  assert.equal(env(redis, "REDIS_ENTRYPOINT_HOOK").value, "/etc/redis-cluster/refresh-peers.sh");
  assert.equal(env(redis, "REDIS_PASSWORD_FILE").value, "/etc/redis-cluster-secret/password");
  assert.equal(env(redis, "REDIS_DATA_DIR").value, "/data");
  // Probes: exec the probe script; startup allows the hook's peer wait; liveness tolerates loading (script) for a minute.
  assert.deepEqual(redis.startupProbe.exec.command, ["sh", "/etc/redis-cluster/probe.sh", "alive"]);
  assert.deepEqual(redis.livenessProbe.exec.command, ["sh", "/etc/redis-cluster/probe.sh", "alive"]);
  assert.deepEqual(redis.readinessProbe.exec.command, ["sh", "/etc/redis-cluster/probe.sh", "ready"]);
  assert.ok(redis.startupProbe.periodSeconds * redis.startupProbe.failureThreshold >= b.spec.kubernetes.peerResolveTimeoutSeconds + 60);
  assert.ok(redis.livenessProbe.periodSeconds * redis.livenessProbe.failureThreshold >= 2 * b.spec.nodeTimeoutMs / 1000);
  assert.deepEqual(redis.lifecycle.preStop.exec.command, ["sh", "/etc/redis-cluster/prestop.sh"]);
  const prestop = Number(env(redis, "PRESTOP_TIMEOUT").value);
  assert.ok(prestop >= 2 * b.spec.nodeTimeoutMs / 1000, "preStop waits at least 2x node timeout");
  assert.ok(sts.spec.template.spec.terminationGracePeriodSeconds > prestop + 30, "grace period covers preStop and shutdown");
  // Every script the pod runs is in the ConfigMap it mounts.
  const cm = of(b, "kubernetes:core/v1:ConfigMap").map(objectOf).find((c) => c.data["redis.conf"]);
  for (const path of [redis.command[1], redis.startupProbe.exec.command[1], redis.lifecycle.preStop.exec.command[1], env(redis, "REDIS_ENTRYPOINT_HOOK").value]) {
    assert.ok(cm.data[path.replace("/etc/redis-cluster/", "")], `${path} is delivered by the ConfigMap`);
  }
  assert.ok(redis.volumeMounts.some((m: any) => m.name === "data" && m.mountPath === "/data"));
});

test("hardened pods: non-root, read-only root with emptyDir /tmp, no escalation, ALL dropped, RuntimeDefault, no token", async () => {
  const b = await prod();
  const sts = one(b, "kubernetes:apps/v1:StatefulSet");
  const job = one(b, "kubernetes:batch/v1:Job");
  for (const [what, pod] of [["statefulset", sts.spec.template.spec], ["job", job.spec.template.spec]] as const) {
    assert.equal(pod.securityContext.runAsNonRoot, true, what);
    assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault", what);
    assert.equal(pod.automountServiceAccountToken, false, what);
    assert.ok(pod.volumes.some((v: any) => v.name === "tmp" && v.emptyDir), `${what}: emptyDir for /tmp`);
    for (const c of pod.containers) {
      const sc = c.securityContext;
      assert.equal(sc.readOnlyRootFilesystem, true, `${what}/${c.name}`);
      assert.equal(sc.allowPrivilegeEscalation, false, `${what}/${c.name}`);
      assert.equal(sc.runAsNonRoot, true, `${what}/${c.name}`);
      assert.deepEqual(sc.capabilities.drop, ["ALL"], `${what}/${c.name}`);
      assert.equal(sc.seccompProfile.type, "RuntimeDefault", `${what}/${c.name}`);
      assert.ok(sc.runAsUser > 0, `${what}/${c.name} not root`);
    }
  }
  const redis = sts.spec.template.spec.containers.find((c: any) => c.name === "redis");
  assert.ok(redis.volumeMounts.some((m: any) => m.name === "tmp" && m.mountPath === "/tmp"));
  assert.ok(redis.volumeMounts.filter((m: any) => m.name === "config" || m.name === "secret").every((m: any) => m.readOnly));
  const sa = one(b, "kubernetes:core/v1:ServiceAccount");
  assert.equal(sa.automountServiceAccountToken, false);
  assert.equal(sts.spec.template.spec.serviceAccountName, sa.metadata.name);
});

test("scheduling: soft anti-affinity and zone spread from config; hard gives a required term", async () => {
  const b = await prod();
  const pod = one(b, "kubernetes:apps/v1:StatefulSet").spec.template.spec;
  const soft = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
  assert.equal(soft.length, 1);
  assert.equal(soft[0].podAffinityTerm.topologyKey, "kubernetes.io/hostname");
  assert.equal(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution, undefined);
  assert.deepEqual(pod.topologySpreadConstraints.map((t: any) => [t.topologyKey, t.maxSkew, t.whenUnsatisfiable]), [["topology.kubernetes.io/zone", 1, "ScheduleAnyway"]]);
  const hard = await build("hard", prodSpec((r) => (r["kubernetes"].antiAffinity = "hard")), PASSWORD);
  const hpod = one(hard, "kubernetes:apps/v1:StatefulSet").spec.template.spec;
  assert.equal(hpod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey, "kubernetes.io/hostname");
  assert.equal(hpod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution, undefined);
  new StatefulSet(one(hard, "kubernetes:apps/v1:StatefulSet")).validate();
});

test("services: headless publishes not-ready pods (client + bus), client Service over ready pods", async () => {
  const b = await prod();
  const svcs = of(b, "kubernetes:core/v1:Service").map(objectOf);
  const headless = svcs.find((s) => s.metadata.name === "redis-cluster-prod-headless");
  const client = svcs.find((s) => s.metadata.name === "redis-cluster-prod");
  assert.equal(headless.spec.clusterIP, "None");
  assert.equal(headless.spec.publishNotReadyAddresses, true);
  assert.deepEqual(headless.spec.ports.map((p: any) => p.port), [6379, 16379]);
  assert.notEqual(client.spec.clusterIP, "None");
  assert.ok(!client.spec.publishNotReadyAddresses);
  assert.deepEqual(client.spec.ports.map((p: any) => p.port), [6379]);
  const sel = one(b, "kubernetes:apps/v1:StatefulSet").spec.selector.matchLabels;
  assert.deepEqual(headless.spec.selector, sel);
  assert.deepEqual(client.spec.selector, sel);
  assert.equal(await valueOf(b.component.clientEndpoint), "redis-cluster-prod.redis.svc.cluster.local:6379");
  assert.deepEqual(await valueOf(b.component.seeds), planCluster(b.spec).seeds);
});

test("bootstrap Job runs the same bootstrap.sh with the plan's env, after the StatefulSet, awaited with a timeout", async () => {
  const b = await prod();
  const job = one(b, "kubernetes:batch/v1:Job");
  const plan = planCluster(b.spec);
  const pod = job.spec.template.spec;
  const [c] = pod.containers;
  assert.deepEqual(c.command, ["sh", "/etc/redis-cluster/bootstrap.sh"]);
  for (const [k, v] of Object.entries(plan.bootstrapEnv)) assert.equal(env(c, k)?.value, v, k);
  assert.match(env(c, "REDIS_NODES").value, /redis-cluster-prod-0\.redis-cluster-prod-headless\.redis\.svc\.cluster\.local:6379/);
  assert.equal(env(c, "REDIS_PASSWORD_FILE").value, "/etc/redis-cluster-secret/password");
  assert.equal(pod.restartPolicy, "Never");
  assert.ok(job.spec.backoffLimit >= 1, "retried (a check can run before gossip settles)");
  assert.equal(pod.metadata?.labels?.["redis-cluster-client"] ?? job.spec.template.metadata.labels["redis-cluster-client"], "true", "allowed by the NetworkPolicy");
  const cm = of(b, "kubernetes:core/v1:ConfigMap").map(objectOf).find((x) => x.data["bootstrap.sh"]);
  assert.equal(cm.data["bootstrap.sh"], readFileSync(scriptPaths.bootstrap, "utf8"));
  const jobOpts = b.options.find((o) => o.type === "kubernetes:batch/v1:Job" && !isScaleStep(o));
  assert.ok(jobOpts?.dependsOn.some((d) => d.endsWith("statefulset")), `Job depends on the StatefulSet (${jobOpts?.dependsOn})`);
});

test("PDB one at a time; NetworkPolicy: 6379+16379 between nodes, 6379 from labelled clients, metrics from monitoring", async () => {
  const b = await prod();
  const sel = one(b, "kubernetes:apps/v1:StatefulSet").spec.selector.matchLabels;
  const pdb = one(b, "kubernetes:policy/v1:PodDisruptionBudget");
  assert.equal(pdb.spec.maxUnavailable, 1);
  assert.deepEqual(pdb.spec.selector.matchLabels, sel);
  const np = one(b, "kubernetes:networking.k8s.io/v1:NetworkPolicy");
  assert.deepEqual(np.spec.podSelector.matchLabels, sel);
  assert.deepEqual(np.spec.policyTypes, ["Ingress"]);
  const rules = np.spec.ingress.map((r: any) => ({ from: r.from[0], ports: r.ports.map((p: any) => p.port) }));
  assert.deepEqual(rules, [
    { from: { podSelector: { matchLabels: sel } }, ports: [6379, 16379] },
    { from: { podSelector: { matchLabels: { "redis-cluster-client": "true" } } }, ports: [6379] },
    { from: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }, ports: [9121] },
  ]);
});

test("monitoring: exporter sidecar in the pod, KubernetesMonitoring selects the pods; disabled: neither", async () => {
  const b = await prod();
  const pod = one(b, "kubernetes:apps/v1:StatefulSet").spec.template.spec;
  const exporter = pod.containers.find((c: any) => c.name === "redis-exporter");
  assert.ok(exporter, "sidecar present");
  assert.equal(exporter.image, b.spec.monitoring.exporterImage);
  assert.deepEqual(env(exporter, "REDIS_PASSWORD").valueFrom, { secretKeyRef: { name: await valueOf(b.component.secretName), key: "password" } });
  const metrics = of(b, "kubernetes:core/v1:Service").map(objectOf).find((s) => s.metadata.name === "redis-cluster-prod-metrics");
  assert.deepEqual(metrics.spec.selector, one(b, "kubernetes:apps/v1:StatefulSet").spec.selector.matchLabels);
  // The cluster's own job (its name): ServiceMonitor, rules and dashboard agree, so two stacks in one Prometheus stay apart.
  const sm = one(b, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor");
  assert.ok(sm.spec.endpoints[0].relabelings.some((r: any) => r.targetLabel === "job" && r.replacement === "redis-cluster-prod"));
  const rules = one(b, "kubernetes:monitoring.coreos.com/v1:PrometheusRule").spec.groups[0].rules;
  assert.ok(rules.every((r: any) => r.expr.includes('job="redis-cluster-prod"') && r.labels.job === "redis-cluster-prod"));

  const off = await build("nomon", prodSpec((r) => (r["monitoring"] = { enabled: false })), PASSWORD);
  const offPod = one(off, "kubernetes:apps/v1:StatefulSet").spec.template.spec;
  assert.deepEqual(offPod.containers.map((c: any) => c.name), ["redis"]);
  assert.equal(of(off, "redis-cluster:monitoring:KubernetesMonitoring").length, 0);
  assert.equal(one(off, "kubernetes:networking.k8s.io/v1:NetworkPolicy").spec.ingress.length, 2);
});

test("prod safety: namespace and StatefulSet protected (kubernetes.protect); Secret and password replaceable; off when protect is false", async () => {
  const b = await prod();
  const protectedTypes = (x: Built) => x.options.filter((o) => o.protect).map((o) => o.type).sort();
  assert.deepEqual(protectedTypes(b), ["kubernetes:apps/v1:StatefulSet", "kubernetes:core/v1:Namespace"]);
  // A password change replaces the Secret, and configuring a password deletes the RandomPassword: neither may be protected.
  const gen = await build("gen", prodSpec());
  assert.deepEqual(protectedTypes(gen), ["kubernetes:apps/v1:StatefulSet", "kubernetes:core/v1:Namespace"]);
  assert.equal(of(gen, "random:index/randomPassword:RandomPassword").length, 1);
  const unprotected = await build("unprot", prodSpec((r) => (r["kubernetes"].protect = false)), PASSWORD);
  assert.deepEqual(protectedTypes(unprotected), []);
  const stsOpts = b.options.find((o) => o.type === "kubernetes:apps/v1:StatefulSet");
  assert.ok(stsOpts?.dependsOn.some((d) => d.includes("scale-in")), "the StatefulSet waits for the scale step's phase in");
});

test("the password lives only in the Secret: not in a ConfigMap, env literal, command/args or plain output", async () => {
  for (const [b, pw] of [[await prod(), PASSWORD], [await build("gen2", prodSpec()), GENERATED]] as const) {
    const secret = of(b, "kubernetes:core/v1:Secret")[0];
    assert.ok(isSecretInput(secret.inputs.stringData) || isSecretInput(secret.inputs.stringData.password), "Secret value is a Pulumi secret");
    assert.equal(objectOf(secret).stringData.password, pw);
    for (const r of b.rs.filter((x) => x.type !== "kubernetes:core/v1:Secret")) {
      assert.ok(!plainStrings(r.inputs).some((s) => s.includes(pw)), `${r.type} ${r.name} holds no plain password`);
      assert.ok(!JSON.stringify(objectOf(r)).includes(pw) || r.type === "random:index/randomPassword:RandomPassword", `${r.type} ${r.name} holds no password at all`);
    }
    for (const cm of of(b, "kubernetes:core/v1:ConfigMap").map(objectOf)) {
      assert.ok(!JSON.stringify(cm).includes(pw));
      if (cm.data["redis.conf"]) assert.doesNotMatch(cm.data["redis.conf"], /requirepass|masterauth/);
    }
    const pods = [one(b, "kubernetes:apps/v1:StatefulSet").spec.template.spec, one(b, "kubernetes:batch/v1:Job").spec.template.spec];
    for (const c of pods.flatMap((p) => p.containers)) {
      assert.ok(!(c.env ?? []).some((e: any) => e.value?.includes(pw)), `${c.name}: no env literal`);
      assert.ok(!(c.env ?? []).some((e: any) => /PASSWORD|AUTH/.test(e.name) && e.value !== undefined && !e.name.endsWith("_FILE")), `${c.name}: password env only by reference`);
      assert.ok(![...(c.command ?? []), ...(c.args ?? [])].some((a: string) => a.includes(pw)), `${c.name}: not on argv`);
    }
    // Outputs: the password output is secret; no other output carries it.
    assert.equal(await pulumi.isSecret(b.component.password), true);
    assert.equal(await valueOf(b.component.password), pw);
    for (const key of ["namespace", "statefulSetName", "headlessServiceName", "clientServiceName", "configMapName", "secretName", "bootstrapJobName", "seeds", "clientEndpoint"] as const) {
      const o = b.component[key] as pulumi.Output<unknown>;
      assert.equal(await pulumi.isSecret(o), false, `${key} is a plain output`);
      assert.ok(!String(JSON.stringify(await valueOf(o))).includes(pw), `${key} holds no password`);
    }
  }
});

test("ConfigMap ships the plan's redis.conf and the scripts exactly as tested; config changes roll the pods", async () => {
  const b = await prod();
  const cm = of(b, "kubernetes:core/v1:ConfigMap").map(objectOf).find((c) => c.data["redis.conf"]);
  const plan = planCluster(b.spec);
  assert.equal(cm.data["redis.conf"], plan.redisConf);
  assert.match(cm.data["redis.conf"], /cluster-node-timeout 5000/);
  assert.match(cm.data["redis.conf"], /appendonly yes/);
  assert.equal(cm.data["entrypoint.sh"], readFileSync(scriptPaths.entrypoint, "utf8"));
  assert.equal(cm.data["refresh-peers.sh"], readFileSync(scriptPaths.refreshPeers, "utf8"));
  assert.equal(cm.data["prestop.sh"], readFileSync(scriptPaths.prestop, "utf8"));
  assert.equal(cm.data["probe.sh"], readFileSync(scriptPaths.probe, "utf8"));
  // What the scripts source travels beside them (lib.sh), in the pods' ConfigMap and in the Jobs' one.
  const bootstrapCm = of(b, "kubernetes:core/v1:ConfigMap").map(objectOf).find((c) => c.data["bootstrap.sh"]);
  for (const data of [cm.data, bootstrapCm.data]) {
    const sourced = Object.values(data as Record<string, string>).flatMap(sourcedFiles);
    assert.ok(sourced.length > 0, "the scripts source a companion");
    for (const f of sourced) assert.equal(data[f], readFileSync(join(dirname(scriptPaths.probe), f), "utf8"), `${f} shipped`);
  }
  const sum = (x: Built) => one(x, "kubernetes:apps/v1:StatefulSet").spec.template.metadata.annotations["redis-cluster/config-checksum"];
  const other = await build("timeout", prodSpec((r) => (r["nodeTimeoutMs"] = 6000)), PASSWORD);
  assert.match(sum(b), /^[0-9a-f]{64}$/);
  assert.notEqual(sum(other), sum(b));
});

test("a docker spec is refused", async () => {
  const { RedisKubernetesCluster } = await import("../../../infra/components/kubernetesCluster");
  const dev = validateConfig(rawProjectConfig("dev"));
  assert.throws(() => new RedisKubernetesCluster("wrong", { spec: dev, plan: planCluster(dev) }), /expected kubernetes/);
});

test("an image bump is a plain update: identical volumeClaimTemplates (no version label), claim templates ignored in diffs", async () => {
  const b = await prod();
  const bumped = await build("bump", prodSpec((r) => (r["redisImage"] = "redis:7.4.1")), PASSWORD);
  const sts = one(b, "kubernetes:apps/v1:StatefulSet");
  const sts2 = one(bumped, "kubernetes:apps/v1:StatefulSet");
  assert.equal(sts2.spec.template.spec.containers[0].image, "redis:7.4.1");
  assert.equal(sts2.spec.template.metadata.labels["app.kubernetes.io/version"], "7.4.1", "pods still carry the version");
  assert.deepEqual(sts2.spec.volumeClaimTemplates, sts.spec.volumeClaimTemplates);
  assert.deepEqual(sts2.spec.selector, sts.spec.selector);
  const vctLabels = sts.spec.volumeClaimTemplates[0].metadata.labels;
  assert.equal(vctLabels["app.kubernetes.io/version"], undefined);
  assert.equal(vctLabels["app.kubernetes.io/component"], "node");
  // Kubernetes cannot update claim templates and Pulumi would replace the protected StatefulSet: changes are ignored.
  const stsOpts = b.parents.find((p) => p.type === "kubernetes:apps/v1:StatefulSet");
  assert.deepEqual(stsOpts?.ignoreChanges, ["spec.volumeClaimTemplates"]);
});

test("Secret and ConfigMap are auto-named and referenced by name: a new password or new pod files roll the pods", async () => {
  const b = await prod();
  const podRefs = (x: Built) => {
    const sts = one(x, "kubernetes:apps/v1:StatefulSet");
    const vols = sts.spec.template.spec.volumes;
    const exporter = sts.spec.template.spec.containers.find((c: any) => c.name === "redis-exporter");
    return {
      secret: vols.find((v: any) => v.name === "secret").secret.secretName,
      config: vols.find((v: any) => v.name === "config").configMap.name,
      exporterSecret: env(exporter, "REDIS_PASSWORD").valueFrom.secretKeyRef.name,
      template: JSON.stringify(sts.spec.template),
    };
  };
  const jobRefs = (x: Built) => {
    const vols = one(x, "kubernetes:batch/v1:Job").spec.template.spec.volumes;
    return { secret: vols.find((v: any) => v.name === "secret").secret.secretName, config: vols.find((v: any) => v.name === "config").projected.sources.map((s: any) => s.configMap.name) };
  };
  // No fixed names: Pulumi generates them (a replacement is create-before-delete under a new name).
  for (const s of of(b, "kubernetes:core/v1:Secret").map(objectOf)) assert.equal(s.metadata.name, undefined);
  for (const cm of of(b, "kubernetes:core/v1:ConfigMap").map(objectOf).filter((c) => !c.data["redis-cluster.json"])) assert.equal(cm.metadata.name, undefined);
  const secretName = await valueOf(b.component.secretName);
  const configMapName = await valueOf(b.component.configMapName);
  assert.match(secretName, /^prod-auth-[0-9a-f]{8}$/);
  assert.deepEqual([podRefs(b).secret, podRefs(b).exporterSecret, jobRefs(b).secret], [secretName, secretName, secretName]);
  assert.equal(podRefs(b).config, configMapName);
  assert.equal(jobRefs(b).config[0], configMapName, "the Job sees the pods' files and bootstrap.sh");
  // The pods' ConfigMap holds no bootstrap.sh; the Job's second source does.
  const cms = of(b, "kubernetes:core/v1:ConfigMap").map(objectOf);
  assert.ok(!cms.find((c) => c.data["redis.conf"]).data["bootstrap.sh"]);
  assert.deepEqual(Object.keys(cms.find((c) => c.data["bootstrap.sh"]).data), Object.keys(scriptFiles("bootstrap")), "bootstrap.sh and what it sources");

  // Same password, same config: same names (nothing rolls). Another password: a new Secret name in every pod template.
  const same = await build("prod", prodSpec(), PASSWORD);
  assert.deepEqual(podRefs(same), podRefs(b));
  const rotated = await build("prod", prodSpec(), "rotatedPassword-0123456789abcdef");
  assert.notEqual(podRefs(rotated).secret, podRefs(b).secret);
  assert.equal(podRefs(rotated).exporterSecret, podRefs(rotated).secret);
  assert.equal(jobRefs(rotated).secret, podRefs(rotated).secret);
  assert.equal(await valueOf(rotated.component.secretName), podRefs(rotated).secret, "the smoke Job gets the new name via secretName");
  assert.equal(podRefs(rotated).config, podRefs(b).config);
  // Other pod files: a new ConfigMap name in the pod template.
  const retimed = await build("prod", prodSpec((r) => (r["nodeTimeoutMs"] = 6000)), PASSWORD);
  assert.notEqual(podRefs(retimed).config, podRefs(b).config);
  // Only bootstrap.sh changed: the Job changes (re-runs), the pods do not restart.
  const plan = planCluster(prodSpec());
  const rebooted = await build("prod", prodSpec(), PASSWORD, { ...plan, bootstrapScript: `${plan.bootstrapScript}\n# changed\n` });
  assert.equal(podRefs(rebooted).template, podRefs(b).template);
  assert.notDeepEqual(jobRefs(rebooted).config, jobRefs(b).config);
});

test("a failed bootstrap Job does not block later updates: replaceUnready", async () => {
  const b = await prod();
  const job = one(b, "kubernetes:batch/v1:Job");
  assert.equal(job.metadata.annotations["pulumi.com/replaceUnready"], "true");
  assert.equal(job.metadata.name, undefined, "auto-named: a replacement is created next to the old Job");
});

test("monitoring config: prometheusSelectorLabels on ServiceMonitor and PrometheusRule; dashboardNamespace (default: the namespace)", async () => {
  const b = await prod();
  const dashboard = (x: Built) => of(x, "kubernetes:core/v1:ConfigMap").map(objectOf).find((c) => c.data["redis-cluster.json"]);
  assert.equal(dashboard(b).metadata.namespace, "redis");
  const sel = { release: "kube-prometheus-stack" };
  const spec = prodSpec((r) => Object.assign(r["kubernetes"], { prometheusSelectorLabels: sel, dashboardNamespace: "grafana" }));
  assert.deepEqual(spec.kubernetes.prometheusSelectorLabels, sel);
  const x = await build("sel", spec, PASSWORD);
  for (const t of ["kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "kubernetes:monitoring.coreos.com/v1:PrometheusRule"]) {
    assert.equal(one(x, t).metadata.labels.release, "kube-prometheus-stack", t);
  }
  assert.equal(dashboard(x).metadata.namespace, "grafana");
  assert.equal(prodSpec().kubernetes.dashboardNamespace, undefined);
  assert.deepEqual(prodSpec().kubernetes.prometheusSelectorLabels, {});
  assert.throws(() => prodSpec((r) => (r["kubernetes"].prometheusSelectorLabels = { release: "not a label value!" })), /label value/);
});

test("ACL users (the prod default): every object, ACL and user Secrets and rotation Jobs included, is schema-valid (kubernetes-models)", async () => {
  const b = await build("acl", prodSpec((raw) => { raw["acl"] = { enabled: true }; }), "prod-Password-0123456789");
  const objs = b.rs.filter((r) => r.type.startsWith("kubernetes:"));
  for (const name of ["acl-rotate-add", "acl-rotate-remove", "acl-acl", "acl-user-exporter", "acl-user-smoke", "acl-acl-previous-admin", "acl-acl-retired"]) {
    assert.ok(objs.some((r) => r.name === name), `${name} declared`);
  }
  for (const r of objs) {
    const obj = objectOf(r);
    assert.doesNotThrow(() => new MODELS[r.type](obj).validate(), `${r.type} ${r.name} is schema-valid`);
  }
  const add = objectOf(objs.find((r) => r.name === "acl-rotate-add")!);
  assert.ok(!JSON.stringify(add).includes("prod-Password-0123456789"), "no password in the rotation Job");
  // The retired passwords for the smoke Job's old-passwords check: an auto-named Secret (a rotation gives a new one).
  const retired = objectOf(objs.find((r) => r.name === "acl-acl-retired")!);
  assert.equal(retired.metadata.name, undefined, "auto-named");
  assert.ok("retired.json" in retired.stringData);
  assert.ok(b.component.retiredPasswordsSecretName, "the component names it for the smoke Job");
});
