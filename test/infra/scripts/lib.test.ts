// infra/scripts/lib.sh, the functions the scripts source, and how it ships with them (scriptFiles). No Redis needed:
// a listener that accepts and never answers stands in for a frozen node, port 1 for a node that is down.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scriptFiles, scriptPaths, sourcedFiles, type ScriptName } from "../../../infra/plan/scripts";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "lib-sh-"));
  dirs.push(d);
  return d;
}

/** Runs `body` in sh after sourcing lib.sh; stdout, stderr, exit status and seconds taken. */
function withLib(body: string, env: Record<string, string> = {}) {
  const t0 = Date.now();
  const r = spawnSync("sh", ["-c", `. "${scriptPaths.lib}"; ${body}`], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8", timeout: 30_000 });
  return { out: r.stdout, err: r.stderr, code: r.status, s: (Date.now() - t0) / 1000 };
}

test("every script but entrypoint.sh sources lib.sh, and scriptFiles ships it beside each of them", () => {
  const lib = readFileSync(scriptPaths.lib, "utf8");
  for (const name of Object.keys(scriptPaths) as ScriptName[]) {
    if (name === "lib") continue;
    const files = scriptFiles(name);
    const own = scriptPaths[name].split("/").pop()!;
    if (name === "entrypoint") {
      assert.deepEqual(Object.keys(files), [own], "entrypoint.sh stays self-contained");
      continue;
    }
    assert.deepEqual(sourcedFiles(files[own]), ["lib.sh"], own);
    assert.deepEqual(Object.keys(files).sort(), [own, "lib.sh"].sort(), own);
    assert.equal(files["lib.sh"], lib);
  }
  // Several scripts, one volume: lib.sh once.
  assert.deepEqual(Object.keys(scriptFiles("entrypoint", "refreshPeers", "prestop", "probe")), ["entrypoint.sh", "refresh-peers.sh", "lib.sh", "prestop.sh", "probe.sh"]);
});

test("a script runs from a folder holding just what scriptFiles ships, by absolute and by relative path", () => {
  const ca = join(tempDir(), "ca.crt");
  writeFileSync(ca, "");
  const run = (dir: string, script: string) =>
    spawnSync("sh", [script], { cwd: dir, env: { PATH: process.env.PATH, REDIS_NODES: "127.0.0.1:1", REDIS_TLS_CA_FILE: ca }, encoding: "utf8", timeout: 30_000 });
  const shipped = tempDir();
  for (const [file, content] of Object.entries(scriptFiles("tlsReload"))) writeFileSync(join(shipped, file), content);
  for (const script of [join(shipped, "tls-reload.sh"), "tls-reload.sh"]) {
    const r = run(shipped, script);
    assert.equal(r.status, 0, `${script}: ${r.stderr}`);
    assert.match(r.stderr, /^\d\d:\d\d:\d\d tls-reload: 127\.0\.0\.1:1 does not answer: skipped/m);
    assert.match(r.stderr, /tls-reload: reloaded on 0 node\(s\)/);
  }
  // Without its library beside it the script cannot start: what the shipping above prevents.
  const alone = tempDir();
  writeFileSync(join(alone, "tls-reload.sh"), readFileSync(scriptPaths.tlsReload, "utf8"));
  const r = run(alone, join(alone, "tls-reload.sh"));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /lib\.sh/);
});

test("every function in lib.sh is documented by the comment right above it, starting with its name", () => {
  const lines = readFileSync(scriptPaths.lib, "utf8").split("\n");
  const defs = lines.map((l, i) => [l.match(/^([a-z_]+)\(\)/)?.[1], i] as const).filter(([name]) => name);
  assert.ok(defs.length >= 10, `${defs.length} functions`);
  for (const [name, i] of defs) {
    let j = i;
    while (j > 0 && lines[j - 1].startsWith("#")) j--;
    assert.ok(j < i && lines[j].startsWith(`# ${name} `), `${name}() has no comment block above it starting with its name`);
  }
});

test("field: the value of one INFO line, without its \\r, never a longer name's; nothing when absent", () => {
  const reply = "# Replication\r\nmaster_role:x\r\nrole:slave\r\nmaster_link_status:up\r\n";
  const r = withLib(`r=$(printf '${reply.replace(/\r/g, "\\r").replace(/\n/g, "\\n")}'); field "$r" role; field "$r" master_link_status; field "$r" nope; echo end`);
  assert.equal(r.out, "slave\nup\nend\n", r.err);
  assert.equal(withLib(`field "cluster_state:ok" cluster_state`).out, "ok\n", "the first line counts too");
});

test("set_call_timeout and is_count: whole numbers only; a bad setting falls back and says so by its status", () => {
  const r = withLib(`set_call_timeout 7 5; echo "$? $call_timeout"; set_call_timeout 0 5; echo "$? $call_timeout"; set_call_timeout 2x 5; echo "$? $call_timeout"; is_count ''; echo $?; is_count 12; echo $?`);
  assert.equal(r.out, "0 7\n1 5\n1 5\n1\n0\n", r.err);
});

test("load_password: REDISCLI_AUTH from the file (exported, for redis-cli), an explicit one wins, an unreadable file says so", () => {
  const file = join(tempDir(), "password");
  writeFileSync(file, "s3cret-from-file\n");
  const show = `load_password; echo "$?"; sh -c 'echo "$REDISCLI_AUTH"'`;
  assert.equal(withLib(show, { REDIS_PASSWORD_FILE: file }).out, "0\ns3cret-from-file\n");
  assert.equal(withLib(show, { REDIS_PASSWORD_FILE: file, REDISCLI_AUTH: "given" }).out, "0\ngiven\n");
  chmodSync(file, 0o000);
  const unreadable = process.getuid?.() === 0 ? "/nonexistent/password" : file;
  const r = withLib(`log_name=t; ${show}`, { REDIS_PASSWORD_FILE: unreadable });
  assert.equal(r.out, "1\n\n");
  assert.match(r.err, /^\d\d:\d\d:\d\d t: cannot read the password file/);
});

test("cli: a node that accepts and never answers costs call_timeout, or less once the deadline is nearer", async () => {
  const server = createServer(() => {}); // accepts, never replies: a frozen node as redis-cli sees it
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const hp = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const perCall = withLib(`set_call_timeout 1 5; cli ${hp} ping; echo "status $?"`);
    assert.equal(perCall.out.trim(), "status 0", perCall.err);
    assert.ok(perCall.s >= 0.9 && perCall.s < 5, `call_timeout 1: took ${perCall.s} s`);
    const capped = withLib(`set_call_timeout 30 5; deadline_in 2; cli ${hp} ping; expired; echo "expired $?"`);
    assert.ok(capped.s >= 1.9 && capped.s < 6, `deadline 2 s, call_timeout 30: took ${capped.s} s`);
    assert.equal(capped.out.trim(), "expired 0", capped.err);
  } finally {
    server.close();
  }
});
