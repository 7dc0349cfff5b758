// ACL users in the Docker dev component under Pulumi mocks (fast wiring checks; the Kubernetes wiring runs through the
// engine in test/infra/index.acl.test.ts): generated passwords; the ACL file, replica's and admin's passwords copied by
// the `node-secrets` step into each node's secrets volume (read-only in the node), so a password change leaves the node
// containers' inputs as they were (no re-create, no outage); nodes as admin, exporters as exporter without CONFIG GET,
// rotate add before the files and remove after the bootstrap.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, isSecretInput, settle, unwrapSecret, valueOf } from "../../helpers/pulumiMocks";

const mocks = installMocks({ config: {} });

/** The Docker component with acl.enabled and the given admin and smoke passwords: its recorded resources and options. */
async function dockerAcl(admin: string, smoke: string) {
  const { validateConfig } = await import("../../../infra/config/schema");
  const { planCluster } = await import("../../../infra/plan/plan");
  const { RedisDockerCluster } = await import("../../../infra/components/dockerCluster");
  const spec = validateConfig({ platform: "docker", acl: { enabled: true, defaultUser: "off" } }, { name: "redis-cluster-dev" });
  mocks.resources.length = 0;
  mocks.options.length = 0;
  const cluster = await mocks.run(async () => new RedisDockerCluster("dev", { spec, plan: planCluster(spec), password: admin, aclPasswords: { smoke } }));
  await valueOf(cluster.seeds);
  // Containers register once their inputs (network name, image id, the ACL file) resolve: wait until nothing new comes.
  await settle(mocks.resources);
  const containers = mocks.resources.filter((r) => r.type === "docker:index/container:Container");
  const opts = new Map(mocks.options.map((o) => [o.name, o]));
  return { cluster, containers: [...containers], opts };
}

test("docker with acl.enabled: files, users and rotation steps", async () => {
  const { ACL_PATHS } = await import("../../../infra/components/aclUsers");
  const SECRETS = "/etc/redis-cluster-secrets";
  const ADMIN = "dev-Password-0123456789";
  const { cluster, containers, opts } = await dockerAcl(ADMIN, "dev-Smoke-0123456789");
  const node = containers.find((c) => c.name === "dev-node-0")!;
  assert.ok(node, `containers: ${containers.map((c) => c.name).join(", ")}`);
  const files = containers.find((c) => c.name === "dev-node-secrets")!;
  assert.ok(files, `the node-secrets step: ${containers.map((c) => c.name).join(", ")}`);
  const upload = (c: typeof node, file: string) => unwrapSecret<any[]>(c.inputs.uploads).find((u: any) => u.file.endsWith(file));
  const aclUpload = upload(files, "/users.acl");
  assert.ok(isSecretInput(files.inputs.uploads) || isSecretInput(aclUpload.content), "ACL file uploaded as a secret");
  assert.equal(aclUpload.permissions, "0400");
  assert.ok(upload(files, "/replica-password") && upload(files, "/admin-password"));
  // Every node's secrets volume, mounted in the copy step and read-only in its node at the ACL files' directory.
  const mounts = unwrapSecret<any[]>(files.inputs.volumes);
  assert.equal(mounts.length, 6);
  const nodeMount = unwrapSecret<any[]>(node.inputs.volumes).find((v: any) => v.containerPath === SECRETS);
  assert.deepEqual(nodeMount, { volumeName: "redis-cluster-dev-node-0-secrets", containerPath: SECRETS, readOnly: true });
  assert.ok(mounts.some((m: any) => m.volumeName === nodeMount.volumeName));
  assert.equal(unwrapSecret<any[]>(node.inputs.uploads).filter((u: any) => /acl|password/.test(u.file)).length, 0, "no secret among the node's uploads");
  assert.ok(node.inputs.envs.includes(`REDIS_ACL_FILE=${SECRETS}/users.acl`) && node.inputs.envs.includes("REDIS_MASTERUSER=replica"));
  assert.ok(node.inputs.envs.includes(`REDIS_MASTERAUTH_FILE=${SECRETS}/replica-password`));
  assert.ok(node.inputs.envs.includes(`REDIS_PASSWORD_FILE=${SECRETS}/admin-password`));
  assert.equal(ACL_PATHS.aclFile.split("/").pop(), "users.acl", "same file names as the Kubernetes ACL Secret");
  assert.match(node.inputs.healthcheck.tests[1], /redis-cli --user admin /);
  assert.match(node.inputs.healthcheck.tests[1], /cat \/etc\/redis-cluster-secrets\/admin-password/);
  assert.ok(!JSON.stringify(unwrapSecret(node.inputs.envs)).includes(ADMIN));
  const exporter = containers.find((c) => c.name.includes("exporter"))!;
  const exporterEnv = JSON.stringify(unwrapSecret(exporter.inputs.envs));
  assert.match(exporterEnv, /REDIS_USER=exporter/);
  assert.match(exporterEnv, /REDIS_EXPORTER_CONFIG_COMMAND=-/);
  assert.ok(!exporterEnv.includes(ADMIN), "the exporter gets its own password, not admin's");
  const pw = await valueOf(cluster.userPasswords.exporter);
  assert.equal(pw, "generatedPassword0123456789abcdef");
  // Order: rotate add, the copy (checked), the nodes; remove after the bootstrap.
  assert.ok(opts.get("dev-node-secrets")!.dependsOn.includes("dev-rotate-add"), "the files change only after rotate add");
  assert.ok(opts.get("dev-node-0")!.dependsOn.includes("dev-node-secrets-check"), "nodes start only after the files are in place");
  assert.ok(opts.get("dev-rotate-remove")!.dependsOn.length > 0);
  const remove = containers.find((c) => c.name === "dev-rotate-remove")!;
  assert.deepEqual(remove.inputs.entrypoints.slice(0, 2), ["sh", "-c"]);
  assert.match(remove.inputs.entrypoints[2], /rotate\.sh remove && cp /);
  assert.ok(cluster.ready.some((r) => (r as any).__name === "dev-rotate-check"), "the stack waits for the remove step's check");
  const text = typeof aclUpload.content === "string" ? aclUpload.content : unwrapSecret<string>(aclUpload.content);
  assert.match(text, /^user default off /m);
  assert.ok(!text.includes(ADMIN), "hashes only");
});

