// Program entry: stack config -> validated spec -> cluster plan -> platform cluster -> smoke test -> canary -> stack outputs.
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config/load";
import { planCluster } from "./plan/plan";
import { deployCluster, type PlatformOutputs } from "./platforms";
import { SmokeTest, smokeSettingsFromSpec } from "./components/smokeTest";
import { Canary } from "./components/canary";
import { canaryJob } from "./config/canary";

// Throws one error naming every bad setting before any resource is declared.
const config = loadStackConfig();
const { spec } = config;
const plan = planCluster(spec);
const cluster = deployCluster(config, plan);

// The deployment is only done when the smoke test passes: `pulumi up` fails with the failing checks otherwise.
const smoke = new SmokeTest(`${spec.name}-smoke`, {
  platform: spec.platform,
  plan,
  settings: smokeSettingsFromSpec(spec),
  // Part of the re-run trigger: a Redis upgrade is re-verified.
  redisImage: spec.redisImage,
  nodeTimeoutMs: spec.nodeTimeoutMs,
  ...cluster.smoke,
});

// The canary watches between deploys; it starts on a cluster the smoke test verified (the smoke's failover drill
// would otherwise spend its error budget on every deploy).
if (spec.canary.enabled) new Canary(canaryJob(spec.name), { plan, settings: spec.canary, ...cluster.canary, dependsOn: [smoke] });

/** The stack outputs: the platform's own (platforms.ts, components/dockerCluster.ts), and these. */
type StackOutputs = PlatformOutputs & {
  masters: number;
  replicasPerMaster: number;
  /** Changes when the cluster definition changes; the smoke test re-runs then. */
  smokeDefinitionHash: pulumi.Output<string>;
  /** Secret: read with `pulumi stack output redisPassword --show-secrets`. */
  redisPassword: pulumi.Output<string>;
  /** kubernetes.externalAccess: "<pod>.<domain>:6379" of every node, the seeds of clients outside Kubernetes (not secret). */
  externalSeeds?: string[];
};

const outputs: StackOutputs = {
  ...cluster.outputs,
  masters: spec.masters,
  replicasPerMaster: spec.replicasPerMaster,
  smokeDefinitionHash: smoke.definitionHash,
  redisPassword: pulumi.secret(cluster.password),
  ...(plan.externalSeeds && { externalSeeds: plan.externalSeeds }),
};
export = outputs;
