// `npm run local:up` / `npm run local:down` / `npm run local:status`: the dev stack's plan as local processes,
// for trying the project without Docker. Ports are the dev stack's host ports (7001.., bus 17001..).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { loadStackSpec } from "./stackSpec";
import { planCluster } from "../infra/plan/plan";
import { sleep } from "./harness";
import { cmdline, isAlive } from "./processes";

const STATE_DIR = join(__dirname, "..", ".local-cluster");
const STATE = join(STATE_DIR, "state.json");
const PASSWORD = join(STATE_DIR, "password");

interface State {
  supervisorPid: number;
  stack?: string;
  error?: string;
  startToOkMs?: number;
  nodes?: { name: string; host: string; port: number; busPort: number; pid?: number; logFile: string }[];
}

function readState(): State | undefined {
  return existsSync(STATE) ? (JSON.parse(readFileSync(STATE, "utf8")) as State) : undefined;
}

function isRedisServer(pid: number): boolean {
  return cmdline(pid).startsWith("redis-server");
}

function printHowToConnect(state: State) {
  const nodes = state.nodes ?? [];
  console.log(`Local Redis Cluster (${nodes.length} nodes, stack ${state.stack}) is up; formed in ${state.startToOkMs} ms.`);
  console.table(nodes.map((n) => ({ node: n.name, address: `${n.host}:${n.port}`, bus: n.busPort, pid: n.pid, log: n.logFile })));
  const seeds = nodes.map((n) => `${n.host}:${n.port}`).join(",");
  console.log(`Connect (the password is in ${PASSWORD}, mode 600):
  export REDISCLI_AUTH="$(cat ${PASSWORD})"
  redis-cli -c -p ${nodes[0]?.port} cluster info
Smoke test:
  REDIS_PASSWORD="$(cat ${PASSWORD})" npm run smoke -- --nodes ${seeds} --password-env REDIS_PASSWORD
ioredis:
  new Redis.Cluster([${nodes.slice(0, 3).map((n) => `{ host: "${n.host}", port: ${n.port} }`).join(", ")}], { redisOptions: { password } })
Stop with: npm run local:down`);
}

async function up(opts: { stack: string; timeout: string }) {
  const existing = readState();
  if (existing && isAlive(existing.supervisorPid)) {
    printHowToConnect(existing);
    console.log("(already running)");
    return;
  }
  rmSync(STATE, { force: true });
  const spec = loadStackSpec(opts.stack);
  // The dev stack's published host ports, so the connection instructions match `pulumi up -s dev`.
  const ports = planCluster(spec).nodes.map((n, i) => n.hostPort ?? spec.docker.hostPortBase + i);
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  const password = process.env.REDIS_PASSWORD || randomBytes(24).toString("base64url");
  writeFileSync(PASSWORD, password + "\n", { mode: 0o600 });
  const log = openSync(join(STATE_DIR, "supervisor.log"), "a");
  const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "supervisor.ts"), STATE_DIR, opts.stack, ports.join(",")], {
    detached: true,
    stdio: ["ignore", log, log],
    env: { ...process.env, REDIS_PASSWORD: "" },
  });
  child.unref();
  const deadline = Date.now() + Number(opts.timeout) * 1000;
  while (Date.now() < deadline) {
    const s = readState();
    if (s?.error) throw new Error(`local cluster failed to start: ${s.error}`);
    if (s?.nodes) return printHowToConnect(s);
    if (!isAlive(child.pid)) throw new Error(`supervisor exited; see ${join(STATE_DIR, "supervisor.log")}`);
    await sleep(200);
  }
  throw new Error(`local cluster not ready within ${opts.timeout}s; see ${join(STATE_DIR, "supervisor.log")}`);
}

async function down() {
  const s = readState();
  if (!s) {
    console.log("No local cluster is running.");
    return;
  }
  // Signal the recorded pid only while it is still our supervisor: a stale number may belong to another process.
  if (isAlive(s.supervisorPid) && cmdline(s.supervisorPid).includes("local/supervisor.ts")) process.kill(s.supervisorPid, "SIGTERM");
  for (let k = 0; k < 150 && isAlive(s.supervisorPid); k++) await sleep(100);
  // A supervisor that died without cleaning up leaves servers behind: stop them directly.
  // Only signal a recorded pid that is still a redis-server: after restarts the number may belong to another process.
  for (const n of s.nodes ?? []) if (isAlive(n.pid) && isRedisServer(n.pid!)) process.kill(n.pid!, "SIGTERM");
  rmSync(STATE_DIR, { recursive: true, force: true });
  console.log("Local cluster stopped and its data removed.");
}

const program = new Command("local").description("Run the dev stack's Redis Cluster as local processes");
program.command("up").option("--stack <name>", "stack file to plan from", "dev").option("--timeout <s>", "seconds to wait", "120").action(up);
program.command("down").action(down);
program.command("status").action(() => {
  const s = readState();
  if (s && isAlive(s.supervisorPid)) printHowToConnect(s);
  else console.log("No local cluster is running.");
});
program.parseAsync().catch((e: Error) => {
  console.error(`local: ${e.message}`);
  process.exit(1);
});
