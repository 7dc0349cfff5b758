// Unit tests: report formatting, slot-map analysis, ioredis failover options, CLI usage errors, per-check
// cancellation, the outage writer and the benchmark arithmetic (no cluster needed).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { failoverRetryOptions } from "../../smoke/clients";
import { buildProgram, main, TERMINATION_LOG_BYTES } from "../../smoke/cli";
import { errorKind, OutageWriter } from "../../smoke/checks/failover";
import { Aborted, SmokeContext } from "../../smoke/context";
import { checkLine, failureDigest, formatMs, progressLine, redact, summaryTable, toJson, truncateBytes } from "../../smoke/report";
import { validateOptions } from "../../smoke/run";
import { analyzeSlotMaps, formatRanges, openSlots, parseClusterNodes, parseInfo, parseReplicaLines } from "../../smoke/topology";
import { parseRedisBenchmarkCsv, parseTimes, ratioOf } from "../../tools/bench/bench";
import { limitOf } from "../../smoke/load/usage";
import { LatencyHistogram } from "../../smoke/load/histogram";
import type { Cluster } from "ioredis";
import { DEFAULT_OPTIONS, SmokeUsageError, type SmokeReport } from "../../smoke/types";

const report = (over: Partial<SmokeReport> = {}): SmokeReport => ({
  ok: false,
  exit_code: 1,
  started_at: "2026-01-01T00:00:00.000Z",
  duration_ms: 12_345,
  target: { nodes: ["127.0.0.1:7001", "127.0.0.1:7002"], password: "set", failover: "kill" },
  checks: [
    { name: "connect", ok: true, status: "passed", duration_ms: 12, details: "6 nodes reachable", problems: [], measurements: { nodes: 6 } },
    {
      name: "slots", ok: false, status: "failed", duration_ms: 1530, details: "2 problems: 100 slot(s) not assigned",
      problems: ["100 slot(s) not assigned to any master: 100-199", "master 127.0.0.1:7002 (abcdef) has 0 replica(s), expected 1"],
      measurements: { slots_covered: 16284 },
    },
    { name: "distribution", ok: false, status: "not-run", duration_ms: 0, details: "not run: the slots check failed", problems: [], measurements: {} },
    { name: "auth", ok: true, status: "not-applicable", duration_ms: 0, details: "no password given", problems: [], measurements: {} },
  ],
  ...over,
});

