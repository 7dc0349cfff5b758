// `npm run bench:backup [-- --sizes 10,100,1000]`: backup and restore throughput (MB/s of RDB, keys/s) and the write
// pause at each data size, against the plain baseline in the same run: `redis-cli --rdb` per master (in parallel),
// then each RDB in a standalone redis-server and `redis-cli --cluster import --cluster-copy` into an empty cluster.
// Local redis-server processes (3x1 source, 3x0 targets), the repository behind rclone's restic REST server.
// Not a timed test: it prints a table (and the machine's load) for docs/backup.md.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { runBackup } from "../../infra/backup/backup";
import { runRestore } from "../../infra/backup/restore";
import { Restic } from "../../infra/backup/restic";
import { startLocalCluster, type LocalCluster } from "../../testbed/local/harness";
import { freePorts } from "../../testbed/local/ports";
import { clusterClient } from "../../testbed/local/scaleCluster";
import { startRestRepository } from "../../testbed/restRepository";
import { sleep } from "../../smoke/time";

const VALUE_BYTES = 1000;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (out += d));
    c.on("close", (code) => resolve({ code, out }));
  });
}

async function fill(c: LocalCluster, mb: number): Promise<number> {
  const cl = clusterClient(c);
  await cl.connect();
  const keys = Math.round((mb * 1024 * 1024) / VALUE_BYTES);
  // Random values: the RDB's LZF compression would shrink a repeated value to almost nothing.
  for (let i = 0; i < keys; i += 2000) {
    await Promise.all(Array.from({ length: Math.min(2000, keys - i) }, (_, j) => cl.set(`key:${i + j}`, randomBytes(VALUE_BYTES))));
  }
  cl.disconnect();
  return keys;
}

const masterIndexes = async (c: LocalCluster) => (await Promise.all(c.nodes.map((_, i) => c.ask(i, "ROLE")))).flatMap((r, i) => (r.startsWith("master") ? [i] : []));

interface Row {
  mb: number;
  keys: number;
  rdbBytes: number;
  pauseMs: number;
  /** First pause -> last RDB byte (the part comparable with redis-cli --rdb). */
  streamMs: number;
  backupMs: number;
  restoreMs: number;
  baseBackupMs: number;
  baseRestoreMs: number;
}

