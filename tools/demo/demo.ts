// `npm run demo`: the project's main job without Docker or Kubernetes. Brings up the local cluster planned from
// Pulumi.dev.yaml (same redis.conf, same bootstrap script), runs the full smoke test with a kill failover, prints the
// report and tears everything down.
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { startLocalCluster, type LocalCluster } from "../../testbed/local/harness";
import { loadStackSpecFile } from "../../testbed/local/stackSpec";
import { runSmoke } from "../../smoke/run";
import { summaryTable } from "../../smoke/report";
import { DEFAULT_OPTIONS, FAILOVER_MODES, type FailoverMode, type SmokeReport } from "../../smoke/types";

/** A throwaway password in the character set redis.conf accepts unquoted. */
export function demoPassword(): string {
  return randomBytes(24).toString("base64").replace(/[^A-Za-z0-9]/g, "x");
}

export interface DemoHooks {
  /** Receives every output line (default: console.log). */
  log?: (line: string) => void;
  /** Called once the cluster is up (tests record its pids to prove the teardown). */
  onCluster?: (cluster: LocalCluster) => void;
}

/** The demo; returns the exit code (0 passed, 1 a check failed, 2 the cluster could not start). Always tears down. */
export async function main(argv: string[], hooks: DemoHooks = {}): Promise<number> {
  const log = hooks.log ?? ((l: string) => console.log(l));
  const o = new Command("demo")
    .description("local cluster from a stack file + full smoke test (kill failover) + teardown")
    .option("--stack-file <path>", "stack config to plan from", resolve(__dirname, "../../Pulumi.dev.yaml"))
    .addOption(new Option("--failover <mode>", "failover check").choices(FAILOVER_MODES).default("kill"))
    .option("--keys <n>", "keys for the distribution check (default: smoke.keys of the stack)")
    .option("--bench-ops <n>", "benchmark commands per phase (0 skips it)", String(DEFAULT_OPTIONS.bench.ops))
    .option("--no-password", "run the cluster without a password")
    .exitOverride()
    .parse(argv, { from: "user" })
    .opts<{ stackFile: string; failover: FailoverMode; keys?: string; benchOps: string; password: boolean }>();

  // The password is left out of the spec (a `secure:` value cannot be decrypted here); the demo generates its own.
  const spec = loadStackSpecFile(o.stackFile, "demo");
  const password = o.password ? demoPassword() : undefined;
  log(`demo: planning ${spec.masters} masters x ${spec.replicasPerMaster} replica(s) from ${o.stackFile} (cluster-node-timeout ${spec.nodeTimeoutMs} ms)`);
  let cluster: LocalCluster | undefined;
  let report: SmokeReport | undefined;
  const t0 = Date.now();
  try {
    cluster = await startLocalCluster({ spec, password });
    hooks.onCluster?.(cluster);
    log(`demo: cluster_state ok ${cluster.startToOkMs} ms after the processes started; nodes: ${cluster.seeds.join(" ")}`);
    if (password) log("demo: nodes require a generated password (not printed)");
    report = await runSmoke(
      {
        ...DEFAULT_OPTIONS,
        nodes: cluster.seeds,
        password,
        expectMasters: spec.masters,
        expectReplicas: spec.replicasPerMaster,
        failover: spec.replicasPerMaster === 0 ? "none" : o.failover,
        keys: o.keys ? Number(o.keys) : spec.smoke.keys,
        timeoutMs: spec.smoke.timeoutMs,
        nodeTimeoutMs: spec.nodeTimeoutMs,
        bench: { ...DEFAULT_OPTIONS.bench, ops: Number(o.benchOps) },
      },
      { progress: log },
    );
    log("");
    log(summaryTable(report));
  } catch (e) {
    console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  } finally {
    const t = Date.now();
    await cluster?.stop();
    if (cluster) log(`demo: cluster stopped in ${Date.now() - t} ms; whole demo ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  return report?.exit_code ?? 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      const c = (e as { code?: string; exitCode?: number }).code;
      if (c === "commander.helpDisplayed") process.exit(0);
      console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(2);
    },
  );
}