describe("report formatting", () => {
  it("formats durations and progress lines", () => {
    assert.equal(formatMs(12.4), "12 ms");
    assert.equal(formatMs(1530), "1.53 s");
    assert.equal(formatMs(12_345), "12.3 s");
    assert.equal(progressLine(3456, "slots: running"), "[   3.5s] slots: running");
  });

  it("prints one line per finished check with its verdict", () => {
    assert.equal(checkLine(report().checks[0]), "PASS connect (12 ms): 6 nodes reachable");
    assert.equal(checkLine(report().checks[2]), "SKIP distribution (0 ms): not run: the slots check failed");
  });

  it("renders an aligned table, every problem of failed checks, and the verdict", () => {
    const t = summaryTable(report());
    const lines = t.split("\n");
    assert.match(lines[0], /^check\s+result\s+time\s+details$/);
    // The result column starts at the same offset on every row.
    const col = lines[0].indexOf("result");
    for (const l of lines.slice(2, 6)) assert.match(l.slice(col, col + 4), /PASS|FAIL|SKIP|n\/a/);
    assert.match(t, /Problems:\n  - slots: 100 slot\(s\) not assigned to any master: 100-199\n  - slots: master 127\.0\.0\.1:7002/);
    assert.match(t, /Smoke test FAILED \(1 passed, 1 failed, 1 not run, 1 n\/a\) in 12\.3 s against 127\.0\.0\.1:7001,127\.0\.0\.1:7002 \[exit 1\]/);
    assert.match(summaryTable(report({ ok: true, exit_code: 0, checks: [report().checks[0]] })), /Smoke test PASSED/);
  });

  it("the verdict counts every check: n/a ones too, and says nothing of n/a when there is none", () => {
    const [connect, , , auth] = report().checks;
    const oldPasswords = { ...auth, name: "old-passwords" as const, details: "not run: no rotation recorded (no retired password given)" };
    const ok = (checks: SmokeReport["checks"]) => summaryTable(report({ ok: true, exit_code: 0, checks }));
    // The shape of a first deploy: 8 checks pass, old-passwords does not apply; 8 + 1 = the 9 rows of the table.
    assert.match(ok([...Array(8).fill(connect), oldPasswords]), /Smoke test PASSED \(8 passed, 0 failed, 0 not run, 1 n\/a\) in /);
    assert.match(ok([connect, auth, oldPasswords]), /\(1 passed, 0 failed, 0 not run, 2 n\/a\) in /);
    // No n/a check: the line is exactly as before (other tests and the README quote it).
    assert.match(ok(Array(9).fill(connect)), /Smoke test PASSED \(9 passed, 0 failed, 0 not run\) in /);
  });

  it("digests failures for stderr / the Pulumi error, empty when passed", () => {
    assert.equal(failureDigest(report({ ok: true, exit_code: 0 })), "");
    const d = failureDigest(report({ error: "no seed node answered" }));
    assert.match(d, /^smoke test FAILED \(exit 1\):\n  - no seed node answered\n  - slots: 100 slot\(s\) .* \| master 127\.0\.0\.1:7002/);
  });

  it("JSON report: every check has name, ok, duration_ms, details, measurements", () => {
    const j = JSON.parse(toJson(report()));
    for (const c of j.checks) for (const k of ["name", "ok", "duration_ms", "details", "measurements"]) assert.ok(k in c, k);
    assert.equal(j.target.password, "set");
  });

  it("redacts a secret everywhere", () => {
    assert.equal(redact("a pw123 b pw123", "pw123"), "a *** b ***");
    assert.equal(redact("text", undefined), "text");
  });

  it("latency histogram: percentiles within HDR precision, batches count every command, survives encoding", () => {
    const h = new LatencyHistogram();
    for (let us = 1; us <= 10_000; us++) h.record(us);
    h.record(50_000, 20); // one pipelined batch of 20 commands that took 50 ms
    const s = h.summary();
    assert.equal(s.count, 10_020);
    assert.ok(Math.abs(s.p50Ms - 5.01) < 0.01, `p50 ${s.p50Ms}`);
    assert.ok(Math.abs(s.p99Ms - 9.91) < 0.02, `p99 ${s.p99Ms}`);
    assert.ok(Math.abs(s.p999Ms - 50) < 0.1, `p99.9 ${s.p999Ms}: the 20 batched commands are the top 0.2%`);
    assert.ok(Math.abs(s.maxMs - 50) < 0.1);
    // Worker-style transfer: the encoded form keeps counts and percentiles; max is known to the bucket (0.1%).
    const d = LatencyHistogram.decode(h.encode()).summary();
    assert.deepEqual([d.count, d.p50Ms, d.p99Ms], [s.count, s.p50Ms, s.p99Ms]);
    assert.ok(Math.abs(d.p999Ms - s.p999Ms) <= s.p999Ms * 0.001 && Math.abs(d.maxMs - s.maxMs) <= s.maxMs * 0.001, JSON.stringify([d, s]));
  });
});

