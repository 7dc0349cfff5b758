// Pushes the outcome of a backup or a restore drill to a Prometheus Pushgateway, per the contract in
// monitoring/backup.ts: POST (prom-client's pushAdd) to /metrics/job/<job>/cluster/<cluster>, so a failed run, which
// sends no success time, leaves the last one in place. A failed push is logged and reported, never thrown: it must not
// turn a good backup into a failed one.
import { Gauge, Pushgateway, Registry } from "prom-client";
import { METRIC_HELP } from "../../monitoring/backupMetrics";
import { redactRepository } from "./restic";

export interface PushTarget {
  /** Pushgateway base URL, e.g. http://redis-cluster-pushgateway.redis.svc.cluster.local:9091 */
  url: string;
  /** The `cluster` grouping label the rules select (monitoring/backup.ts). */
  cluster: string;
  timeoutMs?: number;
}

/** Checks a Pushgateway URL and cluster label; throws naming the setting and the fix. */
export function pushTarget(url: string | undefined, cluster: string | undefined, flags = { url: "--pushgateway", cluster: "--push-cluster" }): PushTarget | undefined {
  if (!url) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${flags.url} ${JSON.stringify(redactRepository(url))} is not a URL: give http(s)://host:9091`);
  }
  if (!/^https?:$/.test(u.protocol)) throw new Error(`${flags.url} must be http:// or https://, not ${u.protocol}`);
  if (!cluster || !/^[^"\\\s/]+$/.test(cluster)) throw new Error(`${flags.cluster} is required with ${flags.url} (the cluster label the backup alert rules select: no quotes, slashes, backslashes or whitespace)`);
  return { url, cluster };
}

/** Pushes `samples` (gauge name -> value) under `job`; true when the Pushgateway took them. */
export async function pushSamples(t: PushTarget, job: string, samples: Record<string, number>, log: (l: string) => void): Promise<boolean> {
  const registry = new Registry();
  for (const [name, value] of Object.entries(samples)) {
    new Gauge({ name, help: METRIC_HELP[name] ?? name, registers: [registry] }).set(value);
  }
  try {
    await new Pushgateway(t.url, { timeout: t.timeoutMs ?? 10_000 }, registry).pushAdd({ jobName: job, groupings: { cluster: t.cluster } });
    log(`pushed ${Object.keys(samples).length} metrics to ${redactRepository(t.url)} (job ${job}, cluster ${t.cluster})`);
    return true;
  } catch (e) {
    log(`push to ${redactRepository(t.url)} failed (the run's outcome stands): ${(e as Error).message}`);
    return false;
  }
}
