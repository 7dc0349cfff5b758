// SmokeTest under Pulumi mocks: wired for docker (local Command on the host) and kubernetes (bundle ConfigMap + Job),
// after the bootstrap, re-run on definition changes, and the password never in plain args, argv or ConfigMaps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { installMocks, isSecretInput, plainStrings, settle, unwrapSecret, valueOf, type RecordedResource } from "../../helpers/pulumiMocks";
import { validateConfig } from "../../../infra/config/schema";
import { planCluster } from "../../../infra/plan/plan";
import { scriptPaths, shippedScripts } from "../../../infra/plan/scripts";
import { Job } from "kubernetes-models/batch/v1/Job";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";

const mocks = installMocks({ config: {} });
const PASSWORD = "mock-Password-0123456789";

const dockerSpec = validateConfig({ platform: "docker", masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 5000, smoke: { failover: "kill", keys: 5000 } }, { name: "redis-cluster-dev" });
const k8sSpec = validateConfig({ platform: "kubernetes", masters: 3, replicasPerMaster: 1 }, { name: "redis-cluster-prod" });

async function build(name: string, make: (m: typeof import("../../../infra/components/smokeTest"), pulumi: typeof import("@pulumi/pulumi")) => unknown): Promise<RecordedResource[]> {
  const mod = await import("../../../infra/components/smokeTest");
  const pulumi = await import("@pulumi/pulumi");
  const before = mocks.resources.length;
  const c = (await mocks.run(async () => make(mod, pulumi))) as { urn: unknown; definitionHash: unknown };
  await valueOf(c.urn as never);
  await valueOf(c.definitionHash as never);
  await settle(mocks.resources);
  return mocks.resources.slice(before).filter((r) => r.name.startsWith(name));
}

test("docker: a local Command runs the CLI against hostSeeds with natMap, after the bootstrap; password only as secret env", async () => {
  const command = await import("@pulumi/command");
  const plan = planCluster(dockerSpec);
  const rs = await build("dev-smoke", (m, pulumi) => {
    const bootstrap = new command.local.Command("dev-bootstrap", { create: "true" });
    return new m.SmokeTest("dev-smoke", {
      platform: "docker", plan, settings: m.smokeSettingsFromSpec(dockerSpec), nodeTimeoutMs: dockerSpec.nodeTimeoutMs,
      password: pulumi.secret(PASSWORD), dependsOn: [bootstrap], bootstrapExitCode: 0,
    });
  });
  assert.deepEqual(rs.map((r) => r.type).sort(), ["command:local:Command", "redis-cluster:smoke:SmokeTest"]);
  const cmd = rs.find((r) => r.type === "command:local:Command")!;
  const create = cmd.inputs.create as string;
  // Refuses to start after a failed bootstrap, then runs the CLI; from the project directory, no absolute path.
  assert.match(create, /^if \[ "\$BOOTSTRAP_EXIT_CODE" != 0 \]; then .*exit 1; fi; npx --no-install tsx smoke\/cli\.ts /);
  assert.equal(cmd.inputs.dir, undefined);
  assert.ok(create.includes(`--nodes ${plan.hostSeeds.join(",")}`), create);
  for (const flag of ["--expect-masters 3", "--expect-replicas 1", "--failover kill", "--keys 5000", "--node-timeout-ms 5000", "--password-env REDIS_SMOKE_PASSWORD"]) {
    assert.ok(create.includes(flag), `${flag} in ${create}`);
  }
  assert.ok(!create.includes(PASSWORD));
  // The environment carries the password as a secret and the natMap for host clients.
  const env = cmd.inputs.environment;
  const envValue = unwrapSecret<Record<string, string>>(env);
  assert.ok(isSecretInput(env) || isSecretInput(env.REDIS_SMOKE_PASSWORD), "password env is secret");
  assert.equal(unwrapSecret(envValue.REDIS_SMOKE_PASSWORD), PASSWORD);
  assert.deepEqual(JSON.parse(unwrapSecret(envValue.SMOKE_NAT_MAP)), plan.natMap);
  assert.equal(unwrapSecret(envValue.BOOTSTRAP_EXIT_CODE), "0");
  assert.equal(cmd.inputs.triggers.length, 1);
  // Runs after the bootstrap.
  const opts = mocks.options.find((o) => o.name === "dev-smoke-run")!;
  assert.deepEqual(opts.dependsOn, ["dev-bootstrap"]);
  assert.ok(!plainStrings(rs.map((r) => r.inputs)).some((s) => s.includes(PASSWORD)), "password in plain inputs");
});

