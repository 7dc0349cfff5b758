import { z } from "zod";

// Settings of the `smoke` stack-config object: the ioredis smoke test that gates `pulumi up`.
export const smokeSchema = z
  .object({
    enabled: z.boolean().default(true).describe("Run the smoke test after every deploy"),
    failover: z.enum(["none", "manual", "kill"]).optional()
      .describe("Failover check: none, manual (CLUSTER FAILOVER) or kill (freeze a master). Default: kill on docker, manual on kubernetes"),
    keys: z.int().min(1).max(1_000_000).default(10_000).describe("Keys written by the distribution/replication checks"),
    timeoutMs: z.int().min(10_000).max(3_600_000).default(300_000).describe("Upper bound of the whole smoke run"),
  })
  .strict();

export type SmokeSpec = z.infer<typeof smokeSchema>;
