// Moving slots between masters: a group of slots opened (IMPORTING on the destination, MIGRATING on the source), their
// keys moved with MIGRATE, then closed (SETSLOT NODE, the importing side first). Slots an interrupted run left open
// are finished forward: all keys to the importing side, then SETSLOT NODE.
import { sleep } from "../../../smoke/time";
import { formatRanges, planSlotMoves } from "../../plan/scaling";
import type { ScaleRun } from "../run";
import { waitForSyncedReplica } from "./replicas";
import { parseAddr, type LiveNode, type Survey } from "../survey";

/** The masters' slots by name. */
const ownersOf = (s: Survey) => Object.fromEntries(s.members.filter((m) => m.role === "master" && m.slots.length).map((m) => [m.name, m.slots]));

export async function finishOpenSlots(run: ScaleRun, s: Survey): Promise<void> {
  const byId = new Map(s.members.map((m) => [m.id, m]));
  const pairs = new Map<number, { src?: LiveNode; dst?: LiveNode }>();
  for (const m of s.members) {
    for (const [slot, dst] of m.migrating) pairs.set(slot, { ...pairs.get(slot), src: m, dst: pairs.get(slot)?.dst ?? byId.get(dst) });
    for (const [slot, src] of m.importing) pairs.set(slot, { ...pairs.get(slot), dst: m, src: pairs.get(slot)?.src ?? byId.get(src) });
  }
  if (!pairs.size) return;
  run.log(`finishing ${pairs.size} open slot(s) left by an interrupted run: keys to the importing side, then SETSLOT NODE`);
  for (const [slot, { src, dst }] of pairs) {
    if (!src || !dst) throw new Error(`slot ${slot}: open towards a node that is not a member`);
    await moveKeys(run, src, dst, [slot]);
    await closeSlots(run, s, [slot], dst, src);
    run.slotsMoved++;
  }
}

/** `drainsOnly` (phase in): only the slots of drained masters, to the final masters that exist now. */
export async function moveSlots(run: ScaleRun, drainsOnly: boolean): Promise<void> {
  const { live, o } = run;
  const s = await live.survey();
  const d = run.decide(s);
  const members = new Map(s.members.map((m) => [m.name, m]));
  // New masters join in phase out.
  const moves = drainsOnly
    ? planSlotMoves(ownersOf(s), d.finalMasters.filter((f) => members.has(f))).filter((m) => d.drain.includes(m.from))
    : d.moves.filter((m) => members.has(m.to));
  const total = moves.reduce((n, m) => n + m.slots.length, 0);
  if (!total) return;
  // A node that just joined answers CLUSTERDOWN (and refuses RESTORE-ASKING) until it sees the slots covered.
  await run.waitFor("every node to see every slot covered (cluster_state ok) before slots move", async () => (await live.survey()).members.every((m) => m.info.cluster_state === "ok"));
  const t0 = Date.now();
  let done = 0;
  let lastLog = 0;
  const group = Math.max(1, o.slotGroup ?? 32);
  for (const mv of moves) {
    const src = members.get(mv.from)!;
    const dst = members.get(mv.to)!;
    await waitForSyncedReplica(run, dst);
    run.log(`moving ${mv.slots.length} slots ${src.name} -> ${dst.name}`);
    for (let i = 0; i < mv.slots.length; i += group) {
      run.checkTime("moving slots");
      const slots = mv.slots.slice(i, i + group);
      await openSlots(run, src, dst, slots);
      await moveKeys(run, src, dst, slots);
      await o.onSlotMoved?.(run.slotsMoved + slots.length);
      await closeSlots(run, s, slots, dst, src);
      run.slotsMoved += slots.length;
      done += slots.length;
      if (Date.now() - lastLog > 2000 || done === total) {
        lastLog = Date.now();
        const el = (Date.now() - t0) / 1000;
        const eta = done ? (el / done) * (total - done) : 0;
        run.log(`progress: ${done}/${total} slots, ${run.keysMoved} keys moved, ${el.toFixed(1)} s elapsed, ~${eta.toFixed(0)} s left`);
      }
    }
  }
  await run.waitFor("every node to agree on the slot owners", async () => live.slotViewsAgree(await live.survey()));
}

