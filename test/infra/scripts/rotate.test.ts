// Password rotation on a real local 3x1 cluster with ACL users, while an application writer runs: every user's
// password changes at once (admin, replica, exporter, smoke, the application user). rotate.sh add -> clients switch ->
// a replica restarts (it must still accept the old passwords and re-sync with the new masterauth) -> rotate.sh remove.
// The writer must see 0 errors; at the end every old password is refused and every new one works, and the smoke
// test's old-passwords check (what the deployment runs after a rotation) says so too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { generatePassword } from "../../../testbed/local/acl";
import { scriptPaths } from "../../../infra/plan/scripts";
import { clusterClient } from "../../../smoke/clients";
import { startWriter } from "../../../testbed/workload/application";
import { runSmoke } from "../../../smoke/run";
import { DEFAULT_OPTIONS, type SmokeReport } from "../../../smoke/types";
import { sleep } from "../../../smoke/time";

const APP = { name: "orders", keys: ["orders:*"], commands: ["+@read", "+@write", "-@dangerous"] };

function as(c: LocalCluster, i: number, user: string, password: string, args: string[]): string {
  const n = c.nodes[i];
  const r = spawnSync("redis-cli", ["--user", user, "-h", n.host, "-p", String(n.port), ...args], {
    env: { PATH: process.env.PATH, REDISCLI_AUTH: password }, encoding: "utf8", timeout: 10_000,
  });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.replace(/\r/g, "").trim();
}

/** AUTH user password on a new connection to node i (sent on stdin, not argv): "OK" or the error. */
function auth(c: LocalCluster, i: number, user: string, password: string): string {
  const n = c.nodes[i];
  const r = spawnSync("redis-cli", ["-h", n.host, "-p", String(n.port)], { input: `AUTH ${user} ${password}\n`, env: { PATH: process.env.PATH }, encoding: "utf8", timeout: 10_000 });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.replace(/\r/g, "").trim();
}

function rotate(c: LocalCluster, mode: "add" | "remove"): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("sh", [scriptPaths.rotate, mode], {
      env: { PATH: process.env.PATH, ...c.acl!.rotateEnv(), REDIS_NODES: c.seeds.join(" ") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const t = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => (clearTimeout(t), resolve({ code, output })));
  });
}

/** Writes orders:<n> as the application user until stopped (testbed/workload/application.ts). */
function writer(c: LocalCluster, password: string) {
  return startWriter(clusterClient({ seeds: c.seeds, username: APP.name, password, natMap: {}, nodeTimeoutMs: c.spec.nodeTimeoutMs, commandTimeoutMs: 5000 }), "orders:");
}

