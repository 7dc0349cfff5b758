// The scale step as a command: `npm run scale -- --nodes a:p,b:p,… --masters 4 --replicas 1 [--phase in|out|all]`.
// Run by Pulumi on Docker (a local command against the published ports, with the natMap) and on Kubernetes (a Job
// running the esbuild bundle, infra/scale/bundle.ts), and by the local tests. Connection settings come from the same
// environment as the shell scripts: REDISCLI_AUTH or REDIS_PASSWORD_FILE, REDIS_USER, REDIS_TLS_CA_FILE/_CERT_FILE/_KEY_FILE.
// Exit: 0 done or nothing to do; 1 usage; 2 refused (the cluster is unhealthy or the plan unreachable; nothing was
// changed); 3 stopped part-way (the last lines say what is left; running it again finishes it).
import { Command, InvalidArgumentError, Option } from "commander";
import { Scaler, connectionFromEnv, type Phase } from "./scaler";

const int = (name: string, min: number) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return Number(v);
};

export async function main(argv: string[]): Promise<number> {
  const program = new Command("scale")
    .description("Brings a healthy Redis Cluster to the planned masters x replicas: joins new nodes, moves slots, forgets removed nodes")
    .requiredOption("--nodes <list>", "planned nodes host:port, comma-separated, in ordinal order")
    .option("--names <list>", "display names of the planned nodes (comma-separated)")
    .requiredOption("--masters <n>", "planned masters", int("--masters", 3))
    .requiredOption("--replicas <n>", "planned replicas per master", int("--replicas", 0))
    .addOption(new Option("--phase <phase>", "in: before nodes are removed; out: after nodes are added; all: both").choices(["in", "out", "all"]).default("all"))
    .option("--batch-keys <n>", "keys per MIGRATE", int("--batch-keys", 1), 100)
    .option("--slot-group <n>", "slots open (importing/migrating) at once", int("--slot-group", 1), 32)
    .option("--pause-ms <n>", "pause after each MIGRATE batch (throttle)", int("--pause-ms", 0), 0)
    .option("--node-timeout-ms <n>", "cluster-node-timeout (bounds failover waits)", int("--node-timeout-ms", 1), 5000)
    .option("--settle-ms <n>", "how long an unhealthy-looking cluster may take to settle before the step refuses", int("--settle-ms", 0), 15_000)
    .option("--timeout-ms <n>", "bound of the whole run", int("--timeout-ms", 1000), 1_800_000)
    .option("--nat-map <json>", 'announced "ip:port" -> {"host","port"} where this process reaches it (or SCALE_NAT_MAP)')
    .option("--dry-run", "print the plan from the live cluster and change nothing")
    .exitOverride();
  try {
    program.parse(argv, { from: "user" });
  } catch (e) {
    return (e as { exitCode?: number }).exitCode === 0 ? 0 : 1;
  }
  const o = program.opts();
  const natText = o.natMap ?? process.env.SCALE_NAT_MAP;
  const scaler = new Scaler({
    nodes: String(o.nodes).split(",").filter(Boolean),
    names: o.names ? String(o.names).split(",") : undefined,
    masters: o.masters,
    replicasPerMaster: o.replicas,
    phase: o.phase as Phase,
    batchKeys: o.batchKeys,
    slotGroup: o.slotGroup,
    pauseMs: o.pauseMs,
    nodeTimeoutMs: o.nodeTimeoutMs,
    settleMs: o.settleMs,
    timeoutMs: o.timeoutMs,
    natMap: natText ? JSON.parse(natText) : undefined,
    dryRun: !!o.dryRun,
    ...connectionFromEnv(process.env),
  });
  const r = await scaler.run();
  return r.code;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`scale: ${(e as Error).message}\n`);
      process.exit(3);
    },
  );
}
