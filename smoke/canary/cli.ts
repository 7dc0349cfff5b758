// `tsx smoke/canary/cli.ts --nodes host:port[,…] …`: the long-running canary of a Redis Cluster, serving /metrics and
// /healthz. The password comes only from the environment variable named by --password-env; TLS from the same
// REDIS_TLS_* variables as the smoke test. One log line per event on stdout; stops cleanly on SIGTERM/SIGINT.
import { Command, InvalidArgumentError } from "commander";
// zod/mini (tree-shakeable), not classic zod: the canary runs as a bundle shipped in a ConfigMap.
import * as z from "zod/mini";
import { redact } from "../report";
import { tlsFromEnv } from "../tls";
import type { NatMapEntries } from "../types";
import { Canary } from "./canary";
import { DEFAULT_CANARY_PORT, serveCanary } from "./server";
import { DEFAULT_CANARY_SLO } from "./view";

const positive = (flag: string) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`${flag} must be a positive integer`);
  return Number(v);
};

function objectiveOption(v: string): number {
  const n = Number(v);
  if (!/^0?\.\d+$/.test(v) || !(n > 0 && n < 1)) throw new InvalidArgumentError("--slo-objective must be a fraction between 0 and 1, e.g. 0.999");
  return n;
}

function portOption(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError("--port must be an integer between 0 and 65535");
  return Number(v);
}

const natMapSchema = z.record(z.string(), z.strictObject({ host: z.string().check(z.minLength(1)), port: z.number().check(z.int(), z.gte(1), z.lte(65535)) }));

function natMapOption(v: string): NatMapEntries {
  let json: unknown;
  try {
    json = JSON.parse(v);
  } catch {
    throw new InvalidArgumentError("not JSON");
  }
  const r = natMapSchema.safeParse(json);
  if (!r.success) throw new InvalidArgumentError('expected {"ip:port": {"host": "...", "port": N}, …}');
  return r.data;
}

export function buildCanaryProgram(): Command {
  return new Command("canary")
    .description("continuous Redis Cluster canary: per shard SET + WAIT 1, GET, replica read and re-reads of acknowledged writes; Prometheus metrics on /metrics")
    .requiredOption("--nodes <list>", "seed nodes host:port[,host:port…] reachable from here", (v) => v.split(",").map((s) => s.trim()).filter(Boolean))
    .option("--password-env <VAR>", "name of the environment variable holding the password (never pass the password itself)")
    .option("--user <name>", "ACL user of that password (default: $REDIS_USER, else the default user)")
    .option("--interval-ms <n>", "one round (every shard) per interval", positive("--interval-ms"), 1000)
    .option("--timeout-ms <n>", "per request, connect included; slower counts as result=\"timeout\"", positive("--timeout-ms"), 1000)
    .option("--wait-ms <n>", "WAIT 1 timeout (below --timeout-ms and --interval-ms; default half the smaller)", positive("--wait-ms"))
    .option("--refresh-ms <n>", "topology re-read period when nothing fails", positive("--refresh-ms"), 5000)
    .option("--verify-after-ms <n>", "re-read each acknowledged write this long after its acknowledgement", positive("--verify-after-ms"), 30_000)
    .option("--slo-objective <f>", "SLO objective the /view burn rates are computed against", objectiveOption, DEFAULT_CANARY_SLO.objective)
    .option("--slo-latency-ms <n>", "latency threshold of the SLO: a request slower than this is a miss in /view", positive("--slo-latency-ms"), DEFAULT_CANARY_SLO.latencyThresholdMs)
    .option("--host <addr>", "address of the metrics endpoint", "0.0.0.0")
    .option("--port <n>", "port of the metrics endpoint (0: any free one, printed at start)", portOption, DEFAULT_CANARY_PORT)
    .option("--nat-map <json>", 'ioredis-style natMap {"ip:port":{"host":h,"port":p}} for announced addresses not reachable from here', natMapOption)
    .addHelpText("after", "\nTLS (as the smoke test): REDIS_TLS_CA_FILE turns it on; REDIS_TLS_CERT_FILE/REDIS_TLS_KEY_FILE add a client certificate; REDIS_TLS_VERIFY_HOSTNAME=no checks the chain only.\n");
}

interface CanaryCli {
  nodes: string[];
  passwordEnv?: string;
  user?: string;
  intervalMs: number;
  timeoutMs: number;
  waitMs?: number;
  refreshMs: number;
  verifyAfterMs: number;
  sloObjective: number;
  sloLatencyMs: number;
  host: string;
  port: number;
  natMap?: NatMapEntries;
}

/** Runs until SIGTERM/SIGINT; resolves with the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const program = buildCanaryProgram().exitOverride().configureOutput({ writeErr: (s) => process.stderr.write(s) });
  let o: CanaryCli;
  try {
    o = program.parse(argv, { from: "user" }).opts<CanaryCli>();
  } catch (e) {
    return (e as { code?: string }).code === "commander.helpDisplayed" ? 0 : 2;
  }
  const password = o.passwordEnv ? env[o.passwordEnv] : undefined;
  if (o.passwordEnv && !password) {
    process.stderr.write(`canary: environment variable ${o.passwordEnv} (--password-env) is not set or empty\n`);
    return 2;
  }
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${redact(line, password)}\n`);
  let canary: Canary;
  try {
    canary = new Canary({
      seeds: o.nodes,
      password,
      username: o.user ?? (env.REDIS_USER || undefined),
      tls: tlsFromEnv(env),
      natMap: o.natMap,
      intervalMs: o.intervalMs,
      timeoutMs: o.timeoutMs,
      waitMs: o.waitMs,
      refreshMs: o.refreshMs,
      verifyAfterMs: o.verifyAfterMs,
      slo: { objective: o.sloObjective, latencyThresholdMs: o.sloLatencyMs },
      log,
    });
  } catch (e) {
    process.stderr.write(`canary: ${redact((e as Error).message, password)}\n`);
    return 2;
  }
  const server = await serveCanary(canary, { host: o.host, port: o.port });
  log(`canary ${canary.instance}: seeds ${o.nodes.join(",")}, every ${o.intervalMs} ms, timeout ${o.timeoutMs} ms, metrics on http://${o.host}:${server.port}/metrics`);
  canary.start();
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log(`${signal}: stopping`);
  await canary.stop();
  await server.close();
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`canary: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(2);
    },
  );
}
