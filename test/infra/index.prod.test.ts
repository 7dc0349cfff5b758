// The prod stack through the test engine, as `pulumi preview -s prod` / `pulumi up -s prod` run it (Pulumi's own
// Node.js runtime; the scale guard served by Pulumi's dynamic-provider host): the protected Kubernetes topology,
// pinned to a kubeconfig context, with rollout timeouts, unchanged on a second up, and a scale-down refused.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { runProgram, REPO_ROOT, type RunResult } from "../engine/engine";
import { isSecret, plainStrings, unwrapSecrets, UNKNOWN } from "../engine/values";
import { readStackFile } from "../helpers/stackConfig";

const PASSWORD = "prodPassword-0123456789abc";
const CONTEXT = "prod-admin@redis-prod";
const k8sConfig = readStackFile("prod")["redis-cluster:kubernetes"] as Record<string, unknown>;
const pinned = { password: { secret: PASSWORD }, "redis-cluster:kubernetes": { ...k8sConfig, context: CONTEXT } };
let preview: RunResult; // Pulumi.prod.yaml as committed
let up: RunResult;
let up2: RunResult;
let scaleDown: RunResult;
let allowedScaleDown: RunResult;

const of = (r: RunResult, type: string) => r.resources.filter((x) => x.type === type);
const one = (r: RunResult, type: string) => of(r, type)[0];
const minutes = (d: string) => Number(/^(\d+)m$/.exec(d)?.[1] ?? NaN);

before(async () => {
  [preview, up] = await Promise.all([runProgram({ stack: "prod", mode: "preview" }), runProgram({ stack: "prod", mode: "up", config: pinned })]);
  assert.equal(up.exitCode, 0, up.errors.join("\n"));
  // One replica per master fewer; the smoke failover check needs replicas, so it is switched off for this update.
  const fewer = { ...pinned, replicasPerMaster: 0, "redis-cluster:smoke": { enabled: true, failover: "none" } };
  [up2, scaleDown, allowedScaleDown] = await Promise.all([
    runProgram({ stack: "prod", mode: "up", config: pinned, priorState: up.state }),
    runProgram({ stack: "prod", mode: "preview", config: fewer, priorState: up.state }),
    runProgram({
      stack: "prod", mode: "preview", priorState: up.state,
      config: { ...fewer, "redis-cluster:kubernetes": { ...k8sConfig, context: CONTEXT, allowScaleDown: true } },
    }),
  ]);
});

test("item 1: preview of Pulumi.prod.yaml as committed passes through Pulumi's runtime (the dashboard module loads)", () => {
  assert.equal(preview.exitCode, 0, preview.errors.join("\n"));
  assert.ok(of(preview, "kubernetes:core/v1:ConfigMap").some((c) => c.name.includes("dashboard")), "dashboard ConfigMap");
  // Without kubernetes.context the user is told where this will deploy.
  assert.ok(preview.logs.some((l) => l.severity === "warning" && l.message.includes("redis-cluster:kubernetes.context is not set")));
  // Preview runs with unknowns (the generated password only exists after create).
  assert.equal(of(preview, "random:index/randomPassword:RandomPassword").length, 1);
  assert.equal(unwrapSecrets(preview.outputs.redisPassword), UNKNOWN);
});

test("prod declares the Kubernetes topology and nothing of Docker", () => {
  const types = up.resources.map((r) => r.type);
  for (const k of [
    "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job", "kubernetes:policy/v1:PodDisruptionBudget",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy", "kubernetes:core/v1:Secret", "kubernetes:core/v1:ConfigMap",
    "redis-cluster:kubernetes:RedisKubernetesCluster", "pulumi-nodejs:dynamic/redis-cluster:ScaleGuard",
  ]) {
    assert.ok(types.includes(k), `missing ${k}`);
  }
  assert.ok(!types.some((x) => x.startsWith("docker:") || x.startsWith("command:")), "no docker or local commands in prod");
  assert.equal(one(up, "kubernetes:apps/v1:StatefulSet").inputs.spec.replicas, 6);
});

test("item 9: every Kubernetes object goes through one explicit provider pinned to the configured context", () => {
  const providers = of(up, "pulumi:providers:kubernetes");
  assert.equal(providers.length, 1);
  assert.equal(providers[0].inputs.context, CONTEXT);
  const k8s = up.resources.filter((r) => r.type.startsWith("kubernetes:"));
  assert.ok(k8s.length > 10);
  for (const r of k8s) assert.ok(r.options.provider?.startsWith(`${providers[0].urn}::`), `${r.type} ${r.name} uses ${r.options.provider}`);
  assert.ok(!up.logs.some((l) => l.message.includes("kubernetes.context is not set")));
});

