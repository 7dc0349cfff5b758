// `npm run local:up` / `npm run local:down` / `npm run local:status`: the dev stack's plan as local processes,
// for trying the project without Docker. Ports are the dev stack's host ports (7001.., bus 17001..).
// Exit codes: 0 done; 1 failed (cluster did not start, a node is down, something could not be stopped); 2 usage.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { loadStackSpecFile } from "../../testbed/local/stackSpec";
import { planCluster } from "../../infra/plan/plan";
import { PROJECT, passwordProblem } from "../../infra/config/schema";

import { cmdline, isAlive, redisServersUnder } from "../../testbed/local/processes";
import { sleep } from "../../smoke/time";

const ROOT = join(__dirname, "..", "..");
// Overridable so tests never touch a developer's running local cluster.
const STATE_DIR = process.env.LOCAL_CLUSTER_STATE_DIR || join(ROOT, ".local-cluster");
const STATE = join(STATE_DIR, "state.json");
const PASSWORD = join(STATE_DIR, "password");

class UsageError extends Error {}

interface NodeState {
  name: string;
  host: string;
  port: number;
  busPort: number;
  pid?: number;
  restarts?: number;
  logFile: string;
}
interface State {
  supervisorPid: number;
  stack?: string;
  dir?: string;
  error?: string;
  starting?: boolean;
  startToOkMs?: number;
  nodes?: NodeState[];
  /** The stack's canary, when it enables one. */
  canary?: { metrics: string };
}

function readState(): State | undefined {
  if (!existsSync(STATE)) return undefined;
  try {
    return JSON.parse(readFileSync(STATE, "utf8")) as State;
  } catch {
    return undefined; // being rewritten; callers retry or treat as absent
  }
}

const isRedisServer = (pid: number | undefined) => !!pid && isAlive(pid) && cmdline(pid).startsWith("redis-server");
const isSupervisor = (pid: number) => isAlive(pid) && cmdline(pid).includes("tools/local/supervisor.ts");

function printHowToConnect(state: State) {
  const nodes = state.nodes ?? [];
  console.log(`Local Redis Cluster (${nodes.length} nodes, stack ${state.stack}) is up; formed in ${state.startToOkMs} ms.`);
  console.table(nodes.map((n) => ({ node: n.name, address: `${n.host}:${n.port}`, bus: n.busPort, pid: n.pid, state: isRedisServer(n.pid) ? "up" : "DOWN", restarts: n.restarts ?? 0, log: n.logFile })));
  const seeds = nodes.map((n) => `${n.host}:${n.port}`).join(",");
  console.log(`Connect (the password is in ${PASSWORD}, mode 600):
  export REDISCLI_AUTH="$(cat ${PASSWORD})"
  redis-cli -c -p ${nodes[0]?.port} cluster info
Smoke test:
  REDIS_PASSWORD="$(cat ${PASSWORD})" npm run smoke -- --nodes ${seeds} --password-env REDIS_PASSWORD
ioredis:
  new Redis.Cluster([${nodes.slice(0, 3).map((n) => `{ host: "${n.host}", port: ${n.port} }`).join(", ")}], { redisOptions: { password } })
${state.canary ? `Canary (writes and reads every shard; SLO metrics): ${state.canary.metrics}
` : ""}Stop with: npm run local:down`);
}

const positiveInt = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 86_400) throw new InvalidArgumentError(`${name} must be whole seconds, 1..86400`);
  return Number(v);
};

function stackFile(opts: { stack: string; stackFile?: string }): { path: string; name: string } {
  if (opts.stackFile) return { path: resolve(opts.stackFile), name: `${PROJECT}-local` };
  if (!/^[A-Za-z0-9_.-]+$/.test(opts.stack)) throw new UsageError(`--stack must be a stack name like dev, got ${JSON.stringify(opts.stack)}`);
  return { path: join(ROOT, `Pulumi.${opts.stack}.yaml`), name: `${PROJECT}-${opts.stack}` };
}

