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

const TAG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
let tagTable: string[] | undefined;

/**
 * redis-benchmark's hash tag for a slot (its crc16_slot_table): the shortest alphanumeric string that hashes to the
 * slot, the first in ASCII order among those. Computed, not copied; the bench test checks it against redis-benchmark's keys.
 */
export function redisBenchmarkTag(slot: number): string {
  if (!tagTable) {
    const t: string[] = new Array(SLOT_COUNT);
    let found = 0;
    const visit = (s: string) => {
      const k = calculateSlot(s);
      if (t[k] === undefined) {
        t[k] = s;
        found++;
      }
    };
    for (const a of TAG_ALPHABET) visit(a);
    for (const a of TAG_ALPHABET) for (const b of TAG_ALPHABET) visit(a + b);
    for (const a of TAG_ALPHABET) for (const b of TAG_ALPHABET) for (const c of TAG_ALPHABET) visit(a + b + c);
    if (found !== SLOT_COUNT) throw new Error("redisBenchmarkTag: a slot without a tag of 3 characters or fewer");
    tagTable = t;
  }
  return tagTable[slot];
}

/**
 * The keys `redis-benchmark --cluster -r <count>` uses on a master whose first slot is `slot`: `key:{tag}:<12 digits>`
 * for 0 … count-1, the tag padded with `}` to 3 characters as redis-benchmark writes it. (redis-benchmark 7.0 keeps
 * every client of a master on that master's first slot.)
 */
export function redisBenchmarkKeys(slot: number, count: number): string[] {
  const tag = redisBenchmarkTag(slot).padEnd(3, "}");
  return Array.from({ length: count }, (_, i) => `key:{${tag}}:${String(i).padStart(12, "0")}`);
}