test("re-runs when the cluster definition or the smoke settings change, not otherwise", async () => {
  const { definitionHash } = await import("../../../infra/components/smokeTest");
  const base = { platform: "docker" as const, plan: planCluster(dockerSpec), settings: { enabled: true, failover: "kill" as const, keys: 100, timeoutMs: 60_000 }, nodeTimeoutMs: 5000 };
  const four = validateConfig({ platform: "docker", masters: 4, replicasPerMaster: 1 }, { name: "redis-cluster-dev" });
  assert.equal(definitionHash(base), definitionHash({ ...base, plan: planCluster(dockerSpec) }));
  assert.notEqual(definitionHash(base), definitionHash({ ...base, plan: planCluster(four) }));
  assert.notEqual(definitionHash(base), definitionHash({ ...base, nodeTimeoutMs: 2000 }));
  assert.notEqual(definitionHash(base), definitionHash({ ...base, settings: { ...base.settings, failover: "manual" } }));
  // The Redis image: a bump re-runs the smoke test; without it the hash is what it was before the field existed.
  const imaged = { ...base, redisImage: "redis:7.2.5" };
  assert.notEqual(definitionHash(imaged), definitionHash(base));
  assert.notEqual(definitionHash(imaged), definitionHash({ ...base, redisImage: "redis:7.4.1" }));
  assert.equal(definitionHash(imaged), definitionHash({ ...base, redisImage: "redis:7.2.5" }));
  assert.equal(definitionHash(base), definitionHash({ ...base, redisImage: undefined }));
});

test("every shipped script is in the definition: a pod roll caused by any of them re-runs the smoke test", async () => {
  const { definitionHash } = await import("../../../infra/components/smokeTest");
  const base = { platform: "kubernetes" as const, plan: planCluster(k8sSpec), settings: { enabled: true, failover: "manual" as const, keys: 100, timeoutMs: 60_000 }, nodeTimeoutMs: 5000 };
  const scripts = shippedScripts();
  // The folder decides, not a list: a new script or a new companion (lib.sh) is covered without touching this test.
  const folder = dirname(scriptPaths.bootstrap);
  assert.deepEqual(Object.keys(scripts).sort(), readdirSync(folder).filter((f) => f.endsWith(".sh")).sort());
  for (const f of ["probe.sh", "prestop.sh", "refresh-peers.sh", "rotate.sh", "tls-reload.sh", "lib.sh"]) assert.ok(f in scripts, f);
  const hash = definitionHash(base);
  assert.equal(definitionHash(base, scripts), hash, "by default the files as shipped");
  for (const [file, text] of Object.entries(scripts)) {
    assert.equal(text, readFileSync(join(folder, file), "utf8"));
    assert.notEqual(definitionHash(base, { ...scripts, [file]: `${text}\n# changed\n` }), hash, `a change of ${file} re-runs the smoke test`);
  }
});

test("kubernetes: bundle ConfigMap + Job (awaited, one attempt), password from the Secret, schema-valid", async () => {
  const command = await import("@pulumi/command");
  const plan = planCluster(k8sSpec);
  const labels = { "app.kubernetes.io/name": "redis-cluster", "app.kubernetes.io/component": "smoke", "redis-cluster-client": "true" };
  const rs = await build("prod-smoke", (m) => {
    const bootstrap = new command.local.Command("prod-bootstrap", { create: "true" });
    return new m.SmokeTest("prod-smoke", {
      platform: "kubernetes", plan, settings: m.smokeSettingsFromSpec(k8sSpec), nodeTimeoutMs: k8sSpec.nodeTimeoutMs, dependsOn: [bootstrap],
      redisImage: k8sSpec.redisImage,
      kubernetes: { namespace: "redis", secretName: "redis-cluster-prod-auth", secretKey: "password", labels },
    });
  });
  const cm = rs.find((r) => r.type === "kubernetes:core/v1:ConfigMap")!;
  const job = rs.find((r) => r.type === "kubernetes:batch/v1:Job")!;
  assert.ok(cm && job, rs.map((r) => r.type).join());
  const bundle = cm.inputs.data["smoke.js"] as string;
  assert.match(bundle, /^\/\/ redis-cluster smoke test/);
  assert.ok(bundle.length < 900 * 1024, `bundle ${bundle.length} bytes fits a ConfigMap`);
  new ConfigMap({ apiVersion: "v1", kind: "ConfigMap", ...cm.inputs } as never).validate();

  const spec = job.inputs.spec;
  assert.equal(spec.backoffLimit, 0);
  const pod = spec.template.spec;
  const c = pod.containers[0];
  assert.deepEqual(c.command, ["node", "/opt/smoke/smoke.js"]);
  const argv = (c.args as string[]).join(" ");
  // Seeded through the client Service, as an application in the cluster is.
  assert.ok(argv.includes(`--nodes redis-cluster-prod.${k8sSpec.kubernetes.namespace}.svc.cluster.local:6379 `), argv);
  assert.ok(argv.includes("--failover manual"), "prod default failover is manual");
  assert.ok(argv.includes("--password-env REDIS_SMOKE_PASSWORD"));
  assert.deepEqual(c.env, [{ name: "REDIS_SMOKE_PASSWORD", valueFrom: { secretKeyRef: { name: "redis-cluster-prod-auth", key: "password" } } }]);
  assert.equal(pod.restartPolicy, "Never");
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(spec.template.metadata.labels["redis-cluster-client"], "true", "the NetworkPolicy admits the smoke pod");
  assert.ok(job.inputs.metadata.annotations["redis-cluster/definition-sha256"]);
  // A failed smoke Job must not block the next update: it is replaced (re-run) instead.
  assert.equal(job.inputs.metadata.annotations["pulumi.com/replaceUnready"], "true");
  assert.equal(job.inputs.metadata.name, undefined, "auto-named: the replacement is created next to the failed Job");
  new Job({ apiVersion: "batch/v1", kind: "Job", ...job.inputs } as never).validate();
  const opts = mocks.options.find((o) => o.name === "prod-smoke-job")!;
  assert.deepEqual(opts.dependsOn, ["prod-bootstrap"]);
});

