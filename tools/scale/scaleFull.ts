// `npm run scale:full` (not part of npm test): the FULL scaling scenario on real redis-server processes and the bench.
//   1. 50 000 keys, a writer acknowledging every write with WAIT running all the time, 3x1 -> 4x1 -> 3x1 -> 3x2 -> 3x1,
//      each step as `pulumi up` orders it (local/scaleCluster.ts: resize) and followed by the smoke checks: every key
//      readable, slot shares within 10 %, 0 WAIT-acknowledged writes lost, the writer's errors and error window.
//   2. Bench: keys/s and slots/s moved for 3x1 -> 4x1 with the writer running, the scale step vs
//      `redis-cli --cluster add-node` + `rebalance --cluster-use-empty-masters` on a fresh cluster with the same data.
// Exit 1 when any check fails. `--keys N` (default 50 000), `--json <file>`.
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { writeFileSync } from "node:fs";
import { Command } from "commander";
import { startLocalCluster, type LocalCluster } from "../../testbed/local/harness";
import { addNode, clusterClient, resize, seedKeys, topology, WaitWriter, type WriterStats } from "../../testbed/local/scaleCluster";
import type { ScaleResult } from "../../infra/scale/scaler";
import { sleep } from "../../smoke/time";
import { parseInfo } from "../../smoke/topology";

const execFileAsync = promisify(execFile);

interface StepReport {
  step: string;
  ms: number;
  slotsMoved: number;
  keysMoved: number;
  codes: number[];
  shares: number[];
  maxDeviationPct: number;
  replicas: number[];
  unreadable: number;
  lost: number;
  writer: Pick<WriterStats, "attempts" | "acked" | "errors" | "redirects" | "longestErrorWindowMs" | "errorSamples">;
  ok: boolean;
}

const delta = (a: WriterStats, b: WriterStats) => ({
  attempts: b.attempts - a.attempts, acked: b.acked - a.acked, errors: b.errors - a.errors, redirects: b.redirects - a.redirects,
  longestErrorWindowMs: b.longestErrorWindowMs, errorSamples: b.errorSamples.slice(a.errorSamples.length),
});

async function fullScenario(keys: number): Promise<StepReport[]> {
  const c = await startLocalCluster({ password: "scale-full-pw", nodeTimeoutMs: 2000 });
  const client = clusterClient(c);
  const reports: StepReport[] = [];
  try {
    await client.connect();
    await seedKeys(client, keys);
    const writer = new WaitWriter(client, keys);
    writer.start();
    for (const [m, r] of [[4, 1], [3, 1], [3, 2], [3, 1]] as const) {
      const before = { ...writer.stats, errorSamples: [...writer.stats.errorSamples] };
      writer.stats.longestErrorWindowMs = 0;
      const t0 = Date.now();
      const res: ScaleResult[] = await resize(c, m, r, { log: (l) => process.stderr.write(`  ${l}\n`) });
      const ms = Date.now() - t0;
      const t = topology(c);
      const check = await writer.lost();
      const rep: StepReport = {
        step: `-> ${m}x${r}`, ms, slotsMoved: res.reduce((n, x) => n + x.slotsMoved, 0), keysMoved: res.reduce((n, x) => n + x.keysMoved, 0),
        codes: res.map((x) => x.code), shares: t.shares, maxDeviationPct: Number(t.maxDeviationPct.toFixed(2)), replicas: t.replicas,
        unreadable: check.unreadable.length, lost: check.lost.length, writer: delta(before, writer.stats),
        ok: res.every((x) => x.code === 0) && t.masters === m && t.replicas.every((x) => x === r) && t.maxDeviationPct < 10 && !check.unreadable.length && !check.lost.length,
      };
      reports.push(rep);
      process.stdout.write(`${JSON.stringify(rep)}\n`);
    }
    await writer.finish();
  } finally {
    client.disconnect();
    await c.stop();
  }
  return reports;
}

interface BenchRow {
  tool: string;
  ms: number;
  slots: number;
  keys: number;
  slotsPerSec: number;
  keysPerSec: number;
  writerErrors: number;
  lost: number;
}

