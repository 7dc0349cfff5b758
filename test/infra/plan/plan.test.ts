import { test } from "node:test";
import assert from "node:assert/strict";
import { validateConfig } from "../../../infra/config/schema";
import { planCluster, nodeEnv } from "../../../infra/plan/plan";
import { renderRedisConf } from "../../../infra/plan/redisConf";
import { rawProjectConfig } from "../../helpers/stackConfig";

const dev = validateConfig(rawProjectConfig("dev"), { name: "redis-cluster-dev" });

test("docker plan: six nodes, first three masters, static addresses, published ports", () => {
  const plan = planCluster(dev);
  assert.equal(plan.nodes.length, 6);
  assert.deepEqual(plan.nodes.map((n) => n.role), ["master", "master", "master", "replica", "replica", "replica"]);
  assert.deepEqual(plan.nodes.map((n) => n.shard), [0, 1, 2, 0, 1, 2]);
  assert.deepEqual(plan.nodes.map((n) => n.name), [0, 1, 2, 3, 4, 5].map((i) => `redis-cluster-dev-node-${i}`));
  assert.deepEqual(plan.nodes.map((n) => n.host), [11, 12, 13, 14, 15, 16].map((i) => `172.28.0.${i}`));
  assert.ok(plan.nodes.every((n) => n.port === 6379 && n.busPort === 16379));
  assert.deepEqual(plan.nodes.map((n) => [n.hostPort, n.hostBusPort]), [0, 1, 2, 3, 4, 5].map((i) => [7001 + i, 17001 + i]));
  assert.deepEqual(plan.hostSeeds, [7001, 7002, 7003, 7004, 7005, 7006].map((p) => `127.0.0.1:${p}`));
  assert.deepEqual(plan.natMap["172.28.0.16:6379"], { host: "127.0.0.1", port: 7006 });
  assert.equal(plan.bootstrapEnv.REDIS_NODES, plan.seeds.join(" "));
  assert.equal(plan.bootstrapEnv.REDIS_MASTERS, "3");
  assert.equal(plan.bootstrapEnv.REDIS_REPLICAS, "1");
  assert.deepEqual(plan.clientSeeds, plan.seeds, "no client Service on Docker: applications seed from the nodes");
  // The smoke step (on the host) reads the canary's view at its published loopback port; the URL parses.
  assert.equal(plan.canaryUrl, "http://127.0.0.1:9122");
  const v6 = planCluster(validateConfig({ ...rawProjectConfig("dev"), docker: { announceHost: "::1" } }, { name: "redis-cluster-dev" }));
  assert.equal(v6.canaryUrl, "http://[::1]:9122");
  assert.equal(new URL(v6.canaryUrl!).port, "9122");
});

test("kubernetes plan: pods by their headless-Service names; applications seed through the client Service", () => {
  const prod = validateConfig(rawProjectConfig("prod"), { name: "redis-cluster-prod" });
  const plan = planCluster(prod);
  const ns = prod.kubernetes.namespace;
  assert.equal(plan.seeds[0], `redis-cluster-prod-0.redis-cluster-prod-headless.${ns}.svc.cluster.local:6379`);
  assert.deepEqual(plan.clientSeeds, [`redis-cluster-prod.${ns}.svc.cluster.local:6379`]);
  // canary.enabled: the smoke Job reads the canary's view through its Service.
  const withCanary = planCluster(validateConfig({ ...rawProjectConfig("prod"), canary: { enabled: true } }, { name: "redis-cluster-prod" }));
  assert.equal(withCanary.canaryUrl, `http://redis-cluster-prod-canary.${ns}.svc.cluster.local:9122`);
  assert.equal(plan.canaryUrl, undefined, "no canary, no URL");
});

test("node environment: docker announces the static IP, never loopback", () => {
  const plan = planCluster(dev);
  for (const n of plan.nodes) {
    const env = nodeEnv(n, "docker");
    assert.equal(env.REDIS_ANNOUNCE_IP, n.host);
    assert.ok(!Object.values(env).includes("127.0.0.1"));
  }
});

test("any topology >= 3 masters plans masters x (1 + replicas) nodes", () => {
  for (const [m, r] of [[3, 0], [3, 2], [5, 1], [10, 1]]) {
    const spec = validateConfig({ masters: m, replicasPerMaster: r, smoke: { failover: r ? "kill" : "none" } });
    const plan = planCluster(spec);
    assert.equal(plan.nodes.length, m * (1 + r));
    assert.equal(plan.nodes.filter((n) => n.role === "master").length, m);
    assert.equal(new Set(plan.nodes.map((n) => n.host)).size, plan.nodes.length, "unique addresses");
  }
});

test("local placement uses the given loopback ports and the same redis.conf", () => {
  const plan = planCluster(dev, { kind: "local", ports: [20001, 20002, 20003, 20004, 20005, 20006] });
  assert.deepEqual(plan.seeds, [1, 2, 3, 4, 5, 6].map((i) => `127.0.0.1:${20000 + i}`));
  assert.equal(plan.nodes[0].busPort, 30001);
  assert.equal(plan.redisConf, planCluster(dev).redisConf);
  assert.throws(() => planCluster(dev, { kind: "local", ports: [1] }), /6 nodes need 6 ports/);
});

test("redis.conf fixes the seed's mistakes and carries the spec", () => {
  const conf = renderRedisConf(dev);
  assert.match(conf, /^cluster-enabled yes$/m);
  assert.match(conf, /^cluster-node-timeout 5000$/m);
  assert.match(conf, /^logfile ""$/m, "logs to stdout, no folder needed");
  assert.match(conf, /^protected-mode yes$/m);
  assert.match(conf, /^maxmemory 256mb$/m);
  assert.match(conf, /^appendonly yes$/m);
  assert.match(conf, /^appendfsync everysec$/m);
  assert.match(conf, /^repl-diskless-sync-delay 0$/m);
  assert.doesNotMatch(conf, /announce-ip|127\.0\.0\.1/, "no per-node or loopback announce in the shared file");
  assert.doesNotMatch(conf, /requirepass|masterauth/, "no secret in the shared file");
  assert.doesNotMatch(conf, /\/var\/log/);
});
