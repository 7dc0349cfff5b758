// `npm run smoke -- --nodes host:port[,…] …`: the ioredis smoke test of a Redis Cluster.
// Exit codes (also in --help, EXIT_CODES_HELP):
//   0  every check passed (or was not applicable);
//   1  a check failed: the cluster answered but something is wrong — including listed/discovered nodes that do not
//      answer while at least one seed does (the connect check names them);
//   2  usage or connection problem: bad options, an unset --password-env variable, NO seed answering, or a wrong or
//      missing password at any node (WRONGPASS/NOAUTH); nothing was checked.
// The password comes only from the environment variable named by --password-env and is never printed.
// REDIS_RETIRED_PASSWORDS (JSON {user: [password, ...]}, set by a deployment after a rotation): the old-passwords
// check verifies every node refuses them; they are never printed either.
import { accessSync, constants, existsSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { failureDigest, redact, summaryTable, toJson, truncateBytes } from "./report";
import { runSmoke } from "./run";
import { tlsFromEnv } from "./tls";
import { DEFAULT_OPTIONS, FAILOVER_MODES, type NatMapEntries, type SmokeOptions, type SmokeReport } from "./types";

const int = (name: string, min: number, max?: number) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || (max !== undefined && n > max)) {
    throw new InvalidArgumentError(max === undefined ? `${name} must be an integer >= ${min}` : `${name} must be an integer between ${min} and ${max}`);
  }
  return n;
};

/** Node's timers hold at most 2^31-1 ms; a larger timeout fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The distribution check keeps every key in memory. */
const MAX_KEYS = 1_000_000;

