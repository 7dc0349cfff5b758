import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { bundleHash } from "../../../smoke/bundle";
import { BUNDLE_SHA256, DEFINITION_SHA256, REPLACE_UNREADY } from "./annotations";

/** A one-shot step shipped as an esbuild bundle (scale step, smoke test) and run by `node` in a Job. */
export interface NodeJobArgs {
  namespace: pulumi.Input<string>;
  /** Labels of the ConfigMap, the Job and its pod (include the client label the NetworkPolicy admits). */
  labels: Record<string, string>;
  /** Image with `node` (>= 18); default node:20-alpine (uid 1000). */
  image?: string;
  /** The bundle: its file name, the directory it is mounted at, its text and hash. */
  bundle: { file: string; dir: string; text: string; sha256: string };
  /** Changes whenever the step must run again: on the Job and its pod template (a new template is a new Job). */
  definitionHash: string;
  container: {
    name: string;
    args: string[];
    env: k8s.types.input.core.v1.EnvVar[];
    /** Mounts beside the bundle's. */
    volumeMounts?: k8s.types.input.core.v1.VolumeMount[];
  };
  /** Volumes beside the bundle's (e.g. the TLS client certificate). */
  volumes?: k8s.types.input.core.v1.Volume[];
  /** Attempts after the first, and the bound of all of them. */
  backoffLimit: number;
  activeDeadlineSeconds: number;
}

const UID = 1000;

/** A CLI's bundle text as a pod mounts it: `dir/file`. */
export function mountedBundle(file: string, dir: string, text: string): NodeJobArgs["bundle"] {
  return { file, dir, text, sha256: bundleHash(text) };
}

/**
 * The API server's bound on a ConfigMap's data: it sums the byte length of every data and binaryData value (keys not
 * counted) and refuses more than core.MaxSecretSize, 1 MiB, also the bound of a Secret (ValidateConfigMap in
 * kubernetes/kubernetes pkg/apis/core/validation/validation.go: "[]: Too long: must have at most 1048576 bytes").
 */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

/**
 * Throws, naming the bundle after its file, when it would not fit in its ConfigMap: the API server would refuse that
 * only at apply. The ConfigMap holds the bundle alone, so its data is the bundle's text.
 */
export function assertBundleFits(bundle: Pick<NodeJobArgs["bundle"], "file" | "text">): void {
  const bytes = Buffer.byteLength(bundle.text, "utf8");
  if (bytes <= CONFIGMAP_MAX_BYTES) return;
  const name = bundle.file.replace(/\.js$/, "");
  throw new pulumi.RunError(
    `the ${name} bundle (${bundle.file}) is ${bytes.toLocaleString("en-US")} bytes, over Kubernetes' 1 MiB ConfigMap limit (${CONFIGMAP_MAX_BYTES} bytes): ` +
      `the API server would refuse its ConfigMap at apply. Make the bundle smaller: find what weighs in its CLI's imports ` +
      `(esbuild --bundle --metafile) and keep heavy packages out of them (zod/mini, not zod)`,
  );
}

/** The bundle's ConfigMap: a changed bundle is a new ConfigMap (data changes replace it), and so a new Job. */
export function bundleConfigMapArgs(j: Pick<NodeJobArgs, "namespace" | "labels" | "bundle">): k8s.core.v1.ConfigMapArgs {
  assertBundleFits(j.bundle);
  return {
    metadata: { namespace: j.namespace, labels: j.labels, annotations: { [BUNDLE_SHA256]: j.bundle.sha256 } },
    data: { [j.bundle.file]: j.bundle.text },
  };
}

/** What a pod running the bundle adds to the Job's: a long-running one's ports and readiness (the canary's Deployment). */
export interface NodePodExtras {
  restartPolicy: "Never" | "Always";
  ports?: k8s.types.input.core.v1.ContainerPort[];
  readinessProbe?: k8s.types.input.core.v1.Probe;
}

/** The pod running the bundle from the ConfigMap `configMapName` with `node` as uid 1000, restricted. */
export function nodePodSpec(j: Omit<NodeJobArgs, "backoffLimit" | "activeDeadlineSeconds" | "definitionHash">, configMapName: pulumi.Input<string>, extras: NodePodExtras): k8s.types.input.core.v1.PodSpec {
  const extraVolumes = j.volumes ?? [];
  return {
    restartPolicy: extras.restartPolicy,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    // fsGroup: a mounted TLS key (mode 0440, owned by root) is readable through the group only (seen on the pods runner).
    securityContext: { runAsNonRoot: true, runAsUser: UID, runAsGroup: UID, ...(extraVolumes.length ? { fsGroup: UID } : {}), seccompProfile: { type: "RuntimeDefault" } },
    containers: [
      {
        name: j.container.name,
        image: j.image ?? "node:20-alpine",
        command: ["node", `${j.bundle.dir}/${j.bundle.file}`],
        args: j.container.args,
        env: j.container.env,
        ...(extras.ports ? { ports: extras.ports } : {}),
        ...(extras.readinessProbe ? { readinessProbe: extras.readinessProbe } : {}),
        volumeMounts: [{ name: "bundle", mountPath: j.bundle.dir, readOnly: true }, ...(j.container.volumeMounts ?? [])],
        // A failure digest the step writes becomes the pod's termination message; otherwise the log's tail.
        terminationMessagePolicy: "FallbackToLogsOnError",
        resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
      },
    ],
    volumes: [{ name: "bundle", configMap: { name: configMapName } }, ...extraVolumes],
  };
}

/** The Job running the bundle from the ConfigMap `configMapName`; a failed Job is replaced by the next update instead of blocking it. */
export function nodeJobArgs(j: NodeJobArgs, configMapName: pulumi.Input<string>): k8s.batch.v1.JobArgs {
  return {
    metadata: { namespace: j.namespace, labels: j.labels, annotations: { [DEFINITION_SHA256]: j.definitionHash, [REPLACE_UNREADY]: "true" } },
    spec: {
      backoffLimit: j.backoffLimit,
      activeDeadlineSeconds: j.activeDeadlineSeconds,
      template: {
        metadata: { labels: j.labels, annotations: { [DEFINITION_SHA256]: j.definitionHash } },
        spec: nodePodSpec(j, configMapName, { restartPolicy: "Never" }),
      },
    },
  };
}

/**
 * Declares `<name>-bundle` (ConfigMap; or uses `opts.bundle`, one already declared with bundleConfigMapArgs of the
 * same bundle, shared by several Jobs) and `<name>-job` under `parent`, both after `dependsOn`; Pulumi awaits the
 * Job's completion for up to `waitSeconds`.
 */
export function declareNodeJob(
  parent: pulumi.Resource,
  name: string,
  j: NodeJobArgs,
  opts: { provider?: k8s.Provider; dependsOn?: pulumi.Input<pulumi.Resource>[]; waitSeconds: number; bundle?: k8s.core.v1.ConfigMap },
): k8s.batch.v1.Job {
  const childOpts = { parent, provider: opts.provider, dependsOn: opts.dependsOn };
  const cm = opts.bundle ?? new k8s.core.v1.ConfigMap(`${name}-bundle`, bundleConfigMapArgs(j), childOpts);
  const wait = `${opts.waitSeconds}s`;
  return new k8s.batch.v1.Job(`${name}-job`, nodeJobArgs(j, cm.metadata.name), { ...childOpts, customTimeouts: { create: wait, update: wait } });
}
