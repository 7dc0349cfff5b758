import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { validateConfig, configReference } from "../../../infra/config/schema";
import { problems } from "./problems";
import { parseRedisMemory } from "../../../infra/config/units";
import { rawProjectConfig, ROOT } from "../../helpers/stackConfig";

test("defaults give a 3x1 docker cluster with documented values", () => {
  const s = validateConfig({});
  assert.equal(s.platform, "docker");
  assert.equal(s.masters, 3);
  assert.equal(s.replicasPerMaster, 1);
  assert.equal(s.nodeTimeoutMs, 5000);
  assert.equal(s.maxmemoryBytes, 0);
  assert.equal(s.smokeFailover, "kill");
  assert.equal(s.enableDebugCommand, "yes");
  assert.equal(s.passwordProvided, false);
});

test("the dev and prod stack files are valid", () => {
  for (const stack of ["dev", "prod"]) {
    assert.ok(existsSync(join(ROOT, `Pulumi.${stack}.yaml`)), `Pulumi.${stack}.yaml exists`);
    const s = validateConfig(rawProjectConfig(stack));
    assert.equal(s.platform, stack === "dev" ? "docker" : "kubernetes");
    assert.ok(s.masters >= 3);
  }
  const prod = validateConfig(rawProjectConfig("prod"));
  assert.equal(prod.enableDebugCommand, "no", "prod never enables DEBUG");
  assert.notEqual(prod.smokeFailover, "kill");
});

test("wrong types name the key and the value", () => {
  assert.deepEqual(problems({ masters: "three" }), ['redis-cluster:masters must be a number, got "three"']);
  assert.deepEqual(problems({ appendonly: "maybe" }), ['redis-cluster:appendonly must be a boolean, got "maybe"']);
  assert.deepEqual(problems({ masters: 3.5 }), ["redis-cluster:masters must be an integer, got 3.5"]);
});

test("out-of-range values say the bound", () => {
  assert.deepEqual(problems({ masters: 2 }), ["redis-cluster:masters must be >= 3, got 2"]);
  assert.deepEqual(problems({ replicasPerMaster: -1 }), ["redis-cluster:replicasPerMaster must be >= 0, got -1"]);
  assert.deepEqual(problems({ nodeTimeoutMs: 10 }), ["redis-cluster:nodeTimeoutMs must be >= 500, got 10"]);
  assert.deepEqual(problems({ docker: { hostPortBase: 70000 } }), ["redis-cluster:docker.hostPortBase must be <= 65535, got 70000"]);
});

test("unknown enum values list the allowed ones", () => {
  assert.deepEqual(problems({ platform: "nomad" }), ['redis-cluster:platform must be one of "docker", "kubernetes", got "nomad"']);
  assert.match(problems({ maxmemoryPolicy: "lru" })[0], /^redis-cluster:maxmemoryPolicy must be one of "noeviction", .*got "lru"$/);
});

test("unknown keys are typos with a suggestion, also nested", () => {
  assert.match(problems({ replicaPerMaster: 1 })[0], /redis-cluster:replicaPerMaster is not a known setting — did you mean replicasPerMaster\?/);
  assert.match(problems({ docker: { hostportbase: 7001 } })[0], /redis-cluster:docker.hostportbase is not a known setting — did you mean docker.hostPortBase\?/);
  assert.match(problems({ colour: "blue" })[0], /redis-cluster:colour is not a known setting; remove it/);
});

test("host port collisions and ports beyond 65535 are found", () => {
  const collide = problems({ docker: { hostPortBase: 7001, busPortOffset: 3 } });
  assert.ok(collide.some((p) => /redis-cluster:docker ports collide: node 3 client port and node 0 bus port both use host port 7004/.test(p)), collide.join("\n"));
  const prom = problems({ docker: { hostPortBase: 9088 } });
  assert.ok(prom.some((p) => /node 2 client port and prometheus both use host port 9090/.test(p)), prom.join("\n"));
  const high = problems({ docker: { hostPortBase: 60000 } });
  assert.ok(high.some((p) => /redis-cluster:docker.hostPortBase gives node 0 bus port host port 70000, outside 1..65535/.test(p)), high.join("\n"));
});

test("maxmemory must parse the way redis.conf does", () => {
  assert.equal(parseRedisMemory("512mb"), 512 * 1024 * 1024);
  assert.equal(parseRedisMemory("1g"), 1e9);
  assert.equal(parseRedisMemory("0"), 0);
  assert.equal(parseRedisMemory("12xb"), undefined);
  assert.deepEqual(problems({ maxmemory: "1.5gb" }), ['redis-cluster:maxmemory must be a redis.conf size like 512mb or 2gb, got "1.5gb"']);
  assert.equal(validateConfig({ maxmemory: "2gb" }).maxmemoryBytes, 2 * 1024 ** 3);
});

test("every problem is reported at once, each naming its key", () => {
  const p = problems({ masters: 1, platform: "x", appendfsync: "never", password: "short", typo: 1 });
  assert.equal(p.length, 5, p.join("\n"));
  for (const key of ["masters", "platform", "appendfsync", "password", "typo"]) {
    assert.ok(p.some((x) => x.startsWith(`redis-cluster:${key} `)), `${key} named`);
  }
  assert.ok(!p.join("\n").includes("short"), "the password value is never echoed");
});