/** Why the report file cannot be written, checked before the run so a long run never loses its report. */
function jsonTargetProblem(file: string): string | undefined {
  const dir = dirname(resolve(file));
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a folder`;
    accessSync(dir, constants.W_OK);
    if (existsSync(file) && statSync(file).isDirectory()) return `${file} is a folder`;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? `folder ${dir} does not exist` : `folder ${dir} is not writable`;
  }
  return undefined;
}

/** http(s)://host[:port] with no path beyond "/": /view is appended. */
function canaryUrlOption(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError(`not a URL: ${v.slice(0, 80)}`);
  }
  if (!/^https?:$/.test(u.protocol) || u.pathname.replace(/\/+$/, "") !== "" || u.search || u.username || u.password) {
    throw new InvalidArgumentError("expected http://host:port (the canary's address, no path, query or credentials)");
  }
  return v.replace(/\/+$/, "");
}

function parseNatMap(v: string): NatMapEntries {
  let obj: unknown;
  try {
    obj = JSON.parse(v);
  } catch {
    throw new InvalidArgumentError(`not JSON: ${v.slice(0, 80)}`);
  }
  const out: NatMapEntries = {};
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new InvalidArgumentError('expected {"ip:port": {"host": "...", "port": N}, …}');
  for (const [k, t] of Object.entries(obj as Record<string, unknown>)) {
    const e = t as { host?: unknown; port?: unknown };
    if (typeof e?.host !== "string" || typeof e?.port !== "number") throw new InvalidArgumentError(`entry ${k}: expected {"host": string, "port": number}`);
    out[k] = { host: e.host, port: e.port };
  }
  return out;
}

export const EXIT_CODES_HELP = `
TLS (read from the environment, as the cluster's scripts do): REDIS_TLS_CA_FILE turns it on (CA file);
REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE add a client certificate; REDIS_TLS_VERIFY_HOSTNAME=no checks the chain only.
Exit codes:
  0  every check passed
  1  a check failed (the cluster answered; also: some nodes unreachable while a seed answers)
  2  usage or connection problem: bad options, no seed answered, wrong or missing password at any node
`;

/** Kubernetes reads at most 4096 bytes of /dev/termination-log. */
export const TERMINATION_LOG_BYTES = 4096;

export function buildProgram(): Command {
  return new Command("smoke")
    .description("ioredis smoke test of a Redis Cluster: slots, distribution, replication, failover, auth, benchmark")
    .requiredOption("--nodes <list>", "seed nodes host:port[,host:port…] reachable from here", (v) => v.split(",").map((s) => s.trim()).filter(Boolean))
    .option("--password-env <VAR>", "name of the environment variable holding the password (never pass the password itself)")
    .option("--user <name>", "ACL user of that password (default: $REDIS_USER, else the default user)")
    .option("--expect-masters <n>", "number of masters the cluster must have", int("--expect-masters", 1))
    .option("--expect-replicas <n>", "replicas every master must have", int("--expect-replicas", 0))
    .addOption(new Option("--failover <mode>", "failover check").choices(FAILOVER_MODES).default("none"))
    .option("--no-fail-back", "leave the promoted replica as master after the failover check")
    .option("--failover-target <host:port>", "master to fail over (default: the first master with a replica)")
    .option("--no-workloads", "skip the workloads check (counters, TTL cache, queue, hash tags)")
    .option("--keys <n>", "keys written by the distribution check", int("--keys", 1, MAX_KEYS), DEFAULT_OPTIONS.keys)
    .option("--json <file>", "write the machine-readable report here ('-' for stdout; the human output then goes to stderr)")
    .option("--timeout-ms <n>", "upper bound of the whole run", int("--timeout-ms", 1000, MAX_TIMER_MS), DEFAULT_OPTIONS.timeoutMs)
    .option("--node-timeout-ms <n>", "cluster-node-timeout (default: read with CONFIG GET)", int("--node-timeout-ms", 1))
    .option("--freeze-ms <n>", "kill failover: how long DEBUG SLEEP freezes the master (default 2x node timeout + 4 s)", int("--freeze-ms", 100))
    .addOption(new Option("--nat-map <json>", 'ioredis natMap {"ip:port":{"host":h,"port":p}} for announced addresses not reachable from here').env("SMOKE_NAT_MAP").argParser(parseNatMap))
    .option("--connect-timeout-ms <n>", "per-node connect timeout", int("--connect-timeout-ms", 100), DEFAULT_OPTIONS.connectTimeoutMs)
    .option("--bench-ops <n>", "benchmark commands per phase (SET, GET); 0 skips it", int("--bench-ops", 0), DEFAULT_OPTIONS.bench.ops)
    .option("--bench-concurrency <n>", "benchmark requests in flight", int("--bench-concurrency", 1), DEFAULT_OPTIONS.bench.concurrency)
    .option("--bench-pipeline <n>", "benchmark commands per request", int("--bench-pipeline", 1), DEFAULT_OPTIONS.bench.pipeline)
    .option("--bench-value-size <n>", "benchmark value size in bytes", int("--bench-value-size", 1), DEFAULT_OPTIONS.bench.valueSize)
    .option("--bench-connections <n>", "benchmark TCP connections per master", int("--bench-connections", 1), DEFAULT_OPTIONS.bench.connections)
    .option("--bench-rate <n>", "also an open-loop GET phase at this many commands/s (latency from the intended send time); 0 skips it", int("--bench-rate", 0), DEFAULT_OPTIONS.bench.rate)
    .option("--canary-url <url>", "base URL of the continuous canary (http://host:port): report what it counted during this run; absent: not checked", canaryUrlOption)
    .option("--canary-lookback-ms <n>", "the canary check also reports this long before the run (the rollout)", int("--canary-lookback-ms", 0, MAX_TIMER_MS), DEFAULT_OPTIONS.canaryLookbackMs)
    .option("--termination-log <file>", "also write the failure digest here (Kubernetes: /dev/termination-log)")
    .option("--quiet", "no progress lines, only the summary")
    .addHelpText("after", EXIT_CODES_HELP);
}

/** Parsed flags: the library's options as commander names them, plus the CLI's own. */
interface Cli
  extends Pick<SmokeOptions, "nodes" | "natMap" | "expectMasters" | "expectReplicas" | "failover" | "failBack" | "failoverTarget" | "workloads" | "keys" | "timeoutMs" | "nodeTimeoutMs" | "freezeMs" | "connectTimeoutMs" | "canaryUrl" | "canaryLookbackMs"> {
  passwordEnv?: string;
  user?: string;
  json?: string;
  benchOps: number;
  benchConcurrency: number;
  benchPipeline: number;
  benchValueSize: number;
  benchConnections: number;
  benchRate: number;
  terminationLog?: string;
  quiet?: boolean;
}

/** The retired passwords from REDIS_RETIRED_PASSWORDS (absent or empty: none). Errors never quote the value. */
export function retiredFromEnv(env: NodeJS.ProcessEnv): Record<string, string[]> | undefined {
  const raw = env.REDIS_RETIRED_PASSWORDS;
  if (!raw) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new Error("is not JSON (expected {\"user\": [\"password\", ...]})");
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("must be a JSON object {\"user\": [\"password\", ...]}");
  for (const [user, pws] of Object.entries(v)) {
    if (!Array.isArray(pws) || !pws.every((p) => typeof p === "string" && p.length > 0)) throw new Error(`user ${user}: expected a list of non-empty strings`);
  }
  return v as Record<string, string[]>;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const program = buildProgram().exitOverride().configureOutput({ writeErr: (s) => process.stderr.write(s) });
  let o: Cli;
  try {
    o = program.parse(argv, { from: "user" }).opts<Cli>();
  } catch (e) {
    const code = (e as { code?: string }).code;
    return code === "commander.helpDisplayed" || code === "commander.version" ? 0 : 2;
  }
  const jsonProblem = o.json && o.json !== "-" ? jsonTargetProblem(o.json) : undefined;
  if (jsonProblem) {
    process.stderr.write(`smoke: --json: cannot write ${o.json}: ${jsonProblem}\n`);
    return 2;
  }
  let password: string | undefined;
  if (o.passwordEnv) {
    password = env[o.passwordEnv];
    if (!password) {
      process.stderr.write(`smoke: environment variable ${o.passwordEnv} (--password-env) is not set or empty\n`);
      return 2;
    }
  }
  let tls: SmokeOptions["tls"];
  try {
    tls = tlsFromEnv(env);
  } catch (e) {
    process.stderr.write(`smoke: TLS: ${(e as Error).message}\n`);
    return 2;
  }
  let retiredPasswords: SmokeOptions["retiredPasswords"];
  try {
    retiredPasswords = retiredFromEnv(env);
  } catch (e) {
    process.stderr.write(`smoke: REDIS_RETIRED_PASSWORDS: ${(e as Error).message}\n`);
    return 2;
  }
  const secrets = [password, ...Object.values(retiredPasswords ?? {}).flat()];
  const hide = (s: string) => secrets.reduce((t: string, x) => redact(t, x), s);
  const human = (s: string) => (o.json === "-" ? process.stderr : process.stdout).write(hide(s) + "\n");
  const opts: SmokeOptions = {
    nodes: o.nodes,
    password,
    username: o.user ?? (env.REDIS_USER || undefined),
    tls,
    retiredPasswords,
    natMap: o.natMap,
    expectMasters: o.expectMasters,
    expectReplicas: o.expectReplicas,
    failover: o.failover,
    failBack: o.failBack,
    failoverTarget: o.failoverTarget,
    workloads: o.workloads,
    keys: o.keys,
    timeoutMs: o.timeoutMs,
    nodeTimeoutMs: o.nodeTimeoutMs,
    freezeMs: o.freezeMs,
    connectTimeoutMs: o.connectTimeoutMs,
    canaryUrl: o.canaryUrl,
    canaryLookbackMs: o.canaryLookbackMs,
    bench: { ops: o.benchOps, concurrency: o.benchConcurrency, pipeline: o.benchPipeline, valueSize: o.benchValueSize, connections: o.benchConnections, rate: o.benchRate },
  };
  // Last resort: the run bounds itself, but never let a stuck socket keep the process alive past the limit.
  const hard = setTimeout(() => {
    process.stderr.write(`smoke: exceeded --timeout-ms ${o.timeoutMs} by 30 s; exiting\n`);
    process.exit(1);
  }, Math.min(o.timeoutMs + 30_000, MAX_TIMER_MS));
  hard.unref();
  const report: SmokeReport = await runSmoke(opts, { progress: o.quiet ? undefined : human });
  human("");
  human(summaryTable(report));
  if (o.json) {
    const text = hide(toJson(report));
    if (o.json === "-") process.stdout.write(text);
    else writeFileSync(o.json, text);
  }
  const digest = hide(failureDigest(report));
  if (digest) {
    process.stderr.write(digest + "\n");
    if (o.terminationLog) {
      try {
        writeFileSync(o.terminationLog, truncateBytes(digest, TERMINATION_LOG_BYTES));
      } catch {
        /* best effort */
      }
    }
  }
  return report.exit_code;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Sockets are closed by the run; exit promptly anyway.
      setTimeout(() => process.exit(code), 200).unref();
    },
    (e) => {
      process.stderr.write(`smoke: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(2);
    },
  );
}
