// What the pods runner accepts of a Deployment and a CronJob (testbed/pods/deployment.ts, cronJob.ts): every field it
// does not emulate is refused by name, and values it does emulate pass. Pure checks: nothing is started.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkDeployment } from "../../../testbed/pods/deployment";
import { checkCronJob, scheduleError } from "../../../testbed/pods/cronJob";
import type { Obj } from "../../../testbed/pods/spec";

const podSpec = { automountServiceAccountToken: false, enableServiceLinks: false, containers: [{ name: "c", image: "redis:7.2.5" }] };
const labels = { app: "a" };
const deployment = (spec: Obj = {}): Obj => ({
  metadata: { name: "d", namespace: "ns" },
  spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec }, ...spec },
});
const cronJob = (spec: Obj = {}): Obj => ({
  metadata: { name: "cj", namespace: "ns" },
  spec: { schedule: "*/5 * * * *", jobTemplate: { spec: { backoffLimit: 0, template: { spec: { ...podSpec, restartPolicy: "Never" } } } }, ...spec },
});

test("a Deployment the runner emulates passes: default bounds, Recreate, no strategy", () => {
  assert.doesNotThrow(() => checkDeployment(deployment()));
  assert.doesNotThrow(() => checkDeployment(deployment({ strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } } })));
  assert.doesNotThrow(() => checkDeployment(deployment({ strategy: { type: "Recreate" } })));
});

// Each case: a field (or value) the runner does not emulate, and the name the error must carry.
const REFUSED_DEPLOYMENT: [string, Obj, RegExp][] = [
  ["minReadySeconds", { minReadySeconds: 5 }, /Deployment d\.spec sets 'minReadySeconds'/],
  ["paused", { paused: true }, /sets 'paused'/],
  ["progressDeadlineSeconds", { progressDeadlineSeconds: 60 }, /sets 'progressDeadlineSeconds'/],
  ["revisionHistoryLimit", { revisionHistoryLimit: 2 }, /sets 'revisionHistoryLimit'/],
  ["maxSurge 1", { strategy: { rollingUpdate: { maxSurge: 1 } } }, /rollingUpdate\.maxSurge 1: only the default 25%/],
  ["maxUnavailable 0", { strategy: { rollingUpdate: { maxUnavailable: 0 } } }, /rollingUpdate\.maxUnavailable 0: only the default 25%/],
  ["strategy type", { strategy: { type: "BlueGreen" } }, /strategy\.type BlueGreen/],
  ["Recreate with rollingUpdate", { strategy: { type: "Recreate", rollingUpdate: {} } }, /rollingUpdate: not allowed with Recreate/],
  ["selector matchExpressions", { selector: { matchLabels: labels, matchExpressions: [] } }, /selector sets 'matchExpressions'/],
  ["selector not matching", { selector: { matchLabels: { app: "b" } } }, /selector \{"app":"b"\} does not select the template's labels/],
  ["pod restartPolicy Never", { template: { metadata: { labels }, spec: { ...podSpec, restartPolicy: "Never" } } }, /Deployment d pod\.spec\.restartPolicy Never/],
  ["pod hostNetwork", { template: { metadata: { labels }, spec: { ...podSpec, hostNetwork: true } } }, /Deployment d pod\.spec sets 'hostNetwork'/],
];
for (const [what, spec, message] of REFUSED_DEPLOYMENT) {
  test(`Deployment ${what} is refused by name`, () => assert.throws(() => checkDeployment(deployment(spec)), message));
}

test("a CronJob the runner keeps passes: policies, history limits, suspend, schedules cron accepts", () => {
  assert.doesNotThrow(() => checkCronJob(cronJob({ concurrencyPolicy: "Forbid", suspend: true, successfulJobsHistoryLimit: 0, failedJobsHistoryLimit: 3 })));
  for (const s of ["0 3 * * *", "*/15 0-6,22 1 JAN-mar MON", "0 0 ? * SUN", "59 23 31 12 6", "@daily", "@hourly"]) assert.equal(scheduleError(s), undefined, s);
});

const REFUSED_CRONJOB: [string, Obj, RegExp][] = [
  ["timeZone", { timeZone: "UTC" }, /CronJob cj\.spec sets 'timeZone'/],
  ["startingDeadlineSeconds", { startingDeadlineSeconds: 10 }, /sets 'startingDeadlineSeconds'/],
  ["concurrencyPolicy Replace", { concurrencyPolicy: "Replace" }, /concurrencyPolicy Replace: not implemented/],
  ["concurrencyPolicy unknown", { concurrencyPolicy: "Sometimes" }, /concurrencyPolicy Sometimes/],
  ["suspend not boolean", { suspend: "yes" }, /\.suspend yes: a boolean/],
  ["negative history limit", { successfulJobsHistoryLimit: -1 }, /successfulJobsHistoryLimit -1/],
  ["schedule with 6 fields", { schedule: "0 0 3 * * *" }, /schedule "0 0 3 \* \* \*": 6 fields/],
  ["schedule minute 60", { schedule: "60 * * * *" }, /minute '60'/],
  ["schedule step 0", { schedule: "*/0 * * * *" }, /minute '\*\/0'/],
  ["schedule time zone", { schedule: "TZ=UTC 0 3 * * *" }, /time zone in the schedule/],
  ["schedule @every", { schedule: "@every 5m" }, /unknown descriptor/],
  ["jobTemplate ttlSecondsAfterFinished", { jobTemplate: { spec: { ttlSecondsAfterFinished: 5, template: { spec: { ...podSpec, restartPolicy: "Never" } } } } }, /sets 'ttlSecondsAfterFinished'/],
  ["jobTemplate pod restartPolicy Always", { jobTemplate: { spec: { template: { spec: { ...podSpec, restartPolicy: "Always" } } } } }, /restartPolicy Always/],
  ["jobTemplate metadata name", { jobTemplate: { metadata: { name: "x" }, spec: {} } }, /jobTemplate\.metadata sets 'name'/],
];
for (const [what, spec, message] of REFUSED_CRONJOB) {
  test(`CronJob ${what} is refused by name`, () => assert.throws(() => checkCronJob(cronJob(spec)), message));
}
