// The canary's cost on the bench's cluster (issue 24): the canary runs as deployed (its esbuild bundle under plain
// `node`, the default interval) and, after a warm-up, for a window: its own CPU and resident memory from /proc, the
// commands the cluster served meanwhile (INFO commandstats: nothing else runs then), and that rate as a share of the
// cluster's capacity as the bench measured it.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildCanaryBundle } from "../../infra/components/canary";
import type { SmokeContext } from "../../smoke/context";
import { usageWindow } from "../../smoke/load/measure";
import { sleep } from "../../smoke/time";
import type { LocalCluster } from "../../testbed/local/harness";

export interface CanaryCost {
  seconds: number;
  intervalMs: number;
  /** The canary process, percent of one core, over the window. */
  cpuPct: number;
  rssMiB: { min: number; max: number };
  /** Commands every node served per second while only the canary ran (replicas' replication included). */
  clusterOpsPerSec: number;
  /** The nodes' CPU meanwhile, percent of one core. */
  serversCpuPct: number;
}

/** utime + stime of a process, in seconds (Linux /proc; clock ticks of 100 Hz, as on every Linux build here). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

export async function canaryCost(ctx: SmokeContext, cluster: LocalCluster, o: { seconds: number; warmupSeconds: number; intervalMs: number }): Promise<CanaryCost> {
  const dir = mkdtempSync(join(tmpdir(), "bench-canary-"));
  const bundle = join(dir, "canary.js");
  writeFileSync(bundle, buildCanaryBundle());
  const pw = cluster.password;
  const child = spawn(process.execPath, [bundle, "--nodes", cluster.seeds.join(","), ...(pw ? ["--password-env", "BENCH_CANARY_PASSWORD"] : []), "--interval-ms", String(o.intervalMs), "--host", "127.0.0.1", "--port", "0"], {
    env: { PATH: process.env.PATH, ...(pw ? { BENCH_CANARY_PASSWORD: pw } : {}) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  try {
    await sleep(o.warmupSeconds * 1000);
    if (child.exitCode !== null) throw new Error(`the canary exited ${child.exitCode}: ${stderr.trim().slice(-500)}`);
    const pid = child.pid!;
    const w = await usageWindow(ctx, { local: true });
    const cpu0 = cpuSeconds(pid);
    const t0 = Date.now();
    await w.start();
    const rss: number[] = [];
    while (Date.now() - t0 < o.seconds * 1000) {
      rss.push(rssMiB(pid));
      await sleep(1000);
    }
    await w.end();
    const sec = (Date.now() - t0) / 1000;
    const u = w.report(0);
    return {
      seconds: Math.round(sec),
      intervalMs: o.intervalMs,
      cpuPct: Number((((cpuSeconds(pid) - cpu0) / sec) * 100).toFixed(2)),
      rssMiB: { min: Math.round(Math.min(...rss)), max: Math.round(Math.max(...rss)) },
      clusterOpsPerSec: u.nodes.reduce((s, n) => s + n.opsPerSec, 0),
      serversCpuPct: u.serversCpuPct,
    };
  } finally {
    child.kill("SIGTERM");
    await Promise.race([exited, sleep(5000)]);
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}
