// The canary's window view: counts of the last N ms from its snapshots, burn rates against the SLO, bounded history.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CanaryTally } from "../../../smoke/canary/view";

const SLO = { objective: 0.99, latencyThresholdMs: 100 };

describe("CanaryTally", () => {
  it("counts SLI ops only (set, get), failures and slow requests of every result", () => {
    const t = new CanaryTally(SLO, 1000, 10, 0);
    t.request("set", "ok", 5);
    t.request("get", "error", 1);
    t.request("get", "timeout", 1000);
    t.request("set", "ok", 150);
    t.request("replica_read", "timeout", 2000);
    assert.deepEqual({ ...t.totals }, { requests: 4, failed: 2, slow: 2, lost: 0, verified: 0, unreplicated: 0, topologyChanges: 0 });
  });

  it("a window subtracts the newest snapshot at least that old; burn = error ratio / (1 - objective)", () => {
    const t = new CanaryTally(SLO, 1000, 100, 0);
    for (let s = 1; s <= 10; s++) {
      // 10 requests per second; second 8 has 5 failures.
      for (let i = 0; i < 10; i++) t.request("set", s === 8 && i < 5 ? "error" : "ok", 1);
      t.sample(s * 1000);
    }
    t.totals.lost += 1;
    const last5 = t.view("x", 5000, 10_000);
    assert.equal(last5.coveredMs, 5000);
    // Snapshot at 5 s holds seconds 1-5 (50 requests); the totals hold 100.
    assert.equal(last5.requests, 50);
    assert.equal(last5.failed, 5);
    assert.equal(last5.lost, 1);
    assert.ok(Math.abs(last5.availabilityBurn - 5 / 50 / 0.01) < 1e-9, String(last5.availabilityBurn));
    assert.equal(last5.latencyBurn, 0);
    // A window before the failures: none of them.
    const last2 = t.view("x", 2000, 10_000);
    assert.equal(last2.failed, 0);
    assert.equal(last2.requests, 20);
  });

  it("a window longer than the canary's life covers its life, and says so", () => {
    const t = new CanaryTally(SLO, 1000, 100, 1000);
    t.request("get", "ok", 1);
    t.sample(3000);
    const v = t.view("x", 60_000, 4000);
    assert.equal(v.requestedMs, 60_000);
    assert.equal(v.coveredMs, 3000);
    assert.equal(v.requests, 1);
    assert.equal(v.startedAt, new Date(1000).toISOString());
    assert.equal(t.view("x", 1000, 4000).availabilityBurn, 0, "no requests: no burn (not NaN)");
  });

  it("history is bounded: the oldest snapshots are dropped, and a snapshot is kept at most once per period", () => {
    const t = new CanaryTally(SLO, 1000, 5, 0);
    for (let ms = 0; ms <= 20_000; ms += 250) {
      t.request("set", "ok", 1);
      t.sample(ms);
    }
    // 5 snapshots kept, one per second: the oldest is 16 s.
    const v = t.view("x", 3_600_000, 20_000);
    assert.equal(v.coveredMs, 4000);
  });
});
