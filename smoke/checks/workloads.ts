// workloads: the application patterns of the tutorial this project grew from, through the ioredis Cluster client,
// each judged on what it must guarantee:
//   counters  N clients INCR the same counters concurrently: every counter ends at exactly N × increments;
//   cache     entries SET with a TTL report it (PTTL), are readable, then are gone once it passed;
//   queue     producers LPUSH, BRPOP consumers drain: every item delivered exactly once, the list ends empty;
//   hash tags keys sharing a {tag} share a slot and work together in MULTI/EXEC; a multi-key command across slots
//             is refused with CROSSSLOT — expected Redis Cluster behaviour, reported as such.
// Every failure names the command and the key (with its slot and owning master).
import calculateSlot = require("cluster-key-slot");
import type { Cluster } from "ioredis";
import { errorText, withTimeout } from "../clients";
import type { SmokeContext } from "../context";
import { cleanup, keysOwnedBy, runKey } from "../data";
import { CheckFailure, type Measurements } from "../types";

export const WORKLOAD = {
  counterClients: 4,
  countersPerMaster: 2,
  incrementsPerClient: 100,
  cachePerMaster: 3,
  cacheTtlMs: 1000,
  producers: 3,
  consumers: 3,
  queueItems: 300,
  brpopTimeoutS: 1,
  /** Bound of one command (ioredis queues commands while it cannot reach a healthy cluster: they would wait forever). */
  commandLimitMs: 5000,
};

/** A failed step: "INCR smoke:…:c:3 (slot 1234, master 127.0.0.1:7001): CLUSTERDOWN …". */
class WorkloadError extends Error {}

/** Queue item that tells a consumer to stop. */
const STOP = "stop";

