// The entrypoint and the liveness probe on a bad disk or a bad secret, for real: a full data volume is a small tmpfs
// (root only) filled to the last byte; a node whose disk fills while it runs answers MISCONF.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalCluster, localSpec, requireRedisBinaries } from "../../../testbed/local/harness";
import { freePorts } from "../../../testbed/local/ports";
import { scriptPaths } from "../../../infra/plan/scripts";
import { sleep } from "../../../smoke/time";

const mounts: string[] = [];
const clusters: LocalCluster[] = [];
after(async () => {
  // Nodes first, then the mounts, then the folders (a mounted folder cannot be removed).
  await Promise.all(clusters.map((c) => c.stop()));
  for (const m of mounts) spawnSync("umount", ["-l", m]);
  for (const c of clusters) rmSync(c.dir, { recursive: true, force: true });
});

/** A tmpfs of `kib` KiB mounted on `dir` (needs root: the test fails, not skips, without it). */
function mountSmallDisk(dir: string, kib: number) {
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${kib}k`, "tmpfs", dir], { encoding: "utf8" });
  assert.equal(r.status, 0, `mounting a tmpfs needs root: ${r.stderr}`);
  mounts.push(dir);
}

function fill(dir: string) {
  // dd stops with ENOSPC once the tmpfs is full; that is the point.
  spawnSync("dd", ["if=/dev/zero", `of=${join(dir, "filler")}`, "bs=4k"], { encoding: "utf8" });
}

async function cluster(password?: string): Promise<LocalCluster> {
  requireRedisBinaries();
  const spec = localSpec({ masters: 3, replicasPerMaster: 0, config: { smoke: { failover: "none" } } });
  const c = new LocalCluster(spec, await freePorts(3, { withBus: true }), { spec, password, restartDelayMs: 100, keepDir: true });
  clusters.push(c);
  return c;
}

test("entrypoint refuses to start, with a clear message, when the password file exists but is empty", () => {
  const dir = mkdtempSync(join(tmpdir(), "entrypoint-"));
  try {
    const pw = join(dir, "password");
    writeFileSync(pw, "\n");
    writeFileSync(join(dir, "redis.conf"), "port 6379\n");
    const r = spawnSync("sh", [scriptPaths.entrypoint], {
      env: { PATH: process.env.PATH, REDIS_CONF_TEMPLATE: join(dir, "redis.conf"), REDIS_RUN_DIR: join(dir, "run"), REDIS_DATA_DIR: join(dir, "data"), REDIS_PORT: "1", REDIS_PASSWORD_FILE: pw },
      encoding: "utf8",
      timeout: 10_000,
    });
    assert.equal(r.status, 1, `exit ${r.status}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /password file .*password.* is empty/);
    assert.doesNotMatch(r.stderr, /starting redis-server/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a node restarted onto a full disk does not crash-loop hot", { timeout: 60_000 }, async () => {
  const c = await cluster();
  mountSmallDisk(c.nodes[0].dataDir, 512);
  fill(c.nodes[0].dataDir);
  c.startNode(0);
  await sleep(4000);
  const restarts = c.nodes[0].restarts;
  await c.stopNode(0);
  assert.ok(restarts <= 2, `${restarts} restarts in 4 s`);
});

test("liveness: a node answering MISCONF (disk full, reads still served) is alive; it is not ready", { timeout: 90_000 }, async () => {
  const c = await cluster("misconfTestPassword-0123456789");
  mountSmallDisk(c.nodes[1].dataDir, 2048);
  c.startNode(1);
  await c.waitReady(1);
  fill(c.nodes[1].dataDir);
  // A snapshot that cannot be written makes the node refuse writes (stop-writes-on-bgsave-error).
  c.cli(1, ["bgsave"]);
  let pong = "";
  for (let k = 0; k < 100 && !pong.startsWith("MISCONF"); k++) {
    await sleep(100);
    pong = c.cli(1, ["ping"]).stdout.trim();
  }
  assert.match(pong, /^MISCONF/, "node answers MISCONF");
  const n = c.nodes[1];
  const probe = (mode: string) =>
    spawnSync("sh", [scriptPaths.probe, mode], { env: { ...c.cliEnv(), REDIS_HOST: n.host, REDIS_PORT: String(n.port) }, encoding: "utf8", timeout: 20_000 });
  const alive = probe("alive");
  assert.equal(alive.status, 0, alive.stdout + alive.stderr);
  assert.notEqual(probe("ready").status, 0);
});
