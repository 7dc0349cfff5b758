// The stack outputs through the test engine, as `pulumi preview` prints them: each stack exports only what its platform
// and its settings have (no "Undefined value (…) will not show as a stack output" warning), the secrets stay secret, and
// the only warnings are the ones that ask the user to act.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { runProgram, type RunResult } from "../../testbed/engine/engine";
import { isSecret, unwrapSecrets } from "../../testbed/engine/values";
import { readStackFile } from "../helpers/stackConfig";

const k8sConfig = readStackFile("prod")["redis-cluster:kubernetes"] as Record<string, unknown>;
const password = { secret: "outputsPassword-0123456789" };
const pinned = { "redis-cluster:kubernetes": { ...k8sConfig, context: "prod-admin@redis-prod" } };
const CONTEXT_WARNING =
  "redis-cluster:kubernetes.context is not set, so redis-cluster-prod deploys to the kubeconfig's current context; " +
  "pin it with `pulumi config set --path redis-cluster:kubernetes.context <context>`";
const COMMON = ["platform", "masters", "replicasPerMaster", "seeds", "scalePlan", "scaleTopology", "smokeDefinitionHash", "redisPassword"];
const DOCKER = [...COMMON, "network", "nodes", "hostSeeds", "natMap", "bootstrapExitCode"];
const KUBERNETES = [...COMMON, "namespace", "statefulSet", "clientEndpoint", "secretName"];

let dev: RunResult; // Pulumi.dev.yaml as committed: monitoring on, TLS and ACL users off
let devSecure: RunResult; // up: TLS and ACL users on, monitoring off, a configured password
let prod: RunResult; // Pulumi.prod.yaml as committed: TLS and ACL users on, no kubernetes.context
let prodPlain: RunResult; // context pinned, TLS and ACL users off, a configured password

// @pulumi/tls has no provider here: on `up` the engine reports these PEMs for the dev certificates' resources.
const TLS = "redis-cluster-dev-tls";
const pem = (kind: string, id: string) => `-----BEGIN ${kind}-----\n${Buffer.from(`fake ${id}`).toString("base64")}\n-----END ${kind}-----\n`;
const tlsOverrides: Record<string, Record<string, unknown>> = {
  [`${TLS}-ca`]: { certPem: pem("CERTIFICATE", "ca") },
  ...Object.fromEntries(["ca", "client", ...[0, 1, 2, 3, 4, 5].map((i) => `node-${i}`)].flatMap((id) => [
    [`${TLS}-${id}-key`, { privateKeyPem: pem("PRIVATE KEY", `${id} key`) }],
    [`${TLS}-${id}-csr`, { certRequestPem: pem("CERTIFICATE REQUEST", id) }],
    [`${TLS}-${id}-cert`, { certPem: pem("CERTIFICATE", id) }],
  ])),
};

before(async () => {
  [dev, prod] = await Promise.all([runProgram({ stack: "dev", mode: "preview" }), runProgram({ stack: "prod", mode: "preview" })]);
  [devSecure, prodPlain] = await Promise.all([
    runProgram({
      stack: "dev", mode: "up", outputOverrides: tlsOverrides,
      config: { password, "redis-cluster:tls": { enabled: true }, "redis-cluster:acl": { enabled: true }, "redis-cluster:monitoring": { enabled: false } },
    }),
    runProgram({ stack: "prod", mode: "preview", config: { ...pinned, password, "redis-cluster:tls": { enabled: false }, "redis-cluster:acl": { enabled: false } } }),
  ]);
  for (const r of [dev, devSecure, prod, prodPlain]) assert.equal(r.exitCode, 0, r.errors.join("\n"));
});

const warnings = (r: RunResult) => r.logs.filter((l) => l.severity === "warning").map((l) => l.message);
const keys = (r: RunResult) => Object.keys(r.outputs).sort();
const sorted = (k: string[]) => [...k].sort();

test("preview and up warn only where the user must act: the unpinned prod context, no undefined output", () => {
  assert.deepEqual(warnings(dev), []);
  assert.deepEqual(warnings(devSecure), []);
  assert.deepEqual(warnings(prod), [CONTEXT_WARNING]);
  assert.deepEqual(warnings(prodPlain), []);
});

test("dev exports the Docker outputs only, and per setting what it has (prometheusUrl, TLS client PEMs, ACL passwords)", () => {
  assert.deepEqual(keys(dev), sorted([...DOCKER, "prometheusUrl"]));
  assert.deepEqual(keys(devSecure), sorted([...DOCKER, "tlsCaCert", "tlsClientCert", "tlsClientKey", "aclPasswords", "aclRetiredPasswords"]));
});

test("prod exports the Kubernetes outputs only, and per setting what it has (TLS Secrets, ACL Secrets and passwords)", () => {
  assert.deepEqual(keys(prod), sorted([...KUBERNETES, "tlsSecretName", "tlsClientSecretName", "aclSecretNames", "aclPasswords", "aclRetiredPasswords"]));
  assert.deepEqual(keys(prodPlain), sorted(KUBERNETES));
});

test("passwords and the client key are secret outputs; the PEMs and passwords are the ones deployed", () => {
  for (const r of [devSecure, prodPlain]) assert.ok(isSecret(r.outputs.redisPassword), `${r.outputs.platform}: redisPassword`);
  assert.equal(unwrapSecrets(devSecure.outputs.redisPassword), password.secret);
  assert.ok(isSecret(devSecure.outputs.tlsClientKey));
  assert.equal(unwrapSecrets(devSecure.outputs.tlsClientKey), pem("PRIVATE KEY", "client key"));
  assert.equal(devSecure.outputs.tlsClientCert, pem("CERTIFICATE", "client"));
  assert.equal(devSecure.outputs.tlsCaCert, pem("CERTIFICATE", "ca"));
  assert.ok(isSecret(devSecure.outputs.aclPasswords));
  // What rotations retired: read back by the next deployment (a first one retired nothing), secret like the passwords.
  assert.ok(isSecret(devSecure.outputs.aclRetiredPasswords));
  assert.deepEqual(unwrapSecrets(devSecure.outputs.aclRetiredPasswords), {});
  // canary: Pulumi.dev.yaml enables the canary, which has a user of its own.
  assert.deepEqual(Object.keys(unwrapSecrets(devSecure.outputs.aclPasswords)).sort(), ["admin", "canary", "exporter", "replica", "smoke"]);
  assert.equal(dev.outputs.platform, "docker");
  assert.equal(prod.outputs.platform, "kubernetes");
});
