// The first `pulumi up` of the prod stack (bootstrap and smoke Jobs) and the stack config every scenario deploys.
import { upOn, type PodsRunner, type UpResult } from "../../../testbed/pods/runner";
import type { ConfigInput } from "../../../testbed/engine/engine";
import { KEYS, ProdCluster, STACK } from "./cluster";
import type { Row } from "./report";

/**
 * Stack config of the scenarios: Pulumi.prod.yaml as committed (TLS and ACL users on: the platform defaults), with a
 * smaller smoke run and the canary on (a later deploy's smoke Job then reports its view through its Service). `plain`:
 * TLS and ACL off (one password, plain RESP), as the runs before TLS support were.
 */
export function scenarioConfig(opts: { smoke?: boolean; smokeKeys?: number; failover?: "none" | "manual"; plain?: boolean; canary?: boolean; extra?: Record<string, ConfigInput> }): Record<string, ConfigInput> {
  return {
    "redis-cluster:smoke": { enabled: opts.smoke ?? true, failover: opts.failover ?? "manual", keys: opts.smokeKeys ?? 1000 },
    "redis-cluster:canary": { enabled: opts.canary ?? true },
    ...(opts.plain ? { "redis-cluster:tls": { enabled: false }, "redis-cluster:acl": { enabled: false } } : {}),
    ...(opts.extra ?? {}),
  };
}

/** The first `pulumi up`; `runner` may still be starting (a promise): the program's start overlaps with it. */
export async function firstDeploy(runnerOrStarting: PodsRunner | Promise<PodsRunner>, config: Record<string, ConfigInput>, root?: string): Promise<{ row: Row; cluster?: ProdCluster; up: UpResult }> {
  const t0 = Date.now();
  const wantJobs = (config["redis-cluster:smoke"] as { enabled?: boolean } | undefined)?.enabled === false ? 1 : 2;
  const up = await upOn(Promise.resolve(runnerOrStarting), { stack: STACK, config, root });
  const runner = await runnerOrStarting;
  const jobs = up.jobs.map((j) => `${j.name.replace(/-[0-9a-f]{8}$/, "")} ${j.reason} in ${(j.durationMs / 1000).toFixed(1)} s (${j.attempts.length} pod${j.attempts.length > 1 ? "s" : ""})`);
  const smokeLog = up.jobs.find((j) => j.name.includes("smoke"))?.attempts.at(-1)?.logTail ?? "";
  const checks = (smokeLog.trim().split("\n").filter((l) => /pass|fail/i.test(l)).slice(-1)[0] ?? "").replace(/ against .*$/, "");
  const row: Row = {
    scenario: "first deploy (bootstrap + smoke Jobs)",
    expected: "up ok: StatefulSet Ready, bootstrap Job Complete, smoke Job Complete",
    observed: up.run.ok
      ? `up ok; ${jobs.join("; ")}${checks ? `; smoke: ${checks}` : ""}`
      : `up failed: ${jobs.join("; ")}; ${up.run.errors.join(" | ").replace(/\s+/g, " ").slice(0, 500)}`,
    pass: up.run.ok && up.jobs.length >= wantJobs && up.jobs.every((j) => j.succeeded),
    timeToOkMs: Date.now() - t0,
    notes: [`not run (no operator): ${up.notRun.join(", ") || "none"}`],
  };
  // A failed smoke Job (its checks are timing-sensitive on a loaded host) fails this row; the scenarios still run on
  // the cluster when the bootstrap Job completed.
  if (!up.jobs.some((j) => j.name.includes("bootstrap") && j.succeeded)) return { row, up };
  const cluster = await ProdCluster.fromUp(runner, up);
  await cluster.waitWhole(120_000);
  await cluster.writeKeys("base", KEYS);
  return { row, cluster, up };
}