test("item 9: the StatefulSet roll, the client Service and the Jobs wait longer than the provider's 10 minutes", () => {
  const sts = one(up, "kubernetes:apps/v1:StatefulSet");
  const client = of(up, "kubernetes:core/v1:Service").find((s) => s.name.endsWith("-client"))!;
  for (const r of [sts, client]) {
    const t = r.options.customTimeouts;
    assert.ok(minutes(t?.create ?? "") > 10 && minutes(t?.update ?? "") > 10, `${r.name}: timeouts ${JSON.stringify(t)}`);
  }
  // Jobs: the bootstrap's own bound x 5, the smoke test's bound + scheduling and pull.
  for (const j of of(up, "kubernetes:batch/v1:Job")) {
    const t = j.options.customTimeouts;
    assert.ok(t?.create && t.update, `${j.name} has no create/update timeout`);
    const seconds = (d: string) => (/^(\d+)m$/.test(d) ? minutes(d) * 60 : Number(/^(\d+)s$/.exec(d)?.[1]));
    assert.ok(seconds(t.create!) > j.inputs.spec.activeDeadlineSeconds, `${j.name}: ${t.create} not above activeDeadlineSeconds ${j.inputs.spec.activeDeadlineSeconds}`);
  }
  // Six readiness-gated pods one after another, each allowed its stop grace and its startup window.
  const pod = sts.inputs.spec.template.spec;
  const startup = pod.containers[0].startupProbe;
  const perPod = pod.terminationGracePeriodSeconds + startup.periodSeconds * startup.failureThreshold;
  assert.ok(minutes(sts.options.customTimeouts!.update!) * 60 >= 6 * perPod, `${sts.options.customTimeouts!.update} < 6 x ${perPod} s`);
});

test("the smoke test runs as a Job after the bootstrap Job, with the client label the NetworkPolicy admits", () => {
  const jobs = of(up, "kubernetes:batch/v1:Job");
  assert.equal(jobs.length, 2, jobs.map((j) => j.name).join(", "));
  const smoke = jobs.find((j) => j.name.includes("smoke"))!;
  const bootstrap = jobs.find((j) => !j.name.includes("smoke"))!;
  assert.equal(smoke.inputs.spec.template.metadata.labels["redis-cluster-client"], "true");
  assert.ok(smoke.options.dependsOn.includes(bootstrap.urn), `smoke Job depends on ${smoke.options.dependsOn}`);
});

test("stateful prod resources are protected; the Secret is not, so a new password can replace it", () => {
  assert.equal(one(up, "kubernetes:apps/v1:StatefulSet").options.protect, true);
  assert.equal(one(up, "kubernetes:core/v1:Namespace").options.protect, true);
  assert.ok(!one(up, "kubernetes:core/v1:Secret").options.protect);
});

test("the password is in no plain input and only in a secret output", () => {
  for (const r of up.resources) {
    assert.ok(!plainStrings(r.inputs).some((s) => s.includes(PASSWORD)), `${r.type} ${r.name} has the password in a plain input`);
  }
  // Nothing depends on where the repository is checked out (the smoke bundle included).
  for (const r of up.resources) assert.ok(!JSON.stringify(unwrapSecrets(r.inputs)).includes(REPO_ROOT), `${r.name} has the checkout path as an input`);
  assert.ok(isSecret(up.outputs.redisPassword));
  assert.equal(unwrapSecrets(up.outputs.redisPassword), PASSWORD);
  assert.match(String(up.outputs.clientEndpoint), /\.svc\.cluster\.local:6379$/);
  assert.equal((up.outputs.seeds as string[]).length, 6);
});

test("a second up against the saved state changes nothing", () => {
  assert.equal(up2.exitCode, 0, up2.errors.join("\n"));
  assert.deepEqual(up2.resources.filter((r) => r.op !== "same").map((r) => `${r.name}:${r.op}:${r.changedKeys}`), []);
  assert.deepEqual(up2.deletes, []);
});

test("a scale-down is refused at preview by the scale guard, run by Pulumi's dynamic-provider host, before the StatefulSet", () => {
  assert.equal(scaleDown.ok, false);
  const msg = scaleDown.errors.join("\n");
  assert.match(msg, /pulumi-nodejs:dynamic\/redis-cluster:ScaleGuard resource 'redis-cluster-prod-topology': property masters value \{3\} has a problem: refusing to scale down from 3 masters x 1 replicas \(6 pods\) to 3 masters x 0 replicas \(3 pods\)/);
  assert.match(msg, /redis-cluster:kubernetes\.allowScaleDown/);
  assert.ok(!scaleDown.resources.some((r) => r.type === "kubernetes:apps/v1:StatefulSet"), "the StatefulSet was declared after a refused scale-down");
  // With allowScaleDown for that one update the guard lets it through; the StatefulSet is an update, not a replacement.
  assert.equal(allowedScaleDown.exitCode, 0, allowedScaleDown.errors.join("\n"));
  assert.equal(allowedScaleDown.resources.find((r) => r.name === "redis-cluster-prod-topology")!.op, "update");
  assert.equal(one(allowedScaleDown, "kubernetes:apps/v1:StatefulSet").op, "update");
});
