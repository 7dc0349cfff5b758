// Scaling through `pulumi up`, as the CLI runs the program (test engine: Pulumi's own runtime; the last deployment's
// topology read back through a StackReference to the stack itself):
// the plan at preview (3 -> 4 and 4 -> 3 masters) and the order of
// the registered resources on docker and kubernetes: out = nodes, scale step, smoke; in = scale step, nodes, smoke.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { runProgram, type RunResult } from "../../testbed/engine/engine";
import { readStackFile } from "../helpers/stackConfig";

const PASSWORD = "scalePassword-0123456789";
const k8sConfig = readStackFile("prod")["redis-cluster:kubernetes"] as Record<string, unknown>;
const prodCfg = { password: { secret: PASSWORD }, "redis-cluster:kubernetes": { ...k8sConfig, context: "prod-admin@redis-prod" } };
const devCfg = { password: { secret: PASSWORD } };
let dev: RunResult;
let devOut: RunResult;
let prod4: RunResult;
let prodIn: RunResult;

const byName = (r: RunResult, suffix: string, type?: string) => {
  const x = r.resources.find((y) => y.name.endsWith(suffix) && (!type || y.type === type));
  assert.ok(x, `no resource named *${suffix}: ${r.resources.map((y) => y.name).join(", ")}`);
  return x!;
};
/** Every URN `urn` waits for, directly or through other resources (dependsOn of custom resources). */
function waitsFor(r: RunResult, urn: string, seen = new Set<string>()): Set<string> {
  const res = r.resources.find((x) => x.urn === urn);
  for (const d of [...(res?.options.dependsOn ?? []), ...Object.values(res?.options.propertyDependencies ?? {}).flat()]) {
    if (seen.has(d)) continue;
    seen.add(d);
    waitsFor(r, d, seen);
  }
  return seen;
}
const JOB = "kubernetes:batch/v1:Job";
const before_ = (r: RunResult, a: string, b: string, ta?: string, tb?: string) => waitsFor(r, byName(r, b, tb).urn).has(byName(r, a, ta).urn);

before(async () => {
  [dev, prod4] = await Promise.all([
    runProgram({ stack: "dev", mode: "up", config: devCfg }),
    runProgram({ stack: "prod", mode: "up", config: { ...prodCfg, masters: 4 } }),
  ]);
  assert.equal(dev.exitCode, 0, dev.errors.join("\n"));
  assert.equal(prod4.exitCode, 0, prod4.errors.join("\n"));
  [devOut, prodIn] = await Promise.all([
    runProgram({ stack: "dev", mode: "preview", config: { ...devCfg, masters: 4 }, priorState: dev.state }),
    runProgram({ stack: "prod", mode: "preview", config: prodCfg, priorState: prod4.state }),
  ]);
});

test("preview shows the plan: 3 -> 4 masters adds two nodes and moves 4096 slots to the new master", () => {
  assert.equal(devOut.exitCode, 0, devOut.errors.join("\n"));
  const plan = devOut.outputs.scalePlan as string[];
  assert.ok(Array.isArray(plan), `scalePlan output: ${JSON.stringify(devOut.outputs.scalePlan)}`);
  const text = plan.join("\n");
  assert.match(text, /scale 3x1 -> 4x1/);
  assert.match(text, /add 2 node\(s\): redis-cluster-dev-node-6 \(master\), redis-cluster-dev-node-7 \(replica\)/);
  assert.match(text, /move 4096 slots:/);
  assert.match(text, /1365 slots redis-cluster-dev-node-0 -> redis-cluster-dev-node-6: 4096-5460/);
  assert.match(text, /replicate: redis-cluster-dev-node-7 -> redis-cluster-dev-node-6/);
  // Read back from the last deployment's outputs (a StackReference to the stack itself, a read: nothing changes).
  const read = devOut.resources.filter((r) => r.op === "read");
  assert.deepEqual(read.map((r) => `${r.type} ${r.name} ${r.inputs.name}`), ["pulumi:pulumi:StackReference redis-cluster-dev-last-deployment organization/redis-cluster/dev"]);
  assert.equal(devOut.outputs.scaleTopology.masters, 4);
  assert.equal(devOut.outputs.scaleTopology.nodes.length, 8);
});