describe("slot map analysis", () => {
  const nodes = (slotsA: string) => parseClusterNodes(
    [
      `aaaaaa0000000000000000000000000000000000 10.0.0.1:6379@16379,node-a myself,master - 0 0 1 connected ${slotsA}`,
      "bbbbbb0000000000000000000000000000000000 10.0.0.2:6379@16379 master - 0 0 2 connected 5461-10922 [5460->-aaaaaa]",
      "cccccc0000000000000000000000000000000000 10.0.0.3:6379@16379 master - 0 0 3 connected 10923-16383",
      "dddddd0000000000000000000000000000000000 10.0.0.4:6379@16379 slave aaaaaa0000000000000000000000000000000000 0 0 1 connected",
      "eeeeee0000000000000000000000000000000000 :0@0 master,noaddr - 0 0 0 disconnected",
    ].join("\n"),
  );
  const label = (id: string) => id.slice(0, 6);

  it("parses CLUSTER NODES lines (hostname, replicas, migrating markers, noaddr)", () => {
    const l = nodes("0-5460");
    assert.equal(l[0].addr, "10.0.0.1:6379");
    assert.equal(l[0].hostname, "node-a");
    assert.deepEqual(l[1].slots, [[5461, 10922]]);
    assert.equal(l[3].masterId, "aaaaaa0000000000000000000000000000000000");
    assert.equal(l[4].addr, "");
    assert.deepEqual(l[1].migrating, [{ slot: 5460, to: "aaaaaa" }]);
    assert.deepEqual(l[1].importing, []);
  });

  it("reports open slots (MIGRATING / IMPORTING markers) with both sides named", () => {
    const a = parseClusterNodes("aaaaaa0000000000000000000000000000000000 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-5460 [100->-bbbbbb0000000000000000000000000000000000]");
    const b = parseClusterNodes("bbbbbb0000000000000000000000000000000000 10.0.0.2:6379@16379 myself,master - 0 0 2 connected 5461-10922 [100-<-aaaaaa0000000000000000000000000000000000]");
    assert.deepEqual(a[0].slots, [[0, 5460]]);
    assert.deepEqual(b[0].importing, [{ slot: 100, from: "aaaaaa0000000000000000000000000000000000" }]);
    const open = openSlots([{ node: "a", lines: a }, { node: "b", lines: b }], label);
    assert.equal(open.length, 1);
    assert.match(open[0].message, /^open slot 100 \(aaaaaa migrating to bbbbbb; bbbbbb importing from aaaaaa\)/);
    assert.deepEqual(openSlots([{ node: "x", lines: nodes("0-5460") }].slice(0, 0), label), []);
  });

  it("finds nothing wrong in a complete, agreed map", () => {
    const a = analyzeSlotMaps([{ node: "x", lines: nodes("0-5460") }, { node: "y", lines: nodes("0-5460") }], label);
    assert.deepEqual(a, { uncovered: [], duplicated: [], disagreements: [] });
  });

  it("names uncovered ranges and who sees them", () => {
    const a = analyzeSlotMaps([{ node: "x", lines: nodes("0-99 200-5460") }, { node: "y", lines: nodes("0-99 200-5460") }], label);
    assert.deepEqual(a.uncovered, [{ ranges: "100-199", count: 100, nodes: ["x", "y"] }]);
  });

  it("names slots claimed twice in one view", () => {
    const a = analyzeSlotMaps([{ node: "x", lines: nodes("0-5461") }], label);
    assert.deepEqual(a.duplicated, [{ ranges: "5461", node: "x", owners: ["aaaaaa", "bbbbbb"] }]);
  });

  it("names contested ranges with who says what", () => {
    const a = analyzeSlotMaps([{ node: "x", lines: nodes("0-5460") }, { node: "y", lines: nodes("0-99") }], label);
    assert.deepEqual(a.disagreements, [{ ranges: "100-5460", count: 5361, claims: [{ owner: "aaaaaa", nodes: ["x"] }, { owner: "nobody", nodes: ["y"] }] }]);
  });

  it("formats ranges and parses INFO", () => {
    assert.equal(formatRanges([5, 1, 2, 3, 9]), "1-3,5,9");
    const info = parseInfo("# Replication\r\nrole:master\r\nslave0:ip=10.0.0.4,port=6379,state=online,offset=42,lag=1\r\nmaster_repl_offset:50\r\n");
    assert.equal(info.role, "master");
    assert.deepEqual(parseReplicaLines(info), [{ addr: "10.0.0.4:6379", state: "online", offset: 42, lag: 1 }]);
  });
});

describe("ioredis failover options", () => {
  it("retryDelayOnFailover x maxRedirections outlasts cluster-node-timeout (with margin)", () => {
    for (const nt of [500, 2000, 5000, 15_000, 60_000]) {
      const o = failoverRetryOptions(nt);
      assert.ok(o.retryDelayOnFailover! * o.maxRedirections! > nt, `node timeout ${nt}`);
      assert.ok(o.retryDelayOnFailover! * o.maxRedirections! >= 2 * nt, `margin at ${nt}`);
      assert.ok(o.retryDelayOnClusterDown! * o.maxRedirections! > nt);
    }
  });
});

