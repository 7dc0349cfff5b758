import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { ACL_PATHS, rotateEnv } from "../../plan/acl";
import { TLS_CLIENT_FILES } from "../../plan/tls";
import { REPLACE_UNREADY } from "./annotations";
import type { ClusterContext, PodRefs } from "./context";
import { envList } from "./env";
import { POD_PATHS } from "./podPaths";
import { previousAdminSecretName } from "./secrets";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./securityContext";
import { aclMounts, aclVolumes, jobVolumes, sharedMounts, tlsEnvOf, tlsMounts } from "./volumes";

// The Jobs running infra/scripts with the Redis image (redis-cli) against the pods.

/** A script's container: the Redis image (redis-cli), small and restricted. */
function scriptContainer(
  cx: ClusterContext,
  name: string,
  command: string[],
  env: k8s.types.input.core.v1.EnvVar[],
  volumeMounts: k8s.types.input.core.v1.VolumeMount[],
): k8s.types.input.core.v1.Container {
  return {
    name,
    image: cx.spec.redisImage,
    imagePullPolicy: "IfNotPresent",
    command,
    env,
    resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { memory: "64Mi" } },
    volumeMounts,
    securityContext: restrictedContainerSecurityContext(cx.spec.kubernetes.runAsUser),
  };
}

/**
 * One pod shape for every script Job (rotation, bootstrap): same identity, security and client label; only the
 * container, its volumes and the retry budget differ.
 */
export function scriptJobSpec(
  cx: ClusterContext,
  refs: PodRefs,
  role: string,
  budget: { backoffLimit: number; activeDeadlineSeconds: number },
  container: k8s.types.input.core.v1.Container,
  volumes: pulumi.Input<k8s.types.input.core.v1.Volume>[],
): k8s.types.input.batch.v1.JobSpec {
  return {
    ...budget,
    template: {
      metadata: { labels: { ...cx.labels.of(role), [cx.spec.kubernetes.clientLabel]: "true" } },
      spec: {
        restartPolicy: "Never",
        serviceAccountName: refs.serviceAccountName,
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: restrictedPodSecurityContext(cx.spec.kubernetes.runAsUser),
        containers: [container],
        volumes,
      },
    },
  };
}

/** A failed script Job is replaced (and so re-run) on the next update instead of blocking it. */
const scriptJobMeta = (cx: ClusterContext, component: string) => ({ namespace: cx.namespace, labels: cx.labels.of(component), annotations: { [REPLACE_UNREADY]: "true" } });

/**
 * Password rotation (ACL users; docs/security.md): `rotate.sh add` gives every live node the new passwords beside the
 * old ones before anything switches (pods, exporter, smoke); `rotate.sh remove` leaves only the new ones once the pods
 * rolled and the bootstrap verified the cluster. The Job re-runs when a Secret it mounts is new. A node that is not
 * running yet (first deploy) is skipped by `add`: it loads the ACL file when it starts.
 */
export function rotateJobArgs(cx: ClusterContext, refs: PodRefs, mode: "add" | "remove"): k8s.batch.v1.JobArgs {
  const { spec, plan } = cx;
  return {
    metadata: scriptJobMeta(cx, "rotate"),
    spec: scriptJobSpec(
      cx,
      refs,
      "rotate",
      { backoffLimit: 2, activeDeadlineSeconds: 300 },
      scriptContainer(
        cx,
        "rotate",
        ["sh", `${POD_PATHS.dir}/rotate.sh`, mode],
        envList(
          rotateEnv({
            nodes: plan.bootstrapEnv.REDIS_NODES,
            passwordFile: POD_PATHS.passwordFile,
            previousPasswordFile: ACL_PATHS.previousAdmin,
            tls: refs.tls ? TLS_CLIENT_FILES : undefined,
          }),
        ),
        [...sharedMounts(), ...tlsMounts(refs, "tls-client", TLS_CLIENT_FILES.dir), ...aclMounts(refs), { name: "acl-previous", mountPath: ACL_PATHS.previousDir, readOnly: true }],
      ),
      // The previous admin password: a fixed-name Secret written after the last rotation finished (absent on the
      // first deploy, hence optional).
      [...jobVolumes(refs), ...aclVolumes(refs), { name: "acl-previous", secret: { secretName: previousAdminSecretName(spec.name), optional: true, defaultMode: 0o440 } }],
    ),
  };
}

/** The bootstrap script's own bound (seconds); the Job allows 4 of them, Pulumi waits for 5. */
export const bootstrapTimeoutSeconds = (cx: ClusterContext) => Number(cx.plan.bootstrapEnv.BOOTSTRAP_TIMEOUT);

/**
 * The same bootstrap.sh as Docker: forms the cluster once, verifies it on every later run, refuses foreign state.
 * Pulumi awaits the Job's completion; a retry covers a check that ran before gossip settled.
 */
export function bootstrapJobArgs(cx: ClusterContext, refs: PodRefs): k8s.batch.v1.JobArgs {
  const { plan } = cx;
  return {
    metadata: scriptJobMeta(cx, "bootstrap"),
    spec: scriptJobSpec(
      cx,
      refs,
      "bootstrap",
      { backoffLimit: 3, activeDeadlineSeconds: 4 * bootstrapTimeoutSeconds(cx) },
      scriptContainer(
        cx,
        "bootstrap",
        ["sh", POD_PATHS.bootstrap],
        [
          ...envList(plan.bootstrapEnv),
          // A cluster whose shape differs from the plan is the scale step's to change (it runs next).
          { name: "REDIS_SCALE_STEP", value: "1" },
          ...(refs.aclSecretName !== undefined ? [{ name: "REDIS_USER", value: "admin" }] : []),
          { name: "REDIS_PASSWORD_FILE", value: POD_PATHS.passwordFile },
          ...tlsEnvOf(refs, TLS_CLIENT_FILES),
        ],
        [...sharedMounts(), ...tlsMounts(refs, "tls-client", TLS_CLIENT_FILES.dir)],
      ),
      jobVolumes(refs),
    ),
  };
}
