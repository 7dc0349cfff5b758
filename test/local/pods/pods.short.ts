// The prod program's pods on a real container runtime (local/pods): the first deploy through Pulumi's own runtime with
// the bootstrap Job (the smoke Job runs in `npm run pods:scenarios`), the pods' hardening as Docker applied it, then the crash case of issue 15 that put data
// at risk (a master absent after a crash restart, its old IP taken by another shard's master), and a teardown that
// leaves nothing. The other scenarios run in `npm run pods:scenarios` (README).
// NOT in `npm test` yet (named .short.ts, not .test.ts): on this 2-core machine at load average ~45 it ran past the
// runner's 6-minute file bound (the first deploy alone took 9 min at that load, ~3 min at load ~17), and it has not been
// seen to pass end to end. Run it with `node --import tsx --test test/local/pods/pods.short.ts`; rename it to
// pods.test.ts once it passes within the bound on a quiet machine.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PodsRunner } from "../../../local/pods/runner";
import { checkPodSpec } from "../../../local/pods/spec";
import { execIn } from "../../../local/pods/pod";
import * as s from "../../../local/pods/scenarios";

let runner: PodsRunner | undefined;
let stopped = false;
const timings: Record<string, string> = {};
const t0 = Date.now();
const log = (l: string) => process.env.PODS_LOG && console.error(`${((Date.now() - t0) / 1000).toFixed(1)} ${l}`);

after(async () => {
  if (runner && !stopped) await runner.stop();
  console.log(`pods test timings: ${JSON.stringify(timings)}`);
});

test("pod-spec fields the runner does not implement are refused by name", () => {
  const ok = {
    containers: [{ name: "c", image: "redis:7.2.5" }],
    restartPolicy: "Always",
    automountServiceAccountToken: false,
    enableServiceLinks: false,
  };
  assert.doesNotThrow(() => checkPodSpec(ok, "sts", "statefulset", 6));
  assert.throws(() => checkPodSpec({ ...ok, hostNetwork: true }, "sts", "statefulset", 6), /'hostNetwork', which the runner does not implement/);
  assert.throws(() => checkPodSpec({ ...ok, containers: [{ name: "c", image: "x", workingDir: "/w" }] }, "sts", "statefulset", 6), /container c sets 'workingDir'/);
  assert.throws(
    () => checkPodSpec({ ...ok, containers: [{ name: "c", image: "x", livenessProbe: { tcpSocket: { port: 1 } } }] }, "sts", "statefulset", 6),
    /livenessProbe sets 'tcpSocket'/,
  );
  assert.throws(
    () => checkPodSpec({ ...ok, affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{}] } } }, "sts", "statefulset", 6),
    /cannot be scheduled on the runner's single node/,
  );
  assert.throws(() => checkPodSpec({ ...ok, restartPolicy: "Never" }, "sts", "statefulset", 6), /restartPolicy/);
});

test("prod first deploy as pods (bootstrap Job), then a master absent after a crash with its IP reused", { timeout: 900_000 }, async () => {
  runner = await PodsRunner.start({ log });
  timings.runnerStart = `${Date.now() - t0} ms`;
  const tlsKeysExist = existsSync(join(__dirname, "..", "..", "..", "infra", "config", "tls.ts"));
  // The smoke Job (Node image, ~20-70 s) runs in `npm run pods:scenarios`; here only the bootstrap Job, to stay short.
  const first = await s.firstDeploy(runner, s.scenarioConfig({ tlsKeysExist, smoke: false }));
  timings.firstDeploy = `${first.row.timeToOkMs} ms`;
  assert.ok(first.row.pass, first.row.observed);
  // Every Job the program registers (bootstrap; the scale steps where the program has them) ran to Complete.
  const jobs = first.up.jobs.map((j) => `${j.name.replace(/-[0-9a-f]{8}$/, "")} ${j.reason}`);
  assert.ok(jobs.includes("redis-cluster-prod-bootstrap Complete"), jobs.join(", "));
  assert.ok(first.up.jobs.every((j) => j.succeeded), jobs.join(", "));
  assert.deepEqual([...first.up.notRun].sort(), ["PrometheusRule/redis-cluster-prod-rules", "ServiceMonitor/redis-cluster-prod"]);
  const c = first.cluster!;

  // The pod as Docker runs it: the redis container joins the sandbox's namespaces, runs as 999 with fsGroup, read-only,
  // no capabilities, no privilege escalation; the Secret file keeps mode 0440 group fsGroup; env from the downward API.
  const pod = runner.pod(`${s.STS}-0`);
  const redis = await runner.dockerd.docker.getContainer(pod.containers.find((x) => x.name === "redis")!.id).inspect();
  assert.equal(redis.Config.User, "999:999");
  assert.equal(redis.HostConfig.ReadonlyRootfs, true);
  assert.deepEqual(redis.HostConfig.CapDrop, ["ALL"]);
  assert.deepEqual(redis.HostConfig.SecurityOpt, ["no-new-privileges"]);
  assert.deepEqual(redis.HostConfig.GroupAdd, ["999"]);
  assert.match(String(redis.HostConfig.NetworkMode), /^container:/);
  assert.ok(redis.Config.Env?.includes(`REDIS_ANNOUNCE_IP=${pod.ip}`), "REDIS_ANNOUNCE_IP from status.podIP via $(POD_IP)");
  const st = await execIn(runner.dockerd.docker, redis.Id, ["stat", "-c", "%a %g", "/etc/redis-cluster-secret/password"], "999:999", 20_000);
  assert.equal(st.output.trim(), "440 999");
  const w = await execIn(runner.dockerd.docker, redis.Id, ["sh", "-c", "touch /etc/x 2>/dev/null && echo writable || echo read-only"], "999:999", 20_000);
  assert.equal(w.output.trim(), "read-only");

  const t1 = Date.now();
  const row = await s.masterAbsent(c, true);
  timings.masterAbsentIpReused = `${Date.now() - t1} ms`;
  console.log(s.table([first.row, row]));
  assert.doesNotMatch(row.observed, /IMPOSTOR/);
  assert.ok(row.pass, `${row.observed} ${row.notes.join("; ")}`);
  assert.equal(row.lost?.wait, 0, "no WAIT-acknowledged write lost");

  const left = await runner.stop();
  stopped = true;
  assert.deepEqual(left, { mountsLeft: [], dirLeft: false, daemonAlive: false, bridgeLeft: false }, "the runner leaves no daemon, mount, directory or bridge");
  timings.total = `${Date.now() - t0} ms`;
});
