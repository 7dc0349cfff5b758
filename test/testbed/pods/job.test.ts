// What the pods runner emulates of a Job's podFailurePolicy (testbed/pods/job.ts): rules onExitCodes with operator In
// and action FailJob or Count, the first matching rule deciding; what the API server refuses is refused as it does,
// and what the runner does not emulate is refused by name. Pure checks: nothing is started.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkJob, podFailureAction } from "../../../testbed/pods/job";
import type { Obj } from "../../../testbed/pods/spec";

const podSpec = { automountServiceAccountToken: false, enableServiceLinks: false, restartPolicy: "Never", containers: [{ name: "restore", image: "redis:7.2.5" }] };
const job = (podFailurePolicy: Obj | undefined): Obj => ({
  metadata: { name: "j", namespace: "ns" },
  spec: { backoffLimit: 2, podFailurePolicy, template: { spec: podSpec } },
});
const refusal = { rules: [{ action: "FailJob", onExitCodes: { containerName: "restore", operator: "In", values: [1, 2] } }] };

test("a FailJob rule on exit codes: the codes it lists fail the Job, the others count against backoffLimit", () => {
  assert.doesNotThrow(() => checkJob(job(refusal)));
  assert.equal(podFailureAction(refusal, [{ container: "restore", exitCode: 2 }]), "FailJob");
  assert.equal(podFailureAction(refusal, [{ container: "restore", exitCode: 1 }]), "FailJob");
  assert.equal(podFailureAction(refusal, [{ container: "restore", exitCode: 3 }]), undefined);
  assert.equal(podFailureAction(refusal, [{ container: "restore", exitCode: undefined }]), undefined, "a pod that never exited (deadline) matches no exit code");
  assert.equal(podFailureAction(refusal, [{ container: "other", exitCode: 2 }]), undefined, "another container's exit");
  assert.equal(podFailureAction(undefined, [{ container: "restore", exitCode: 2 }]), undefined, "no policy: every failure counts");
  // The first matching rule decides: a Count rule before the FailJob one keeps exit 2 retried.
  const countFirst = { rules: [{ action: "Count", onExitCodes: { operator: "In", values: [2] } }, refusal.rules[0]] };
  assert.doesNotThrow(() => checkJob(job(countFirst)));
  assert.equal(podFailureAction(countFirst, [{ container: "restore", exitCode: 2 }]), "Count");
  assert.equal(podFailureAction(countFirst, [{ container: "restore", exitCode: 1 }]), "FailJob");
});

const rule = (onExitCodes: Obj, action = "FailJob") => ({ rules: [{ action, onExitCodes }] });
const REFUSED: [string, Obj, RegExp][] = [
  ["onPodConditions", { rules: [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget" }] }] }, /rules\[0\] sets 'onPodConditions'/],
  ["action Ignore", rule({ operator: "In", values: [2] }, "Ignore"), /rules\[0\]\.action "Ignore": not implemented/],
  ["action FailIndex", rule({ operator: "In", values: [2] }, "FailIndex"), /action "FailIndex": not implemented/],
  ["a made-up action", rule({ operator: "In", values: [2] }, "Retry"), /action "Retry": not an action the API server accepts/],
  ["operator NotIn", rule({ operator: "NotIn", values: [2] }), /operator "NotIn": implemented is In/],
  ["exit code 0 with In", rule({ operator: "In", values: [0, 2] }), /no 0 with In/],
  ["values out of order", rule({ operator: "In", values: [2, 1] }), /ascending without duplicates/],
  ["no values", rule({ operator: "In", values: [] }), /onExitCodes\.values \[\]/],
  ["an unknown container", rule({ containerName: "x", operator: "In", values: [2] }), /containerName x is no container of the pod \(restore\)/],
  ["a rule without onExitCodes", { rules: [{ action: "FailJob" }] }, /needs onExitCodes/],
  ["a field beside rules", { rules: [], extra: 1 }, /podFailurePolicy sets 'extra'/],
];
for (const [what, policy, message] of REFUSED) {
  test(`podFailurePolicy: ${what} is refused by name`, () => assert.throws(() => checkJob(job(policy)), message));
}
