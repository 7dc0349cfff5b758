// refresh-peers.sh on hand-written nodes.conf files: the Redis 7.0 format (this machine) and the 7.2+ format of the
// prod image (`ip:port@cport,hostname,aux=val...`), IPv6 pod IPs, nodes without a hostname, names that do not resolve.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scriptPaths } from "../../../infra/plan/scripts";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const A = "a".repeat(40), B = "b".repeat(40), C = "c".repeat(40);
const host = (x: number) => `redis-cluster-prod-${x}.redis-cluster-prod-headless.redis.svc.cluster.local`;

function runHook(nodesConf: string, hosts: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "refresh-peers-"));
  dirs.push(dir);
  writeFileSync(join(dir, "nodes.conf"), nodesConf);
  writeFileSync(join(dir, "hosts"), hosts);
  const r = spawnSync("sh", [scriptPaths.refreshPeers], {
    env: { PATH: process.env.PATH, REDIS_DATA_DIR: dir, REDIS_HOSTS_FILE: join(dir, "hosts"), REDIS_PEER_RESOLVE_TIMEOUT: "0", ...env },
    encoding: "utf8",
    timeout: 20_000,
  });
  return { code: r.status, log: r.stderr, conf: readFileSync(join(dir, "nodes.conf"), "utf8"), files: readdirSync(dir).sort() };
}

test("Redis 7.0 format: own line from REDIS_ANNOUNCE_IP, peers from their names; ports, flags, slots, vars unchanged", () => {
  const conf = [
    `${A} 10.0.0.1:6379@16379,${host(0)} myself,master - 0 0 1 connected 0-5460`,
    `${B} 10.0.0.2:6379@16379,${host(1)} master - 0 1700000000000 2 connected 5461-10922`,
    `${C} 10.0.0.3:6379@16379,${host(2)} slave ${A} 0 1700000000000 1 connected`,
    "vars currentEpoch 3 lastVoteEpoch 0",
    "",
  ].join("\n");
  const r = runHook(conf, `10.1.0.2 ${host(1)}\n10.1.0.3 ${host(2)} other-alias\n`, { REDIS_ANNOUNCE_IP: "10.1.0.1" });
  assert.equal(r.code, 0, r.log);
  assert.equal(r.conf, conf.replace("10.0.0.1:", "10.1.0.1:").replace("10.0.0.2:", "10.1.0.2:").replace("10.0.0.3:", "10.1.0.3:"));
  assert.match(r.log, /3 address\(es\) changed/);
  assert.deepEqual(r.files, ["hosts", "nodes.conf"], "no temp files left behind");
});

test("Redis 7.2 format with aux fields and an empty hostname; IPv6 addresses", () => {
  const conf = [
    `${A} 10.0.0.1:6379@16379,${host(0)},tls-port=0,shard-id=${"1".repeat(40)} myself,master - 0 0 1 connected 0-8191`,
    `${B} fd00::2:6379@16379,${host(1)},tls-port=0,shard-id=${"2".repeat(40)} master - 0 1700000000000 2 connected 8192-16383`,
    `${C} 10.0.0.3:6379@16379,,tls-port=0,shard-id=${"1".repeat(40)} slave ${A} 0 1700000000000 1 connected`,
    "vars currentEpoch 3 lastVoteEpoch 0",
    "",
  ].join("\n");
  const r = runHook(conf, `fd00::22 ${host(1)}\n`, { REDIS_ANNOUNCE_IP: "fd00::11" });
  assert.equal(r.code, 0, r.log);
  const lines = r.conf.split("\n");
  assert.equal(lines[0], conf.split("\n")[0].replace("10.0.0.1:6379", "fd00::11:6379"));
  assert.equal(lines[1], conf.split("\n")[1].replace("fd00::2:6379", "fd00::22:6379"));
  assert.equal(lines[2], conf.split("\n")[2], "no hostname: kept as it was");
  assert.match(r.log, /has no hostname/);
});

