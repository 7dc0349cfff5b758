import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import type { ClusterPlan } from "../plan/plan";
import { buildScaleBundle } from "../scale/bundle";
import type { Phase } from "../scale/scaler";
import { bundleConfigMapArgs, declareNodeJob, mountedBundle, type NodeJobArgs } from "./kubernetes/nodeJob";
import { tsxCommand } from "./hostCommand";

const BUNDLE_FILE = "scale.js";
const BUNDLE_DIR = "/opt/scale";

export interface ScaleStepKubernetesArgs {
  namespace: pulumi.Input<string>;
  secretName: pulumi.Input<string>;
  secretKey: string;
  /** Labels of the Job's pod (the client label the NetworkPolicy admits). */
  labels: Record<string, string>;
  /** Extra volumes, mounts and environment of the Job's pod (e.g. the TLS client certificate and its REDIS_TLS_* paths). */
  volumes?: k8s.types.input.core.v1.Volume[];
  volumeMounts?: k8s.types.input.core.v1.VolumeMount[];
  env?: k8s.types.input.core.v1.EnvVar[];
  /** Image with `node` >= 18 (default node:20-alpine, uid 1000). */
  image?: string;
  provider?: k8s.Provider;
  /** The ConfigMap of the scale CLI's bundle (declareScaleBundle), one for both phases. */
  bundle: k8s.core.v1.ConfigMap;
}

/** The scale CLI's bundle as its Jobs mount it. */
export function scaleBundle(): NodeJobArgs["bundle"] {
  return mountedBundle(BUNDLE_FILE, BUNDLE_DIR, buildScaleBundle());
}

/**
 * The one ConfigMap of the scale CLI's bundle that both phases' Jobs mount: the bundle is the largest input of the
 * program (with the smoke test's), and every copy is carried by each preview and up.
 */
export function declareScaleBundle(name: string, k: Pick<ScaleStepKubernetesArgs, "namespace" | "labels" | "provider">, opts: pulumi.CustomResourceOptions): k8s.core.v1.ConfigMap {
  return new k8s.core.v1.ConfigMap(name, bundleConfigMapArgs({ namespace: k.namespace, labels: k.labels, bundle: scaleBundle() }), { ...opts, provider: k.provider });
}

export interface ScaleStepArgs {
  platform: "docker" | "kubernetes";
  plan: ClusterPlan;
  phase: Exclude<Phase, "all">;
  nodeTimeoutMs: number;
  /** Docker: the Redis password (secret), handed to the CLI as REDISCLI_AUTH in the command's environment. */
  password?: pulumi.Input<string>;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
  kubernetes?: ScaleStepKubernetesArgs;
  /** Docker: environment of the command beyond the password (e.g. REDIS_TLS_*_PEM of the client certificate; secrets stay secret). */
  extraEnv?: Record<string, pulumi.Input<string>>;
}

/** Bound of one scale run: 30 minutes, plus the platform's margin. */
export const SCALE_TIMEOUT_S = 1800;

export function scaleCliArgs(args: ScaleStepArgs, nodes: string[]): string[] {
  return [
    "--nodes", nodes.join(","),
    "--names", args.plan.nodes.map((n) => n.name).join(","),
    "--masters", String(args.plan.masters),
    "--replicas", String(args.plan.replicasPerMaster),
    "--phase", args.phase,
    "--node-timeout-ms", String(args.nodeTimeoutMs),
    "--timeout-ms", String(SCALE_TIMEOUT_S * 1000),
  ];
}

/** Changes when the planned topology changes: the step runs again then (and is a no-op when nothing is left). */
export function scaleDefinitionHash(args: Pick<ScaleStepArgs, "plan" | "phase">): string {
  return createHash("sha256")
    .update(JSON.stringify({ phase: args.phase, masters: args.plan.masters, replicas: args.plan.replicasPerMaster, nodes: args.plan.nodes.map((n) => [n.name, n.host, n.port]) }))
    .digest("hex");
}

/**
 * One phase of the scale step (infra/scale/cli.ts): `in` runs before nodes are removed (drain, fail over, forget),
 * `out` after nodes are added and the bootstrap verified the cluster (join, rebalance, attach replicas). Both are
 * no-ops when the cluster already has the planned shape or is not formed yet.
 * - docker: a local command on the Pulumi host against the published ports (with the plan's natMap);
 * - kubernetes: a Job running the esbuild bundle with the node image; Pulumi awaits its completion.
 */
export class ScaleStep extends pulumi.ComponentResource {
  /** The resource later steps depend on (the command or the Job). */
  readonly done: pulumi.Resource;

  constructor(name: string, args: ScaleStepArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-cluster:scale:ScaleStep", name, {}, opts);
    const hash = scaleDefinitionHash(args);
    const timeouts = { create: `${SCALE_TIMEOUT_S + 300}s`, update: `${SCALE_TIMEOUT_S + 300}s` };
    if (args.platform === "docker") {
      const cli = tsxCommand("infra/scale/cli.ts", scaleCliArgs(args, args.plan.seeds));
      const environment: Record<string, pulumi.Input<string>> = { SCALE_NAT_MAP: JSON.stringify(args.plan.natMap), ...(args.extraEnv ?? {}) };
      if (args.password !== undefined) environment.REDISCLI_AUTH = pulumi.secret(args.password);
      this.done = new command.local.Command(
        `${name}-run`,
        // No `dir`: the provider runs in the project directory (an absolute path would differ per checkout).
        { create: cli, environment, triggers: [hash], logging: "stdoutAndStderr" },
        { parent: this, dependsOn: args.dependsOn, customTimeouts: timeouts },
      );
    } else {
      const k = args.kubernetes;
      if (!k) throw new Error(`ScaleStep ${name}: platform kubernetes needs args.kubernetes`);
      const deadline = 3 * (SCALE_TIMEOUT_S + 60);
      this.done = declareNodeJob(
        this,
        name,
        {
          namespace: k.namespace,
          labels: k.labels,
          image: k.image,
          bundle: scaleBundle(),
          definitionHash: hash,
          container: {
            name: "scale",
            args: scaleCliArgs(args, args.plan.seeds),
            // redis-cli's variable: the password never reaches argv.
            env: [{ name: "REDISCLI_AUTH", valueFrom: { secretKeyRef: { name: k.secretName, key: k.secretKey } } }, ...(k.env ?? [])],
            volumeMounts: k.volumeMounts,
          },
          volumes: k.volumes,
          // A run killed part-way is finished by the next attempt (every step is recomputed from the live cluster).
          backoffLimit: 2,
          activeDeadlineSeconds: deadline,
        },
        { provider: k.provider, dependsOn: args.dependsOn, waitSeconds: deadline + 300, bundle: k.bundle },
      );
    }
    this.registerOutputs({});
  }
}
