// The prod stack through the test engine, as `pulumi preview -s prod` / `pulumi up -s prod` run it (Pulumi's own
// Node.js runtime; the scale guard from the last deployment's outputs, read back by a StackReference): the protected Kubernetes topology,
// pinned to a kubeconfig context, with rollout timeouts, unchanged on a second up, and a scale-down planned at preview.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { runProgram, REPO_ROOT, type RunResult } from "../../testbed/engine/engine";
import { isSecret, plainStrings, unwrapSecrets, UNKNOWN } from "../../testbed/engine/values";
import { readStackFile } from "../helpers/stackConfig";

const PASSWORD = "prodPassword-0123456789abc";
const CONTEXT = "prod-admin@redis-prod";
const k8sConfig = readStackFile("prod")["redis-cluster:kubernetes"] as Record<string, unknown>;
const pinned = { password: { secret: PASSWORD }, "redis-cluster:kubernetes": { ...k8sConfig, context: CONTEXT } };
let preview: RunResult; // Pulumi.prod.yaml as committed
let up: RunResult;
let up2: RunResult;
let scaleDown: RunResult;
let tooFewMasters: RunResult;

// @pulumi/tls has no provider here: on `up` the engine reports these PEMs for its resources (names from
// infra/components/clusterCertificates.ts), each distinct, so the checks below can follow every key.
const TLS = "redis-cluster-prod-tls-certs";
const fakeKey = (id: string) => `-----BEGIN PRIVATE KEY-----\n${Buffer.from(`fake ${id} key`).toString("base64")}\n-----END PRIVATE KEY-----\n`;
const fakeCert = (id: string) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(`fake ${id} cert`).toString("base64")}\n-----END CERTIFICATE-----\n`;
const tlsOverrides: Record<string, Record<string, unknown>> = {
  [`${TLS}-ca`]: { certPem: fakeCert("ca") },
  ...Object.fromEntries(["ca", "nodes", "client"].map((id) => [`${TLS}-${id}-key`, { privateKeyPem: fakeKey(id), publicKeyPem: "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n" }])),
  ...Object.fromEntries(["nodes", "client"].map((id) => [`${TLS}-${id}-csr`, { certRequestPem: "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n" }])),
  ...Object.fromEntries(["nodes", "client"].map((id) => [`${TLS}-${id}-cert`, { certPem: fakeCert(id) }])),
};

const of = (r: RunResult, type: string) => r.resources.filter((x) => x.type === type);
const one = (r: RunResult, type: string) => of(r, type)[0];
const minutes = (d: string) => Number(/^(\d+)m$/.exec(d)?.[1] ?? NaN);

before(async () => {
  [preview, up] = await Promise.all([runProgram({ stack: "prod", mode: "preview" }), runProgram({ stack: "prod", mode: "up", config: pinned, outputOverrides: tlsOverrides })]);
  assert.equal(up.exitCode, 0, up.errors.join("\n"));
  // One replica per master fewer; the smoke failover check needs replicas, so it is switched off for this update.
  const fewer = { ...pinned, replicasPerMaster: 0, "redis-cluster:smoke": { enabled: true, failover: "none" } };
  [up2, scaleDown, tooFewMasters] = await Promise.all([
    runProgram({ stack: "prod", mode: "up", config: pinned, priorState: up.state, outputOverrides: tlsOverrides }),
    runProgram({ stack: "prod", mode: "preview", config: fewer, priorState: up.state }),
    runProgram({ stack: "prod", mode: "preview", priorState: up.state, config: { ...pinned, masters: 2 } }),
  ]);
});

test("item 1: preview of Pulumi.prod.yaml as committed passes through Pulumi's runtime (the dashboard module loads)", () => {
  assert.equal(preview.exitCode, 0, preview.errors.join("\n"));
  assert.ok(of(preview, "kubernetes:core/v1:ConfigMap").some((c) => c.name.includes("dashboard")), "dashboard ConfigMap");
  // Without kubernetes.context the user is told where this will deploy.
  assert.ok(preview.logs.some((l) => l.severity === "warning" && l.message.includes("redis-cluster:kubernetes.context is not set")));
  // Preview runs with unknowns (the generated password only exists after create).
  // admin's (the `password` key) and, with ACL users (prod default), replica's, exporter's and smoke's.
  assert.equal(of(preview, "random:index/randomPassword:RandomPassword").length, 4);
  assert.equal(unwrapSecrets(preview.outputs.redisPassword), UNKNOWN);
});

test("prod declares the Kubernetes topology and nothing of Docker", () => {
  const types = up.resources.map((r) => r.type);
  for (const k of [
    "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job", "kubernetes:policy/v1:PodDisruptionBudget",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy", "kubernetes:core/v1:Secret", "kubernetes:core/v1:ConfigMap",
    "redis-cluster:kubernetes:RedisKubernetesCluster",
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

test("the smoke test runs as a Job after the scale step's Job (itself after the bootstrap Job), with the client label the NetworkPolicy admits", () => {
  const jobs = of(up, "kubernetes:batch/v1:Job");
  assert.deepEqual(jobs.map((j) => j.name).filter((n) => /smoke|bootstrap|scale|rotate/.test(n)).sort(), [
    "redis-cluster-prod-bootstrap", "redis-cluster-prod-rotate-add", "redis-cluster-prod-rotate-remove", "redis-cluster-prod-scale-in-job",
    "redis-cluster-prod-scale-out-job", "redis-cluster-prod-smoke-job",
  ]);
  const smoke = jobs.find((j) => j.name.includes("smoke"))!;
  const bootstrap = jobs.find((j) => j.name.endsWith("-bootstrap"))!;
  const scaleOut = jobs.find((j) => j.name.endsWith("-scale-out-job"))!;
  assert.equal(smoke.inputs.spec.template.metadata.labels["redis-cluster-client"], "true");
  // ACL users (prod default): the password rotation's remove step sits between the scale step and the smoke test.
  const rotateRemove = jobs.find((j) => j.name.endsWith("-rotate-remove"))!;
  assert.ok(smoke.options.dependsOn.includes(rotateRemove.urn), `smoke Job depends on ${smoke.options.dependsOn}`);
  assert.ok(rotateRemove.options.dependsOn.includes(scaleOut.urn), `rotate-remove Job depends on ${rotateRemove.options.dependsOn}`);
  assert.ok(scaleOut.options.dependsOn.includes(bootstrap.urn), `scale-out Job depends on ${scaleOut.options.dependsOn}`);
});

test("ACL (prod default): the smoke Job reads the passwords the last rotation retired from their auto-named Secret", () => {
  const retired = up.resources.find((r) => r.name === "redis-cluster-prod-acl-retired" && r.custom);
  assert.ok(retired, "retired-passwords Secret declared");
  assert.equal(retired.type, "kubernetes:core/v1:Secret");
  // Auto-named (the engine's suffix, as pulumi-kubernetes'): a rotation gives a new Secret, so the smoke Job that names
  // it is replaced and checks the retired passwords are refused.
  const name = retired.outputs.metadata.name as string;
  assert.match(name, /^redis-cluster-prod-acl-retired-[0-9a-f]{8}$/);
  assert.ok(isSecret(retired.outputs.stringData) || isSecret(retired.outputs.stringData["retired.json"]), "retired.json is secret in state");
  const smoke = of(up, "kubernetes:batch/v1:Job").find((j) => j.name.endsWith("-smoke-job"))!;
  const env = smoke.inputs.spec.template.spec.containers[0].env.find((e: any) => e.name === "REDIS_RETIRED_PASSWORDS");
  assert.deepEqual(env?.valueFrom?.secretKeyRef, { name, key: "retired.json" });
  assert.equal(env.value, undefined, "no value of its own: only the reference");
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
  assert.deepEqual(up2.resources.filter((r) => r.op !== "same" && r.op !== "read").map((r) => `${r.name}:${r.op}:${r.changedKeys}`), []);
  assert.deepEqual(up2.deletes, []);
});

test("a scale-down is planned at preview (no longer refused); fewer than 3 masters is refused naming the setting", () => {
  // 3x1 -> 3x0: the replicas (pods 3-5) are forgotten by the scale step before the StatefulSet shrinks (an update).
  assert.equal(scaleDown.exitCode, 0, scaleDown.errors.join("\n"));
  assert.match((scaleDown.outputs.scalePlan as string[]).join("\n"), /scale 3x1 -> 3x0[\s\S]*forget on every node, then remove: redis-cluster-prod-3, redis-cluster-prod-4, redis-cluster-prod-5/);
  assert.equal(one(scaleDown, "kubernetes:apps/v1:StatefulSet").op, "update");
  assert.equal(tooFewMasters.ok, false);
  assert.match(tooFewMasters.errors.join("\n"), /redis-cluster:masters must be >= 3/);
  assert.ok(!tooFewMasters.resources.some((r) => r.type === "kubernetes:apps/v1:StatefulSet"), "nothing declared after the refusal");
});

test("TLS (prod default): TLS-only redis.conf, node certificate in the pods, exporter over rediss://, client certificate in the Jobs", () => {
  const conf = of(up, "kubernetes:core/v1:ConfigMap").map((c) => c.inputs.data?.["redis.conf"]).find(Boolean) as string;
  for (const line of ["port 0", "tls-port 6379", "tls-cluster yes", "tls-replication yes", "tls-auth-clients optional"]) assert.ok(conf.split("\n").includes(line), line);
  const tlsSecrets = of(up, "kubernetes:core/v1:Secret").filter((s) => s.inputs.type === "kubernetes.io/tls");
  assert.equal(tlsSecrets.length, 2);
  const secretNames = tlsSecrets.map((s) => s.outputs.metadata.name as string);
  const pod = one(up, "kubernetes:apps/v1:StatefulSet").inputs.spec.template.spec;
  const tlsVolume = pod.volumes.find((v: any) => v.name === "tls");
  assert.ok(secretNames.includes(tlsVolume.secret.secretName), "the pods mount a TLS Secret");
  const env = (c: any) => Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
  const redis = pod.containers.find((c: any) => c.name === "redis");
  assert.equal(env(redis).REDIS_TLS_CA_FILE, "/etc/redis-cluster/tls/ca.crt");
  assert.equal(env(redis).REDIS_TLS_CERT_FILE, "/etc/redis-cluster/tls/tls.crt");
  const exporter = pod.containers.find((c: any) => c.name === "redis-exporter");
  assert.equal(env(exporter).REDIS_ADDR, "rediss://127.0.0.1:6379");
  assert.equal(env(exporter).REDIS_EXPORTER_TLS_CLIENT_KEY_FILE, "/etc/redis-cluster/tls/tls.key");
  assert.ok(exporter.volumeMounts.some((m: any) => m.name === "tls"));
  for (const job of of(up, "kubernetes:batch/v1:Job")) {
    const spec = job.inputs.spec.template.spec;
    assert.equal(env(spec.containers[0]).REDIS_TLS_CA_FILE, "/etc/redis-cluster/tls-client/ca.crt", job.name);
    assert.ok(secretNames.includes(spec.volumes.find((v: any) => v.name === "tls-client").secret.secretName), job.name);
  }
  // preferredEndpointType ip: redirects go to pod IPs, which no certificate names; the smoke Job checks the chain only.
  assert.equal(env(of(up, "kubernetes:batch/v1:Job").find((j) => j.name.includes("smoke"))!.inputs.spec.template.spec.containers[0]).REDIS_TLS_VERIFY_HOSTNAME, "no");
  // @pulumi/tls: a CA and two CA-signed certificates; the node certificate names every pod through a wildcard.
  assert.equal(of(up, "tls:index/privateKey:PrivateKey").length, 3);
  assert.equal(one(up, "tls:index/selfSignedCert:SelfSignedCert").inputs.isCaCertificate, true);
  const nodesCsr = up.resources.find((r) => r.name === `${TLS}-nodes-csr`)!;
  assert.ok(nodesCsr.inputs.dnsNames.includes("*.redis-cluster-prod-headless.redis.svc.cluster.local"));
  const nodesCert = up.resources.find((r) => r.name === `${TLS}-nodes-cert`)!;
  assert.deepEqual(nodesCert.inputs.allowedUses, ["digital_signature", "key_encipherment", "server_auth", "client_auth"]);
});

test("TLS: private keys only in secret inputs and outputs (state, Secrets), never plain; outputs name the Secrets", () => {
  const keys = ["ca", "nodes", "client"].map(fakeKey);
  for (const r of up.resources) {
    for (const [what, v] of [["input", r.inputs], ["output", r.outputs]] as const) {
      const plain = plainStrings(v);
      assert.ok(!plain.some((s) => s.includes("PRIVATE KEY")), `${r.type} ${r.name} has a private key in a plain ${what}`);
    }
  }
  assert.ok(!plainStrings(up.outputs).some((s) => s.includes("PRIVATE KEY")), "a stack output holds a private key in plain text");
  // The check can fail: the keys are there, as secrets, where they belong.
  const tlsSecrets = of(up, "kubernetes:core/v1:Secret").filter((s) => s.inputs.type === "kubernetes.io/tls");
  for (const s of tlsSecrets) {
    // The SDK marks the whole stringData secret when one of its values is.
    assert.ok(isSecret(s.inputs.stringData) || isSecret(s.inputs.stringData["tls.key"]), `${s.name} tls.key is secret`);
    assert.ok(keys.includes(unwrapSecrets(s.inputs.stringData)["tls.key"]), `${s.name} holds an issued key`);
  }
  assert.ok(!tlsSecrets.some((s) => JSON.stringify(unwrapSecrets(s.inputs)).includes(fakeKey("ca"))), "the CA key stays in state");
  assert.equal(up.outputs.tlsSecretName, tlsSecrets.find((s) => s.name.endsWith("-nodes"))!.outputs.metadata.name);
  assert.equal(up.outputs.tlsClientSecretName, tlsSecrets.find((s) => s.name.endsWith("-client"))!.outputs.metadata.name);
});

test("backup.enabled: backup and restore-drill CronJobs (Forbid, history, restricted, secrets by reference only), the Pushgateway and its rules", { timeout: 180_000 }, async () => {
  const REPO_PW = "backupRepoPassword-0123456789";
  const KEY = "AKIAEXAMPLEBACKUPKEY";
  const SECRET_KEY = "backupSecretAccessKey-0123456789abcdef";
  const IMAGE = "registry.example.com/redis-backup:7.0.15";
  const backup = { enabled: true, repository: "s3:https://s3.example.com/redis-backups/prod", password: REPO_PW, credentials: { accessKeyId: KEY, secretAccessKey: SECRET_KEY }, image: IMAGE, drillSchedule: "30 5 * * *" };
  const r = await runProgram({ stack: "prod", mode: "up", config: { ...pinned, "redis-cluster:backup": { secret: JSON.stringify(backup) } }, outputOverrides: tlsOverrides });
  assert.equal(r.exitCode, 0, r.errors.join("\n"));
  const cron = of(r, "kubernetes:batch/v1:CronJob");
  assert.deepEqual(cron.map((c) => c.name).sort(), ["redis-cluster-prod-backup", "redis-cluster-prod-restore-drill"]);
  const [b, d] = ["backup", "restore-drill"].map((k) => cron.find((c) => c.name.endsWith(`-${k}`))!);
  const bootstrap = of(r, "kubernetes:batch/v1:Job").find((j) => j.name.endsWith("-bootstrap"))!;
  const ns = "redis";
  const pushUrl = `http://redis-cluster-prod-pushgateway.${ns}.svc.cluster.local:9091`;
  for (const [c, schedule] of [[b, "0 2 * * *"], [d, "30 5 * * *"]] as const) {
    const s = unwrapSecrets(c.inputs.spec);
    assert.equal(s.schedule, schedule);
    assert.equal(s.concurrencyPolicy, "Forbid");
    assert.ok(s.successfulJobsHistoryLimit >= 1 && s.failedJobsHistoryLimit >= 1, "history limits");
    const pod = s.jobTemplate.spec.template.spec;
    const ct = pod.containers[0];
    assert.equal(ct.image, IMAGE);
    assert.deepEqual([pod.securityContext.runAsNonRoot, pod.securityContext.runAsUser, pod.securityContext.seccompProfile.type], [true, 1000, "RuntimeDefault"]);
    assert.deepEqual([ct.securityContext.readOnlyRootFilesystem, ct.securityContext.allowPrivilegeEscalation, ct.securityContext.capabilities.drop], [true, false, ["ALL"]]);
    assert.equal(ct.resources.limits.memory, "2Gi");
    assert.ok(c.options.dependsOn.includes(bootstrap.urn), `${c.name} waits for the bootstrap`);
    // The repository: its URL plain, its password and S3 keys from the repository Secret, never a value in the spec.
    const env = Object.fromEntries(ct.env.map((e: { name: string; value?: string; valueFrom?: any }) => [e.name, e.value ?? e.valueFrom.secretKeyRef]));
    assert.equal(env.RESTIC_REPOSITORY, backup.repository);
    for (const k of ["RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) assert.ok(env[k]?.name && env[k]?.key, `${c.name}: ${k} from a Secret`);
    assert.ok(ct.args.join(" ").includes(`--pushgateway ${pushUrl} --push-cluster redis-cluster-prod`), ct.args.join(" "));
    assert.ok(ct.args.includes("--work-dir"));
    for (const v of [REPO_PW, KEY, SECRET_KEY]) assert.ok(!plainStrings(c.inputs).includes(v) && !JSON.stringify(unwrapSecrets(c.inputs)).includes(v), `${c.name}: a repository secret in the CronJob`);
  }
  const bPod = unwrapSecrets(b.inputs.spec).jobTemplate.spec.template;
  const bEnv = Object.fromEntries(bPod.spec.containers[0].env.map((e: { name: string; value?: string; valueFrom?: any }) => [e.name, e.value ?? e.valueFrom.secretKeyRef]));
  // The backup logs in as the `backup` ACL user (prod default: ACL on) from that user's Secret, over TLS; it is a client.
  assert.equal(bEnv.REDIS_USER, "backup");
  const userSecret = r.resources.find((x) => x.name === "redis-cluster-prod-user-backup" && x.custom)!;
  assert.equal(bEnv.REDISCLI_AUTH.name, userSecret.outputs.metadata?.name ?? unwrapSecrets(userSecret.inputs).metadata.name);
  assert.ok(bEnv.REDIS_TLS_CA_FILE && bPod.spec.volumes.some((v: { secret?: unknown }) => v.secret), "TLS client certificate");
  assert.equal(bPod.metadata.labels["redis-cluster-client"], "true");
  assert.ok(bPod.spec.containers[0].args.join(" ").includes("backup --pause-bound-ms 1000"));
  // The drill reaches no node: no cluster password, no client label.
  const dPod = unwrapSecrets(d.inputs.spec).jobTemplate.spec.template;
  assert.ok(!dPod.spec.containers[0].env.some((e: { name: string }) => e.name === "REDISCLI_AUTH"));
  assert.equal(dPod.metadata.labels["redis-cluster-client"], undefined);
  assert.deepEqual(dPod.spec.containers[0].args.slice(0, 3), ["drill", "--snapshot", "latest"]);
  // This cluster's backups only, in a repository several clusters may share: the backup tags them with the name the drill picks.
  for (const [what, args] of [["drill", dPod.spec.containers[0].args], ["backup", bPod.spec.containers[0].args]] as const) {
    assert.ok(args.join(" ").includes("--cluster-name redis-cluster-prod "), `${what}: ${args.join(" ")}`);
  }
  // The repository Secret: the values secret-wrapped in the program's inputs.
  const repoSecret = r.resources.find((x) => x.name === "redis-cluster-prod-backup-repository" && x.custom)!;
  assert.ok(isSecret(repoSecret.inputs.stringData) || Object.values(repoSecret.inputs.stringData).every(isSecret), "repository Secret data is secret");
  assert.deepEqual(Object.keys(unwrapSecrets(repoSecret.inputs.stringData)).sort(), ["access-key-id", "password", "secret-access-key"]);
  // No ConfigMap carries a repository secret (the bundle's ConfigMap holds code only).
  for (const cm of of(r, "kubernetes:core/v1:ConfigMap")) for (const v of [REPO_PW, SECRET_KEY]) assert.ok(!JSON.stringify(unwrapSecrets(cm.inputs)).includes(v), `${cm.name} holds a secret`);
  assert.ok(JSON.stringify(of(r, "kubernetes:core/v1:ConfigMap").find((c) => c.name.endsWith("-backup-bundle"))!.inputs.data).includes("redis-cluster backup/restore"));
  // The Pushgateway: Deployment and Service by the planned name, a NetworkPolicy admitting only the two Jobs and the
  // monitoring namespace, a ServiceMonitor keeping the pushed labels.
  const pgDeploy = of(r, "kubernetes:apps/v1:Deployment").find((x) => x.name === "redis-cluster-prod-pushgateway")!;
  assert.equal(pgDeploy.inputs.metadata.name, "redis-cluster-prod-pushgateway");
  assert.equal(pgDeploy.inputs.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem, true);
  const pgSvc = of(r, "kubernetes:core/v1:Service").find((x) => x.name === "redis-cluster-prod-pushgateway")!;
  assert.equal(pgSvc.inputs.spec.ports[0].port, 9091);
  const pol = of(r, "kubernetes:networking.k8s.io/v1:NetworkPolicy").find((x) => x.name === "redis-cluster-prod-pushgateway-netpol")!.inputs.spec;
  assert.deepEqual(pol.ingress[0].from[0].podSelector.matchExpressions[0].values, ["backup", "restore-drill"]);
  assert.deepEqual(pol.ingress[1].from[0].namespaceSelector.matchLabels, { "kubernetes.io/metadata.name": "monitoring" });
  const sm = r.resources.find((x) => x.name === "redis-cluster-prod-pushgateway-servicemonitor")!;
  assert.equal(sm.inputs.spec.endpoints[0].honorLabels, true);
  const rules = JSON.stringify(r.resources.find((x) => x.inputs?.kind === "PrometheusRule")!.inputs.spec);
  assert.ok(rules.includes("RedisRestoreDrillFailed") && rules.includes('redis_backup_last_success_timestamp_seconds{cluster=\\"redis-cluster-prod\\"}'), "backup rules in the PrometheusRule");
  // Without backup: none of it.
  assert.equal(of(up, "kubernetes:batch/v1:CronJob").length, 0);
  assert.ok(!of(up, "kubernetes:apps/v1:Deployment").some((x) => x.name.includes("pushgateway")));
});