async function up(opts: { stack: string; stackFile?: string; timeout: number }) {
  // Everything is checked before anything starts: a bad flag must not leave a supervisor forming a cluster behind.
  const file = stackFile(opts);
  if (!existsSync(file.path)) throw new UsageError(`no stack file ${file.path} (--stack/--stack-file)`);
  let spec;
  try {
    spec = loadStackSpecFile(file.path, file.name);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const given = process.env.REDIS_PASSWORD;
  if (given) {
    const problem = passwordProblem(given);
    if (problem) throw new UsageError(`REDIS_PASSWORD ${problem} (or unset it and a password is generated)`);
  }
  const existing = readState();
  if (existing && isSupervisor(existing.supervisorPid)) {
    printHowToConnect(existing);
    console.log("(already running)");
    return;
  }
  if (existing?.dir && redisServersUnder(existing.dir).length > 0) {
    throw new Error(`servers of an earlier local cluster still run (its supervisor is gone): run npm run local:down first`);
  }
  rmSync(STATE, { force: true });
  // The dev stack's published host ports, so the connection instructions match `pulumi up -s dev`.
  const ports = planCluster(spec).nodes.map((n, i) => n.hostPort ?? spec.docker.hostPortBase + i);
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  const password = given || randomBytes(24).toString("base64url");
  writeFileSync(PASSWORD, password + "\n", { mode: 0o600 });
  const log = openSync(join(STATE_DIR, "supervisor.log"), "a");
  const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "supervisor.ts"), STATE_DIR, file.path, file.name, ports.join(",")], {
    detached: true,
    stdio: ["ignore", log, log],
    env: { ...process.env, REDIS_PASSWORD: "" },
  });
  child.unref();
  const deadline = Date.now() + opts.timeout * 1000;
  while (Date.now() < deadline) {
    const s = readState();
    if (s?.error) throw new Error(`local cluster failed to start: ${s.error}`);
    if (s?.nodes && !s.starting) return printHowToConnect(s);
    if (!isAlive(child.pid)) throw new Error(`supervisor exited; see ${join(STATE_DIR, "supervisor.log")}`);
    await sleep(200);
  }
  throw new Error(`local cluster not ready within ${opts.timeout}s (still starting in the background; stop it with npm run local:down); see ${join(STATE_DIR, "supervisor.log")}`);
}

async function down() {
  const s = readState();
  if (!s) {
    console.log("No local cluster is running.");
    return;
  }
  // Signal the recorded pid only while it is still our supervisor: a stale number may belong to another process.
  if (isSupervisor(s.supervisorPid)) process.kill(s.supervisorPid, "SIGTERM");
  for (let k = 0; k < 150 && isAlive(s.supervisorPid); k++) await sleep(100);
  if (isSupervisor(s.supervisorPid)) process.kill(s.supervisorPid, "SIGKILL");
  // A supervisor that died without cleaning up leaves servers behind, possibly restarted ones whose pids were never
  // recorded: find them by their working directory (the cluster's data folder), stop them, then kill what remains.
  const pending = () => (s.dir ? redisServersUnder(s.dir) : (s.nodes ?? []).map((n) => n.pid).filter(isRedisServer) as number[]);
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    for (const pid of pending()) process.kill(pid, signal);
    for (let k = 0; k < 50 && pending().length > 0; k++) await sleep(100);
  }
  const left = pending();
  if (s.dir) rmSync(s.dir, { recursive: true, force: true });
  rmSync(STATE_DIR, { recursive: true, force: true });
  if (left.length > 0 || (s.dir && existsSync(s.dir))) {
    throw new Error(`could not stop everything: redis-server pids ${left.join(", ") || "none"}, data folder ${s.dir && existsSync(s.dir) ? s.dir : "removed"}`);
  }
  console.log("Local cluster stopped and its data removed.");
}

function status() {
  const s = readState();
  if (!s) {
    console.log("No local cluster is running.");
    return;
  }
  const down = (s.nodes ?? []).filter((n) => !isRedisServer(n.pid));
  if (!isSupervisor(s.supervisorPid)) {
    const orphans = s.dir ? redisServersUnder(s.dir) : [];
    console.log(`The local cluster's supervisor (pid ${s.supervisorPid}) is not running; ${orphans.length} of its redis-servers still are. Clean up with: npm run local:down`);
    process.exitCode = 1;
    return;
  }
  if (s.starting) {
    console.log("The local cluster is still starting.");
    return;
  }
  printHowToConnect(s);
  if (down.length > 0) {
    console.log(`DOWN: ${down.map((n) => n.name).join(", ")} (the supervisor restarts it with backoff; see its log)`);
    process.exitCode = 1;
  }
}

const program = new Command("local").description("Run the dev stack's Redis Cluster as local processes").exitOverride();
program
  .command("up")
  .option("--stack <name>", "stack file to plan from (Pulumi.<name>.yaml)", "dev")
  .option("--stack-file <path>", "plan from this stack file instead")
  .option("--timeout <s>", "seconds to wait", positiveInt("--timeout"), 120)
  .action(up);
program.command("down").action(down);
program.command("status").action(status);
program.parseAsync().catch((e: Error & { code?: string; exitCode?: number }) => {
  if (e.code?.startsWith("commander.")) process.exit(e.code === "commander.helpDisplayed" || e.code === "commander.version" ? 0 : 2);
  console.error(`local: ${e.message}`);
  process.exit(e instanceof UsageError ? 2 : 1);
});
