// The dev program under Pulumi mocks: Pulumi.dev.yaml must yield the six-node Docker topology plus bootstrap.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { engineConfig } from "../helpers/stackConfig";
import { installMocks, valueOf, isSecretInput, plainStrings, unwrapSecret, settle, type RecordedResource } from "../helpers/pulumiMocks";

const PASSWORD = "devPassword-0123456789";
const mocks = installMocks({
  config: engineConfig("dev", { "redis-cluster:password": PASSWORD }),
  secretKeys: ["redis-cluster:password"],
});
let program: typeof import("../../infra/index");
const byType = (t: string): RecordedResource[] => mocks.resources.filter((r) => r.type === t);

before(async () => {
  program = await mocks.run(() => import("../../infra/index"));
  await valueOf(program.bootstrapExitCode as any);
  await valueOf(program.natMap as any);
  await valueOf(program.prometheusUrl as any);
  await settle(mocks.resources);
});

test("declares one network, six volumes, six node containers and one bootstrap container", () => {
  assert.equal(byType("docker:index/network:Network").length, 1);
  assert.equal(byType("docker:index/volume:Volume").length, 6);
  const containers = byType("docker:index/container:Container");
  assert.equal(containers.filter((c) => c.name.endsWith("-bootstrap")).length, 1);
  assert.equal(containers.filter((c) => /^redis-cluster-dev-node-\d$/.test(c.name)).length, 6);
  assert.equal(byType("redis-cluster:docker:RedisDockerCluster").length, 1);
});

test("network has a fixed subnet and every node a static address, announced to peers", () => {
  const net = byType("docker:index/network:Network")[0];
  assert.deepEqual(net.inputs.ipamConfigs, [{ subnet: "172.28.0.0/24", gateway: "172.28.0.1", ipRange: "172.28.0.128/25" }]);
  const nodes = byType("docker:index/container:Container").filter((c) => /^redis-cluster-dev-node-\d$/.test(c.name));
  nodes.forEach((c, i) => {
    const ip = `172.28.0.${11 + i}`;
    assert.equal(c.inputs.networksAdvanced[0].ipv4Address, ip);
    assert.ok(c.inputs.envs.includes(`REDIS_ANNOUNCE_IP=${ip}`), `${c.name} announces ${ip}`);
    assert.ok(!c.inputs.envs.some((e: string) => e.includes("127.0.0.1")), "no node announces loopback");
  });
});

test("publishes client ports 7001-7006 and bus ports 17001-17006", () => {
  const nodes = byType("docker:index/container:Container").filter((c) => /^redis-cluster-dev-node-\d$/.test(c.name));
  nodes.forEach((c, i) => {
    const ports = c.inputs.ports.map((p: { internal: number; external: number; ip: string }) => [p.internal, p.external, p.ip]);
    // Loopback only: the cluster bus has no authentication.
    assert.deepEqual(ports, [[6379, 7001 + i, "127.0.0.1"], [16379, 17001 + i, "127.0.0.1"]]);
  });
});

test("nodes have healthcheck, restart policy, wait-for-healthy, own named volume, config uploaded as content", () => {
  const nodes = byType("docker:index/container:Container").filter((c) => /^redis-cluster-dev-node-\d$/.test(c.name));
  const volumes = byType("docker:index/volume:Volume").map((v) => v.inputs.name);
  for (const c of nodes) {
    assert.match(c.inputs.healthcheck.tests.join(" "), /redis-cli -p 6379 ping/);
    assert.equal(c.inputs.restart, "unless-stopped");
    assert.equal(c.inputs.wait, true);
    assert.ok(volumes.includes(c.inputs.volumes[0].volumeName));
    assert.equal(c.inputs.volumes[0].containerPath, "/data");
    assert.ok(c.inputs.volumes.every((v: { hostPath?: string }) => !v.hostPath), "no host paths");
    const conf = unwrapSecret<{ file: string; content: string }[]>(c.inputs.uploads).find((u: { file: string }) => u.file === "/etc/redis-cluster/redis.conf");
    assert.match(conf!.content, /cluster-enabled yes/);
    assert.deepEqual(c.inputs.entrypoints, ["sh", "/etc/redis-cluster/entrypoint.sh"]);
  }
  assert.equal(new Set(volumes).size, 6);
});

