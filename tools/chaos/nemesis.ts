// The chaos nemesis: the faults it applies to the cluster on the network lab and the local processes (partitions,
// kills, pauses, a full restart, a bootstrap killed part-way), each recorded as a FaultEvent for the checker.
import { spawn } from "node:child_process";
import type { LocalCluster } from "../../testbed/local/harness";
import { scriptPaths } from "../../infra/plan/scripts";
import type { FaultEvent } from "../../testbed/workload/history";
import { sleep } from "../../smoke/time";
import { isMyself, isReplica, parseClusterNodes } from "../../smoke/topology";
import type { NetLab } from "./netlab";
import { waitWhole, type Cli, type Topology } from "./observer";

export const FAULTS = [
  "partition-master",
  "partition-master-and-clients",
  "partition-replica",
  "isolate-node",
  "kill-master",
  "pause-master",
  "full-restart",
  "partition-master-min-replicas",
  "isolate-replica-then-kill-master",
] as const;
export type FaultName = (typeof FAULTS)[number];

/**
 * Formation with the first bootstrap killed part-way (a Job killed by its deadline, a container stopped), then run
 * again: it must finish the cluster.
 */
export async function bootstrapKilled(c: LocalCluster, now: () => number): Promise<FaultEvent> {
  // Measured from the moment `redis-cli --cluster create` starts (slots, then MEET, then REPLICATE): the window in
  // which a kill leaves a half-made cluster.
  const killAt = 100 + Math.floor(Math.random() * 2500);
  const start = now();
  const note = await killedBootstrap(c, killAt);
  const healed = now();
  const r = await c.runBootstrap();
  const notes = [note, `re-run: exit ${r.code}`, ...(r.code === 0 ? [] : [r.output])];
  return { name: "bootstrap-killed", target: `bootstrap killed ${killAt} ms into the create`, start, healed, recovered: now(), recoveredOk: r.code === 0, notes };
}

/**
 * Runs the bootstrap script and kills it (with its redis-cli children) `ms` after it starts creating the cluster (or
 * after 20 s in any case); says what it left behind.
 */
function killedBootstrap(c: LocalCluster, ms: number): Promise<string> {
  const env = { ...c.cliEnv(), ...c.plan.bootstrapEnv, REDIS_NODES: c.seeds.join(" "), BOOTSTRAP_TIMEOUT: "60" };
  return new Promise((resolve) => {
    const child = spawn("sh", [scriptPaths.bootstrap], { env, stdio: ["ignore", "ignore", "pipe"], detached: true });
    const kill = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    };
    let timer = setTimeout(kill, 20_000);
    let err = "";
    let armed = false;
    child.stderr!.on("data", (d) => {
      err += d;
      if (!armed && /creating/.test(err)) {
        armed = true;
        clearTimeout(timer);
        timer = setTimeout(kill, ms);
      }
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      // What each node says of itself: slots held, role, how many nodes it knows.
      const selves = c.nodes.map((_, i) => parseClusterNodes(c.cli(i, ["cluster", "nodes"]).stdout)).map((lines) => ({ known: lines.length, me: lines.find(isMyself) }));
      const withSlots = selves.filter((x) => (x.me?.slots.length ?? 0) > 0).length;
      const replicas = selves.filter((x) => x.me && isReplica(x.me)).length;
      const known = selves.map((x) => x.known).join("/");
      resolve(signal ? `killed: ${withSlots} nodes held slots, ${replicas} were replicas, nodes known per node ${known}` : `finished (exit ${code}) before the kill`);
    });
  });
}

export interface FaultCtx {
  c: LocalCluster;
  lab: NetLab;
  cli: Cli;
  topo: Topology;
  count: number;
  holdMs: number;
  nodeTimeoutMs: number;
  now: () => number;
  spec: { minReplicasToWrite: number; minReplicasMaxLag: number };
}

