// Prints the Prometheus alert rule file for a topology:
// `npm run --silent rules:print -- --masters 3 --replicas 1 --job redis-cluster-prod`.
// --job must be the job label of that cluster's exporter targets (the deployed stacks use their cluster name,
// "redis-cluster-<stack>"); every rule counts only that job's series.
// Exit 2 on bad input so scripts can tell usage errors from crashes.
import { Command, InvalidArgumentError } from "commander";
import { DEFAULT_JOB, renderAlertRulesYaml } from "./rules";

function integer(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`"${value}" is not an integer.`);
  return Number(value);
}

const program = new Command()
  .name("rules:print")
  .description("Print the Prometheus alert rules (YAML, groups:) for a Redis Cluster topology")
  .requiredOption("--masters <n>", "planned number of masters (shards), at least 3", integer)
  .requiredOption("--replicas <n>", "planned replicas per master, 0 or more", integer)
  .option(
    "--job <name>",
    "Prometheus job label of this cluster's redis_exporter targets, one job per cluster (the stacks use redis-cluster-<stack>)",
    DEFAULT_JOB,
  )
  .option("--runbook-base-url <url>", "runbook document; each alert links to <url>#<alertname>")
  .option("--interval <duration>", "rule group evaluation interval, e.g. 15s")
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

try {
  program.parse();
} catch (e) {
  const code = (e as { exitCode?: number }).exitCode;
  // --help / --version exit 0; every parse error is a usage error.
  process.exit(code === 0 ? 0 : 2);
}

const o = program.opts<{ masters: number; replicas: number; job: string; runbookBaseUrl?: string; interval?: string }>();
try {
  process.stdout.write(
    renderAlertRulesYaml({
      masters: o.masters,
      replicasPerMaster: o.replicas,
      job: o.job,
      runbookBaseUrl: o.runbookBaseUrl,
      interval: o.interval,
    }),
  );
} catch (e) {
  process.stderr.write(`rules:print: ${(e as Error).message}\n`);
  process.exit(2);
}