test("bootstrap runs after every node container is healthy, once, on the cluster network", () => {
  const boot = mocks.options.find((o) => o.type === "docker:index/container:Container" && o.name.endsWith("-bootstrap"))!;
  const nodeNames = mocks.options.filter((o) => o.type === "docker:index/container:Container" && /^redis-cluster-dev-node-\d$/.test(o.name)).map((o) => o.name);
  assert.deepEqual([...boot.dependsOn].sort(), [...nodeNames].sort());
  const c = byType("docker:index/container:Container").find((r) => r.name.endsWith("-bootstrap"))!;
  assert.equal(c.inputs.mustRun, false);
  assert.equal(c.inputs.attach, true);
  assert.ok(c.inputs.envs.includes("REDIS_MASTERS=3") && c.inputs.envs.includes("REDIS_REPLICAS=1"));
  assert.ok(c.inputs.envs.some((e: string) => e.startsWith("REDIS_NODES=172.28.0.11:6379 ")));
  // An outer limit past BOOTSTRAP_TIMEOUT: a hung bootstrap must not hang `pulumi up`.
  assert.deepEqual(c.inputs.entrypoints, ["timeout", "-s", "KILL", "360", "sh", "/etc/redis-cluster/bootstrap.sh"]);
});

test("monitoring: an exporter per node and a Prometheus, started after the bootstrap", () => {
  const containers = byType("docker:index/container:Container");
  const exporters = containers.filter((c) => /exporter/.test(c.name));
  assert.equal(exporters.length, 6);
  assert.equal(containers.filter((c) => /prometheus/.test(c.name)).length, 1);
  for (const o of mocks.options.filter((x) => x.type === "docker:index/container:Container")) {
    assert.equal(o.deleteBeforeReplace, true, `${o.name}: fixed container names need delete-before-replace`);
  }
  const mon = mocks.options.find((o) => o.type === "redis-cluster:monitoring:DockerMonitoring")!;
  assert.deepEqual(mon.dependsOn, ["redis-cluster-dev-bootstrap"]);
  // The dev cluster's own job (its cluster name) in the scrape config and in every rule.
  const uploads = containers.find((c) => /prometheus/.test(c.name))!.inputs.uploads as { file: string; content: string }[];
  assert.match(uploads.find((u) => u.file.endsWith("prometheus.yml"))!.content, /job_name: redis-cluster-dev\n/);
  assert.match(uploads.find((u) => u.file.includes("/rules/"))!.content, /job="redis-cluster-dev"/);
  assert.doesNotMatch(uploads.find((u) => u.file.includes("/rules/"))!.content, /job="redis"/);
});

test("the smoke test runs after the bootstrap and gates the deployment", () => {
  const smoke = mocks.options.find((o) => o.type === "redis-cluster:smoke:SmokeTest")!;
  assert.ok(smoke, "a SmokeTest component is declared");
  const cmd = mocks.options.find((o) => o.type === "command:local:Command" && o.name.includes("smoke"))!;
  assert.ok(cmd, "docker: the smoke CLI runs from the Pulumi host");
  assert.ok(cmd.dependsOn.includes("redis-cluster-dev-bootstrap"), `smoke depends on ${cmd.dependsOn}`);
});

test("nothing in dev is protected or retained, so `pulumi destroy` leaves nothing behind", () => {
  for (const o of mocks.options) {
    assert.ok(!o.protect, `${o.name} is protected`);
    assert.ok(!o.retainOnDelete, `${o.name} is retained on delete`);
  }
});

test("the password travels only as a secret upload, never in env, argv, config text or plain outputs", async () => {
  for (const r of mocks.resources) {
    const plain = plainStrings(r.inputs);
    assert.ok(!plain.some((s) => s.includes(PASSWORD)), `${r.type} ${r.name} has the password in a plain input`);
  }
  const c = byType("docker:index/container:Container")[0];
  // A secret element makes the whole uploads list secret in state.
  assert.ok(isSecretInput(c.inputs.uploads), "uploads holding the password are secret");
  const pw = unwrapSecret<{ file: string; permissions: string; content: string }[]>(c.inputs.uploads).find((u) => u.file.endsWith("/password"))!;
  assert.equal(unwrapSecret(pw.content), PASSWORD);
  assert.equal(pw.permissions, "0400");
  assert.equal(await valueOf(program.redisPassword), PASSWORD);
  for (const name of ["nodes", "seeds", "hostSeeds", "natMap"] as const) {
    assert.ok(!JSON.stringify(await valueOf(program[name] as any)).includes(PASSWORD));
  }
});

test("outputs give host clients what they need: seeds on published ports and an ioredis natMap", async () => {
  assert.deepEqual(await valueOf(program.hostSeeds as any), [7001, 7002, 7003, 7004, 7005, 7006].map((p) => `127.0.0.1:${p}`));
  const natMap = (await valueOf(program.natMap as any)) as Record<string, { host: string; port: number }>;
  assert.deepEqual(natMap["172.28.0.11:6379"], { host: "127.0.0.1", port: 7001 });
  assert.equal(Object.keys(natMap).length, 6);
  assert.equal(await valueOf(program.bootstrapExitCode as any), 0);
});