async function benchSize(mb: number, work: string, repoUrl: string): Promise<Row> {
  const three0 = { masters: 3, replicasPerMaster: 0, config: { smoke: { failover: "none" } } };
  const src = await startLocalCluster({ masters: 3, replicasPerMaster: 1 });
  const t1 = await startLocalCluster(three0);
  const t2 = await startLocalCluster(three0);
  try {
    const keys = await fill(src, mb);
    const pw = join(work, "pw");
    writeFileSync(pw, "bench-repo-password", { mode: 0o600 });
    const repository = { repository: repoUrl, passwordFile: pw, cacheDir: join(work, "cache") };
    const log = () => undefined;
    await new Restic(repository).check({ init: true });
    let t = Date.now();
    const b = await runBackup({ nodes: src.seeds, repository, workDir: work, settleMs: 5000, log });
    const backupMs = Date.now() - t;
    if (b.code !== 0) throw new Error(b.message);
    t = Date.now();
    const r = await runRestore({ nodes: t1.seeds, repository, workDir: work, snapshot: b.snapshotId, log });
    const restoreMs = Date.now() - t;
    if (r.code !== 0) throw new Error(r.message);

    // Baseline: redis-cli --rdb per master, in parallel.
    const ms = await masterIndexes(src);
    t = Date.now();
    const rdbs = ms.map((i) => join(work, `base-${i}.rdb`));
    const got = await Promise.all(ms.map((i, k) => run("redis-cli", ["-h", "127.0.0.1", "-p", String(src.nodes[i].port), "--rdb", rdbs[k]])));
    const baseBackupMs = Date.now() - t;
    if (got.some((g) => g.code !== 0)) throw new Error(`redis-cli --rdb failed: ${got.map((g) => g.out).join("\n")}`);
    // Baseline restore: each RDB in a standalone server, then redis-cli --cluster import (MIGRATE COPY) into t2.
    t = Date.now();
    const ports = await freePorts(rdbs.length);
    for (const [k, rdb] of rdbs.entries()) {
      const dir = join(work, `base-server-${k}`);
      spawnSync("mkdir", ["-p", dir]);
      spawnSync("cp", [rdb, join(dir, "dump.rdb")]);
      const srv = spawn("redis-server", ["--port", String(ports[k]), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"], { stdio: "ignore" });
      try {
        for (let i = 0; i < 6000 && (await run("redis-cli", ["-p", String(ports[k]), "ping"])).out.trim() !== "PONG"; i++) await sleep(50);
        const imp = await run("redis-cli", ["--cluster", "import", t2.seeds[0], "--cluster-from", `127.0.0.1:${ports[k]}`, "--cluster-copy", "--cluster-replace"]);
        if (imp.code !== 0) throw new Error(`redis-cli --cluster import failed: ${imp.out.slice(-500)}`);
      } finally {
        srv.kill("SIGKILL");
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const baseRestoreMs = Date.now() - t;
    const rdbBytes = rdbs.reduce((n, f) => n + statSync(f).size, 0);
    for (const f of rdbs) rmSync(f, { force: true });
    const m = b.manifest!;
    return { mb, keys, rdbBytes, pauseMs: m.pauseMs, streamMs: Date.parse(m.endedAt) - Date.parse(m.pauseStartedAt), backupMs, restoreMs, baseBackupMs, baseRestoreMs };
  } finally {
    await src.stop();
    await t1.stop();
    await t2.stop();
  }
}

async function main() {
  const o = new Command("bench:backup").option("--sizes <list>", "data sizes in MB", "10,100").parse(process.argv).opts();
  const sizes = String(o.sizes).split(",").map(Number);
  const repo = await startRestRepository();
  const work = join(repo.dir, "..", `bench-backup-${process.pid}`);
  spawnSync("mkdir", ["-p", work]);
  const rows: Row[] = [];
  try {
    for (const mb of sizes) {
      const load = loadavg()[0].toFixed(2);
      const r = await benchSize(mb, work, repo.url);
      rows.push(r);
      process.stderr.write(`${mb} MB done (load ${load}): ${JSON.stringify(r)}\n`);
    }
  } finally {
    await repo.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const mbps = (bytes: number, ms: number) => (bytes / 1024 / 1024 / (ms / 1000)).toFixed(1);
  const kps = (keys: number, ms: number) => Math.round(keys / (ms / 1000)).toString();
  console.log(`| data | keys | RDB MB | pause ms | cut + stream s (MB/s) | baseline --rdb s (MB/s) | stream/baseline | whole backup s (restic incl.) | restore s (keys/s) | baseline import s (keys/s) |`);
  console.log(`| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`);
  for (const r of rows) {
    console.log(`| ${r.mb} MB | ${r.keys} | ${(r.rdbBytes / 1048576).toFixed(1)} | ${r.pauseMs} | ${(r.streamMs / 1000).toFixed(2)} (${mbps(r.rdbBytes, r.streamMs)}) | ${(r.baseBackupMs / 1000).toFixed(2)} (${mbps(r.rdbBytes, r.baseBackupMs)}) | ${(r.streamMs / r.baseBackupMs).toFixed(2)}x | ${(r.backupMs / 1000).toFixed(2)} | ${(r.restoreMs / 1000).toFixed(2)} (${kps(r.keys, r.restoreMs)}) | ${(r.baseRestoreMs / 1000).toFixed(2)} (${kps(r.keys, r.baseRestoreMs)}) |`);
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(" ")}, cores: ${spawnSync("nproc").stdout.toString().trim()}`);
}

main().catch((e) => {
  process.stderr.write(`bench:backup: ${(e as Error).message}\n`);
  process.exit(1);
});
