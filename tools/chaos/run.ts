// One chaos run, Jepsen style: the planned cluster (a stack file's plan, through the local harness) with every
// redis-server in its own network namespace; the workload (./workload.ts) writes while the nemesis (./nemesis.ts)
// applies faults on a schedule and the observer (./observer.ts) waits for the cluster to be whole after each; then the
// final state is read back and everything is judged by the checker. Every namespace, link, rule and process is
// removed at the end, also on failure (finally + process exit hooks); every loop is bounded.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { LocalCluster, requireRedisBinaries } from "../../testbed/local/harness";
import { loadStackSpecFile } from "../../testbed/local/stackSpec";
import { PROJECT } from "../../infra/config/schema";
import { redisServersUnder } from "../../testbed/local/processes";
import { check, type Verdict } from "../../testbed/workload/checker";
import type { FaultEvent, History } from "../../testbed/workload/history";
import { sleep } from "../../smoke/time";
import { NetLab, requireNetAdmin } from "./netlab";
import { applyFault, bootstrapKilled, type FaultName } from "./nemesis";
import { cliAsync, finalChecks, PORT, shardFirstSlots, topology, waitWhole } from "./observer";
import { hashTagFor, Workload } from "./workload";


export interface ChaosOptions {
  /** Stack file whose plan is run (default Pulumi.dev.yaml). */
  stackFile?: string;
  /** Raw stack-config overrides (e.g. a shorter nodeTimeoutMs for the short run). */
  overrides?: Record<string, unknown>;
  /** Faults in order; the schedule repeats while `durationMs` allows (at least once). */
  faults: readonly FaultName[];
  /** Run the schedule again while the run is shorter than this. Default: once. */
  durationMs?: number;
  /** Kill the first bootstrap part-way and require the next run to finish the cluster. Default true. */
  killBootstrap?: boolean;
  /** How long a fault is held. Default 3x cluster-node-timeout. */
  holdMs?: number;
  /** Bound for the cluster to be whole again after a fault. Default 60 s + 6x node timeout. */
  recoverMs?: number;
  log?: (line: string) => void;
}

export interface ChaosResult {
  history: History;
  verdict: Verdict;
  /** Whatever of the namespaces, links, rules and processes could not be removed (must be empty). */
  leftovers: string[];
  nodeTimeoutMs: number;
  settings: Record<string, string | number>;
}

