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
  /** Socket reads the server did (INFO stats total_reads_processed; absent before Redis 6). */
  reads?: number;
}

/** Commands, CPU and socket reads of one node, from INFO commandstats, cpu and stats. */
export async function readNodeCounters(conn: Redis): Promise<NodeCounters> {
  const [stats, cpu, general] = await Promise.all(["commandstats", "cpu", "stats"].map((s) => conn.call("INFO", s) as Promise<string>));
  let calls = 0;
  for (const m of stats.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) calls += Number(m[1]);
  const c = parseInfo(cpu);
  const reads = parseInfo(general).total_reads_processed;
  return { calls, cpuSec: Number(c.used_cpu_user ?? 0) + Number(c.used_cpu_sys ?? 0), ...(reads !== undefined ? { reads: Number(reads) } : {}) };
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
  /** Commands per socket read on this node (how many commands each client write carried, seen from the server). */
  commandsPerRead?: number;
}

export interface UsageReport {
  nodes: NodeUsage[];
  /** Load generator process (all threads), percent of one core. */
  clientCpuPct: number;
  /** Every node together, percent of one core. */
  serversCpuPct: number;
  /** Masters together: commands per socket read (undefined when the servers do not count reads). */
  commandsPerRead?: number;
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
  const deltas = [...b.nodes.entries()].map(([addr, nb]) => {
    const na = a.nodes.get(addr) ?? nb;
    return { addr, nb, na, calls: Math.max(0, nb.calls - na.calls), reads: nb.reads !== undefined && na.reads !== undefined ? nb.reads - na.reads : 0 };
  });
  const nodes: NodeUsage[] = deltas.map(({ addr, nb, na, calls, reads }) => ({
    addr,
    role: roles.get(addr) ?? "master",
    opsPerSec: Math.round(calls / sec),
    cpuPct: Math.round(((nb.cpuSec - na.cpuSec) / sec) * 100),
    ...(reads > 0 ? { commandsPerRead: Number((calls / reads).toFixed(2)) } : {}),
  }));
  const masters = deltas.filter((d) => (roles.get(d.addr) ?? "master") === "master" && d.reads > 0);
  const sum = (f: (d: (typeof deltas)[number]) => number) => masters.reduce((s, d) => s + f(d), 0);
  const commandsPerRead = masters.length ? Number((sum((d) => d.calls) / sum((d) => d.reads)).toFixed(2)) : undefined;
  const cores = cpus().length;
  const clientCpuPct = Math.round((clientCpuMs / 1000 / sec) * 100);
  const serversCpuPct = nodes.reduce((s, n) => s + n.cpuPct, 0);
  let machineBusyPct: number | undefined;
  let otherCpuPct: number | undefined;
  if (o.local && a.machine && b.machine && b.machine.total > a.machine.total) {
    machineBusyPct = Math.round(((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * cores * 100);
    otherCpuPct = Math.max(0, machineBusyPct - clientCpuPct - serversCpuPct);
  }
  const r = { nodes, clientCpuPct, serversCpuPct, commandsPerRead, machineBusyPct, otherCpuPct, cores };
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