test("an unresolved peer never keeps its old address: own master -> noaddr, others -> 255.255.255.255; the wait is bounded", () => {
  // This node (A) is a replica of B; C is another master. Nothing resolves: the old IPs may belong to other pods now.
  const conf = [
    `${A} 10.0.0.1:6379@16379,${host(0)} myself,slave ${B} 0 0 1 connected`,
    `${B} 10.0.0.2:6379@16379,${host(1)} master - 0 1700000000000 1 connected 0-8191`,
    `${C} 10.0.0.3:6379@16379,${host(2)} master - 0 1700000000000 2 connected 8192-16383`,
    "vars currentEpoch 2 lastVoteEpoch 0",
    "",
  ].join("\n");
  const t0 = Date.now();
  const r = runHook(conf, "# nothing resolves yet\n", { REDIS_ANNOUNCE_IP: "10.1.0.1", REDIS_PEER_RESOLVE_TIMEOUT: "2" });
  const s = (Date.now() - t0) / 1000;
  assert.equal(r.code, 0, r.log);
  assert.ok(s >= 1 && s < 10, `nothing resolves: waited the whole ~2 s timeout, took ${s}`);
  assert.match(r.log, /not resolvable after \d+ s:.*redis-cluster-prod-1.*redis-cluster-prod-2/);
  assert.equal(
    r.conf,
    conf
      .replace("10.0.0.1:", "10.1.0.1:")
      .replace(`10.0.0.2:6379@16379,${host(1)} master`, `:6379@16379,${host(1)} master,noaddr`)
      .replace("10.0.0.3:", "255.255.255.255:"),
  );
  assert.doesNotMatch(r.conf, /10\.0\.0\.[23]/, "no old peer address survives");
});

test("a resolved peer loses a stale noaddr flag; the placeholder of an earlier start is replaced", () => {
  const conf = [
    `${A} 10.0.0.1:6379@16379,${host(0)} myself,slave ${B} 0 0 1 connected`,
    `${B} :6379@16379,${host(1)} master,noaddr - 0 1700000000000 1 connected 0-8191`,
    `${C} 255.255.255.255:6379@16379,${host(2)} master - 0 1700000000000 2 connected 8192-16383`,
    "vars currentEpoch 2 lastVoteEpoch 0",
    "",
  ].join("\n");
  const r = runHook(conf, `10.1.0.2 ${host(1)}\n10.1.0.3 ${host(2)}\n`, { REDIS_ANNOUNCE_IP: "10.1.0.1" });
  assert.equal(r.code, 0, r.log);
  assert.equal(
    r.conf,
    conf
      .replace("10.0.0.1:", "10.1.0.1:")
      .replace(`:6379@16379,${host(1)} master,noaddr`, `10.1.0.2:6379@16379,${host(1)} master`)
      .replace("255.255.255.255:", "10.1.0.3:"),
  );
});

test("an absent peer holds the start back only REDIS_PEER_RESOLVE_SETTLE seconds once others resolved, not the whole timeout", () => {
  const conf = [
    `${A} 10.0.0.1:6379@16379,${host(0)} myself,master - 0 0 1 connected 0-8191`,
    `${B} 10.0.0.2:6379@16379,${host(1)} master - 0 1700000000000 2 connected 8192-16383`,
    `${C} 10.0.0.3:6379@16379,${host(2)} slave ${B} 0 1700000000000 2 connected`,
    "vars currentEpoch 2 lastVoteEpoch 0",
    "",
  ].join("\n");
  const t0 = Date.now();
  const r = runHook(conf, `10.1.0.2 ${host(1)}\n`, { REDIS_ANNOUNCE_IP: "10.1.0.1", REDIS_PEER_RESOLVE_TIMEOUT: "30", REDIS_PEER_RESOLVE_SETTLE: "2" });
  const s = (Date.now() - t0) / 1000;
  assert.equal(r.code, 0, r.log);
  assert.ok(s >= 1 && s < 15, `settle ~2 s, far below the 30 s timeout; took ${s}`);
  assert.equal(r.conf, conf.replace("10.0.0.1:", "10.1.0.1:").replace("10.0.0.2:", "10.1.0.2:").replace("10.0.0.3:", "255.255.255.255:"));
});