test("disabled: declares nothing; a failover without replicas is refused", async () => {
  const plan = planCluster(dockerSpec);
  const rs = await build("off-smoke", (m) =>
    new m.SmokeTest("off-smoke", { platform: "docker", plan, settings: { enabled: false, failover: "kill", keys: 1, timeoutMs: 60_000 }, nodeTimeoutMs: 5000 }));
  assert.deepEqual(rs.map((r) => r.type), ["redis-cluster:smoke:SmokeTest"]);
  const { checkSmokeArgs } = await import("../../../infra/components/smokeTest");
  const noReplicas = planCluster(validateConfig({ platform: "docker", masters: 3, replicasPerMaster: 0, smoke: { failover: "none" } }));
  const args = { platform: "docker" as const, plan: noReplicas, settings: { enabled: true, failover: "manual" as const, keys: 1, timeoutMs: 60_000 }, nodeTimeoutMs: 5000 };
  assert.throws(() => checkSmokeArgs("bad-smoke", args), /failover manual needs replicas, but replicasPerMaster is 0/);
  assert.doesNotThrow(() => checkSmokeArgs("ok-smoke", { ...args, settings: { ...args.settings, failover: "none" } }));
  assert.throws(() => checkSmokeArgs("k8s-smoke", { ...args, platform: "kubernetes", plan: planCluster(k8sSpec) }), /needs args.kubernetes/);
});

test("retired passwords reach the old-passwords check: docker as a secret env value, kubernetes from their Secret", async () => {
  const RETIRED = JSON.stringify({ smoke: ["retired-Password-0123456789"] });
  const docker = await build("ret-smoke", (m, pulumi) =>
    new m.SmokeTest("ret-smoke", {
      platform: "docker", plan: planCluster(dockerSpec), settings: m.smokeSettingsFromSpec(dockerSpec), nodeTimeoutMs: dockerSpec.nodeTimeoutMs,
      password: pulumi.secret(PASSWORD), bootstrapExitCode: 0, retiredPasswords: { json: pulumi.secret(RETIRED) },
    }),
  );
  const env = docker.find((r) => r.type === "command:local:Command")!.inputs.environment;
  const value = unwrapSecret<Record<string, unknown>>(env);
  assert.ok(isSecretInput(env) || isSecretInput(value.REDIS_RETIRED_PASSWORDS), "retired passwords env is secret");
  assert.equal(unwrapSecret(value.REDIS_RETIRED_PASSWORDS), RETIRED);
  assert.ok(!plainStrings(docker.map((r) => r.inputs)).some((s) => s.includes("retired-Password")), "no retired password in plain inputs");
  const k8s = await build("ret-k8s-smoke", (m) =>
    new m.SmokeTest("ret-k8s-smoke", {
      platform: "kubernetes", plan: planCluster(k8sSpec), settings: m.smokeSettingsFromSpec(k8sSpec), nodeTimeoutMs: k8sSpec.nodeTimeoutMs,
      kubernetes: { namespace: "redis", secretName: "auth", secretKey: "password", labels: { "redis-cluster-client": "true" } },
      retiredPasswords: { secretName: "redis-cluster-prod-acl-retired-abc", key: "retired.json" },
    }),
  );
  const c = k8s.find((r) => r.type === "kubernetes:batch/v1:Job")!.inputs.spec.template.spec.containers[0];
  assert.deepEqual(c.env.find((e: { name: string }) => e.name === "REDIS_RETIRED_PASSWORDS"), {
    name: "REDIS_RETIRED_PASSWORDS", valueFrom: { secretKeyRef: { name: "redis-cluster-prod-acl-retired-abc", key: "retired.json" } },
  });
});