export async function applyFault(name: FaultName, n: number, x: FaultCtx): Promise<FaultEvent> {
  const { c, lab, topo, count, holdMs, now } = x;
  const shard = (n - 1) % topo.masterOf.length;
  const master = topo.masterOf[shard];
  const replica = topo.replicasOf.get(master)?.[0];
  const others = (i: number) => lab.nodeIps.filter((_, k) => k !== i);
  const label = (i: number) => `${c.nodes[i].name} (${lab.nodeIps[i]})`;
  const ev: FaultEvent = { name, target: "", shard, start: 0, healed: 0, recovered: 0, recoveredOk: false };
  // Promotion watch: the first moment any current replica of the target's shard calls itself master.
  let watching = false;
  const watch = async (replicas: number[]) => {
    watching = true;
    for (let k = 0; k < 1000 && watching; k++) {
      for (const r of replicas) {
        const role = await x.cli(r, ["role"], 800);
        if (role.code === 0 && role.out.startsWith("master") && ev.promotionMs === undefined) ev.promotionMs = now() - ev.start;
      }
      if (ev.promotionMs !== undefined) return;
      await sleep(200);
    }
  };
  const masterFault = async (apply: () => void | Promise<void>, heal: () => void | Promise<void>) => {
    ev.target = `${label(master)}, master of shard ${shard}`;
    ev.start = now();
    await apply();
    const w = watch(topo.replicasOf.get(master) ?? []);
    await sleep(holdMs);
    await heal();
    ev.healed = now();
    watching = false;
    await w;
  };
  switch (name) {
    case "partition-master":
      await masterFault(() => lab.cut(master, others(master)), () => lab.heal(master));
      ev.notes = ["clients still reach the master; the other nodes do not"];
      break;
    case "partition-master-and-clients":
      await masterFault(() => lab.cut(master, [...others(master), lab.hostIp]), () => lab.heal(master));
      break;
    case "partition-master-min-replicas": {
      // The knob under test, set at run time on every node as the stack config would set it in redis.conf.
      const set = async (to: number, lag: number) => {
        for (let i = 0; i < count; i++) await x.cli(i, ["config", "set", "min-replicas-to-write", String(to), "min-replicas-max-lag", String(lag)]);
      };
      await set(1, 2);
      await masterFault(() => lab.cut(master, others(master)), () => lab.heal(master));
      await set(x.spec.minReplicasToWrite, x.spec.minReplicasMaxLag);
      ev.notes = ["min-replicas-to-write 1, min-replicas-max-lag 2 during this fault"];
      break;
    }
    case "isolate-replica-then-kill-master": {
      // A replica cut off from everything for the hold, healed, the cluster whole again (by every check above), and
      // then its master killed -9: was the replica really caught up when it was promoted?
      const r = replica ?? 0;
      ev.target = `${label(r)}, replica in shard ${shard}, then its master ${label(master)}`;
      ev.start = now();
      lab.cut(r, [...others(r), lab.hostIp]);
      await sleep(holdMs);
      lab.heal(r);
      const rec = await waitWhole(x.cli, count, 60_000);
      ev.notes = [`whole again ${rec.ok ? "yes" : "no"} before the kill (${now() - ev.start} ms after the isolation began)`];
      await c.kill(master, "SIGKILL");
      const w = watch([r]);
      await sleep(holdMs);
      c.startNode(master);
      await c.waitReady(master, 30_000).catch(() => undefined);
      ev.healed = now();
      watching = false;
      await w;
      break;
    }
    case "partition-replica": {
      const r = replica ?? 0;
      ev.target = `${label(r)}, replica in shard ${shard}`;
      ev.start = now();
      lab.cut(r, others(r));
      await sleep(holdMs);
      lab.heal(r);
      ev.healed = now();
      break;
    }
    case "isolate-node": {
      const i = (n * 7) % count;
      ev.target = `${label(i)} (from every node and every client)`;
      const isMaster = topo.masterOf.includes(i);
      ev.shard = isMaster ? topo.masterOf.indexOf(i) : shard;
      ev.start = now();
      lab.cut(i, [...others(i), lab.hostIp]);
      const w = isMaster ? watch(topo.replicasOf.get(i) ?? []) : Promise.resolve();
      await sleep(holdMs);
      lab.heal(i);
      ev.healed = now();
      watching = false;
      await w;
      break;
    }
    case "kill-master":
      await masterFault(() => c.kill(master, "SIGKILL"), async () => {
        c.startNode(master);
        await c.waitReady(master, 30_000).catch(() => undefined);
      });
      ev.notes = ["kill -9, restarted after the hold with its data dir (AOF)"];
      break;
    case "pause-master":
      await masterFault(() => c.freeze(master), () => c.thaw(master));
      ev.notes = ["SIGSTOP for the hold, then SIGCONT"];
      break;
    case "full-restart": {
      ev.target = `all ${count} nodes (SIGTERM, then start)`;
      ev.shard = undefined;
      ev.start = now();
      await Promise.all(c.nodes.map((_, i) => c.stopNode(i)));
      for (let i = 0; i < count; i++) c.startNode(i);
      for (let i = 0; i < count; i++) await c.waitReady(i, 30_000).catch(() => undefined);
      ev.healed = now();
      break;
    }
  }
  return ev;
}
