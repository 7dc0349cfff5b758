// `npm run bench:failover` (not part of npm test): the smoke test's kill failover against a local cluster, its
// master frozen (DEBUG SLEEP, as the smoke test does) and killed (SIGKILL, kept down as long, then started again: its
// connections close at once, where a frozen one's hang), `--runs` times each. The check itself judges every run (no
// acknowledged write lost, the old master back as a replica, mastership handed back); this prints its times and
// issue 25's goal line per way: writes resumed within 1 s of the promotion, in every run.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command } from "commander";
import { startLocalCluster, type LocalCluster } from "../../testbed/local/harness";
import { loadStackSpecFile } from "../../testbed/local/stackSpec";
import { checkConnect } from "../../smoke/checks/connect";
import { checkFailover, freezeMsFor, freezeOutage, type OutageFactory } from "../../smoke/checks/failover";
import { SmokeContext } from "../../smoke/context";
import { CheckFailure, DEFAULT_OPTIONS, type Measurements } from "../../smoke/types";
import { loadavg } from "./evaluation";

const WAYS = ["freeze", "kill"] as const;
export type Way = (typeof WAYS)[number];
/** Issue 25's goal: writes resume at most this long after the promotion. */
const GOAL_RESUME_MS = 1000;

/**
 * SIGKILL of the target's process, kept down as long as the smoke test freezes, then started again. `pending` holds
 * each outage until the node is back: the bench waits for it before the next run and before stopping the cluster.
 */
function killOutage(cluster: LocalCluster, pending: Promise<unknown>[]): OutageFactory {
  return async (ctx, target, nt) => {
    const i = cluster.nodes.findIndex((n) => `${n.host}:${n.port}` === target.addr);
    if (i < 0) throw new CheckFailure([`${target.addr} is not a node of the local cluster`]);
    const downMs = freezeMsFor(ctx.opts, nt);
    return {
      noun: "kill",
      what: `killed master ${target.label} (SIGKILL), started again after ${downMs} ms`,
      lengthMs: downMs,
      measurements: { down_ms: downMs },
      begin: () => {
        const back = (async () => {
          await cluster.kill(i);
          await new Promise((r) => setTimeout(r, downMs));
          cluster.startNode(i);
          await cluster.waitReady(i);
          return Date.now();
        })();
        pending.push(back);
        return back;
      },
      // The kill's exit (≤ 10 s), the time down, the restart loading its AOF until it answers (≤ 15 s).
      backWithinMs: downMs + 30_000,
      longer: "a longer outage",
    };
  };
}

export interface Run {
  way: Way;
  run: number;
  ok: boolean;
  problems?: string[];
  measurements: Measurements;
}

const num = (m: Measurements, k: string) => (typeof m[k] === "number" ? (m[k] as number) : undefined);

/** The goal of one way: met only when every run passed and resumed writes within GOAL_RESUME_MS of its promotion. */
export function resumeGoal(way: Way, runs: Run[]): { goal: string; runs: (number | undefined)[]; worst?: number; met: boolean } {
  const resumed = runs.map((x) => num(x.measurements, "writes_resumed_after_promotion_ms"));
  const known = resumed.filter((v): v is number => v !== undefined);
  const worst = known.length ? Math.max(...known) : undefined;
  const met = runs.length > 0 && known.length === runs.length && runs.every((x) => x.ok) && worst! <= GOAL_RESUME_MS;
  return { goal: `writes resumed ≤ ${GOAL_RESUME_MS} ms after the promotion, ${way} (every run)`, runs: resumed, worst, met };
}

async function main(argv: string[]): Promise<number> {
  const o = new Command("bench:failover")
    .description("the smoke test's kill failover on a local cluster: frozen and killed masters, writes resumed after the promotion")
    .option("--runs <n>", "runs of each way", "3")
    .option("--ways <list>", `outages to run: ${WAYS.join(",")}`, WAYS.join(","))
    .option("--stack-file <path>", "stack config to plan from", resolve(__dirname, "../../Pulumi.dev.yaml"))
    .option("--json <file>", "also write the runs and goals as JSON")
    .parse(argv, { from: "user" })
    .opts<{ runs: string; ways: string; stackFile: string; json?: string }>();
  const runs = Number(o.runs);
  const ways = o.ways.split(",") as Way[];
  const bad = [
    ...(!Number.isInteger(runs) || runs < 1 || runs > 20 ? ["--runs must be a whole number from 1 to 20"] : []),
    ...ways.filter((w) => !WAYS.includes(w)).map((w) => `--ways: unknown way ${w} (known: ${WAYS.join(", ")})`),
  ];
  if (bad.length) throw new Error(bad.join("; "));
  const spec = loadStackSpecFile(o.stackFile, "bench");
  // The harness restarts no node by itself: the kill's outage starts it again when its time is up.
  const cluster = await startLocalCluster({ spec, restartOnExit: false });
  const results: Run[] = [];
  const pending: Promise<unknown>[] = [];
  /** Every kill's restart settled (bounded): the next run, or the stop, finds the node back or its failure known. */
  const settled = () => Promise.race([Promise.allSettled(pending.splice(0)), new Promise((r) => setTimeout(r, 60_000).unref())]);
  try {
    console.log(`bench:failover: ${spec.masters}x${spec.replicasPerMaster} local cluster, cluster-node-timeout ${spec.nodeTimeoutMs} ms, ${runs} run(s) of ${ways.join(", ")}; load average before: ${loadavg()}`);
    for (const way of ways) {
      for (let r = 1; r <= runs; r++) {
        const ctx = new SmokeContext({ ...DEFAULT_OPTIONS, failover: "kill", nodes: cluster.seeds, nodeTimeoutMs: spec.nodeTimeoutMs }, () => {});
        try {
          await checkConnect(ctx);
          const res = await checkFailover(ctx, way === "kill" ? killOutage(cluster, pending) : freezeOutage);
          results.push({ way, run: r, ok: true, measurements: res.measurements });
        } catch (e) {
          if (!(e instanceof CheckFailure)) throw e;
          results.push({ way, run: r, ok: false, problems: e.problems, measurements: e.measurements });
        } finally {
          ctx.close();
          await settled();
        }
        const x = results[results.length - 1];
        const m = x.measurements;
        console.log(
          `${way} run ${r}: ${x.ok ? "passed" : `FAILED: ${x.problems!.join("; ")}`}; promoted ${num(m, "promoted_ms") ?? "-"} ms after the ${way}, ` +
            `writes resumed ${num(m, "writes_resumed_after_promotion_ms") ?? "-"} ms after the promotion, unavailable ${num(m, "unavailable_ms") ?? "-"} ms, ` +
            `errors ${num(m, "write_errors") ?? "-"} (${m.write_error_kinds || "none"}), acked writes lost ${num(m, "lost_acked_writes") ?? "-"}`,
        );
      }
    }
    const goals = ways.map((way) => resumeGoal(way, results.filter((x) => x.way === way)));
    for (const g of goals) console.log(`goal: ${g.goal}: worst ${g.worst ?? "?"} ms (runs: ${g.runs.map((v) => v ?? "?").join(", ")} ms) -> ${g.met ? "met" : "NOT met"}`);
    console.log(`load average after: ${loadavg()}`);
    if (o.json) writeFileSync(o.json, JSON.stringify({ cluster: `${spec.masters}x${spec.replicasPerMaster}`, node_timeout_ms: spec.nodeTimeoutMs, runs: results, goals }, null, 2) + "\n");
    return results.every((x) => x.ok) ? 0 : 1;
  } finally {
    await settled();
    await cluster.stop();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`bench:failover: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(2);
    },
  );
}
