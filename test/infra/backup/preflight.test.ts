// What a backup refuses, before any pause, with nothing changed on the cluster (no CLIENT PAUSE or PSYNC served, no
// fork, same slots and keys) or in the repository (same files): an open slot, a failing master, a wrong repository
// password, an unreachable repository, a master without slots, a restore not finished (its marker); a restore that
// began after that check, refused inside the pause (no fork, nothing stored, the pause lifted). And a backup killed between pause and unpause leaves
// writes waiting, never refused, and never longer than the pause bound.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis, type Cluster } from "ioredis";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { addNode, clusterClient } from "../../../testbed/local/scaleCluster";
import { sleep } from "../../../smoke/time";
import { isMyself, parseClusterNodes, parseInfo } from "../../../smoke/topology";
import { runBackup } from "../../../infra/backup/backup";
import { MARKER_KEY } from "../../../infra/backup/marker";
import type { RepositoryOptions } from "../../../infra/backup/restic";
import { backupOptions, repoFiles, repository, tempDir } from "./fixtures";

let c: LocalCluster;
let cl: Cluster;
let work: string;
let repo: RepositoryOptions;
const repoDir = () => join(work, "repo");

before(async () => {
  c = await startLocalCluster({ password: "preflight-pw", nodeTimeoutMs: 2000 });
  cl = clusterClient(c);
  await cl.connect();
  for (let i = 0; i < 300; i++) await cl.set(`k:${i}`, String(i));
  work = tempDir("backup-preflight-");
  repo = repository(repoDir(), "right-password", work);
  const first = await runBackup(backupOptions(c, repo, work));
  assert.equal(first.code, 0, first.message);
});
after(async () => {
  cl?.disconnect();
  await c?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Per node: CLIENT PAUSE and PSYNC calls served, forks, keys, its own CLUSTER NODES line without volatile fields. */
async function clusterState(): Promise<string[]> {
  return Promise.all(c.nodes.map(async (_, i) => {
    const stats = parseInfo(await c.ask(i, "INFO", "all"));
    const me = parseClusterNodes(await c.ask(i, "CLUSTER", "NODES")).find(isMyself)!;
    return [c.nodes[i].name, `pause=${stats["cmdstat_client|pause"] ?? "-"}`.replace(/,usec=.*/, ""), `psync=${stats.cmdstat_psync ?? "-"}`.replace(/,usec=.*/, ""),
      `forks=${stats.total_forks}`, `keys=${await c.ask(i, "DBSIZE")}`, me.flags.join(","), JSON.stringify(me.slots), JSON.stringify(me.migrating), JSON.stringify(me.importing)].join(" ");
  }));
}

async function assertRefused(what: string, o: Parameters<typeof backupOptions>[3], expect: RegExp, repoOpts = repo) {
  const beforeCluster = await clusterState();
  const beforeRepo = repoFiles(repoDir());
  const r = await runBackup(backupOptions(c, repoOpts, work, o));
  assert.equal(r.code, 2, `${what}: ${r.message}`);
  assert.match(r.message, expect, what);
  assert.deepEqual(await clusterState(), beforeCluster, `${what}: the cluster changed`);
  assert.deepEqual(repoFiles(repoDir()), beforeRepo, `${what}: the repository changed`);
}

test("an open slot is refused with nothing changed", { timeout: 60_000 }, async () => {
  const me = parseClusterNodes(c.cli(0, ["cluster", "nodes"]).stdout);
  const self = me.find(isMyself)!;
  const other = me.find((n) => n.flags.includes("master") && !isMyself(n))!;
  const slot = self.slots[0][0];
  assert.equal(c.cli(0, ["cluster", "setslot", String(slot), "migrating", other.id]).stdout.trim(), "OK");
  try {
    await assertRefused("open slot", {}, new RegExp(`open slot ${slot}: .* migrating`));
  } finally {
    c.cli(0, ["cluster", "setslot", String(slot), "stable"]);
  }
});

test("a wrong repository password and an unreachable repository are refused with nothing changed", { timeout: 60_000 }, async () => {
  await assertRefused("wrong password", {}, /refuses the password/, repository(repoDir(), "wrong-password", work));
  await assertRefused("unreachable", {}, /cannot be opened .*connection refused/, repository("rest:http://127.0.0.1:1/", "right-password", work));
});

test("a cluster holding a restore's marker (a restore not finished) is refused with nothing changed", { timeout: 60_000 }, async () => {
  const snapshot = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  assert.equal(await cl.set(MARKER_KEY, snapshot), "OK");
  try {
    await assertRefused("restore marker", {}, new RegExp(`restore marker ${MARKER_KEY} of snapshot ${snapshot}: .*docs/runbooks\\.md#restore-in-place-from-a-backup`));
  } finally {
    await cl.del(MARKER_KEY);
  }
});

test("a restore that begins after the backup's first check is found inside the pause: refused, nothing forked or stored", { timeout: 60_000 }, async () => {
  // restic through a wrapper that, on the backup's first restic call (the repository check, after the marker was
  // checked once), writes a restore's marker as a restore's first step would. Before the in-pause check the backup
  // stored a snapshot holding that marker.
  const snapshot = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
  const flag = join(work, "restore-began");
  const wrapper = join(work, "restic-with-a-restore-beginning");
  const { host, port } = c.nodes[0];
  writeFileSync(wrapper, [
    "#!/bin/sh",
    `if [ ! -e '${flag}' ]; then`,
    `  : > '${flag}'`,
    `  REDISCLI_AUTH='${c.password}' redis-cli -c -h ${host} -p ${port} set '${MARKER_KEY}' ${snapshot} >/dev/null || exit 9`,
    "fi",
    'exec restic "$@"',
    "",
  ].join("\n"), { mode: 0o700 });
  const forks = async () => Promise.all(c.nodes.map(async (_, i) => parseInfo(await c.ask(i, "INFO", "stats")).total_forks));
  const forksBefore = await forks();
  const repoBefore = repoFiles(repoDir());
  try {
    // A 10 s pause bound: a pause left in place would hold the write below for seconds, not end within the second.
    const r = await runBackup(backupOptions(c, { ...repo, bin: wrapper }, work, { pauseBoundMs: 10_000 }));
    assert.ok(existsSync(flag), "the wrapper ran: the restore began during the backup");
    assert.equal(r.code, 2, r.message);
    assert.match(r.message, new RegExp(`restore marker ${MARKER_KEY} of snapshot ${snapshot} \\(written after this backup's first check.*nothing was stored`));
    assert.deepEqual(await forks(), forksBefore, "no snapshot fork");
    assert.deepEqual(repoFiles(repoDir()), repoBefore, "the repository changed");
    const t0 = Date.now();
    assert.equal(await cl.set("after-refusal", "1"), "OK");
    assert.ok(Date.now() - t0 < 1000, "writes are not left paused");
  } finally {
    await cl.del(MARKER_KEY);
  }
});

test("a failing master is refused with nothing changed", { timeout: 90_000 }, async () => {
  // Master of shard 2 frozen long enough to be flagged; its replica must not take over (no change but the test's).
  const roles = await Promise.all(c.nodes.map((_, i) => c.ask(i, "ROLE")));
  const m = roles.findIndex((r, i) => r.startsWith("master") && i > 0);
  const port = c.nodes[m].port;
  const rep = roles.findIndex((r) => r.startsWith("slave") && r.split("\n")[2] === String(port));
  const beforeCluster = await clusterState();
  const beforeRepo = repoFiles(repoDir());
  assert.equal(await c.ask(rep, "CONFIG", "SET", "cluster-replica-no-failover", "yes"), "OK");
  const sleeper = new Redis({ host: c.nodes[m].host, port, password: c.password, lazyConnect: true });
  await sleeper.connect();
  const slept = sleeper.call("DEBUG", "SLEEP", "8").catch(() => undefined);
  try {
    const deadline = Date.now() + 7000;
    while (!/fail/.test(await c.tryAsk(0, "CLUSTER", "NODES").then((v) => v.split("\n").find((l) => l.includes(`:${port}@`)) ?? "")) && Date.now() < deadline) await sleep(100);
    const r = await runBackup(backupOptions(c, repo, work));
    assert.equal(r.code, 2, r.message);
    assert.match(r.message, new RegExp(`127\\.0\\.0\\.1:${port} (does not answer|.*flagged fail)|flagged fail`));
  } finally {
    await slept;
    sleeper.disconnect();
    await c.ask(rep, "CONFIG", "SET", "cluster-replica-no-failover", "no");
  }
  // The master is back: the cluster heals by itself (no change by the backup) before the states are compared.
  const healed = Date.now() + 30_000;
  while (Date.now() < healed) {
    const v = await Promise.all(c.nodes.map((_, i) => c.tryAsk(i, "CLUSTER", "NODES")));
    if (v.every((x) => x && !/fail/.test(x))) break;
    await sleep(200);
  }
  assert.deepEqual(await clusterState(), beforeCluster, "the cluster changed");
  assert.deepEqual(repoFiles(repoDir()), beforeRepo, "the repository changed");
});

test("a backup killed while every master is paused: writes wait, then go through within the pause bound", { timeout: 60_000 }, async () => {
  // Under the test client's command timeout (3 s): a write waiting out the pause still gets its reply.
  const bound = 2000;
  const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "heldBackup.ts")], {
    env: { ...process.env, HELD_BACKUP: JSON.stringify(backupOptions(c, repo, work, { pauseBoundMs: bound, log: undefined })) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  try {
    const t0 = Date.now();
    while (!out.includes("PAUSED") && child.exitCode === null && Date.now() - t0 < 30_000) await sleep(10);
    assert.ok(out.includes("PAUSED"), `the held backup never paused:\n${err}`);
    const pausedAt = Date.now();
    // A write to each master, sent while paused: it must wait (not fail), and finish once the pause's own timeout ends.
    const keys = ["a", "b", "c", "d", "e", "f"].map((x) => `probe:${x}`);
    const done = new Map<string, number>();
    const writes = keys.map((k) => cl.set(k, "1").then(() => done.set(k, Date.now())));
    await sleep(300);
    assert.equal(done.size, 0, "a write went through while every master was paused");
    child.kill("SIGKILL");
    await Promise.all(writes);
    const longest = Math.max(...[...done.values()].map((t) => t - pausedAt));
    assert.ok(longest <= bound + 500, `writes waited ${longest} ms, bound ${bound} ms`);
    assert.ok(longest >= 300, `writes waited only ${longest} ms`);
    process.stderr.write(`killed mid-cut: writes waited ${longest} ms (bound ${bound} ms)\n`);
  } finally {
    child.kill("SIGKILL");
  }
});

test("a master without slots is refused with nothing changed", { timeout: 60_000 }, async () => {
  const n = await addNode(c);
  c.cli(0, ["cluster", "meet", n.host, String(n.port)]);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && !(await c.tryAsk(n.index, "CLUSTER", "INFO")).includes(`cluster_known_nodes:${c.nodes.length}`)) await sleep(200);
  await assertRefused("master without slots", {}, /a master without slots/);
});
