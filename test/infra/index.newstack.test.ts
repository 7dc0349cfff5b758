// A brand-new stack (`pulumi stack init dev-feature-x`, no Pulumi.<stack>.yaml values): every setting comes from
// Pulumi.yaml's defaults, which the CLI hands over as text. The teardown workflow expects such stacks to deploy.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { runProgram, type RunResult } from "../../testbed/engine/engine";
import { unwrapSecrets } from "../../testbed/engine/values";

let preview: RunResult;
let up: RunResult;
let up2: RunResult;

before(async () => {
  [preview, up] = await Promise.all([
    runProgram({ stack: "dev-feature-x", mode: "preview", stackConfig: {} }),
    runProgram({ stack: "dev-feature-x", mode: "up", stackConfig: {} }),
  ]);
  up2 = await runProgram({ stack: "dev-feature-x", mode: "up", stackConfig: {}, priorState: up.state });
});

test("preview and up of an empty new stack pass", () => {
  assert.equal(preview.exitCode, 0, preview.errors.join("\n"));
  assert.equal(up.exitCode, 0, up.errors.join("\n"));
  assert.ok(up.resources.some((r) => r.name === "redis-cluster-dev-feature-x-node-5"));
  // The network name carries the stack name, so stacks side by side do not collide.
  assert.equal(up.resources.find((r) => r.type === "docker:index/network:Network")!.inputs.name, "redis-cluster-dev-feature-x");
});

test("item 3: defaults arrive as text (maxmemory \"0\"), and a string key keeps its text", () => {
  assert.equal(up.config["redis-cluster:maxmemory"], "0");
  assert.equal(up.config["redis-cluster:masters"], "3");
  const node = up.resources.find((r) => r.name === "redis-cluster-dev-feature-x-node-0")!;
  const conf = unwrapSecrets<{ file: string; content: string }[]>(node.inputs.uploads).find((u) => u.file.endsWith("redis.conf"))!.content;
  assert.match(conf, /^maxmemory 0$/m);
});

test("item 2: no password configured: generated, kept in state, and a second up changes nothing", () => {
  assert.equal(up.resources.filter((r) => r.type === "random:index/randomPassword:RandomPassword").length, 1);
  assert.equal(up2.exitCode, 0, up2.errors.join("\n"));
  assert.deepEqual(up2.resources.filter((r) => r.op !== "same" && r.op !== "read").map((r) => `${r.name}:${r.op}`), []);
});

test("string values that look like JSON stay strings (redisImage \"7\", maxmemory \"0\")", async () => {
  const r = await runProgram({ stack: "dev-feature-x", mode: "preview", stackConfig: { redisImage: "7", maxmemory: "0" } });
  assert.equal(r.exitCode, 0, r.errors.join("\n"));
  const node = r.resources.find((x) => x.name === "redis-cluster-dev-feature-x-image")!;
  assert.equal(node.inputs.name, "7");
});
