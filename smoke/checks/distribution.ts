// distribution: N unique keys written through the ioredis Cluster client land on every master (verified on each
// master's own connection), per-master share reported, keys removed afterwards.
import { errorText } from "../clients";
import type { SmokeContext } from "../context";
import { cleanup, groupByOwner, readBack, runKey, valueOf, KEY_TTL_S } from "../data";
import { CheckFailure, type Measurements } from "../types";

export async function checkDistribution(ctx: SmokeContext): Promise<{ details: string; measurements: Measurements }> {
  const topo = ctx.topology ?? (await ctx.refreshTopology());
  const n = ctx.opts.keys;
  const keys = Array.from({ length: n }, (_, i) => runKey(ctx.runId, "d", i));
  const c = ctx.data();
  try {
    ctx.setStep(`writing ${n} keys through the cluster client`);
    const t0 = Date.now();
    const errors: string[] = [];
    for (let i = 0; i < keys.length; i += 1000) {
      ctx.checkpoint();
      const res = await Promise.allSettled(keys.slice(i, i + 1000).map((k) => c.set(k, valueOf(k), "EX", KEY_TTL_S)));
      for (const r of res) if (r.status === "rejected" && errors.length < 5) errors.push(errorText(r.reason));
      if (errors.length) throw new CheckFailure([`writes through the cluster client failed: ${errors.join("; ")}`]);
    }
    const writeMs = Date.now() - t0;

    ctx.setStep("reading the keys back from each master's own connection");
    const byOwner = groupByOwner(keys, topo);
    const problems: string[] = [];
    const m: Measurements = { keys: n, write_ms: writeMs, write_ops_per_s: Math.round((n / Math.max(writeMs, 1)) * 1000) };
    const shares: string[] = [];
    for (const master of topo.masters) {
      const own = byOwner.get(master.addr) ?? [];
      const share = own.length / n;
      m[`share_${master.addr}`] = Number(share.toFixed(4));
      shares.push(`${master.addr} ${(share * 100).toFixed(1)}%`);
      if (own.length === 0) {
        problems.push(`master ${master.label} owns none of the ${n} keys (slots ${master.slots.map(([a, b]) => (a === b ? a : `${a}-${b}`)).join(",")})`);
        continue;
      }
      const r = await readBack(await ctx.pool.get(master.addr), own);
      if (r.errors.length) problems.push(`master ${master.label}: ${r.errors.length} of its keys answered with errors (e.g. ${r.errors[0]}) — the slot map changed during the check?`);
      if (r.wrong.length) problems.push(`master ${master.label}: ${r.wrong.length} of its ${own.length} keys missing or wrong (e.g. ${r.wrong[0]})`);
    }
    if (problems.length) throw new CheckFailure(problems, m);
    return { details: `${n} keys over ${topo.masters.length} masters: ${shares.join(", ")}`, measurements: m };
  } finally {
    ctx.setStep("deleting the test keys");
    await cleanup(ctx, keys);
  }
}