/** The restore Job: one per restore (its name keyed by snapshot, cluster id and repository). */
const RESTORE_JOB = /^redis-cluster-prod-restore-[0-9a-f]{8}$/;

test("restore.snapshot left set: a later up with another image and resources keeps the finished restore Job (no second restore); another snapshot is a new Job; a refusal fails it at once", { timeout: 240_000 }, async () => {
  const REPO_PW = "restoreRepoPassword-0123456789";
  const restore = (snapshot: string) => ({ "redis-cluster:restore": { secret: JSON.stringify({ snapshot, repository: "rest:http://backups.example.com:8000/", password: REPO_PW }) } });
  const backup = (image: string, memory: string) => ({ "redis-cluster:backup": { image, resources: { requests: { cpu: "100m", memory }, limits: { memory } } } });
  const first = await runProgram({ stack: "prod", mode: "up", config: { ...pinned, ...restore("0123abcd"), ...backup("registry.example.com/redis-backup:1", "1Gi") }, outputOverrides: tlsOverrides });
  assert.equal(first.exitCode, 0, first.errors.join("\n"));
  const job1 = of(first, "kubernetes:batch/v1:Job").find((j) => RESTORE_JOB.test(j.name))!;
  assert.ok(job1, of(first, "kubernetes:batch/v1:Job").map((j) => j.name).join(", "));
  assert.equal(job1.inputs.metadata.name, job1.name, "the Kubernetes name is the keyed one");
  // A refusal (exit 2) is final: no retry; a failure (exit 3) or a crash (exit 1) resumes on the next attempt.
  const spec1 = unwrapSecrets(job1.inputs.spec);
  assert.deepEqual(spec1.podFailurePolicy, { rules: [{ action: "FailJob", onExitCodes: { containerName: "restore", operator: "In", values: [2] } }] });
  // The completed restore is recorded: the next deployment reads it back (infra/lastDeployment.ts).
  assert.equal(first.outputs.restoreJob, job1.name);
  assert.equal(spec1.template.spec.restartPolicy, "Never", "podFailurePolicy needs restartPolicy Never");
  assert.ok(spec1.backoffLimit >= 1, "a failed restore is retried");

  // Anything else changed (image, resources): the same Job, not replaced (a replaced Job would restore again).
  const second = await runProgram({ stack: "prod", mode: "up", priorState: first.state, config: { ...pinned, ...restore("0123abcd"), ...backup("registry.example.com/redis-backup:2", "2Gi") }, outputOverrides: tlsOverrides });
  assert.equal(second.exitCode, 0, second.errors.join("\n"));
  const job2 = second.resources.find((x) => x.urn === job1.urn);
  assert.ok(job2, "the restore Job is gone after an image change");
  assert.equal(job2.op, "same", `the restore Job: ${job2.op} (${job2.changedKeys.join(", ")})`);
  // As the engine does, the ignored spec keeps its old value in the state (a replacement would be made from it).
  const ct2 = unwrapSecrets(job2.inputs.spec).template.spec.containers[0];
  assert.deepEqual([ct2.image, ct2.resources.limits.memory], ["registry.example.com/redis-backup:1", "1Gi"]);

  // A restore Job that did not complete (the last deployment recorded no restoreJob: its up failed) is not frozen: the
  // next up replaces it from the current spec (a renamed Secret or bundle must reach its pod).
  const unfinished = structuredClone(first.state);
  const stackEntry = unfinished.resources.find((x) => x.type === "pulumi:pulumi:Stack")!;
  delete stackEntry.outputs.restoreJob;
  const retried = await runProgram({ stack: "prod", mode: "up", priorState: unfinished, config: { ...pinned, ...restore("0123abcd"), ...backup("registry.example.com/redis-backup:2", "2Gi") }, outputOverrides: tlsOverrides });
  assert.equal(retried.exitCode, 0, retried.errors.join("\n"));
  const jobR = retried.resources.find((x) => x.urn === job1.urn)!;
  assert.equal(jobR.op, "replace", `the unfinished restore Job: ${jobR.op}`);
  assert.equal(unwrapSecrets(jobR.inputs.spec).template.spec.containers[0].image, "registry.example.com/redis-backup:2");

  // Another snapshot: a new Job (a new name), the old one deleted.
  const third = await runProgram({ stack: "prod", mode: "up", priorState: second.state, config: { ...pinned, ...restore("4567cdef"), ...backup("registry.example.com/redis-backup:2", "2Gi") }, outputOverrides: tlsOverrides });
  assert.equal(third.exitCode, 0, third.errors.join("\n"));
  const jobs3 = of(third, "kubernetes:batch/v1:Job").filter((j) => RESTORE_JOB.test(j.name));
  assert.equal(jobs3.length, 1, jobs3.map((j) => j.name).join(", "));
  assert.notEqual(jobs3[0].urn, job1.urn);
  assert.equal(jobs3[0].op, "create");
  const ct3 = unwrapSecrets(jobs3[0].inputs.spec).template.spec.containers[0];
  assert.deepEqual([ct3.image, ct3.args.slice(0, 3)], ["registry.example.com/redis-backup:2", ["restore", "--snapshot", "4567cdef"]]);
});

