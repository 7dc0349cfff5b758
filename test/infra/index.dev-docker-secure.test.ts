// The dev stack on a real Docker engine with the prod security settings on (tls.enabled, acl.enabled; both off in
// Pulumi.dev.yaml): certificates made for real by local/tlsProvider.ts (openssl), the ACL file and passwords uploaded,
// the rotation steps, exporters over rediss:// as the `exporter` user, the natMap host path and the smoke step over
// TLS; then a password rotation as a second `pulumi up` with an application writing throughout: no failed request, no
// node container re-created (the passwords reach the nodes through their secrets volumes, not their inputs), and the
// smoke step's old-passwords check must find the retired password refused on every node. Not in `npm test` (two full `up`s: 5-6 min on a loaded 2-core host):
// `npm run test:docker-secure`. Same fixture as devStack.test.ts (private dockerd, stand-in images, own subnet/ports).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { containerLogs } from "../../testbed/docker/applier";
import { readState, type UpResult } from "../../testbed/docker/stack";
import { generatePassword } from "../../testbed/local/acl";
import { clusterClient } from "../../smoke/clients";
import { startWriter } from "../../testbed/workload/application";
import { assertDestroyLeavesNothing, assertKeys, BOOTSTRAP, hostTls, NODE, onNode, runUp, SMOKE, STACK, setUp, tearDown, upArgs, waitClusterHealthy, writeKeys, type Fixture } from "../helpers/dockerFixture";
import { sleep } from "../../smoke/time";

let f: Fixture | undefined;
before(async () => {
  f = await setUp({ tls: true, acl: true });
});
after(() => tearDown(f, "docker dev stack with TLS and ACL"));
const step = (name: string, fn: (fx: Fixture) => Promise<void>) => test(name, () => fn(f!));
const smokeStdout = (fx: Fixture) => String(readState(upArgs(fx).stateFile).resources.find((x) => x.name === SMOKE)?.outputs.stdout ?? "");
const keys = Array.from({ length: 200 }, (_, i) => `secure:${i}`);

/** What a plaintext client gets from a node's published port: the reply to PING, or how the connection ended. */
function plaintextPing(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    let got = "";
    const done = (why: string) => {
      clearTimeout(timer);
      s.destroy();
      resolve(got || why);
    };
    const timer = setTimeout(() => done("no reply in 5 s"), 5000);
    s.on("connect", () => s.write("PING\r\n"));
    s.on("data", (d) => (got += d.toString()));
    s.on("error", (e) => done(`error ${e.message}`));
    s.on("close", () => done("closed"));
  });
}

step("up with TLS and ACL: bootstrap 0, the rotation steps run, the smoke step passes over TLS through the natMap", async (fx) => {
  const r = await runUp(fx);
  assert.ok(r.ok, `pulumi up failed: ${r.error}`);
  fx.first = r;
  fx.password = r.outputs.redisPassword as string;
  fx.timings.up = `${r.totalMs} ms`;
  assert.equal(r.outputs.bootstrapExitCode, 0);
  assert.match(await containerLogs(fx.engine.docker.getContainer(BOOTSTRAP)), /cluster formed: cluster_state:ok/);
  for (const n of ["rotate-add", "rotate-remove", "rotate-check"]) assert.ok(r.created.includes(`redis-cluster-${STACK}-${n}`), `${n} ran: ${r.created.join(", ")}`);
  assert.match(r.outputs.tlsCaCert as string, /^-----BEGIN CERTIFICATE-----/);
  assert.match(r.outputs.tlsClientKey as string, /^-----BEGIN EC PRIVATE KEY-----/);
  const out = smokeStdout(fx);
  assert.match(out, /Smoke test PASSED/);
  assert.match(out, /6 nodes reachable \(6 through natMap\)/);
  assert.match(out, /PASS failover .*acked writes lost 0/);
  // First deploy: nothing retired yet, so the check says it did not run (never PASS).
  assert.match(out, /^old-passwords\s+n\/a\s.*not run: no rotation recorded/m);
  await waitClusterHealthy(fx, 60_000);
});