describe("termination message and error kinds", () => {
  it("truncates by UTF-8 bytes, never splitting a character", () => {
    assert.equal(truncateBytes("short", 4096), "short");
    const long = "é".repeat(3000); // 6000 bytes
    const t = truncateBytes(long, TERMINATION_LOG_BYTES);
    assert.ok(Buffer.byteLength(t) <= 4096, `${Buffer.byteLength(t)} bytes`);
    assert.ok(Buffer.byteLength(t) >= 4090);
    assert.ok(t.endsWith("…") && !t.includes("\uFFFD"));
    assert.ok(Buffer.byteLength(truncateBytes("x".repeat(5000), 4096)) <= 4096);
  });

  it("keeps the first words of an error (numbers folded)", () => {
    assert.equal(errorKind("Command timed out"), "Command timed out");
    assert.equal(errorKind("CLUSTERDOWN The cluster is down"), "CLUSTERDOWN The cluster is");
    assert.equal(errorKind("MOVED 866 127.0.0.1:7002"), "MOVED # #.#.#.#:#");
    assert.equal(errorKind("Connection is closed."), "Connection is closed");
  });
});

describe("per-check cancellation", () => {
  const base = { ...DEFAULT_OPTIONS, nodes: ["127.0.0.1:1"] };

  it("a check keeps its own signal: once aborted, it stays aborted while the next check runs", async () => {
    const run = new SmokeContext(base, () => {});
    const first = new AbortController();
    const a = run.forCheck(first.signal);
    const pending = a.sleep(10_000);
    first.abort();
    await assert.rejects(pending, Aborted);
    const b = run.forCheck(new AbortController().signal);
    assert.doesNotThrow(() => b.checkpoint());
    assert.throws(() => a.checkpoint(), Aborted, "the timed-out check is still aborted");
    await assert.rejects(a.waitFor("x", 1000, async () => undefined), Aborted);
    // Shared state is shared.
    a.nodes = ["n1"];
    assert.deepEqual(b.nodes, ["n1"]);
    run.close();
    assert.throws(() => b.checkpoint(), Aborted, "nothing runs after close()");
    assert.throws(() => b.cluster(), Aborted);
    await assert.rejects(b.pool.get("127.0.0.1:1"), /closed/);
  });

  /** A fake Cluster client whose SET + WAIT pipeline answers per `answer()`. */
  const fakeClient = (answer: () => Promise<[Error | null, unknown][]>) =>
    ({ pipeline: () => { const p = { set: () => p, call: () => p, exec: answer }; return p; }, refreshSlotsCache: () => undefined }) as unknown as Cluster;
  const topo = () => ({ masters: [], ownerBySlot: new Array(16384).fill("m:1") });

  it("the outage writer stops on abort and counts an outage that lasts until stop()", async () => {
    const ac = new AbortController();
    const ctx = new SmokeContext(base, () => {}).forCheck(ac.signal);
    ctx.topology = topo();
    const w = new OutageWriter(ctx, fakeClient(async () => { throw new Error("Command timed out"); }), "m:1");
    w.start();
    await new Promise((r) => setTimeout(r, 300));
    ac.abort();
    await w.stop();
    const n = w.attempts;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(w.attempts, n, "no attempt after abort");
    assert.ok(w.unavailableMs >= 250, `unavailable ${w.unavailableMs} ms`);
    assert.equal(w.firstOkSince, undefined);
    assert.match(String(w.measurements().write_error_kinds), /^Command timed out×\d+$/);
  });

  it("the outage writer records the first accepted and acknowledged writes after the promotion", async () => {
    const ctx = new SmokeContext(base, () => {}).forCheck(new AbortController().signal);
    ctx.topology = topo();
    let acks = 0;
    const w = new OutageWriter(ctx, fakeClient(async () => [[null, "OK"], [null, acks]]), "m:1");
    w.start();
    await new Promise((r) => setTimeout(r, 50));
    w.since = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(w.firstOkSince !== undefined && w.firstAckedSince === undefined);
    acks = 1;
    await new Promise((r) => setTimeout(r, 50));
    await w.stop();
    assert.ok(w.firstAckedSince! >= w.firstOkSince!);
    assert.equal(w.unavailableMs, 0);
  });
});