test("restore.snapshot: a restore Job after the cluster is formed (users rotated), before the smoke test; the repository's password by reference", { timeout: 180_000 }, async () => {
  const REPO_PW = "restoreRepoPassword-0123456789";
  const restore = { snapshot: "0123abcd", repository: "rest:http://backups.example.com:8000/", password: REPO_PW };
  const r = await runProgram({ stack: "prod", mode: "up", config: { ...pinned, "redis-cluster:restore": { secret: JSON.stringify(restore) }, "redis-cluster:backup": { image: "registry.example.com/redis-backup:7.0.15" } }, outputOverrides: tlsOverrides });
  assert.equal(r.exitCode, 0, r.errors.join("\n"));
  const jobs = of(r, "kubernetes:batch/v1:Job");
  const job = jobs.find((j) => RESTORE_JOB.test(j.name))!;
  assert.ok(job, jobs.map((j) => j.name).join(", "));
  const rotateRemove = jobs.find((j) => j.name.endsWith("-rotate-remove"))!;
  const smoke = jobs.find((j) => j.name.includes("smoke"))!;
  assert.ok(job.options.dependsOn.includes(rotateRemove.urn), "the restore waits for the formed cluster");
  assert.ok(smoke.options.dependsOn.includes(job.urn), "the smoke test waits for the restore");
  const ct = unwrapSecrets(job.inputs.spec).template.spec.containers[0];
  assert.deepEqual(ct.args.slice(0, 3), ["restore", "--snapshot", "0123abcd"]);
  assert.ok(ct.env.some((e: { name: string; valueFrom?: any }) => e.name === "RESTIC_PASSWORD" && e.valueFrom.secretKeyRef.name));
  assert.ok(!JSON.stringify(unwrapSecrets(job.inputs)).includes(REPO_PW), "the password in the Job");
  assert.equal(of(r, "kubernetes:batch/v1:CronJob").length, 0, "no backup CronJob without backup.enabled");
});
