// `local:up` / `local:status` / `local:down` for real, as an operator runs them, in a private state folder and on
// ports found free: bad input refused before anything starts; status shows the pids that really run and nodes that
// are down; down cleans up even after the supervisor was SIGKILLed (restarted servers included).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../helpers/stackConfig";
import { isAlive, redisServersUnder } from "../../../testbed/local/processes";
import { requireRedisBinaries } from "../../../testbed/local/harness";
import { sleep } from "../../../smoke/time";

const work = mkdtempSync(join(tmpdir(), "local-cli-test-"));
const stateDir = join(work, "state");
const stopped: number[] = [];
after(() => {
  for (const pid of stopped) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      /* gone */
    }
  }
  local(["down"]);
  rmSync(work, { recursive: true, force: true });
});

function local(args: string[], env: Record<string, string> = {}, timeout = 150_000) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "tools", "local", "cli.ts"), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOCAL_CLUSTER_STATE_DIR: stateDir, ...env },
    encoding: "utf8",
    timeout,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, ms: Date.now() - t0 };
}

const canListen = (port: number) =>
  new Promise<boolean>((res) => {
    const s = createServer();
    s.once("error", () => res(false));
    s.listen({ port, host: "127.0.0.1", exclusive: true }, () => s.close(() => res(true)));
  });

async function freeBase(n: number): Promise<number> {
  for (let k = 0; k < 50; k++) {
    const base = 20000 + Math.floor(Math.random() * 2700);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = (await canListen(base + i)) && (await canListen(base + i + 10000));
    if (ok) return base;
  }
  throw new Error("no free port range");
}

function stackFile(body: string): string {
  const p = join(work, `stack-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(p, body);
  return p;
}

const state = () => JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")) as { supervisorPid: number; dir: string; nodes: { name: string; pid: number }[]; canary?: { metrics: string } };

test("local:up refuses bad input before starting anything (exit 2)", () => {
  const good = stackFile("config:\n  redis-cluster:masters: 3\n");
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["up", "--stack-file", good, "--timeout", "abc"], {}, /--timeout must be whole seconds/],
    [["up", "--stack-file", good], { REDIS_PASSWORD: "short" }, /REDIS_PASSWORD must be 16-128 characters/],
    [["up", "--stack-file", stackFile("")], {}, /has no config/],
    [["up", "--stack-file", stackFile("# nothing here\nconfig: {}\n")], {}, /has no config/],
    [["up", "--stack-file", join(work, "missing.yaml")], {}, /no stack file/],
  ];
  for (const [args, env, message] of cases) {
    const r = local(args, env, 30_000);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.out}`);
    assert.match(r.out, message);
    assert.ok(r.ms < 20_000, `${r.ms} ms`);
    assert.ok(!existsSync(join(stateDir, "state.json")), "no supervisor was started");
  }
});

test("status follows restarts and reports a down node; down cleans up after a SIGKILLed supervisor", { timeout: 200_000 }, async () => {
  requireRedisBinaries();
  const base = await freeBase(6);
  const file = stackFile(
    `config:\n  redis-cluster:masters: 3\n  redis-cluster:replicasPerMaster: 1\n  redis-cluster:nodeTimeoutMs: 2000\n  redis-cluster:replDisklessSyncDelay: 0\n` +
      `  redis-cluster:docker:\n    hostPortBase: ${base}\n  redis-cluster:monitoring:\n    enabled: false\n  redis-cluster:canary:\n    enabled: true\n`,
  );
  const up = local(["up", "--stack-file", file, "--timeout", "120"]);
  assert.equal(up.code, 0, up.out);
  const s0 = state();
  assert.equal(s0.nodes.length, 6);
  // The stack's canary runs in the supervisor; up shows where its metrics are, and it writes on every shard.
  const metricsUrl = /Canary \(writes and reads every shard; SLO metrics\): (http:\S+)/.exec(up.out)?.[1];
  assert.ok(metricsUrl && metricsUrl === s0.canary?.metrics, up.out);
  let okShards = 0;
  for (let i = 0; i < 40 && okShards < 3; i++) {
    const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(3000) })).text();
    okShards = text.split("\n").filter((l) => /^redis_canary_requests_total\{.*op="set".*result="ok"/.test(l) && Number(l.split(" ").pop()) > 0).length;
    if (okShards < 3) await sleep(250);
  }
  assert.equal(okShards, 3, "the canary writes on every shard");

  // A node killed -9 is restarted; status then shows the new pid, alive.
  const old = s0.nodes[0].pid;
  process.kill(old, "SIGKILL");
  let now = old;
  for (let k = 0; k < 100 && (now === old || !isAlive(now)); k++) {
    await sleep(200);
    now = state().nodes[0].pid;
  }
  assert.notEqual(now, old, "state records the restarted pid");
  assert.ok(isAlive(now));
  const st = local(["status"], {}, 30_000);
  assert.equal(st.code, 0, st.out);
  assert.match(st.out, new RegExp(`\\b${now}\\b`));

  // With the supervisor frozen, a killed node stays down, and status says so.
  process.kill(s0.supervisorPid, "SIGSTOP");
  stopped.push(s0.supervisorPid);
  process.kill(state().nodes[1].pid, "SIGKILL");
  await sleep(500);
  const st2 = local(["status"], {}, 30_000);
  assert.equal(st2.code, 1, st2.out);
  assert.match(st2.out, /DOWN: .*node-1/);
  process.kill(s0.supervisorPid, "SIGCONT");

  // Supervisor SIGKILLed: its servers (one of them restarted, one maybe restarting) must still be stopped by down.
  await sleep(2000);
  process.kill(s0.supervisorPid, "SIGKILL");
  await sleep(300);
  const dir = s0.dir;
  assert.ok(redisServersUnder(dir).length >= 5, "servers outlive their supervisor");
  const down = local(["down"], {}, 60_000);
  assert.equal(down.code, 0, down.out);
  assert.deepEqual(redisServersUnder(dir), [], "no redis-server of the cluster is left");
  assert.ok(!existsSync(dir), "data folder removed");
  assert.ok(!existsSync(stateDir), "state removed");
});
