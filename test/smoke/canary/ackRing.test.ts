// Pure: the bounded queue of acknowledged writes awaiting their re-read.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AckRing } from "../../../smoke/canary/ackRing";

const write = (r: AckRing, ackedAt: number) => {
  const { seq, key } = r.next();
  const w = { seq, key, value: `v${seq}`, ackedAt };
  r.acked(w);
  return w;
};

test("keys are reused every `capacity` writes, and a pending write whose key comes round again is dropped unverified", () => {
  const r = new AckRing(3, (i) => `k${i}`);
  const ws = [0, 1, 2].map((i) => write(r, i));
  assert.deepEqual(ws.map((w) => w.key), ["k0", "k1", "k2"]);
  assert.equal(r.size, 3);
  const w3 = write(r, 3);
  assert.equal(w3.key, "k0");
  assert.equal(r.size, 3);
  assert.equal(r.unverified, 1);
  assert.deepEqual(r.due(100, 0, 10).map((w) => w.seq), [1, 2, 3]);
});

test("writes that were not acknowledged still advance the keys: memory and keys stay bounded either way", () => {
  const r = new AckRing(4, (i) => `k${i}`);
  write(r, 0);
  for (let i = 0; i < 10; i++) r.next();
  assert.equal(r.size, 0);
  assert.equal(r.last, undefined, "the last acknowledged write's key has been reused");
});

test("due: oldest first, only old enough, at most `max`; settle and expire remove", () => {
  const r = new AckRing(100, (i) => `k${i}`);
  const ws = [0, 10, 20, 30].map((t) => write(r, t));
  assert.deepEqual(r.due(25, 10, 10).map((w) => w.ackedAt), [0, 10]);
  assert.deepEqual(r.due(100, 10, 3).map((w) => w.ackedAt), [0, 10, 20]);
  r.settle(ws[1]);
  assert.deepEqual(r.due(100, 0, 10).map((w) => w.ackedAt), [0, 20, 30]);
  r.expire(45, 20);
  assert.deepEqual(r.due(100, 0, 10).map((w) => w.ackedAt), [30]);
  assert.equal(r.unverified, 2);
  assert.equal(r.last, ws[3]);
});