async function openSlots(run: ScaleRun, src: LiveNode, dst: LiveNode, slots: number[]): Promise<void> {
  const p1 = run.live.conn(dst.addr).pipeline();
  for (const x of slots) p1.call("CLUSTER", "SETSLOT", String(x), "IMPORTING", src.id);
  for (const [, [err]] of (await p1.exec())!.entries()) if (err && !/already the owner/i.test(err.message)) throw new Error(`SETSLOT IMPORTING on ${dst.name}: ${err.message}`);
  const p2 = run.live.conn(src.addr).pipeline();
  for (const x of slots) p2.call("CLUSTER", "SETSLOT", String(x), "MIGRATING", dst.id);
  for (const [, [err]] of (await p2.exec())!.entries()) if (err) throw new Error(`SETSLOT MIGRATING on ${src.name}: ${err.message}`);
}

/** Moves every key of `slots` from src to dst: GETKEYSINSLOT for the group in one pipeline, MIGRATE in batches. */
async function moveKeys(run: ScaleRun, src: LiveNode, dst: LiveNode, slots: number[]): Promise<void> {
  const { live, o } = run;
  const batch = Math.max(1, o.batchKeys ?? 100);
  const { host, port } = parseAddr(dst.addr);
  const auth = o.password ? (o.username ? ["AUTH2", o.username, o.password] : ["AUTH", o.password]) : [];
  let pending = [...slots];
  for (let round = 0; pending.length && round < 1_000_000; round++) {
    run.checkTime(`moving the keys of slots ${formatRanges(pending)}`);
    const p = live.conn(src.addr).pipeline();
    for (const x of pending) p.callBuffer("CLUSTER", "GETKEYSINSLOT", String(x), String(batch));
    const res = (await p.exec())!;
    // MIGRATE takes keys of one slot: one MIGRATE per slot, all of them in one pipeline.
    const perSlot: { slot: number; keys: Buffer[] }[] = [];
    res.forEach(([err, k], i) => {
      if (err) throw new Error(`GETKEYSINSLOT ${pending[i]} on ${src.name}: ${err.message}`);
      if ((k as Buffer[]).length) perSlot.push({ slot: pending[i], keys: k as Buffer[] });
    });
    pending = perSlot.map((x) => x.slot);
    if (!perSlot.length) break;
    const migrate = (keys: Buffer[], replace: boolean) =>
      ["MIGRATE", host, String(port), "", "0", "10000", ...(replace ? ["REPLACE"] : []), ...auth, "KEYS", ...keys] as (string | Buffer)[];
    const mp = live.conn(src.addr).pipeline();
    for (const x of perSlot) mp.call(...(migrate(x.keys, false) as [string, ...(string | Buffer)[]]));
    const out = (await mp.exec())!;
    for (const [i, [err]] of out.entries()) {
      if (!err) {
        run.keysMoved += perSlot[i].keys.length;
        continue;
      }
      const x = perSlot[i];
      // The same key on both sides: only a MIGRATE cut short leaves that (the source's copy is the current one).
      if (/BUSYKEY/.test(err.message)) {
        run.log(`slot ${x.slot}: a key exists on both ${src.name} and ${dst.name}; migrating the source's copy with REPLACE`);
        await live.conn(src.addr).call(...(migrate(x.keys, true) as [string, ...(string | Buffer)[]]));
      } else if (!/IOERR|timeout|LOADING|TRYAGAIN|CLUSTERDOWN/i.test(err.message) || round > 50) {
        throw new Error(`MIGRATE slot ${x.slot} ${src.name} -> ${dst.name}: ${err.message}`);
      } else {
        await sleep(200); // transient: the next round reads the slot's keys again
      }
    }
    if (o.pauseMs) await sleep(o.pauseMs);
  }
}

/** The importing side first (it bumps its epoch and owns the slots), then the source, then every other master. */
async function closeSlots(run: ScaleRun, s: Survey, slots: number[], dst: LiveNode, src: LiveNode): Promise<void> {
  for (const n of [dst, src]) {
    const p = run.live.conn(n.addr).pipeline();
    for (const x of slots) p.call("CLUSTER", "SETSLOT", String(x), "NODE", dst.id);
    for (const [, [err]] of (await p.exec())!.entries()) {
      // A master that gave away its last slot follows the new owner by itself (cluster-allow-replica-migration):
      // it no longer takes SETSLOT, and needs none.
      if (err && !(n === src && /only with masters/i.test(err.message))) throw new Error(`SETSLOT NODE ${dst.name} on ${n.name}: ${err.message}`);
    }
  }
  for (const m of s.members) {
    if (m.role !== "master" || m.id === src.id || m.id === dst.id) continue;
    const p = run.live.conn(m.addr).pipeline();
    for (const x of slots) p.call("CLUSTER", "SETSLOT", String(x), "NODE", dst.id);
    await p.exec().catch(() => undefined); // gossip tells it as well
  }
}
