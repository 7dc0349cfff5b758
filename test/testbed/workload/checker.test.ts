// The checker and the report on hand-made histories: what counts as lost, how unavailability windows and per-fault
// rows are computed, and that a failed final check fails the verdict.
import { test } from "node:test";
import assert from "node:assert/strict";
import { check, unavailability, type FinalChecks } from "../../../testbed/workload/checker";
import type { History, WriteOp } from "../../../testbed/workload/history";
import { availabilitySvg, markdownTable, summary } from "../../../tools/chaos/report";

const op = (o: Partial<WriteOp> & Pick<WriteOp, "key" | "start" | "end">): WriteOp => ({ worker: 0, shard: 0, mode: "plain", value: `v-${o.key}`, outcome: "ok", ...o });
const clean: FinalChecks = { clusterCheck: { code: 0, output: "[OK] All 16384 slots covered." }, replicas: [{ master: "a", replica: "b", equal: true, detail: "" }] };

function history(ops: WriteOp[]): History {
  return {
    shards: 2,
    ops,
    durationMs: 10_000,
    faults: [{ name: "partition-master", target: "node-0", shard: 0, start: 3000, healed: 6000, recovered: 7000, recoveredOk: true, promotionMs: 2500 }],
  };
}

test("acknowledged writes missing at the end are lost, by kind; refused and timed-out writes are not", () => {
  const ops = [
    op({ key: "a", start: 0, end: 10 }),
    op({ key: "b", start: 3100, end: 3110 }), // plain, lost in the partition
    op({ key: "c", start: 3200, end: 3210, mode: "wait", replicas: 1 }), // WAIT-acked, lost: a real failure
    op({ key: "d", start: 3300, end: 3310, mode: "wait", replicas: 0 }), // WAIT saw no replica
    op({ key: "e", start: 3400, end: 3410, outcome: "fail" }),
    op({ key: "f", start: 3500, end: 3510, outcome: "unknown" }),
    op({ key: "g", start: 8000, end: 8010, shard: 1 }),
  ];
  const values = new Map<string, string | null>([["a", "v-a"], ["b", null], ["c", "other"], ["d", null], ["g", "v-g"]]);
  const v = check(history(ops), values, clean);
  assert.deepEqual(v.lost.plain.map((o) => o.key), ["b"]);
  assert.deepEqual(v.lost.wait.map((o) => o.key), ["c"]);
  assert.deepEqual(v.lost.unreplicated.map((o) => o.key), ["d"]);
  assert.equal(v.rows[0].lostWait, 1);
  assert.equal(v.rows[0].lostPlain, 1);
  assert.ok(v.failures.some((f) => /1 WAIT-acknowledged writes lost/.test(f)), v.failures.join("\n"));
  assert.ok(v.explained.some((e) => /asynchronously/.test(e)));
  assert.match(markdownTable(v), /\| 1 \| partition-master \| node-0 \|.* 1 \/ 1 \(1\) \|/);
  assert.match(summary(v, history(ops)), /verdict: FAIL/);
});

test("unavailability: gaps between successful writes longer than 1 s, per shard, attributed to the overlapping fault", () => {
  const ops: WriteOp[] = [];
  for (let t = 0; t < 10_000; t += 100) {
    // shard 0 has no success between 3000 and 5500
    if (t < 3000 || t >= 5500) ops.push(op({ key: `s0-${t}`, start: t, end: t + 5 }));
    else ops.push(op({ key: `s0-${t}`, start: t, end: t + 5, outcome: "fail" }));
    ops.push(op({ key: `s1-${t}`, start: t, end: t + 5, shard: 1 }));
  }
  const w = unavailability(history(ops));
  assert.equal(w.length, 1);
  assert.equal(w[0].shard, 0);
  assert.equal(w[0].start, 2905);
  assert.equal(w[0].end, 5505);
  const v = check(history(ops), new Map(ops.map((o) => [o.key, o.value])), clean);
  assert.equal(v.rows[0].targetShardUnavailableMs, 5505 - 3000);
  assert.deepEqual(v.failures, []);
  assert.match(availabilitySvg(v, history(ops)), /<svg[\s\S]*partition-master[\s\S]*fill="#d33"[\s\S]*<\/svg>/);
});

test("a dirty --cluster check, differing replicas or a fault without recovery fail the verdict", () => {
  const h = history([op({ key: "a", start: 0, end: 10 })]);
  h.faults[0].recoveredOk = false;
  const v = check(h, new Map([["a", "v-a"]]), { clusterCheck: { code: 1, output: "[ERR] Not all 16384 slots are covered" }, replicas: [{ master: "a", replica: "b", equal: false, detail: "keys 3/2" }] });
  assert.equal(v.clusterCheckClean, false);
  assert.equal(v.replicasEqual, false);
  assert.equal(v.failures.length, 3, v.failures.join("\n"));
});
