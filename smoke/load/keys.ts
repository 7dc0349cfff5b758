// Keys of the load generator: one per hash slot, so traffic covers all 16384 slots (cluster-key-slot computes the slot
// exactly as the servers and ioredis do).
import calculateSlot = require("cluster-key-slot");
import { SLOT_COUNT } from "../topology";

/** keys[slot] is a key of `prefix` that hashes to `slot`; every slot gets one (found by probing suffixes, bounded). */
export function keysPerSlot(prefix: string): string[] {
  const keys: string[] = new Array(SLOT_COUNT);
  let missing = SLOT_COUNT;
  // Coupon collector: ~SLOT_COUNT * ln(SLOT_COUNT) ≈ 160k probes; the bound is far above that.
  for (let i = 0; missing > 0 && i < SLOT_COUNT * 64; i++) {
    const k = `${prefix}:${i}`;
    const s = calculateSlot(k);
    if (keys[s] === undefined) {
      keys[s] = k;
      missing--;
    }
  }
  if (missing > 0) throw new Error(`keysPerSlot(${prefix}): ${missing} slots without a key`);
  return keys;
}

/** The keys of the given inclusive slot ranges, in slot order. */
export function keysOfSlots(all: string[], ranges: [number, number][]): string[] {
  const out: string[] = [];
  for (const [a, b] of ranges) for (let s = a; s <= b; s++) out.push(all[s]);
  return out;
}