test("preview shows the plan: 4 -> 3 masters (a stack created 4x1) drains pod 3 and forgets pods 6 and 7 before they go", () => {
  assert.equal(prodIn.exitCode, 0, prodIn.errors.join("\n"));
  const text = (prodIn.outputs.scalePlan as string[]).join("\n");
  assert.match(text, /scale 4x1 -> 3x1/);
  // Created 4x1, pods 0-3 are masters: pod 3 (the highest kept master) is drained and becomes a replica; pods 6 and
  // 7 (replicas) are forgotten, then the StatefulSet shrinks.
  assert.match(text, /move 4096 slots:/);
  assert.match(text, /1366 slots redis-cluster-prod-3 -> redis-cluster-prod-0: 12288-13653/);
  assert.match(text, /replicate: redis-cluster-prod-3 -> redis-cluster-prod-2/);
  assert.match(text, /forget on every node, then remove: redis-cluster-prod-6, redis-cluster-prod-7/);
});

test("docker: out = containers, then the scale step (in, bootstrap, out), then the smoke; the password only in the environment", () => {
  for (const r of [dev, devOut]) {
    assert.ok(before_(r, "-node-0", "-scale-in-run"), "the containers before the scale step");
    assert.ok(before_(r, "-node-5", "-scale-in-run"));
    assert.ok(before_(r, "-scale-in-run", "-bootstrap"), "phase in before the bootstrap re-verifies");
    assert.ok(before_(r, "-bootstrap-check", "-scale-out-run"), "phase out after the bootstrap");
    assert.ok(before_(r, "-scale-out-run", "-smoke-run"), "the smoke after the scale step");
  }
  assert.ok(before_(devOut, "-node-7", "-scale-in-run"), "new containers before the scale step");
  // In: containers that leave the program are deleted by the engine after every create/update (so after the smoke),
  // when the scale step has already forgotten them on every node.
  const run = byName(dev, "-scale-out-run");
  assert.match(String(run.inputs.create), /infra\/scale\/cli\.ts .*--phase out/);
  assert.ok(!JSON.stringify(run.inputs.create).includes(PASSWORD), "no password on the command line");
});

test("kubernetes: scale-in Job before the StatefulSet changes, scale-out Job after the bootstrap Job, smoke last; protect and PDB unchanged", () => {
  for (const r of [prod4, prodIn]) {
    assert.ok(before_(r, "-scale-in-job", "-statefulset"), "phase in before the StatefulSet shrinks");
    assert.ok(before_(r, "-statefulset", "-bootstrap", undefined, JOB), "bootstrap after the StatefulSet");
    assert.ok(before_(r, "-bootstrap", "-scale-out-job", JOB), "phase out after the bootstrap Job");
    assert.ok(before_(r, "-scale-out-job", "-smoke-job"), "the smoke after the scale step");
    const sts = r.resources.find((x) => x.type === "kubernetes:apps/v1:StatefulSet")!;
    assert.equal(sts.options.protect, true);
    const pdb = r.resources.find((x) => x.type === "kubernetes:policy/v1:PodDisruptionBudget")!;
    assert.equal(pdb.inputs.spec.maxUnavailable, 1);
    for (const j of r.resources.filter((x) => x.type === JOB && x.name.includes("-scale-"))) {
      const c = j.inputs.spec.template.spec.containers[0];
      assert.ok(!JSON.stringify(c).includes(PASSWORD), "the password only through secretKeyRef");
      assert.equal(c.env.find((e: any) => e.name === "REDISCLI_AUTH").valueFrom.secretKeyRef.key, "password");
      assert.equal(j.inputs.spec.template.metadata.labels["redis-cluster-client"], "true");
    }
  }
  // 4 -> 3: the StatefulSet shrink is an update (never a replacement of the protected StatefulSet).
  const sts = prodIn.resources.find((x) => x.type === "kubernetes:apps/v1:StatefulSet")!;
  assert.equal(sts.op, "update");
  assert.equal(sts.inputs.spec.replicas, 6);
});
