import type * as k8s from "@pulumi/kubernetes";
import { CONTAINER_PATHS, REDIS_PORT, podNodeEnv } from "../../plan/plan";
import { TLS_FILES } from "../../plan/tls";
import { aclNodeEnv } from "../aclUsers";
import { METRICS_PORT, exporterSidecar } from "../kubernetesMonitoring";
import { CONFIG_CHECKSUM } from "./annotations";
import type { ClusterContext, PodRefs } from "./context";
import { envList } from "./env";
import { BUS_PORT, POD_PATHS } from "./podPaths";
import { PASSWORD_KEY } from "./secrets";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./securityContext";
import { aclMounts, podVolumes, sharedMounts, tlsEnvOf, tlsMounts } from "./volumes";

const probe = (mode: "alive" | "ready") => ({ exec: { command: ["sh", POD_PATHS.probe, mode] } });

/** The Redis node: the shared entrypoint, its identity from the pod, probes and a graceful preStop. */
export function redisContainer(cx: ClusterContext, refs: PodRefs): k8s.types.input.core.v1.Container {
  const { spec, timings } = cx;
  const k = spec.kubernetes;
  return {
    name: "redis",
    image: spec.redisImage,
    imagePullPolicy: "IfNotPresent",
    command: ["sh", POD_PATHS.entrypoint],
    ports: [
      { name: "redis", containerPort: REDIS_PORT, protocol: "TCP" },
      { name: "bus", containerPort: BUS_PORT, protocol: "TCP" },
    ],
    env: [
      { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      // The pod's identity as the plan defines it; the template cannot know the ordinal: the kubelet expands these.
      ...envList(podNodeEnv(spec, { name: "$(POD_NAME)", ip: "$(POD_IP)" })),
      { name: "REDIS_CONF_TEMPLATE", value: POD_PATHS.redisConf },
      { name: "REDIS_RUN_DIR", value: CONTAINER_PATHS.run },
      { name: "REDIS_DATA_DIR", value: POD_PATHS.data },
      { name: "REDIS_PASSWORD_FILE", value: POD_PATHS.passwordFile },
      { name: "REDIS_ENTRYPOINT_HOOK", value: POD_PATHS.refreshPeers },
      { name: "REDIS_PEER_RESOLVE_TIMEOUT", value: String(k.peerResolveTimeoutSeconds) },
      { name: "PRESTOP_TIMEOUT", value: String(timings.prestopSeconds) },
      // ACL: the node loads users.acl, replicates as `replica`; probes and preStop run as `admin`.
      ...(refs.aclSecretName !== undefined ? envList(aclNodeEnv()) : []),
      // The node's certificate: the server's, its client certificate on the bus, and redis-cli's in probes and preStop.
      ...tlsEnvOf(refs, TLS_FILES),
    ],
    resources: {
      requests: { ...k.resources.requests },
      limits: { ...(k.resources.limits.cpu ? { cpu: k.resources.limits.cpu } : {}), memory: k.resources.limits.memory },
    },
    volumeMounts: [{ name: "data", mountPath: POD_PATHS.data }, ...sharedMounts(), ...tlsMounts(refs, "tls", TLS_FILES.dir), ...aclMounts(refs)],
    startupProbe: { ...probe("alive"), periodSeconds: timings.startupPeriodSeconds, timeoutSeconds: 5, failureThreshold: timings.startupFailureThreshold },
    // Liveness tolerates LOADING/BUSY and allows a full minute: a restart never helps a slow Redis.
    livenessProbe: { ...probe("alive"), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
    readinessProbe: { ...probe("ready"), periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 2, successThreshold: 1 },
    lifecycle: { preStop: { exec: { command: ["sh", POD_PATHS.prestop] } } },
    securityContext: restrictedContainerSecurityContext(k.runAsUser),
  };
}

/** The pod's containers: Redis and, with monitoring, the exporter sidecar. */
export function podContainers(cx: ClusterContext, refs: PodRefs): k8s.types.input.core.v1.Container[] {
  const { spec } = cx;
  const containers: k8s.types.input.core.v1.Container[] = [redisContainer(cx, refs)];
  if (spec.monitoring.enabled) {
    containers.push(
      exporterSidecar({
        image: spec.monitoring.exporterImage,
        passwordSecretName: refs.exporterSecretName,
        passwordSecretKey: PASSWORD_KEY,
        aclUser: refs.aclSecretName !== undefined,
        redisPort: REDIS_PORT,
        metricsPort: METRICS_PORT,
        tls: refs.tls ? { files: TLS_FILES, volume: "tls" } : undefined,
      }),
    );
  }
  return containers;
}

/** Spread the nodes over `topologyKey` (hard: never two on one, soft: preferably not). */
export function podAntiAffinity(cx: ClusterContext) {
  const k = cx.spec.kubernetes;
  const podAffinityTerm = { labelSelector: { matchLabels: cx.labels.selector }, topologyKey: k.topologyKey };
  return {
    podAntiAffinity:
      k.antiAffinity === "hard"
        ? { requiredDuringSchedulingIgnoredDuringExecution: [podAffinityTerm] }
        : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm }] },
  };
}

/** One pod per planned node; `checksum`: of the pods' files (configChecksum). */
export function statefulSetArgs(cx: ClusterContext, refs: PodRefs, checksum: string): k8s.apps.v1.StatefulSetArgs {
  const { spec, labels } = cx;
  const k = spec.kubernetes;
  return {
    metadata: cx.meta.named(cx.names.statefulSet, "node"),
    spec: {
      serviceName: refs.headlessServiceName,
      replicas: cx.plan.nodes.length,
      // All pods start together: a full restart needs every node up to re-form.
      podManagementPolicy: "Parallel",
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
      // Volumes outlive the StatefulSet and any scale-down: data is only ever deleted by hand.
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      selector: { matchLabels: labels.selector },
      template: {
        metadata: {
          labels: labels.of("node"),
          // Also in the pod template, so the cause of a roll is visible on the pods.
          annotations: { [CONFIG_CHECKSUM]: checksum },
        },
        spec: {
          serviceAccountName: refs.serviceAccountName,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: cx.timings.terminationGracePeriodSeconds,
          securityContext: restrictedPodSecurityContext(k.runAsUser),
          affinity: podAntiAffinity(cx),
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: k.spreadTopologyKey, whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: labels.selector } },
          ],
          containers: podContainers(cx, refs),
          volumes: podVolumes(refs),
        },
      },
      // No version label here: any change of volumeClaimTemplates replaces the (protected) StatefulSet.
      volumeClaimTemplates: [
        {
          metadata: { name: "data", labels: labels.stableOf("node") },
          spec: {
            accessModes: ["ReadWriteOnce"],
            ...(k.storageClass ? { storageClassName: k.storageClass } : {}),
            resources: { requests: { storage: k.storageSize } },
          },
        },
      ],
    },
  };
}