const ROOT = join(__dirname, "..", "..");

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  requireNetAdmin();
  requireRedisBinaries();
  const log = opts.log ?? (() => undefined);
  const stale = NetLab.cleanupStale();
  if (stale.length) log(`removed leftovers of an earlier run: ${stale.join(", ")}`);
  const spec = loadStackSpecFile(opts.stackFile ?? join(ROOT, "Pulumi.dev.yaml"), `${PROJECT}-chaos`, opts.overrides ?? {});
  const count = spec.masters * (1 + spec.replicasPerMaster);
  const nodeTimeoutMs = spec.nodeTimeoutMs;
  const holdMs = opts.holdMs ?? 3 * nodeTimeoutMs;
  const recoverMs = opts.recoverMs ?? 60_000 + 6 * nodeTimeoutMs;
  const password = randomBytes(24).toString("base64url");
  const lab = new NetLab(count);
  let cluster: LocalCluster | undefined;
  let workload: Workload | undefined;
  const emergency = () => {
    workload?.halt();
    cluster?.killAllSync();
    lab.teardown();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    emergency();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.once("exit", emergency);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const t0 = Date.now();
  const now = () => Date.now() - t0;
  const faults: FaultEvent[] = [];
  const leftovers: string[] = [];
  let result: ChaosResult | undefined;
  try {
    lab.create();
    log(`network lab ${lab.subnet} on bridge ${lab.bridge}; ${count} namespaces`);
    const c = new LocalCluster(spec, lab.nodeIps.map(() => PORT), {
      spec,
      password,
      hosts: lab.nodeIps,
      wrap: (n) => lab.wrap(n.index),
      restartOnExit: false,
      timeoutMs: 120_000,
    });
    cluster = c;
    const ip = (i: number) => lab.nodeIps[i];
    const cli = (i: number, args: string[], timeoutMs = 2000) => cliAsync(ip(i), PORT, password, args, timeoutMs);
    for (let i = 0; i < count; i++) c.startNode(i);
    for (let i = 0; i < count; i++) await c.waitReady(i, 60_000);

    // Formation, with the first bootstrap killed part-way (a Job killed by its deadline, a container stopped).
    if (opts.killBootstrap ?? true) {
      const ev = await bootstrapKilled(c, now);
      faults.push(ev);
      if (!ev.recoveredOk) throw new Error(`the bootstrap re-run after a killed one failed: ${ev.notes?.join("; ")}`);
      log(`${ev.target} (${ev.notes?.[0]}); re-run finished the cluster`);
    } else {
      const r = await c.runBootstrap();
      if (r.code !== 0) throw new Error(`bootstrap failed (exit ${r.code}):\n${r.output}`);
    }

    let topo = await topology(cli, count, lab);
    // Shards are fixed by slot ranges; their masters change with failovers.
    const firstSlots = await shardFirstSlots(cli, topo);
    const tags = firstSlots.map((slot, s) => hashTagFor(slot, s));

    // Clients on the host side of the bridge, seeded with the namespaces' addresses only.
    const wl = new Workload(lab.nodeIps, PORT, password, t0);
    workload = wl;
    wl.start(tags, randomBytes(3).toString("hex"));
    await sleep(2000);

    const schedule: FaultName[] = [];
    const deadline = opts.durationMs ?? 0;
    for (let round = 0; round < 20 && (round === 0 || now() + 60_000 < deadline); round++) {
      for (const f of opts.faults) {
        if (round > 0 && now() + 30_000 > deadline) break;
        schedule.push(f);
        const ev = await applyFault(f, schedule.length, { c, lab, cli, topo, count, holdMs, nodeTimeoutMs, now, spec });
        ev.recovered = ev.healed;
        const rec = await waitWhole(cli, count, recoverMs);
        ev.recovered = now();
        ev.recoveredOk = rec.ok;
        if (!rec.ok) ev.notes = [...(ev.notes ?? []), `not whole after ${recoverMs} ms: ${rec.why}`];
        faults.push(ev);
        log(`${ev.name} on ${ev.target}: held ${ev.healed - ev.start} ms, promotion ${ev.promotionMs ?? "-"} ms, whole again ${rec.ok ? `${ev.recovered - ev.healed} ms after heal` : "NO"}`);
        topo = await topology(cli, count, lab);
        await sleep(2000);
      }
    }

    await wl.stop();
    const durationMs = now();
    await waitWhole(cli, count, recoverMs);
    const final = await finalChecks(cli, count, lab, password);
    const ops = wl.ops();
    const values = await wl.readBack(ops);
    const history: History = { shards: tags.length, ops, faults, durationMs };
    const verdict = check(history, values, final);
    result = {
      history,
      verdict,
      leftovers,
      nodeTimeoutMs,
      settings: {
        masters: spec.masters,
        replicasPerMaster: spec.replicasPerMaster,
        nodeTimeoutMs,
        minReplicasToWrite: spec.minReplicasToWrite,
        minReplicasMaxLag: spec.minReplicasMaxLag,
        clusterReplicaValidityFactor: spec.clusterReplicaValidityFactor,
        appendfsync: spec.appendfsync,
        holdMs,
      },
    };
  } finally {
    workload?.halt();
    const dir = cluster?.dir;
    await cluster?.stop();
    leftovers.push(...lab.teardown(), ...lab.leftovers());
    if (dir) {
      for (const pid of redisServersUnder(dir)) leftovers.push(`redis-server pid ${pid}`);
    }
    process.removeListener("exit", emergency);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
  // `leftovers` is the same array the result holds: filled by the teardown above.
  if (!result) throw new Error("chaos run ended without a result");
  return result;
}
