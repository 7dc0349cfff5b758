// The dev stack on a real Docker engine (see devStack.test.ts): a partial cluster. The stack is formed (without the
// smoke step and monitoring), then re-created on its volumes after node 5 lost its own; `up` with the smoke step and
// monitoring enabled must stop at the bootstrap's refusal (at once, not after its timeout), start neither, and change
// nothing. Then destroy.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { containerLogs, TYPES } from "../../../local/docker/applier";
import { destroy, readState } from "../../../local/docker/stack";
import { assertDestroyLeavesNothing, BOOTSTRAP, SMOKE, STACK, field, onNode, runUp, setUp, tearDown, upArgs, waitClusterHealthy, type Fixture } from "./fixture";

let f: Fixture | undefined;
before(async () => {
  f = await setUp({ smokeEnabled: false, monitoringEnabled: false });
});
after(() => tearDown(f, "docker dev stack partial"));

test("up without the smoke step and monitoring: the cluster is formed", async () => {
  const fx = f!;
  const r = await runUp(fx);
  assert.ok(r.ok, `pulumi up failed: ${r.error}`);
  fx.first = r;
  fx.password = r.outputs.redisPassword as string;
  await waitClusterHealthy(fx, 30_000);
  // No keys are written: an empty formed cluster is the case the bootstrap once took for a create of its own cut short
  // (it MEETs the new node and waited out its whole timeout for a node count the lost node's old id exceeds).
});

test("a partial cluster: the bootstrap exits 2, `up` fails with its diagnosis and the smoke step does not run", async () => {
  const fx = f!;
  // The stack is re-created on its volumes (containers and network destroyed; volumes and password kept in the state),
  // but node 5 lost its volume: five formed nodes and one empty one.
  const stateFile = upArgs(fx).stateFile;
  const lost = `redis-cluster-${STACK}-node-5-data`;
  await destroy(fx.engine.socket, stateFile, { only: (x) => (x.type !== TYPES.volume && x.type !== TYPES.password) || x.name === lost });
  // Same subnet and ports; the smoke step and monitoring are now enabled: both wait for the bootstrap.
  const smoke = { ...(fx.cfg.stackConfig["redis-cluster:smoke"] as object), enabled: true };
  const monitoring = { ...(fx.cfg.stackConfig["redis-cluster:monitoring"] as object), enabled: true };
  const r = await runUp(fx, { stackConfig: { ...fx.cfg.stackConfig, "redis-cluster:smoke": smoke, "redis-cluster:monitoring": monitoring } });
  fx.timings.partialUp = `${r.totalMs} ms (${JSON.stringify(r.doneAtMs)})`;
  assert.ok(r.totalMs < 150_000, `the refusal came after ${r.totalMs} ms`);
  assert.equal(r.ok, false, "up fails");
  // The bootstrap-check step or the smoke step's own guard stops `up`, whichever the engine runs first.
  assert.match(r.error ?? "", /bootstrap (of redis-cluster-dev )?exited 2/);
  const boot = fx.engine.docker.getContainer(BOOTSTRAP);
  assert.equal((await boot.inspect()).State.ExitCode, 2);
  const logs = await containerLogs(boot);
  assert.match(logs, /refusing to touch a partial or foreign cluster/);
  assert.match(logs, /Nothing was changed/);
  // The smoke CLI never ran (its guard exits before it), and nothing after the bootstrap was started.
  assert.doesNotMatch(r.error ?? "", /PASS connect|Smoke test (PASSED|FAILED)/);
  assert.ok(!readState(stateFile).resources.some((x) => x.name === SMOKE), "no smoke step in the state");
  const names = (await fx.engine.docker.listContainers({ all: true })).flatMap((c) => c.Names);
  assert.deepEqual(names.filter((n) => /exporter|prometheus/.test(n)), [], "no monitoring container");
  // Nothing was changed: node 5 is still empty and outside the cluster.
  assert.equal(field((await onNode(fx, 5, (c) => c.cluster("INFO"))) as string, "cluster_known_nodes"), "1");
});

test("destroy leaves no container, volume or network behind", () => assertDestroyLeavesNothing(f!, 1));