test("cross-field rules name the setting to change", () => {
  assert.match(problems({ replicasPerMaster: 0 })[0], /redis-cluster:smoke.failover is "kill" but replicasPerMaster is 0/);
  assert.doesNotThrow(() => validateConfig({ replicasPerMaster: 0, smoke: { failover: "none" } }));
  assert.match(problems({ enableDebugCommand: "no" })[0], /redis-cluster:enableDebugCommand must be "yes" for smoke.failover kill/);
  assert.match(
    problems({ platform: "kubernetes", maxmemory: "2gb", kubernetes: { resources: { limits: { memory: "1Gi" } } } }).join("\n"),
    /redis-cluster:kubernetes.resources.limits.memory is 1Gi, lower than maxmemory 2gb/,
  );
});

test("configReference lists every key with its default", () => {
  const rows = configReference();
  const keys = rows.map((r) => r.key);
  for (const k of ["platform", "masters", "replicasPerMaster", "password", "docker.hostPortBase", "smoke.failover", "kubernetes.namespace"]) {
    assert.ok(keys.includes(k), k);
  }
  assert.equal(rows.find((r) => r.key === "masters")!.default, "3");
});

test("out-of-range sizes stop at the range check: no cross-field loop over millions of nodes, short output", { timeout: 20_000 }, () => {
  for (const raw of [{ masters: 3_000_000 }, { replicasPerMaster: 3_000_000 }, { masters: 100_000 }, { masters: 1e300 }, { masters: 4.5 }]) {
    const p = problems(raw);
    assert.ok(p.length <= 5, `${JSON.stringify(raw)}: ${p.length} problems`);
    assert.ok(p.some((l) => /redis-cluster:(masters|replicasPerMaster) must be/.test(l)), p.join("\n"));
  }
});

test("many port collisions are summarised, not listed one by one", () => {
  const p = problems({ masters: 100, replicasPerMaster: 5, docker: { busPortOffset: 1 } });
  assert.ok(p.length <= 12, `${p.length} lines:\n${p.slice(0, 20).join("\n")}`);
  assert.ok(p.some((l) => /ports collide/.test(l)));
  assert.ok(p.some((l) => /more/.test(l)), "says how many more there are");
});

test("maxmemory with whitespace (which redis.conf splits into two words) is rejected", () => {
  for (const v of ["1 gb", "1\ngb", " 1gb", "1gb ", "1\tgb"]) {
    assert.equal(parseRedisMemory(v), undefined, JSON.stringify(v));
    assert.ok(problems({ maxmemory: v }).some((l) => l.startsWith("redis-cluster:maxmemory")), JSON.stringify(v));
  }
  assert.equal(parseRedisMemory("1GB"), 1024 ** 3);
});

test("docker.announceHost must be a loopback address: the cluster bus has no authentication", () => {
  for (const v of ["0.0.0.0", "192.168.1.5", "::", "example.com", "localhost", "127.0.0.256"]) {
    const p = problems({ docker: { announceHost: v } });
    assert.ok(p.some((l) => l.startsWith("redis-cluster:docker.announceHost") && /loopback/.test(l) && /127\.0\.0\.1/.test(l)), `${v}: ${p.join("\n")}`);
  }
  for (const v of ["127.0.0.1", "127.0.0.2", "::1"]) assert.equal(validateConfig({ docker: { announceHost: v } }).docker.announceHost, v);
});

test("write-safety knobs: minReplicasToWrite cannot exceed the replicas a master has; all three reach redis.conf", async () => {
  const p = problems({ replicasPerMaster: 1, minReplicasToWrite: 2 });
  assert.ok(p.some((l) => /redis-cluster:minReplicasToWrite is 2 but each master has only 1 replicas/.test(l)), p.join("\n"));
  const { renderRedisConf } = await import("../../../infra/plan/redisConf");
  const conf = renderRedisConf(validateConfig({ minReplicasToWrite: 1, minReplicasMaxLag: 3, clusterReplicaValidityFactor: 0 }));
  assert.match(conf, /^min-replicas-to-write 1$/m);
  assert.match(conf, /^min-replicas-max-lag 3$/m);
  assert.match(conf, /^cluster-replica-validity-factor 0$/m);
});

test("canary: off by default; its latency threshold must be a histogram bucket and below its timeout", () => {
  const s = validateConfig({});
  assert.deepEqual(s.canary, { enabled: false, intervalMs: 1000, timeoutMs: 1000, objective: 0.999, image: "node:20-alpine", latencyThresholdMs: 100 });
  assert.match(problems({ canary: { latencyThresholdMs: 75 } })[0], /^redis-cluster:canary\.latencyThresholdMs must be a bucket of the canary's latency histogram: 1, 2\.5, .*5000/);
  assert.match(problems({ canary: { timeoutMs: 100, latencyThresholdMs: 250 } })[0], /^redis-cluster:canary\.timeoutMs is 100 but latencyThresholdMs is 250: .*raise canary\.timeoutMs/);
  assert.match(problems({ canary: { objective: 1 } })[0], /^redis-cluster:canary\.objective must be <= 0\.99999/);
  assert.match(problems({ canary: { enabled: true, schedule: "x" } })[0], /canary/);
});

