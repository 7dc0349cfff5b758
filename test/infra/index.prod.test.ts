// The prod program under Pulumi mocks: Pulumi.prod.yaml must yield the protected Kubernetes topology, no Docker.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { engineConfig } from "../helpers/stackConfig";
import { installMocks, valueOf, plainStrings, settle } from "../helpers/pulumiMocks";

const PASSWORD = "prodPassword-0123456789abc";
const mocks = installMocks({
  config: engineConfig("prod", { "redis-cluster:password": PASSWORD }),
  secretKeys: ["redis-cluster:password"],
  stack: "prod",
});
let program: typeof import("../../infra/index");
const types = () => mocks.resources.map((r) => r.type);

before(async () => {
  program = await mocks.run(() => import("../../infra/index"));
  await valueOf(program.seeds);
  await valueOf(program.clientEndpoint as any);
  await valueOf(program.statefulSet as any);
  await valueOf(program.secretName as any);
  await settle(mocks.resources);
});

test("prod declares the Kubernetes topology and nothing of Docker", () => {
  const t = types();
  for (const k of [
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:policy/v1:PodDisruptionBudget",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:core/v1:Secret",
    "kubernetes:core/v1:ConfigMap",
    "redis-cluster:kubernetes:RedisKubernetesCluster",
  ]) {
    assert.ok(t.includes(k), `missing ${k}`);
  }
  assert.ok(!t.some((x) => x.startsWith("docker:")), "no docker resources in prod");
  const sts = mocks.resources.find((r) => r.type === "kubernetes:apps/v1:StatefulSet")!;
  assert.equal(sts.inputs.spec.replicas, 6);
});

test("the smoke test runs as a Job after the bootstrap Job, with the client label the NetworkPolicy admits", () => {
  const jobs = mocks.resources.filter((r) => r.type === "kubernetes:batch/v1:Job");
  assert.equal(jobs.length, 2, jobs.map((j) => j.name).join(", "));
  const smoke = jobs.find((j) => j.name.includes("smoke"))!;
  assert.equal(smoke.inputs.spec.template.metadata.labels["redis-cluster-client"], "true");
  const smokeOpts = mocks.options.find((o) => o.type === "kubernetes:batch/v1:Job" && o.name.includes("smoke"))!;
  const bootstrap = jobs.find((j) => !j.name.includes("smoke"))!;
  assert.ok(smokeOpts.dependsOn.includes(bootstrap.name), `smoke Job depends on ${smokeOpts.dependsOn}`);
});

test("stateful prod resources are protected; the Secret is not, so a new password can replace it", () => {
  const sts = mocks.options.find((o) => o.type === "kubernetes:apps/v1:StatefulSet")!;
  assert.equal(sts.protect, true);
  // A password change creates a new, auto-named Secret and rolls the pods; the data lives in the protected volumes.
  const secret = mocks.options.find((o) => o.type === "kubernetes:core/v1:Secret")!;
  assert.ok(!secret.protect);
});

test("the password is in no plain input and only in a secret output", async () => {
  for (const r of mocks.resources) {
    assert.ok(!plainStrings(r.inputs).some((s) => s.includes(PASSWORD)), `${r.type} ${r.name} has the password in a plain input`);
  }
  assert.equal(await valueOf(program.redisPassword), PASSWORD);
  assert.match(String(await valueOf(program.clientEndpoint as any)), /\.svc\.cluster\.local:6379$/);
  assert.equal((await valueOf(program.seeds)).length, 6);
});