step("TLS on every channel, plaintext refused, ACL users loaded, exporters over rediss:// as `exporter` (redis_up 6)", async (fx) => {
  for (let i = 0; i < 6; i++) {
    const reply = await plaintextPing(fx.cfg.hostPortBase + i);
    assert.doesNotMatch(reply, /PONG|NOAUTH/, `node ${i} answered a plaintext client: ${reply}`);
  }
  await onNode(fx, 0, async (c) => {
    const cfg = (await c.config("GET", "*")) as string[];
    const get = (k: string) => cfg[cfg.indexOf(k) + 1];
    assert.deepEqual([get("port"), get("tls-port"), get("tls-cluster"), get("tls-replication")], ["0", "6379", "yes", "yes"]);
    assert.equal(get("masteruser"), "replica");
    // The dev profile's default user is admin (password-only tools keep working); the service users are there.
    assert.equal(await c.call("ACL", "WHOAMI"), "default");
    // canary: Pulumi.dev.yaml enables the canary, which logs in as its own user.
    assert.deepEqual(((await c.call("ACL", "USERS")) as string[]).sort(), ["admin", "canary", "default", "exporter", "replica", "smoke"]);
  });
  // The canary container, as user canary over TLS, writes on every shard (read through the dev Prometheus).
  const canary = (await fx.engine.docker.getContainer(`redis-cluster-${STACK}-canary`).inspect()).Config;
  assert.ok(canary.Env.some((e) => e.startsWith("REDIS_TLS_CA_FILE=")), "TLS files");
  assert.match(canary.Cmd.join(" "), /--user canary/);
  const q = `${fx.first!.outputs.prometheusUrl}/api/v1/query?query=${encodeURIComponent('count(sum by (shard) (redis_canary_requests_total{op="set",result="ok"}) > 0)')}`;
  let shards = 0;
  for (let i = 0; i < 40 && shards < 3; i++) {
    shards = Number(((await (await fetch(q, { signal: AbortSignal.timeout(5000) })).json()) as any).data.result[0]?.value[1] ?? 0);
    if (shards < 3) await sleep(1000);
  }
  assert.equal(shards, 3, "the canary writes on every shard over TLS as user canary");
  const env = (await fx.engine.docker.getContainer(`redis-cluster-${STACK}-monitoring-exporter-${NODE(0)}`).inspect()).Config.Env;
  assert.ok(env.includes("REDIS_USER=exporter") && env.some((e) => /^REDIS_ADDR=rediss:\/\//.test(e)), env.filter((e) => !e.startsWith("REDIS_PASSWORD=")).join(" "));
  const url = fx.first!.outputs.prometheusUrl as string;
  let up = "";
  for (let k = 0; k < 60 && up !== "6"; k++) {
    try {
      const body = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(`sum(redis_up{job="redis-cluster-${STACK}"})`)}`, { signal: AbortSignal.timeout(5000) })).json()) as { data: { result: { value: [number, string] }[] } };
      up = body.data.result[0]?.value[1] ?? "";
    } catch {
      up = "";
    }
    if (up !== "6") await sleep(2000);
  }
  assert.equal(up, "6", "every exporter scrapes its node over TLS as `exporter`");
});

/** Container id of each node: equal before and after a run means no node was re-created. */
const nodeIds = (fx: Fixture) => Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => (await fx.engine.docker.getContainer(NODE(i)).inspect()).Id));

/** An application through a whole `pulumi up`: the smoke user (its password stays), TLS, the natMap host path. */
const smokeWriter = (fx: Fixture, prefix: string) =>
  startWriter(
    clusterClient({
      seeds: fx.first!.outputs.hostSeeds as string[], natMap: fx.first!.outputs.natMap as Record<string, { host: string; port: number }>,
      username: "smoke", password: (fx.first!.outputs.aclPasswords as Record<string, string>).smoke, tls: hostTls(fx), nodeTimeoutMs: 5000, commandTimeoutMs: 5000,
    }),
    prefix,
  );

/** "step@seconds" of every resource a run created, in the order they were done (to place a client error). */
const stepTimes = (r: UpResult) =>
  Object.entries(r.doneAtMs).sort((x, y) => x[1] - y[1]).map(([n, ms]) => `${n.replace(`redis-cluster-${STACK}-`, "")}@${(ms / 1000).toFixed(1)}s`).join(" ");

step("rotation (pulumi up with a new admin password) with a writer running: 0 failed requests, no node re-created; the old password refused everywhere", async (fx) => {
  await writeKeys(fx, keys);
  const old = fx.password;
  const next = generatePassword();
  const idsBefore = await nodeIds(fx);
  const w = smokeWriter(fx, "smoke:rotation:");
  let r: UpResult;
  let written: Awaited<ReturnType<typeof w.stop>>;
  const t0 = Date.now();
  try {
    // The smoke step with a coordinated failover, as prod runs it (dev's default, kill, makes clients wait out a dead master).
    const smoke = { ...(fx.cfg.stackConfig["redis-cluster:smoke"] as Record<string, unknown>), failover: "manual" };
    // The stack's config from now on (later steps change nothing else).
    fx.cfg.stackConfig = { ...fx.cfg.stackConfig, "redis-cluster:password": { secret: next }, "redis-cluster:smoke": smoke };
    r = await runUp(fx);
  } finally {
    written = await w.stop();
  }
  fx.timings.rotationUp = `${r.totalMs} ms`;
  assert.ok(r.ok, `rotation up failed: ${r.error}`);
  // The rotation proper ends with `rotate.sh remove` (its check is unchanged, so it does not run again); the smoke step
  // comes after it. Both are judged: no request of the writer may fail anywhere in the `pulumi up`.
  const removedAt = r.doneAtMs[`redis-cluster-${STACK}-rotate-remove`];
  assert.ok(typeof removedAt === "number" && removedAt > 0, `rotate-remove done at ${removedAt}`);
  const slowest = (until: number) => Math.max(0, ...written.slow.filter((x) => x.at <= until).map((x) => x.ms));
  fx.timings.rotationWriter =
    `${written.ok} writes, ${written.errors.length} errors; slowest write ${slowest(t0 + removedAt)} ms until rotate-remove ` +
    `(${(removedAt / 1000).toFixed(1)} s), ${slowest(Infinity)} ms in the whole up (smoke failover included)`;
  for (const n of ["rotate-add", "node-secrets", "rotate-remove", "smoke-run"]) assert.ok(r.created.includes(`redis-cluster-${STACK}-${n}`), `${n} ran again: ${r.created.join(", ")}`);
  // The nodes were not re-created: the rotation changed their live users (rotate.sh) and the files in their volumes.
  assert.deepEqual(r.created.filter((n) => /-node-\d+$/.test(n)), [], "no node container re-created");
  assert.deepEqual(await nodeIds(fx), idsBefore, "the same six node containers");
  assert.ok(written.ok > 0, "the writer wrote");
  assert.deepEqual(
    written.errors,
    [],
    `failed client requests during the rotation; at ${written.errorAt.map((t) => `${((t - t0) / 1000).toFixed(1)}s`).join(" ")}; steps done: ${stepTimes(r)}`,
  );
  const out = smokeStdout(fx);
  assert.match(out, /Smoke test PASSED/);
  assert.match(out, /^old-passwords\s+PASS\s.*1 retired password\(s\) of admin refused with WRONGPASS on 6 of 6 nodes/m);
  assert.ok(!out.includes(old) && !out.includes(next), "no password in the smoke output");
  fx.password = next;
  await waitClusterHealthy(fx, 90_000);
  for (let i = 0; i < 6; i++) {
    await onNode(fx, i, async (c) => {
      await assert.rejects(c.call("AUTH", "admin", old), /WRONGPASS/, `node ${i} accepts the old admin password`);
    });
    // What a node restarted later loads: the new admin password in its secrets volume (the healthcheck reads it).
    const health = (await fx.engine.docker.getContainer(NODE(i)).inspect()).State.Health?.Status;
    assert.equal(health, "healthy", `node ${i} healthcheck with the new admin password file`);
  }
  // A node restarted after the rotation starts from the files in its secrets volume: the new passwords only.
  await fx.engine.docker.getContainer(NODE(5)).restart({ t: 30 });
  await waitClusterHealthy(fx, 90_000);
  await onNode(fx, 5, async (c) => {
    await assert.rejects(c.call("AUTH", "admin", old), /WRONGPASS/, "the restarted node accepts the old admin password");
    assert.equal(await c.call("AUTH", "admin", next), "OK");
  });
  await assertKeys(fx, keys);
});

/** SHA-256 fingerprint of the certificate a node presents on its published port to a new TLS connection. */
function presentedCertificate(fx: Fixture, i: number): Promise<string> {
  const t = hostTls(fx)!;
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port: fx.cfg.hostPortBase + i, ca: t.ca, cert: t.cert, key: t.key, checkServerIdentity: () => undefined });
    const timer = setTimeout(() => (s.destroy(), reject(new Error(`node ${i}: no TLS handshake in 5 s`))), 5000);
    s.once("secureConnect", () => {
      clearTimeout(timer);
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.once("error", (e) => (clearTimeout(timer), reject(e)));
  });
}

step("certificate renewal (pulumi up --replace of every node certificate) with a writer: 0 failed requests, no node re-created, each node presents its new certificate", async (fx) => {
  const idsBefore = await nodeIds(fx);
  const before = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => presentedCertificate(fx, i)));
  const w = smokeWriter(fx, "smoke:renewal:");
  let r: UpResult;
  let written: Awaited<ReturnType<typeof w.stop>>;
  const t0 = Date.now();
  try {
    // What `pulumi up` does when the certificates enter the last third of their validity (or `--replace` to renew early).
    r = await runUp(fx, { replace: [0, 1, 2, 3, 4, 5].map((i) => `redis-cluster-${STACK}-tls-node-${i}-cert`) });
  } finally {
    written = await w.stop();
  }
  fx.timings.renewalUp = `${r.totalMs} ms`;
  fx.timings.renewalWriter = `${written.ok} writes, ${written.errors.length} errors, slowest ${Math.max(0, ...written.slow.map((x) => x.ms))} ms`;
  fx.timings.renewalSteps = stepTimes(r);
  fx.timings.renewalErrorsAt = written.errorAt.map((t) => `${((t - t0) / 1000).toFixed(1)}s`).join(" ");
  assert.ok(r.ok, `renewal up failed: ${r.error}`);
  for (const n of ["node-secrets", "tls-reload"]) assert.ok(r.created.includes(`redis-cluster-${STACK}-${n}`), `${n} ran: ${r.created.join(", ")}`);
  assert.ok(!r.created.includes(SMOKE), "nothing else changed: the smoke step does not run again");
  assert.deepEqual(r.created.filter((n) => /-node-\d+$/.test(n)), [], "no node container re-created");
  assert.deepEqual(await nodeIds(fx), idsBefore, "the same six node containers");
  assert.ok(written.ok > 0, "the writer wrote");
  assert.deepEqual(written.errors, [], "failed client requests during the renewal");
  const after = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => presentedCertificate(fx, i)));
  for (let i = 0; i < 6; i++) assert.notEqual(after[i], before[i], `node ${i} still presents its old certificate`);
  assert.match(await containerLogs(fx.engine.docker.getContainer(`redis-cluster-${STACK}-tls-reload`)), /reloaded on 6 node\(s\)/);
  await waitClusterHealthy(fx, 60_000);
});

step("destroy leaves no container, volume or network behind", async (fx) => {
  await assertDestroyLeavesNothing(fx, 20);
});
