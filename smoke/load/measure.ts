// One measured load phase against the cluster a smoke context knows: the generator's run plus, around it, every
// node's commands and CPU (INFO deltas) — the per-node view (a hot shard shows as one master serving more) and what
// limited the phase.
import type { SmokeContext } from "../context";
import { runLoad, type LoadOptions, type LoadResult, type LoadTarget } from "./generator";
import { snapshotUsage, usageBetween, type UsageReport, type UsageSnapshot } from "./usage";

export interface MeasuredPhase {
  result: LoadResult;
  usage: UsageReport;
}

/**
 * The masters of the cluster as generator targets (reachable addresses through the natMap). Read afresh: a topology
 * cached before the failover check names the promoted replica, and after the fail back every request to its slots is MOVED.
 */
export async function loadTargets(ctx: SmokeContext): Promise<LoadTarget[]> {
  const topo = await ctx.refreshTopology();
  return topo.masters.map((m) => ({ addr: m.addr, ...ctx.pool.resolve(m.addr), slots: m.slots }));
}

/** Connections to every reachable node (masters and replicas: replicas spend CPU on replication too). */
export async function watchedNodes(ctx: SmokeContext) {
  const addrs = ctx.nodes.length ? ctx.nodes.filter((n) => !ctx.down.has(n)) : (ctx.topology?.masters.map((m) => m.addr) ?? []);
  return Promise.all(addrs.map(async (addr) => ({ addr, conn: await ctx.pool.get(addr) })));
}

export function rolesOf(ctx: SmokeContext): Map<string, "master" | "replica"> {
  const masters = new Set(ctx.topology?.masters.map((m) => m.addr));
  return new Map(ctx.nodes.map((n) => [n, masters.has(n) ? "master" : "replica"]));
}

/** True when every address is a loopback one: the servers share this machine with the generator. */
export function isLocal(hosts: string[]): boolean {
  return hosts.length > 0 && hosts.every((h) => /^127\./.test(h) || h === "::1" || h === "localhost");
}

/** Usage of every node between the two calls of the returned pair (plus the client CPU the caller measured). */
export async function usageWindow(ctx: SmokeContext, o: { local: boolean; clientThreads?: number }) {
  const nodes = await watchedNodes(ctx);
  let before: UsageSnapshot | undefined;
  let after: UsageSnapshot | undefined;
  return {
    start: async () => void (before = await snapshotUsage(nodes)),
    end: async () => void (after = await snapshotUsage(nodes)),
    report: (clientCpuMs: number): UsageReport => {
      if (!before || !after) throw new Error("usage window not started and ended");
      const roles = rolesOf(ctx);
      if (roles.size === 0) for (const n of nodes) roles.set(n.addr, "master");
      return usageBetween(before, after, roles, clientCpuMs, o);
    },
  };
}

/** A generator phase against the context's masters, with each node's commands and CPU over exactly its sending time. */
export async function measuredPhase(ctx: SmokeContext, o: Omit<LoadOptions, "targets" | "password" | "username" | "signal" | "connectTimeoutMs">): Promise<MeasuredPhase> {
  const targets = await loadTargets(ctx);
  const w = await usageWindow(ctx, { local: isLocal(targets.map((t) => t.host)) });
  const result = await runLoad({
    ...o, targets, password: ctx.opts.password, username: ctx.opts.username, tls: ctx.opts.tls, signal: ctx.signal, connectTimeoutMs: ctx.opts.connectTimeoutMs, onStart: w.start, onEnd: w.end,
  });
  return { result, usage: w.report(result.clientCpuMs) };
}

/** "127.0.0.1:7001 35%, …": each master's share of the commands it served in the phase. */
export function masterShares(u: UsageReport): string {
  const masters = u.nodes.filter((n) => n.role === "master");
  const total = masters.reduce((s, n) => s + n.opsPerSec, 0) || 1;
  return masters.map((n) => `${n.addr} ${n.opsPerSec} ops/s (${Math.round((n.opsPerSec / total) * 100)}%)`).join(", ");
}