test("docker with acl.enabled: a password rotation changes the rotation and copy steps, never a node container", async () => {
  const inputsOf = async (admin: string, smoke: string) => {
    const { containers } = await dockerAcl(admin, smoke);
    return new Map(containers.map((c) => [c.name, JSON.stringify(unwrapSecret(c.inputs))]));
  };
  const before = await inputsOf("dev-Password-0123456789", "dev-Smoke-0123456789");
  const after = await inputsOf("dev-Password-9876543210", "dev-Smoke-9876543210");
  const changed = [...before.keys()].filter((n) => before.get(n) !== after.get(n)).sort();
  assert.deepEqual(changed.filter((n) => /-node-\d+$/.test(n)), [], "no node container's inputs change (the engine would re-create it)");
  for (const n of ["dev-rotate-add", "dev-rotate-remove", "dev-node-secrets", "dev-bootstrap"]) assert.ok(changed.includes(n), `${n} runs again: ${changed.join(", ")}`);
});

test("password history: a rotation retires each changed password; unchanged users keep what they retired", async () => {
  const { retiredAfter } = await import("../../../infra/components/aclUsers");
  assert.deepEqual(retiredAfter({}, {}, { admin: "a1", smoke: "s1" }), {}, "first deploy: nothing retired");
  const r1 = retiredAfter({ admin: "a1", smoke: "s1" }, {}, { admin: "a1", smoke: "s2" });
  assert.deepEqual(r1, { smoke: ["s1"] });
  // A later rotation of another user: smoke's retired password stays retired (still refused), admin's joins it.
  assert.deepEqual(retiredAfter({ admin: "a1", smoke: "s2" }, r1, { admin: "a2", smoke: "s2" }), { admin: ["a1"], smoke: ["s1"] });
  // Back to a retired password: it is current again, so no longer retired; a removed user is dropped.
  assert.deepEqual(retiredAfter({ admin: "a1", smoke: "s2" }, r1, { admin: "a1", smoke: "s1" }), { smoke: ["s2"] });
  assert.deepEqual(retiredAfter({ admin: "a1", app: "p1" }, { app: ["p0"] }, { admin: "a1" }), {});
  // The component works from the last deployment's outputs (infra/lastDeployment.ts): smoke's password changed since,
  // so it retires the old one; the map is a secret output, and so is its JSON for the smoke step.
  const { AclUsers } = await import("../../../infra/components/aclUsers");
  const { validateConfig } = await import("../../../infra/config/schema");
  const spec = validateConfig({ platform: "docker", acl: { enabled: true, defaultUser: "off" } }, { name: "redis-cluster-dev" });
  const acl = await mocks.run(async () =>
    new AclUsers("hist", { spec, adminPassword: "a1", configured: { smoke: "s2" }, last: { passwords: { admin: "a1", smoke: "s1" }, retired: { admin: ["a0"] } } }),
  );
  assert.deepEqual(await valueOf(acl.retired), { admin: ["a0"], smoke: ["s1"] });
  assert.equal(await pulumi.isSecret(acl.retired), true, "the retired passwords are a secret output");
  assert.deepEqual(JSON.parse(await valueOf(acl.retiredPasswords)), { admin: ["a0"], smoke: ["s1"] });
  assert.equal(await pulumi.isSecret(acl.retiredPasswords), true);
});
