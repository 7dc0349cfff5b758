import { z } from "zod";
import { CANARY_LATENCY_BUCKETS } from "../../monitoring/canaryBuckets";
import { DEFAULT_CANARY_SLO } from "../../smoke/canary/view";

// Settings of the `canary` stack-config object: the continuous canary (smoke/canary/) and the SLO rules on its metrics.

/** Bucket bounds (ms) of the canary's latency histogram: the SLO threshold must be one, or the SLI cannot be read. */
export const CANARY_LATENCY_BUCKETS_MS: readonly number[] = CANARY_LATENCY_BUCKETS.map((s) => Math.round(s * 1e6) / 1e3);

export const canarySchema = z
  .object({
    enabled: z.boolean().default(false).describe("Run the canary between deploys (its own ACL user canary, keys canary:*) and its SLO alerts"),
    intervalMs: z.int().min(100).max(60_000).default(1000).describe("How often the canary writes and reads each shard"),
    timeoutMs: z.int().min(50).max(30_000).default(1000).describe("A canary request slower than this counts as a timeout"),
    objective: z.number().min(0.9).max(0.99999).default(DEFAULT_CANARY_SLO.objective).describe("SLO objective of availability and latency (0.999 = 99.9 % of canary requests good)"),
    image: z.string().min(1).default("node:20-alpine").describe("Image with node (>= 18) that runs the canary's bundle as uid 1000"),
    latencyThresholdMs: z
      .number()
      .refine((v) => CANARY_LATENCY_BUCKETS_MS.includes(v), `must be a bucket of the canary's latency histogram: ${CANARY_LATENCY_BUCKETS_MS.join(", ")}`)
      .default(DEFAULT_CANARY_SLO.latencyThresholdMs)
      .describe("A canary request slower than this misses the latency SLO"),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.timeoutMs < c.latencyThresholdMs) {
      ctx.addIssue({ code: "custom", path: ["timeoutMs"], message: `is ${c.timeoutMs} but latencyThresholdMs is ${c.latencyThresholdMs}: a request cannot time out before it misses the latency SLO; raise canary.timeoutMs` });
    }
  });

export type CanarySpec = z.infer<typeof canarySchema>;

/** The canary's Prometheus job: one per cluster, so clusters sharing a Prometheus keep their SLOs apart. */
export const canaryJob = (clusterName: string) => `${clusterName}-canary`;

/** The SLO rules' options (monitoring/slo.ts) from the validated settings. */
export function canarySlo(spec: { name: string; canary: CanarySpec }) {
  return { job: canaryJob(spec.name), objective: spec.canary.objective, latencyThresholdSeconds: spec.canary.latencyThresholdMs / 1000 };
}