export async function checkWorkloads(ctx: SmokeContext): Promise<{ details: string; measurements: Measurements }> {
  const topo = ctx.topology ?? (await ctx.refreshTopology());
  const where = (key: string) => {
    const slot = calculateSlot(key);
    const owner = topo.ownerBySlot[slot];
    return `${key} (slot ${slot}, master ${owner ? ctx.label(owner) : "none"})`;
  };
  /** Runs one command (bounded); its failure names the command and the key. */
  const run = async <T>(cmd: string, key: string, f: () => Promise<T>, client?: Cluster, limitMs = WORKLOAD.commandLimitMs): Promise<T> => {
    ctx.checkpoint();
    try {
      return await withTimeout(f(), limitMs, "ioredis");
    } catch (e) {
      // A client that never got ready (e.g. cluster_state:fail at connect) only ever times out: say so.
      const status = client && client.status !== "ready" ? ` (the cluster client is ${client.status}, not ready: ioredis waits for cluster_state:ok)` : "";
      throw new WorkloadError(`${cmd} ${where(key)} failed: ${errorText(e)}${status}`);
    }
  };
  const written: string[] = [];
  const m: Measurements = {};
  const problems: string[] = [];
  const passed: string[] = [];
  const data = ctx.data();
  const step = async (name: string, f: () => Promise<string>) => {
    ctx.setStep(`workload ${name}`);
    try {
      passed.push(await f());
    } catch (e) {
      if (e instanceof WorkloadError || e instanceof CheckFailure) problems.push(`${name}: ${e.message}`);
      else throw e;
    }
  };

  try {
    await step("counters", async () => {
      const W = WORKLOAD;
      const keys = topo.masters.flatMap((ms) => keysOwnedBy(ctx.runId, "w:ctr", ms.addr, topo, W.countersPerMaster).keys);
      written.push(...keys);
      const clients: Cluster[] = Array.from({ length: W.counterClients }, () => ctx.cluster());
      const t0 = Date.now();
      try {
        await Promise.all(
          clients.map(async (c) => {
            for (let i = 0; i < W.incrementsPerClient; i++) await Promise.all(keys.map((k) => run("INCR", k, () => c.incr(k), c)));
          }),
        );
      } finally {
        for (const c of clients) c.disconnect();
      }
      const want = W.counterClients * W.incrementsPerClient;
      const wrong: string[] = [];
      for (const k of keys) {
        const v = await run("GET", k, () => data.get(k), data);
        if (Number(v) !== want) wrong.push(`GET ${where(k)} returned ${v}, expected ${want}`);
      }
      if (wrong.length) throw new WorkloadError(`${wrong.length} counter(s) lost or duplicated increments: ${wrong.join("; ")}`);
      m.counter_incr_total = want * keys.length;
      return `${keys.length} counters × ${W.counterClients} clients × ${W.incrementsPerClient} INCR = ${want} each (${Date.now() - t0} ms)`;
    });

    await step("cache", async () => {
      const W = WORKLOAD;
      const keys = topo.masters.flatMap((ms) => keysOwnedBy(ctx.runId, "w:cache", ms.addr, topo, W.cachePerMaster).keys);
      written.push(...keys);
      for (const k of keys) await run("SET PX", k, () => data.set(k, `cached:${k}`, "PX", W.cacheTtlMs), data);
      // Each TTL starts when its SET reaches the server; the last reply bounds that for every key
      // (timing from before the first SET failed on a loaded host, where the last keys were set much later).
      const lastSetAcked = Date.now();
      for (const k of keys) {
        const pttl = await run("PTTL", k, () => data.pttl(k), data);
        if (!(pttl > 0 && pttl <= W.cacheTtlMs)) throw new WorkloadError(`PTTL ${where(k)} returned ${pttl}, expected 1..${W.cacheTtlMs} ms right after SET PX ${W.cacheTtlMs}`);
        const v = await run("GET", k, () => data.get(k), data);
        // Slow machines may have passed the TTL already; only a wrong value is an error here.
        if (v !== null && v !== `cached:${k}`) throw new WorkloadError(`GET ${where(k)} returned ${JSON.stringify(v)}, expected cached:${k}`);
      }
      // Gone once the TTL passed (expiry is lazy on access plus active cycles: a GET after the TTL never returns it).
      await ctx.sleep(Math.max(0, lastSetAcked + W.cacheTtlMs + 50 - Date.now()));
      const alive: string[] = [];
      for (const k of keys) {
        const [v, left] = [await run("GET", k, () => data.get(k), data), await run("PTTL", k, () => data.pttl(k), data)];
        if (v !== null || left !== -2) alive.push(`GET ${where(k)} returned ${JSON.stringify(v)}, PTTL ${left} (expected nil and -2)`);
      }
      if (alive.length) throw new WorkloadError(`${alive.length} entries outlived their ${W.cacheTtlMs} ms TTL: ${alive.join("; ")}`);
      m.cache_entries_expired = keys.length;
      return `${keys.length} entries with PX ${W.cacheTtlMs}: PTTL set, gone after the TTL`;
    });

    await step("queue", async () => {
      const W = WORKLOAD;
      const q = runKey(ctx.runId, "w:queue", 0);
      written.push(q);
      // BRPOP blocks its connection: every consumer has its own client.
      const consumers: Cluster[] = Array.from({ length: W.consumers }, () => ctx.cluster({ commandTimeoutMs: (W.brpopTimeoutS + 5) * 1000 }));
      const producers: Cluster[] = Array.from({ length: W.producers }, () => ctx.cluster());
      const seen = new Map<string, number>();
      let producing = true;
      const t0 = Date.now();
      const produce = producers.map(async (c, p) => {
        for (let i = p; i < W.queueItems; i += W.producers) await run("LPUSH", q, () => c.lpush(q, `item:${i}`), c);
      });
      const consume = consumers.map(async (c) => {
        // Ends at its stop item (queued after every item), or at an empty BRPOP once the producers are done; bounded.
        for (let empty = 0; empty < 10; ) {
          ctx.checkpoint();
          const r = await run("BRPOP", q, () => c.brpop(q, W.brpopTimeoutS), c, W.commandLimitMs + W.brpopTimeoutS * 1000);
          if (r === null) {
            empty++;
            if (!producing) return;
            continue;
          }
          if (r[1] === STOP) return;
          seen.set(r[1], (seen.get(r[1]) ?? 0) + 1);
        }
      });
      consume.forEach((p) => p.catch(() => undefined));
      try {
        await Promise.all(produce).finally(() => (producing = false));
        // One stop item per consumer, behind every real item (FIFO: LPUSH in, BRPOP out).
        await run("LPUSH", q, () => producers[0].lpush(q, ...consumers.map(() => STOP)), producers[0]);
        await Promise.all(consume);
      } finally {
        for (const c of [...consumers, ...producers]) c.disconnect();
      }
      const twice = [...seen.entries()].filter(([, n]) => n > 1).map(([item, n]) => `${item} ×${n}`);
      const missing = Array.from({ length: W.queueItems }, (_, i) => `item:${i}`).filter((i) => !seen.has(i));
      const left = await run("LLEN", q, () => data.llen(q), data);
      const bad: string[] = [];
      if (twice.length) bad.push(`${twice.length} item(s) delivered more than once by BRPOP ${where(q)}: ${twice.slice(0, 5).join(", ")}`);
      if (missing.length) bad.push(`${missing.length} item(s) acknowledged by LPUSH ${where(q)} never delivered by BRPOP (e.g. ${missing.slice(0, 5).join(", ")})`);
      if (left !== 0) bad.push(`LLEN ${where(q)} is ${left} after the consumers drained it, expected 0`);
      if (bad.length) throw new WorkloadError(bad.join("; "));
      m.queue_items = W.queueItems;
      m.queue_ms = Date.now() - t0;
      return `${W.queueItems} items, ${W.producers} producers, ${W.consumers} BRPOP consumers: each delivered exactly once`;
    });

    await step("hash tags", async () => {
      const tag = `smoke:{${ctx.runId}:tx}`;
      const keys = [`${tag}:a`, `${tag}:b`, `${tag}:n`];
      written.push(...keys);
      const slots = new Set(keys.map((k) => calculateSlot(k)));
      if (slots.size !== 1) throw new WorkloadError(`keys with one hash tag hash to ${slots.size} slots (${[...slots].join(",")})`);
      const slot = [...slots][0];
      const serverSlot = await run("CLUSTER KEYSLOT", keys[0], () => data.cluster("KEYSLOT", keys[0]), data);
      if (Number(serverSlot) !== slot) throw new WorkloadError(`CLUSTER KEYSLOT ${where(keys[0])} returned ${serverSlot}, cluster-key-slot computed ${slot}`);
      const res = await run("MULTI/EXEC", keys.join(" "), () => data.multi().set(keys[0], "1").set(keys[1], "2").incrby(keys[2], 5).exec(), data);
      const errs = (res ?? []).filter(([e]) => e);
      if (!res || errs.length) throw new WorkloadError(`MULTI/EXEC on ${keys.map(where).join(", ")} failed: ${res ? errorText(errs[0][0]) : "transaction aborted (nil EXEC)"}`);
      const got = await run("MGET", keys.join(" "), () => data.mget(...keys), data);
      if (got.join(",") !== "1,2,5") throw new WorkloadError(`MGET ${keys.map(where).join(", ")} returned ${JSON.stringify(got)} after the transaction, expected ["1","2","5"]`);
      // Two keys without a common tag in different slots: the server must refuse them together.
      const other = topo.masters.map((ms) => keysOwnedBy(ctx.runId, "w:cross", ms.addr, topo, 1).keys[0]).find((k) => k && calculateSlot(k) !== slot);
      if (!other) throw new WorkloadError("found no key in another slot for the cross-slot command");
      written.push(other);
      let crossError: string | undefined;
      try {
        await data.mget(keys[0], other);
      } catch (e) {
        crossError = errorText(e);
      }
      if (!crossError) throw new WorkloadError(`MGET ${where(keys[0])} ${where(other)} across slots succeeded: expected CROSSSLOT`);
      if (!/CROSSSLOT/.test(crossError)) throw new WorkloadError(`MGET ${where(keys[0])} ${where(other)} across slots failed with "${crossError}", expected CROSSSLOT`);
      m.hash_tag_slot = slot;
      m.cross_slot_refused = true;
      return `{tag} keys share slot ${slot}, MULTI/EXEC ok; MGET across slots ${slot} and ${calculateSlot(other)} refused with CROSSSLOT (expected)`;
    });
  } finally {
    ctx.setStep("deleting the workload keys");
    await cleanup(ctx, written, 3000);
  }
  if (problems.length) throw new CheckFailure(problems, m);
  return { details: passed.join("; "), measurements: m };
}
