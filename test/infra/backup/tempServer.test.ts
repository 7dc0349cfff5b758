// The restore's temporary redis-server: loads an RDB and reports its key counts, is removed by stop(), fails with
// its log when the RDB does not load, and dies with the process that started it (a restore SIGKILLed mid-shard).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { redisServersUnder } from "../../../testbed/local/processes";
import { startTempServer } from "../../../infra/backup/tempServer";
import { sleep } from "../../../smoke/time";
import { redisServersLeft, tempDir } from "./fixtures";

const work = tempDir("backup-temp-server-");
after(() => rmSync(work, { recursive: true, force: true }));

/** An empty RDB of format 10: header, EOF opcode, a zero checksum (Redis skips the check for 0). */
function emptyRdb(name: string): string {
  const f = join(work, name);
  writeFileSync(f, Buffer.concat([Buffer.from("REDIS0010", "latin1"), Buffer.from([0xff]), Buffer.alloc(8)]));
  return f;
}

test("loads an RDB, reports what it loaded, and leaves nothing after stop()", { timeout: 30_000 }, async () => {
  const t = await startTempServer(emptyRdb("empty.rdb"), work);
  assert.equal(t.loaded, 0);
  assert.equal(t.expiredOnLoad, 0);
  assert.match(t.redisVersion, /^\d+\.\d+\.\d+$/);
  assert.equal(await t.client.dbsize(), 0);
  assert.equal(redisServersUnder(work).length, 1);
  await t.stop();
  assert.deepEqual(redisServersUnder(work), []);
  assert.deepEqual(readdirSync(work).filter((d) => d.startsWith("temp-redis-")), []);
});

test("an RDB that does not load fails with the server's log, and its dir is removed", { timeout: 30_000 }, async () => {
  const bad = join(work, "bad.rdb");
  writeFileSync(bad, Buffer.concat([Buffer.from("REDIS0010", "latin1"), Buffer.from([0x00, 0x05, 0x41])]));
  await assert.rejects(startTempServer(bad, work), /exited while loading it/);
  assert.deepEqual(redisServersUnder(work), []);
  assert.deepEqual(readdirSync(work).filter((d) => d.startsWith("temp-redis-")), []);
});

test("dies with the process that started it", { timeout: 30_000 }, async () => {
  const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "heldTempServer.ts")], {
    env: { ...process.env, HELD_RDB: emptyRdb("held.rdb"), HELD_WORK_DIR: work }, stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  try {
    for (let i = 0; i < 200 && !out.includes("LOADED"); i++) await sleep(50);
    assert.ok(out.includes("LOADED"), "the temporary server did not start");
    assert.equal(redisServersUnder(work).length, 1);
    child.kill("SIGKILL");
    assert.deepEqual(await redisServersLeft(work, 2000), [], "the temporary redis-server outlived the restore");
  } finally {
    child.kill("SIGKILL");
    for (const pid of redisServersUnder(work)) process.kill(pid, "SIGKILL");
  }
  assert.ok(existsSync(work));
});