describe("benchmark arithmetic", () => {
  it("a row with errors on either side gets no ratio", () => {
    assert.equal(ratioOf({ opsPerSec: 80_000, errors: 0 }, { opsPerSec: 100_000, errors: 0 }), 0.8);
    assert.equal(ratioOf({ opsPerSec: 80_000, errors: 3 }, { opsPerSec: 100_000, errors: 0 }), undefined);
    assert.equal(ratioOf({ opsPerSec: 80_000, errors: 0 }, undefined), undefined);
  });

  it("parses redis-benchmark --csv and the shell's `times`", () => {
    const csv = '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"\n"GET","197238.64","2.102","0.128","0.887","2.959","64.575","98.303"\n';
    assert.deepEqual(parseRedisBenchmarkCsv(csv), { GET: { opsPerSec: 197239, p50Ms: 0.887, p99Ms: 64.575, maxMs: 98.303 } });
    assert.equal(parseTimes("0m0.000000s 0m0.000000s\n0m1.080000s 0m0.160000s\n"), 1.24);
  });

  it("names what limited a run: one server's core, the machine, the client, else round trips", () => {
    const node = (addr: string, cpuPct: number) => ({ addr, role: "master" as const, opsPerSec: 1, cpuPct });
    const base = { clientCpuPct: 40, serversCpuPct: 60, cores: 2 };
    assert.match(limitOf({ ...base, nodes: [node("a:1", 20), node("b:1", 95)] }, 1), /^server CPU: b:1 \(master\) used 95%/);
    assert.match(limitOf({ ...base, nodes: [node("a:1", 30)], machineBusyPct: 195, otherCpuPct: 95 }, 1), /^machine CPU: 195% of 200% busy \(client 40%, servers 60%, other processes 95%\)/);
    assert.match(limitOf({ ...base, clientCpuPct: 97, nodes: [node("a:1", 30)], machineBusyPct: 130 }, 1), /^client CPU: 97% of 100%/);
    assert.match(limitOf({ ...base, nodes: [node("a:1", 30)], machineBusyPct: 100 }, 1), /^no CPU saturated .*round trips/);
  });
});

describe("CLI usage", () => {
  const quietMain = async (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const write = process.stderr.write.bind(process.stderr);
    let err = "";
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
    try {
      return { code: await main(argv, env), err };
    } finally {
      process.stderr.write = write;
    }
  };

  it("exit 2 without --nodes, on a bad --failover, on an unset password variable", async () => {
    assert.equal((await quietMain([])).code, 2);
    assert.equal((await quietMain(["--nodes", "127.0.0.1:1", "--failover", "explode"])).code, 2);
    const r = await quietMain(["--nodes", "127.0.0.1:1", "--password-env", "NOPE_NOT_SET"], {});
    assert.equal(r.code, 2);
    assert.match(r.err, /NOPE_NOT_SET \(--password-env\) is not set/);
  });

  it("--help documents the exit codes", () => {
    let out = "";
    buildProgram().configureOutput({ writeOut: (t) => (out += t) }).outputHelp();
    assert.match(out, /Exit codes:\n\s+0\s+every check passed\n\s+1\s+a check failed.*\n\s+2\s+usage or connection problem: .*no seed answered, wrong or missing password/);
  });

  it("has no flag that takes the password itself", () => {
    assert.ok(!/--password[ =<]/.test(buildProgram().helpInformation()));
  });

  it("rejects impossible option combinations", () => {
    const base = { ...DEFAULT_OPTIONS, nodes: ["127.0.0.1:7001"] };
    assert.throws(() => validateOptions({ ...base, failover: "kill", expectReplicas: 0 }), SmokeUsageError);
    assert.throws(() => validateOptions({ ...base, nodes: ["nope"] }), /not a host:port/);
    assert.doesNotThrow(() => validateOptions(base));
  });
});