test("rotation: every password changes with a writer running, 0 errors; old passwords refused at the end", { timeout: 240_000 }, async () => {
  let c: LocalCluster | undefined;
  const writers: ReturnType<typeof writer>[] = [];
  try {
    c = await startLocalCluster({ acl: { defaultUser: "off", users: [APP] } });
    const old = { ...c.acl!.passwords };
    const info = (i: number) => as(c!, i, "admin", c!.acl!.passwords.admin, ["info", "replication"]);
    const linksUp = async () => {
      for (let k = 0; k < 150; k++) {
        if (c!.nodes.every((_, i) => /role:master/.test(info(i)) || /master_link_status:up/.test(info(i)))) return;
        await sleep(200);
      }
      assert.fail("replication links not up within 30 s");
    };
    await linksUp();
    writers.push(writer(c, old[APP.name]));
    await sleep(500);

    const t0 = Date.now();
    // 1. New passwords in config (the Secret/upload holds only them from now on).
    const next = Object.fromEntries(Object.keys(old).map((u) => [u, generatePassword()]));
    c.acl!.change(next);
    // 2. add: both passwords valid on every live node; replicas re-authenticate with the new one when they reconnect.
    const add = await rotate(c, "add");
    assert.equal(add.code, 0, add.output);
    const tAdd = Date.now() - t0;
    for (let i = 0; i < c.nodes.length; i++) {
      for (const u of Object.keys(old)) {
        assert.equal(auth(c, i, u, old[u]), "OK", `${u} old password after add, node ${i}`);
        assert.equal(auth(c, i, u, next[u]), "OK", `${u} new password after add, node ${i}`);
      }
      assert.match(as(c, i, "admin", next.admin, ["config", "get", "masterauth"]), new RegExp(next.replica));
    }
    // 3. Clients switch: a writer with the new password starts before the old one stops.
    writers.push(writer(c, next[APP.name]));
    await sleep(300);
    const first = await writers.shift()!.stop();
    // 4. The roll: a replica restarts from the new file; it still knows the old passwords (saved by ACL SAVE) and
    //    re-syncs with the new masterauth.
    const r = c.nodes.findIndex((_, i) => /role:slave/.test(info(i)));
    await c.stopNode(r);
    c.startNode(r);
    await c.waitReady(r, 30_000);
    assert.equal(auth(c, r, APP.name, old[APP.name]), "OK", "restarted replica refused the old password during the rotation");
    await linksUp();
    // 5. remove: only the new passwords are left.
    const remove = await rotate(c, "remove");
    assert.equal(remove.code, 0, remove.output);
    const rotationMs = Date.now() - t0;
    await sleep(500);
    const second = await writers.shift()!.stop();

    for (let i = 0; i < c.nodes.length; i++) {
      for (const u of Object.keys(old)) {
        assert.match(auth(c, i, u, old[u]), /WRONGPASS/, `${u} old password still accepted on node ${i}`);
        assert.equal(auth(c, i, u, next[u]), "OK", `${u} new password refused on node ${i}`);
      }
    }
    // A node restarted after the rotation loads only the new passwords.
    await c.stopNode(r);
    c.startNode(r);
    await c.waitReady(r, 30_000);
    assert.match(auth(c, r, APP.name, old[APP.name]), /WRONGPASS/);
    await linksUp();
    // Idempotent: remove again changes nothing and succeeds.
    assert.equal((await rotate(c, "remove")).code, 0);

    // The smoke step at the end of the rotation: its old-passwords check AUTHs with every retired password on every
    // node (REDIS_RETIRED_PASSWORDS in a deployment) and passes only when each is refused; a password that still works
    // fails it; without a rotation it reports "not run", never passed.
    const smoke = (retiredPasswords: Record<string, string[]> | undefined) =>
      runSmoke({
        ...DEFAULT_OPTIONS, nodes: c!.seeds, password: next.smoke, username: "smoke", retiredPasswords,
        workloads: false, keys: 50, timeoutMs: 60_000, nodeTimeoutMs: c!.spec.nodeTimeoutMs, bench: { ...DEFAULT_OPTIONS.bench, ops: 0 },
      });
    const oldPasswords = (r: SmokeReport) => r.checks.find((k) => k.name === "old-passwords")!;
    const retired = Object.fromEntries(Object.entries(old).map(([u, pw]) => [u, [pw]]));
    const passed = await smoke(retired);
    assert.equal(oldPasswords(passed).status, "passed", JSON.stringify(oldPasswords(passed)));
    assert.equal(oldPasswords(passed).measurements.refused_wrongpass, Object.keys(old).length * c.nodes.length);
    assert.ok(passed.ok, JSON.stringify(passed.checks.filter((k) => !k.ok)));
    const stillValid = await smoke({ orders: [next[APP.name]] });
    assert.equal(oldPasswords(stillValid).status, "failed");
    assert.match(oldPasswords(stillValid).details, /accepted the retired password of user orders/);
    assert.doesNotMatch(JSON.stringify(stillValid), new RegExp(next[APP.name]), "the password is never in the report");
    const none = await smoke(undefined);
    assert.equal(oldPasswords(none).status, "not-applicable");
    assert.match(oldPasswords(none).details, /^not run: no rotation recorded/);

    const errors = [...first.errors, ...second.errors];
    console.log(`rotation: add ${tAdd} ms, add..remove ${rotationMs} ms (includes a replica restart and re-sync); writes ok ${first.ok + second.ok}, errors ${errors.length}${errors.length ? `: ${errors.slice(0, 3).join(" | ")}` : ""}`);
    assert.ok(first.ok > 0 && second.ok > 0, "the writers wrote");
    assert.deepEqual(errors, [], "writer errors during the rotation");
  } finally {
    for (const w of writers) await w.stop();
    await c?.stop();
  }
});
