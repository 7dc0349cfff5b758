// The scale bench's goal lines (no cluster): the throughput goal at the key count only; no failed or
// unacknowledged write at every count.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GOAL_KEYS, goalLines, REDIS_CLI, type BenchRow } from "../../../tools/scale/bench";

const STEP = "scale step (defaults)";
const row = (tool: string, keys: number, keysPerSec: number, failed = 0, unacked = 0): BenchRow => ({
  tool, keys, ms: 1000, slots: 4096, keysMoved: keys / 4, slotsPerSec: 1000, keysPerSec, lost: 0, unreadable: 0, load: "0 0 0",
  writes: { attempts: 100, acked: 100 - failed - unacked, unacked, failed, redirects: 0, longestErrorRunMs: 0, slowestMs: 1, samples: [] },
});

test("at the goal's key count: >= 1.5x redis-cli's keys/s and no failed or unacknowledged write", () => {
  assert.equal(GOAL_KEYS, 100_000);
  const [fast] = goalLines([row(STEP, GOAL_KEYS, 6000), row(REDIS_CLI.label, GOAL_KEYS, 3000)], STEP);
  assert.equal(fast.met, true);
  assert.match(fast.line, /^goal: scale step at 100000 keys >= 1\.5x redis-cli's keys\/s .*: 2\.00x, 0 failed, 0 unacknowledged, 0 lost: met$/);
  assert.equal(goalLines([row(STEP, GOAL_KEYS, 4000), row(REDIS_CLI.label, GOAL_KEYS, 3000)], STEP)[0].met, false);
  assert.equal(goalLines([row(STEP, GOAL_KEYS, 6000, 1), row(REDIS_CLI.label, GOAL_KEYS, 3000)], STEP)[0].met, false);
});

test("at another key count the ratio is shown without a goal; a failed or unacknowledged write is still NOT met", () => {
  const goalRows = [row(STEP, GOAL_KEYS, 6000), row(REDIS_CLI.label, GOAL_KEYS, 3000)];
  const at10k = (rows: BenchRow[]) => goalLines([...rows, ...goalRows], STEP).find((g) => g.line.includes("at 10000 keys"))!;
  const slow = at10k([row(STEP, 10_000, 500), row(REDIS_CLI.label, 10_000, 400)]);
  assert.equal(slow.met, true);
  assert.match(slow.line, /^goal: scale step at 10000 keys with 0 failed and 0 unacknowledged writes: 0 failed, 0 unacknowledged, 0 lost \(1\.25x .*at 100000 keys\): met$/);
  assert.equal(at10k([row(STEP, 10_000, 5000, 0, 2), row(REDIS_CLI.label, 10_000, 400)]).met, false);
});

test("rows without the goal's key count: the goal line says it was not measured, NOT met; no rows, no line", () => {
  const lines = goalLines([row(STEP, 10_000, 500), row(REDIS_CLI.label, 10_000, 400)], STEP);
  assert.equal(lines.length, 2);
  assert.deepEqual([lines[0].met, lines[0].line], [false, "goal: scale step at 100000 keys >= 1.5x redis-cli's keys/s: not measured (no 100000-key row): NOT met"]);
  assert.deepEqual(goalLines([], STEP), []);
});
