// The pods runner runs a Deployment and a CronJob with Kubernetes semantics (testbed/pods/deployment.ts, cronJob.ts):
// a fixture program through the test engine, as `pulumi up` runs it, declares a 1-replica Deployment of the Redis
// stand-in and a CronJob. Its pod runs Ready and is replaced when deleted; a second `up` with another env value in the
// template replaces it (the new pod Ready before the old one goes: RollingUpdate's default 25%/25% for one replica);
// the CronJob runs on demand as a Job to Complete; the teardown leaves nothing, even when a step fails.
import { test } from "node:test";
import { podsRunnerFixture } from "./runnerFixture";
import assert from "node:assert/strict";
import { execIn } from "../../../testbed/pods/pod";
import { sleep } from "../../../smoke/time";

const fx = podsRunnerFixture();

const UP = { stack: "pods-selftest", stackConfig: {}, program: "test/testbed/pods/fixtures/deployment-cronjob.ts", timeoutMs: 120_000 };

test("a Deployment's pod runs and is replaced on a template change; a CronJob runs on demand as a Job", { timeout: 150_000 }, async () => {
  const r = await fx.start();
  const note = async () => {
    const pods = r.deployments.pods("canary");
    assert.equal(pods.length, 1, pods.map((p) => p.name).join(", "));
    assert.ok(pods[0].ready, `${pods[0].name} not Ready`);
    const out = await execIn(r.env.docker, pods[0].containers[0].id, ["sh", "-c", "echo $NOTE"], undefined, 10_000);
    return { name: pods[0].name, note: out.output.trim() };
  };

  const first = await r.up(UP);
  assert.ok(first.run.ok, first.run.errors.join("\n"));
  const before = await note();
  assert.match(before.name, /^canary-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.equal(before.note, "first");
  // Kept running: a deleted pod is replaced from the same template.
  await r.deployments.deletePod(before.name, "force");
  for (const until = Date.now() + 30_000; Date.now() < until && !r.deployments.pods("canary").some((p) => p.ready); ) await sleep(200);
  const replaced = await note();
  assert.notEqual(replaced.name, before.name);
  assert.equal(replaced.name.split("-")[1], before.name.split("-")[1], "the same pod-template-hash");

  const second = await r.up({ ...UP, config: { note: "second" }, priorState: first.state });
  assert.ok(second.run.ok, second.run.errors.join("\n"));
  assert.equal(second.run.resources.find((x) => x.name === "canary")?.op, "update");
  const afterUpdate = await note();
  assert.notEqual(afterUpdate.name.split("-")[1], replaced.name.split("-")[1], "a new pod-template-hash");
  assert.equal(afterUpdate.note, "second");
  // RollingUpdate for one replica (maxSurge 1, maxUnavailable 0): the new pod was Ready before the old one was deleted.
  const at = (name: string, what: RegExp) => r.timeline.find((e) => e.name === name && what.test(e.what))?.at;
  const newReady = at(afterUpdate.name, /^Ready/);
  const oldDeleted = at(replaced.name, /: delete \(graceful\)$/);
  assert.ok(newReady !== undefined && oldDeleted !== undefined && newReady <= oldDeleted, JSON.stringify(r.timeline.filter((e) => e.kind === "pod")));

  const job = await r.runCronJob("backup");
  assert.equal(job.reason, "Complete", JSON.stringify(job.attempts));
  assert.match(job.name, /^backup-/);
  assert.match(job.attempts[0].logTail, /redis-cli/);

  assert.deepEqual(await fx.finish(), [], "the runner leaves no daemon, mount, directory, bridge or cgroup");
  console.log(`deployment/cronjob test: ${Date.now() - fx.t0} ms`);
});