test("new node (no nodes.conf) and an unreadable hosts file: nothing happens, exit 0", () => {
  const dir = mkdtempSync(join(tmpdir(), "refresh-peers-"));
  dirs.push(dir);
  const r = spawnSync("sh", [scriptPaths.refreshPeers], { env: { PATH: process.env.PATH, REDIS_DATA_DIR: dir }, encoding: "utf8" });
  assert.equal(r.status, 0);
  assert.match(r.stderr, /new node/);
  assert.deepEqual(readdirSync(dir), []);
  const conf = `${A} 10.0.0.1:6379@16379,${host(0)} myself,master - 0 0 1 connected 0-16383\nvars currentEpoch 1 lastVoteEpoch 0\n`;
  const r2 = runHook(conf, "", { REDIS_HOSTS_FILE: "/nonexistent/hosts" });
  assert.equal(r2.code, 0, r2.log);
  assert.equal(r2.conf, conf, "no REDIS_ANNOUNCE_IP, nothing resolvable: unchanged");
});

test("sourced by the entrypoint (as in the pod) it never aborts the start, even on a bad setting", () => {
  const conf = `${A} 10.0.0.1:6379@16379,${host(0)} myself,master - 0 0 1 connected 0-16383\nvars currentEpoch 1 lastVoteEpoch 0\n`;
  const dir = mkdtempSync(join(tmpdir(), "refresh-peers-"));
  dirs.push(dir);
  writeFileSync(join(dir, "nodes.conf"), conf);
  const script = `set -eu; . "${scriptPaths.refreshPeers}"; echo still-running`;
  // As entrypoint.sh sources it: REDIS_ENTRYPOINT_HOOK names the file, so it finds lib.sh beside it.
  const env = { PATH: process.env.PATH, REDIS_DATA_DIR: dir, REDIS_PEER_RESOLVE_TIMEOUT: "soon", REDIS_ENTRYPOINT_HOOK: scriptPaths.refreshPeers };
  const r = spawnSync("sh", ["-c", script], { env, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /still-running/);
  assert.match(r.stderr, /refresh-peers: ERROR: REDIS_PEER_RESOLVE_TIMEOUT must be whole seconds/);
  assert.equal(readFileSync(join(dir, "nodes.conf"), "utf8"), conf);
  // Its lib.sh not found (no hook variable, another folder): the start still goes on.
  const lost = spawnSync("sh", ["-c", script], { cwd: dir, env: { ...env, REDIS_ENTRYPOINT_HOOK: "" }, encoding: "utf8" });
  assert.equal(lost.status, 0, lost.stderr);
  assert.match(lost.stdout, /still-running/);
  assert.match(lost.stderr, /lib\.sh[^]*refresh-peers: failed \(exit \d\)/);
  assert.equal(readFileSync(join(dir, "nodes.conf"), "utf8"), conf);
});

test("a failing step (mktemp, the rewrite awk, wc) never replaces nodes.conf; the start goes on (dash: set -e is off in `( ) ||`)", () => {
  const conf = [
    `${A} 10.0.0.1:6379@16379,${host(0)} myself,master - 0 0 1 connected 0-8191`,
    `${B} 10.0.0.2:6379@16379,${host(1)} master - 0 1700000000000 2 connected 8192-16383`,
    "vars currentEpoch 2 lastVoteEpoch 0",
    "",
  ].join("\n");
  const lines = conf.split("\n").length - 1;
  // Fake tools first on PATH; everything else is the real one.
  const fakes: Record<string, string> = {
    mktemp: "#!/bin/sh\nexit 1\n",
    // The rewrite (the only awk call with -v map=) prints as many lines as nodes.conf has, but garbage, and fails.
    awk: `#!/bin/sh\ncase "$*" in *map=*) i=0; while [ $i -lt ${lines} ]; do echo garbage; i=$((i + 1)); done; exit 2 ;; esac\nexec ${spawnSync("sh", ["-c", "command -v awk"], { encoding: "utf8" }).stdout.trim()} "$@"\n`,
    wc: "#!/bin/sh\nexit 1\n",
  };
  for (const [tool, body] of Object.entries(fakes)) {
    const bin = mkdtempSync(join(tmpdir(), "refresh-peers-bin-"));
    dirs.push(bin);
    writeFileSync(join(bin, tool), body, { mode: 0o755 });
    const script = `. "${scriptPaths.refreshPeers}"; echo still-running`;
    const dir = mkdtempSync(join(tmpdir(), "refresh-peers-"));
    dirs.push(dir);
    writeFileSync(join(dir, "nodes.conf"), conf);
    writeFileSync(join(dir, "hosts"), `10.1.0.2 ${host(1)}\n`);
    for (const shell of ["sh", "dash"]) {
      const r = spawnSync(shell, ["-c", script], {
        cwd: dir,
        env: { PATH: `${bin}:${process.env.PATH}`, REDIS_ENTRYPOINT_HOOK: scriptPaths.refreshPeers, REDIS_DATA_DIR: dir, REDIS_HOSTS_FILE: join(dir, "hosts"), REDIS_PEER_RESOLVE_TIMEOUT: "0", REDIS_ANNOUNCE_IP: "10.1.0.1" },
        encoding: "utf8",
        timeout: 20_000,
      });
      if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") continue; // no dash here
      assert.equal(r.status, 0, `${tool}/${shell}: ${r.stderr}`);
      assert.match(r.stdout, /still-running/, `${tool}/${shell}`);
      assert.match(r.stderr, /refresh-peers: failed \(exit 1\)/, `${tool}/${shell}: ${r.stderr}`);
      assert.equal(readFileSync(join(dir, "nodes.conf"), "utf8"), conf, `${tool}/${shell}: nodes.conf unchanged`);
      assert.deepEqual(readdirSync(dir).sort(), ["hosts", "nodes.conf"], `${tool}/${shell}: no temp files left behind`);
    }
  }
});

test("externalAccess: peers are looked up by their pod names (pod IPs), never their external names (load balancers), whatever they announce", () => {
  const ext = (x: number, domain = "redis.example.com") => `redis-cluster-prod-${x}.${domain}`;
  // Mid-roll: B announces its external name, C an older domain's, D has not restarted yet (still its pod name).
  const D = "d".repeat(40);
  const conf = [
    `${A} 10.0.0.1:6379@16379,${ext(0)},tls-port=0 myself,master - 0 0 1 connected 0-8191`,
    `${B} 10.0.0.2:6379@16379,${ext(1)},tls-port=0 master - 0 1700000000000 2 connected 8192-16383`,
    `${C} 10.0.0.3:6379@16379,${ext(2, "old.example.com")},tls-port=0 slave ${A} 0 1700000000000 1 connected`,
    `${D} 10.0.0.4:6379@16379,${host(3)},tls-port=0 slave ${B} 0 1700000000000 2 connected`,
    "vars currentEpoch 2 lastVoteEpoch 0",
    "",
  ].join("\n");
  // The external names resolve too (to the load balancers, which carry the client port only).
  const hosts = [1, 2, 3].map((x) => `10.1.0.${x + 1} ${host(x)}\n198.51.100.${x + 1} ${ext(x)} ${ext(x, "old.example.com")}\n`).join("");
  const podIps = conf.replace("10.0.0.1:", "10.1.0.1:").replace("10.0.0.2:", "10.1.0.2:").replace("10.0.0.3:", "10.1.0.3:").replace("10.0.0.4:", "10.1.0.4:");
  // On (the StatefulSet sets REDIS_PEER_DOMAIN), and turned off again (this node announces its pod name: its domain is the pods').
  const settings: Record<string, string>[] = [{ REDIS_ANNOUNCE_HOSTNAME: ext(0), REDIS_PEER_DOMAIN: "redis-cluster-prod-headless.redis.svc.cluster.local" }, { REDIS_ANNOUNCE_HOSTNAME: host(0) }];
  for (const env of settings) {
    const r = runHook(conf, hosts, { REDIS_ANNOUNCE_IP: "10.1.0.1", ...env });
    assert.equal(r.code, 0, r.log);
    assert.equal(r.conf, podIps, `pod IPs, hostnames kept (${JSON.stringify(env)})`);
  }
  // Without knowing the pods' domain the bus would be pointed at the load balancers.
  const unmapped = runHook(conf, hosts, { REDIS_ANNOUNCE_IP: "10.1.0.1", REDIS_ANNOUNCE_HOSTNAME: ext(0) });
  assert.match(unmapped.conf, /198\.51\.100\.2:6379@16379/);
});
