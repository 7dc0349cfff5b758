// Who did the work and who ran out of CPU: per-node commands and CPU from INFO (server side, so it also works against
// a remote cluster), the generator's own CPU, and the machine's busy time (Linux /proc/stat) when client and servers
// share it.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import type { Redis } from "ioredis";
import { parseInfo } from "../topology";

export interface NodeCounters {
  /** Commands executed (every command in INFO commandstats). */
  calls: number;
  /** used_cpu_user + used_cpu_sys, seconds. */
  cpuSec: number;
}

/** Commands and CPU of one node, from INFO commandstats and INFO cpu. */
export async function readNodeCounters(conn: Redis): Promise<NodeCounters> {
  const [stats, cpu] = await Promise.all([conn.call("INFO", "commandstats") as Promise<string>, conn.call("INFO", "cpu") as Promise<string>]);
  let calls = 0;
  for (const m of stats.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) calls += Number(m[1]);
  const c = parseInfo(cpu);
  return { calls, cpuSec: Number(c.used_cpu_user ?? 0) + Number(c.used_cpu_sys ?? 0) };
}

/** Busy and total jiffies of the whole machine (undefined off Linux). */
export function machineTimes(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export interface NodeUsage {
  addr: string;
  role: "master" | "replica";
  opsPerSec: number;
  /** Percent of one core. */
  cpuPct: number;
}

export interface UsageReport {
  nodes: NodeUsage[];
  /** Load generator process (all threads), percent of one core. */
  clientCpuPct: number;
  /** Every node together, percent of one core. */
  serversCpuPct: number;
  /** Whole machine busy, percent of one core (cores × 100 = saturated); undefined off Linux or for a remote cluster. */
  machineBusyPct?: number;
  /** machine − client − servers: other processes on the same machine. */
  otherCpuPct?: number;
  cores: number;
  /** One sentence: what limited this run. */
  limit: string;
}

export interface UsageSnapshot {
  /** When the INFO requests were sent. */
  sentAt: number;
  /** When every reply was in. */
  at: number;
  nodes: Map<string, NodeCounters>;
  machine?: { busy: number; total: number };
}

export async function snapshotUsage(nodes: { addr: string; conn: Redis }[]): Promise<UsageSnapshot> {
  const sentAt = performance.now();
  const entries = await Promise.all(nodes.map(async (n) => [n.addr, await readNodeCounters(n.conn)] as const));
  return { sentAt, at: performance.now(), nodes: new Map(entries), machine: machineTimes() };
}

/**
 * Usage between two snapshots. `clientCpuMs` is the generator's CPU time in that window; `clientThreads` how many
 * threads it ran (a thread cannot use more than one core); `local` says the servers share this machine.
 */
export function usageBetween(
  a: UsageSnapshot, b: UsageSnapshot, roles: Map<string, "master" | "replica">, clientCpuMs: number, o: { clientThreads?: number; local: boolean },
): UsageReport {
  // From the first snapshot's replies (the load starts after them) to the second's requests (sent once the load's last
  // reply is in): the window is the sending time. Ending it at the second's replies added their round trip, which on a
  // busy host is a large share of a short run and made every rate read low (flaked the generator test's 0.9 bound).
  const sec = Math.max(1e-3, (b.sentAt - a.at) / 1000);
  const nodes: NodeUsage[] = [...b.nodes.entries()].map(([addr, nb]) => {
    const na = a.nodes.get(addr) ?? nb;
    return {
      addr,
      role: roles.get(addr) ?? "master",
      opsPerSec: Math.round(Math.max(0, nb.calls - na.calls) / sec),
      cpuPct: Math.round(((nb.cpuSec - na.cpuSec) / sec) * 100),
    };
  });
  const cores = cpus().length;
  const clientCpuPct = Math.round((clientCpuMs / 1000 / sec) * 100);
  const serversCpuPct = nodes.reduce((s, n) => s + n.cpuPct, 0);
  let machineBusyPct: number | undefined;
  let otherCpuPct: number | undefined;
  if (o.local && a.machine && b.machine && b.machine.total > a.machine.total) {
    machineBusyPct = Math.round(((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * cores * 100);
    otherCpuPct = Math.max(0, machineBusyPct - clientCpuPct - serversCpuPct);
  }
  const r = { nodes, clientCpuPct, serversCpuPct, machineBusyPct, otherCpuPct, cores };
  return { ...r, limit: limitOf(r, o.clientThreads ?? 1) };
}

/** The first resource that ran out: one server's core, the machine's cores, the client's thread(s), else latency. */
export function limitOf(u: Omit<UsageReport, "limit">, clientThreads: number): string {
  const busiest = [...u.nodes].sort((x, y) => y.cpuPct - x.cpuPct)[0];
  const shares = `client ${u.clientCpuPct}%, servers ${u.serversCpuPct}%${u.otherCpuPct !== undefined ? `, other processes ${u.otherCpuPct}%` : ""}`;
  if (busiest && busiest.cpuPct >= 85) return `server CPU: ${busiest.addr} (${busiest.role}) used ${busiest.cpuPct}% of its one core (${shares})`;
  if (u.machineBusyPct !== undefined && u.machineBusyPct >= u.cores * 90) {
    return `machine CPU: ${u.machineBusyPct}% of ${u.cores * 100}% busy (${shares}); client and servers compete for the same cores`;
  }
  if (u.clientCpuPct >= clientThreads * 85) return `client CPU: ${u.clientCpuPct}% of ${clientThreads * 100}% for its ${clientThreads} thread(s) (${shares})`;
  return `no CPU saturated (${shares}${u.machineBusyPct !== undefined ? `, machine ${u.machineBusyPct}% of ${u.cores * 100}%` : ""}): round trips bound it — more requests in flight would go faster`;
}
