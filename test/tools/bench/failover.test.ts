// The failover bench's goal line (no cluster): every run must pass and resume writes within 1 s of its promotion.
import { test } from "node:test";
import assert from "node:assert/strict";
import { resumeGoal, type Run } from "../../../tools/bench/failover";

const run = (ok: boolean, resumed?: number): Run => ({ way: "kill", run: 1, ok, measurements: resumed === undefined ? {} : { writes_resumed_after_promotion_ms: resumed } });

test("met when every run passed within 1000 ms of its promotion; the worst run is the value", () => {
  const g = resumeGoal("kill", [run(true, 40), run(true, 1000), run(true, -12)]);
  assert.equal(g.met, true);
  assert.equal(g.worst, 1000);
  assert.deepEqual(g.runs, [40, 1000, -12]);
  assert.match(g.goal, /≤ 1000 ms after the promotion, kill/);
});

test("NOT met: one run over 1 s, a failed run, a run without a resume time, or no run at all", () => {
  assert.equal(resumeGoal("kill", [run(true, 40), run(true, 1001)]).met, false);
  assert.equal(resumeGoal("kill", [run(true, 40), run(false, 30)]).met, false);
  const unknown = resumeGoal("freeze", [run(true, 40), run(false)]);
  assert.equal(unknown.met, false);
  assert.equal(unknown.worst, 40);
  assert.equal(resumeGoal("freeze", []).met, false);
});
