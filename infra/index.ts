// Program entry: stack config -> validated spec -> cluster plan (and the scale plan from the last deployment) ->
// platform cluster -> smoke test -> canary -> stack outputs.
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config/load";
import { ConfigError } from "./config/schema";
import { planCluster } from "./plan/plan";
import { scalePreview, type ScaleTopology } from "./plan/scaling";
import { readLastDeployment, selfReference } from "./lastDeployment";
import { deployCluster, kubernetesBundles, type PlatformOutputs } from "./platforms";
import { assertBundleFits } from "./components/kubernetes/nodeJob";
import { SmokeTest, smokeSettingsFromSpec } from "./components/smokeTest";
import { Canary } from "./components/canary";
import { canaryJob } from "./config/canary";
import { backupRun, backupTrigger } from "./components/docker/backupRun";

/** The stack outputs: the platform's own (platforms.ts, components/dockerCluster.ts), and these. */
type StackOutputs = PlatformOutputs & {
  masters: number;
  replicasPerMaster: number;
  /** What the scale step does to reach this topology from the last deployed one (shown by `pulumi preview`). */
  scalePlan: string[];
  /** The topology and slot layout this deployment plans: the next preview's starting point. */
  scaleTopology: ScaleTopology;
  /** Changes when the cluster definition changes; the smoke test re-runs then. */
  smokeDefinitionHash: pulumi.Output<string>;
  /** Secret: read with `pulumi stack output redisPassword --show-secrets`. */
  redisPassword: pulumi.Output<string>;
  /** kubernetes.externalAccess: "<pod>.<domain>:6379" of every node, the seeds of clients outside Kubernetes (not secret). */
  externalSeeds?: string[];
  /** backup.enabled: the restic repository (never holds credentials). */
  backupRepository?: string;
  /** backup.enabled on Docker: the last backup run's summary (snapshot id, shards, bytes, pause). */
  lastBackup?: pulumi.Output<string>;
  /** restore.snapshot on Docker: the restore run's summary. */
  restored?: pulumi.Output<string>;
};

// Throws one error naming every bad setting before any resource is declared, while the module loads: the program then
// exits at once (an error from the async part below leaves it waiting on its engine connections for a while).
const config = loadStackConfig();
const { spec } = config;
const plan = planCluster(spec);
const reference = selfReference(spec.lastDeploymentStack);
if (typeof reference !== "string") throw new pulumi.RunError(new ConfigError([reference.problem]).message);
// The API server would refuse a bundle's ConfigMap over its size limit only at apply, after the resources before it.
if (spec.platform === "kubernetes") for (const bundle of kubernetesBundles(spec, plan)) assertBundleFits(bundle);

export = async (): Promise<StackOutputs> => {
  // The last deployment's outputs must survive a failed `up` (engines before 3.112 replaced them with the failed
  // run's, none), or the next run would plan from nothing.
  await pulumi.requirePulumiVersion(">=3.112.0");
  // The last deployment's outputs (a read of this stack: nothing changes): a topology change that cannot be reached
  // without resetting a node is refused here, before any resource is declared.
  const last = await readLastDeployment(`${spec.name}-last-deployment`, reference, (masters, replicasPerMaster) =>
    planCluster({ ...spec, masters, replicasPerMaster }).nodes.map((n) => n.name),
  );
  const scaling = scalePreview(last.topology, { masters: plan.masters, replicasPerMaster: plan.replicasPerMaster, nodes: plan.nodes.map((n) => n.name) });
  if ("problem" in scaling) throw new pulumi.RunError(new ConfigError([scaling.problem]).message);
  const cluster = deployCluster(config, plan, last);

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

  // backup.enabled on Docker: one backup once the smoke test passed, and again whenever the cluster's definition (the
  // smoke test's hash) or the backup settings change; `pulumi up --replace <its urn>` or `npm run backup` take one at
  // any time. (Kubernetes: a CronJob on backup.schedule.)
  const backupArgs = plan.backup ? [...plan.backup.backupArgs, ...plan.backup.pushArgs] : [];
  const backup = plan.backup && cluster.backupClient
    ? backupRun(`${spec.name}-backup`, {
        cliArgs: backupArgs,
        plan,
        repository: plan.backup.repository,
        secrets: config.backupSecrets.backup ?? {},
        client: cluster.backupClient,
        triggers: [smoke.definitionHash, backupTrigger(backupArgs, plan.backup.repository)],
        dependsOn: [smoke],
      })
    : undefined;

  const outputs: StackOutputs = {
    ...cluster.outputs,
    masters: spec.masters,
    replicasPerMaster: spec.replicasPerMaster,
    scalePlan: scaling.lines,
    scaleTopology: scaling.topology,
    smokeDefinitionHash: smoke.definitionHash,
    redisPassword: pulumi.secret(cluster.password),
    ...(plan.externalSeeds && { externalSeeds: plan.externalSeeds }),
    ...(plan.backup && { backupRepository: plan.backup.repository.env.RESTIC_REPOSITORY }),
    ...(backup && { lastBackup: backup.stdout }),
    ...(cluster.restored && { restored: cluster.restored }),
  };
  return outputs;
};
