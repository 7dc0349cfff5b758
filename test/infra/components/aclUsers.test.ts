// ACL users in the Docker dev component under Pulumi mocks (fast wiring checks; the Kubernetes wiring runs through the
// engine in test/infra/index.acl.test.ts): generated passwords, the ACL file and replica's password as private uploads,
// nodes as admin, exporters as exporter without CONFIG GET, rotate add before the nodes and remove after the bootstrap.
import { test } from "node:test";
import assert from "node:assert/strict";
import { installMocks, isSecretInput, unwrapSecret, valueOf } from "../../helpers/pulumiMocks";

const mocks = installMocks({ config: {} });

test("docker with acl.enabled: files, users and rotation steps", async () => {
  const { validateConfig } = await import("../../../infra/config/schema");
  const { planCluster } = await import("../../../infra/plan/plan");
  const { RedisDockerCluster } = await import("../../../infra/components/dockerCluster");
  const { ACL_PATHS } = await import("../../../infra/components/aclUsers");
  const spec = validateConfig({ platform: "docker", acl: { enabled: true, defaultUser: "off" } }, { name: "redis-cluster-dev" });
  const ADMIN = "dev-Password-0123456789";
  const cluster = await mocks.run(async () => new RedisDockerCluster("dev", { spec, plan: planCluster(spec), password: ADMIN }));
  await valueOf(cluster.seeds);
  // Containers register once their inputs (network name, image id, the ACL file) resolve: wait until nothing new comes.
  for (let i = 0, n = -1; i < 100 && n !== mocks.resources.length; i++) {
    n = mocks.resources.length;
    await new Promise((r) => setTimeout(r, 50));
  }
  const containers = mocks.resources.filter((r) => r.type === "docker:index/container:Container");
  const node = containers.find((c) => c.name === "dev-node-0")!;
  assert.ok(node, `containers: ${containers.map((c) => c.name).join(", ")}`);
  const upload = (c: typeof node, file: string) => unwrapSecret<any[]>(c.inputs.uploads).find((u: any) => u.file === file);
  const aclUpload = upload(node, ACL_PATHS.aclFile);
  assert.ok(isSecretInput(node.inputs.uploads) || isSecretInput(aclUpload.content), "ACL file uploaded as a secret");
  assert.equal(aclUpload.permissions, "0400");
  assert.ok(upload(node, ACL_PATHS.masterauth));
  assert.ok(node.inputs.envs.includes(`REDIS_ACL_FILE=${ACL_PATHS.aclFile}`) && node.inputs.envs.includes("REDIS_MASTERUSER=replica"));
  assert.match(node.inputs.healthcheck.tests[1], /redis-cli --user admin /);
  assert.ok(!JSON.stringify(unwrapSecret(node.inputs.envs)).includes(ADMIN));
  const exporter = containers.find((c) => c.name.includes("exporter"))!;
  const exporterEnv = JSON.stringify(unwrapSecret(exporter.inputs.envs));
  assert.match(exporterEnv, /REDIS_USER=exporter/);
  assert.match(exporterEnv, /REDIS_EXPORTER_CONFIG_COMMAND=-/);
  assert.ok(!exporterEnv.includes(ADMIN), "the exporter gets its own password, not admin's");
  const pw = await valueOf(cluster.userPasswords.exporter);
  assert.equal(pw, "generatedPassword0123456789abcdef");
  const opts = (name: string) => mocks.options.find((o) => o.name === name)!;
  assert.ok(opts("dev-node-0").dependsOn.includes("dev-rotate-add"), "nodes change only after rotate add");
  assert.ok(opts("dev-rotate-remove").dependsOn.length > 0);
  const remove = containers.find((c) => c.name === "dev-rotate-remove")!;
  assert.deepEqual(remove.inputs.entrypoints.slice(0, 2), ["sh", "-c"]);
  assert.match(remove.inputs.entrypoints[2], /rotate\.sh remove && cp /);
  assert.ok(cluster.ready.some((r) => (r as any).__name === "dev-rotate-check"), "the stack waits for the remove step's check");
  const text = typeof aclUpload.content === "string" ? aclUpload.content : unwrapSecret<string>(aclUpload.content);
  assert.match(text, /^user default off /m);
  assert.ok(!text.includes(ADMIN), "hashes only");
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
  // Values the provider host hands over still wrapped as secrets are unwrapped first.
  const { unwrapSecret } = await import("../../../infra/components/aclUsers");
  const sig = "4dabf18193072939515e22adb298388d";
  assert.deepEqual(unwrapSecret({ [sig]: "1b47061264138c4ac30d75fd1eb44270", value: { admin: "a1" } }), { admin: "a1" });
  assert.deepEqual(unwrapSecret({ admin: "a1" }), { admin: "a1" });
  // The dynamic resource holds the passwords as a secret.
  const history = mocks.resources.find((r) => r.name === "dev-acl-users-password-history");
  assert.ok(history, "the docker component registers the password history");
  assert.ok(isSecretInput(history!.inputs.current), "current passwords are a secret input");
});