async function benchOne(tool: "scale step" | "scale step, --slot-group 8" | "redis-cli rebalance", keys: number): Promise<BenchRow> {
  const c = await startLocalCluster({ password: "scale-bench-pw", nodeTimeoutMs: 2000 });
  const client = clusterClient(c);
  try {
    await client.connect();
    await seedKeys(client, keys);
    const writer = new WaitWriter(client, keys);
    writer.start();
    await addNode(c);
    await addNode(c);
    const keysOn = (i: number) => Number(c.cli(i, ["dbsize"]).stdout.trim());
    let ms = 0;
    let slots = 0;
    if (tool !== "redis-cli rebalance") {
      const t0 = Date.now();
      const res = await resize(c, 4, 1, tool === "scale step" ? {} : { slotGroup: 8 });
      ms = Date.now() - t0;
      if (res.some((r) => r.code !== 0)) throw new Error(res.map((r) => r.message).join("\n"));
      slots = res.reduce((n, r) => n + r.slotsMoved, 0);
    } else {
      const [seed, m, r] = [c.seeds[0], c.seeds[6], c.seeds[7]];
      const cli = (args: string[]) => {
        const out = spawnSync("redis-cli", args, { env: c.cliEnv(), encoding: "utf8", timeout: 600_000 });
        if (out.status !== 0) throw new Error(`redis-cli ${args.join(" ")}: ${out.stdout}${out.stderr}`);
        return out.stdout;
      };
      const t0 = Date.now();
      cli(["--cluster", "add-node", m, seed]);
      // Wait until every node knows the new master (what the add-node advice says before a rebalance).
      const knowsSeven = (j: number) => parseInfo(c.cli(j, ["cluster", "info"]).stdout).cluster_known_nodes === "7";
      for (let i = 0; i < 200 && !c.nodes.slice(0, 7).every((_, j) => knowsSeven(j)); i++) await sleep(100);
      // The new node answers CLUSTERDOWN until it sees every slot covered: wait for that (bounded), not a fixed time.
      const stateOk = () => parseInfo(c.cli(6, ["cluster", "info"]).stdout).cluster_state === "ok";
      for (let i = 0; i < 100 && !stateOk(); i++) await sleep(100);
      cli(["--cluster", "rebalance", seed, "--cluster-use-empty-masters", "--cluster-pipeline", "100"]);
      // add-node refuses ("Nodes don't agree about configuration") until every node has the rebalance's slot map: wait
      // for a clean `--cluster check`, as the bootstrap's scale-out advice says. Asynchronous, so the writer keeps
      // running; bounded to 30 s in all.
      const agreed = () =>
        execFileAsync("redis-cli", ["--cluster", "check", seed], { env: c.cliEnv(), timeout: 10_000 }).then((r) => !/\[ERR\]/.test(r.stdout), () => false);
      for (const until = Date.now() + 30_000; Date.now() < until && !(await agreed()); ) await sleep(100);
      cli(["--cluster", "add-node", r, seed, "--cluster-slave"]);
      ms = Date.now() - t0;
      slots = topology(c).shares.find((s) => s > 0 && s < 5000) ?? 0;
    }
    const moved = keysOn(6);
    const stats = await writer.finish();
    const check = await writer.lost();
    return {
      tool, ms, slots, keys: moved, slotsPerSec: Math.round(slots / (ms / 1000)), keysPerSec: Math.round(moved / (ms / 1000)),
      writerErrors: stats.errors, lost: check.lost.length + check.unreadable.length,
    };
  } finally {
    client.disconnect();
    await c.stop();
  }
}

async function main() {
  const o = new Command("scale:full").option("--keys <n>", "keys", (v) => Number(v), 50_000).option("--json <file>").option("--bench-only").option("--no-bench").parse().opts();
  const steps = o.benchOnly ? [] : await fullScenario(o.keys);
  const bench = o.bench
    ? [await benchOne("scale step", o.keys), await benchOne("scale step, --slot-group 8", o.keys), await benchOne("redis-cli rebalance", o.keys)]
    : [];
  process.stdout.write("\n| step | time | slots moved | keys moved | writer acked / errors (redirects retried) | longest error run | shares | max deviation | unreadable | lost |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const s of steps) {
    process.stdout.write(`| ${s.step} | ${(s.ms / 1000).toFixed(1)} s | ${s.slotsMoved} | ${s.keysMoved} | ${s.writer.acked} / ${s.writer.errors} (${s.writer.redirects}) | ${s.writer.longestErrorWindowMs} ms | ${s.shares.join(", ")} | ${s.maxDeviationPct} % | ${s.unreadable} | ${s.lost} |\n`);
  }
  process.stdout.write("\n| 3x1 -> 4x1 with a WAIT writer | time | slots | keys | slots/s | keys/s | writer errors | lost |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const b of bench) process.stdout.write(`| ${b.tool} | ${(b.ms / 1000).toFixed(1)} s | ${b.slots} | ${b.keys} | ${b.slotsPerSec} | ${b.keysPerSec} | ${b.writerErrors} | ${b.lost} |\n`);
  if (o.json) writeFileSync(o.json, JSON.stringify({ steps, bench }, null, 2));
  const ok = steps.every((s) => s.ok) && bench.every((b) => b.lost === 0);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`scale:full: ${(e as Error).stack}\n`);
  process.exit(1);
});
