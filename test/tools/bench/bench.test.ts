// The bench's own arithmetic and options (no cluster): row groups a short run may pick, client CPU per million commands.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BENCH_ROWS, cpuPerMillion, rowsProblems } from "../../../tools/bench/bench";

test("--rows takes the row groups by name and names the unknown ones with the choices", () => {
  assert.deepEqual(rowsProblems(BENCH_ROWS.join(",")), []);
  assert.deepEqual(rowsProblems("same,default"), []);
  assert.deepEqual(rowsProblems("sme"), [`--rows: unknown sme (choose from ${BENCH_ROWS.join(",")})`]);
  assert.deepEqual(rowsProblems("same,shape,x"), [`--rows: unknown shape, x (choose from ${BENCH_ROWS.join(",")})`]);
});

test("client CPU per million commands: seconds, two decimals; none without commands", () => {
  assert.equal(cpuPerMillion(1810, 200_000), 9.05);
  assert.equal(cpuPerMillion(1040, 1_600_000), 0.65);
  assert.equal(cpuPerMillion(5, 0), undefined);
});
