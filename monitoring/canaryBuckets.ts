// The canary's latency histogram buckets, shared by the canary (smoke/canary/metrics.ts) and its SLO rules (slo.ts).
// Apart from slo.ts (zod) so that the canary's bundle does not carry the rules' validation.

/** The canary's latency histogram buckets (seconds): the SLO threshold must be one of them (bucket{le} is the SLI). */
export const CANARY_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;
