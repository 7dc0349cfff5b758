import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import type { ClusterSpec } from "../config/schema";
import { BUS_PORT_OFFSET, CONTAINER_PATHS, REDIS_PORT, kubernetesNames, type ClusterPlan } from "../plan/plan";
import { readScript } from "../plan/scripts";
import { ScalePlan } from "./scalePlan";
import { ScaleStep } from "./scaleStep";
import { restrictedContainerSecurityContext } from "./kubernetes/securityContext";
import { KubernetesMonitoring, METRICS_PORT, exporterSidecar } from "./kubernetesMonitoring";
import { ACL_PATHS, AclUsers, aclNodeEnv } from "./aclUsers";
import { KubernetesTlsSecrets } from "./clusterCertificates";
import { TLS_CLIENT_FILES, TLS_FILES, tlsEnv } from "../plan/tls";
import { planCertificates } from "../plan/tlsCertificates";
import { rotateEnv } from "../plan/acl";

export interface RedisKubernetesClusterArgs {
  spec: ClusterSpec;
  plan: ClusterPlan;
  /** The Redis password (secret). Absent: a random one is generated and kept (secret) in the stack state. */
  password?: pulumi.Input<string>;
  /** acl.enabled: configured passwords of the other users by name (secret); the rest are generated. */
  aclPasswords?: Record<string, pulumi.Input<string>>;
}

/** Where the pod gets its files. The ConfigMap holds everything but the password, which comes from the Secret. */
export const POD_PATHS = {
  ...CONTAINER_PATHS,
  refreshPeers: `${CONTAINER_PATHS.dir}/refresh-peers.sh`,
  prestop: `${CONTAINER_PATHS.dir}/prestop.sh`,
  probe: `${CONTAINER_PATHS.dir}/probe.sh`,
  secretDir: "/etc/redis-cluster-secret",
  passwordFile: "/etc/redis-cluster-secret/password",
  tmp: "/tmp",
} as const;

const PASSWORD_KEY = "password";
/** pulumi-kubernetes: a Job that failed (not ready) is replaced on the next update instead of failing it again. */
export const REPLACE_UNREADY = "pulumi.com/replaceUnready";
const BUS_PORT = REDIS_PORT + BUS_PORT_OFFSET;

/** Timings derived from the node timeout; exported for the tests. */
export function podTimings(spec: ClusterSpec) {
  // preStop: enough for a coordinated failover plus the roles to settle; never longer than needed to stop.
  const prestopSeconds = Math.max(10, Math.ceil((2 * spec.nodeTimeoutMs) / 1000) + 5);
  const startupPeriodSeconds = 5;
  return {
    prestopSeconds,
    // After preStop, SIGTERM: Redis fsyncs the AOF and writes an RDB snapshot before it exits.
    terminationGracePeriodSeconds: prestopSeconds + 60,
    // Startup covers the peer-name wait of the entrypoint hook plus the time to listen; loading answers LOADING (alive).
    startupPeriodSeconds,
    startupFailureThreshold: Math.ceil((spec.kubernetes.peerResolveTimeoutSeconds + 120) / startupPeriodSeconds),
    // How long Pulumi waits for the StatefulSet (and the client Service's endpoints). A roll replaces one pod at a
    // time, each readiness-gated: stop (grace period), start (startup window: peer names, AOF loading), plus 60 s to
    // schedule, attach the volume and pull. The provider's default (10 min) is shorter than a six-pod roll.
    rolloutTimeout: `${Math.ceil(
      (spec.masters * (1 + spec.replicasPerMaster) * (prestopSeconds + 60 + spec.kubernetes.peerResolveTimeoutSeconds + 120 + 60)) / 60,
    )}m`,
  };
}

/**
 * Kubernetes recommended labels. `common`/`of` carry app.kubernetes.io/version (the image tag): only on objects whose
 * label changes are plain updates. `stable`/`stableOf` and `selector` never include the version: selectors are
 * immutable, and any change of the StatefulSet's volumeClaimTemplates (their labels included) replaces it.
 */
export function kubernetesLabels(spec: ClusterSpec) {
  const tag = spec.redisImage.includes(":") ? spec.redisImage.slice(spec.redisImage.lastIndexOf(":") + 1) : "latest";
  const version = tag.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "").slice(0, 63) || "unknown";
  const common = {
    "app.kubernetes.io/name": "redis-cluster",
    "app.kubernetes.io/instance": spec.name,
    "app.kubernetes.io/part-of": "redis-cluster",
    "app.kubernetes.io/managed-by": "pulumi",
    "app.kubernetes.io/version": version,
  };
  const { "app.kubernetes.io/version": _version, ...stable } = common;
  const of = (component: string) => ({ ...common, "app.kubernetes.io/component": component });
  const stableOf = (component: string) => ({ ...stable, "app.kubernetes.io/component": component });
  const selector = {
    "app.kubernetes.io/name": "redis-cluster",
    "app.kubernetes.io/instance": spec.name,
    "app.kubernetes.io/component": "node",
  };
  return { common, of, stable, stableOf, selector };
}

/**
 * The prod topology on Kubernetes: one StatefulSet pod per planned node, formed once by a Job running the same
 * bootstrap script as Docker, with stable identity across pod restarts (entrypoint hook refresh-peers.sh) and a
 * graceful master hand-over on termination (preStop). Every file comes from the shared plan or infra/scripts.
 */
export class RedisKubernetesCluster extends pulumi.ComponentResource {
  declare readonly namespace: pulumi.Output<string>;
  declare readonly statefulSetName: pulumi.Output<string>;
  declare readonly headlessServiceName: pulumi.Output<string>;
  /** ClusterIP Service over ready pods: a seed address for cluster clients. */
  declare readonly clientServiceName: pulumi.Output<string>;
  /** Generated name of the pods' ConfigMap (changes with its content). */
  declare readonly configMapName: pulumi.Output<string>;
  /** Generated name of the Secret holding the password (key `password`; changes with the password). Reference it by this name. */
  declare readonly secretName: pulumi.Output<string>;
  declare readonly bootstrapJobName: pulumi.Output<string>;
  /** What the scale step does to reach this topology from the last deployed one (computed at preview). */
  declare readonly scalePlan: pulumi.Output<string[]>;
  /** "host:port" of every pod by its stable DNS name. */
  declare readonly seeds: pulumi.Output<string[]>;
  /** "<client service>.<namespace>.svc.cluster.local:6379" */
  declare readonly clientEndpoint: pulumi.Output<string>;
  /** The password, always a secret output (for the smoke test). */
  declare readonly password: pulumi.Output<string>;
  /** acl.enabled: the generated name of each user's Secret (keys `username`, `password`); admin's is `secretName`. */
  declare readonly userSecretNames: pulumi.Output<Record<string, string>>;
  /** acl.enabled: each user's password (secret). */
  readonly userPasswords: Record<string, pulumi.Output<string>> = {};
  /** acl.enabled: the Secret (key retired.json) with the passwords the last rotation retired, for the smoke Job. */
  readonly retiredPasswordsSecretName?: pulumi.Output<string>;
  /** TLS (tls.enabled): Secrets (tls.crt, tls.key, ca.crt) of the nodes' and of the clients' (Jobs) certificate. */
  declare readonly tlsSecretName: pulumi.Output<string | undefined>;
  declare readonly tlsClientSecretName: pulumi.Output<string | undefined>;
  /** Resources the next steps (smoke test) must wait for: the cluster is formed once they are. */
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: RedisKubernetesClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-cluster:kubernetes:RedisKubernetesCluster", name, {}, opts);
    const { spec, plan } = args;
    const k = spec.kubernetes;
    if (spec.platform !== "kubernetes") throw new Error(`RedisKubernetesCluster: spec.platform is ${spec.platform}, expected kubernetes`);
    const names = kubernetesNames(spec);
    const labels = kubernetesLabels(spec);
    const timings = podTimings(spec);
    const protect = k.protect;
    const nodeCount = plan.nodes.length;
    const serviceAccountName = spec.name;

    // First: the scaling plan, shown at preview; it refuses a topology that cannot hold the data before any object changes.
    const scalePlan = new ScalePlan(
      `${name}-scale-plan`,
      { masters: spec.masters, replicasPerMaster: spec.replicasPerMaster, nodes: plan.nodes.map((n) => n.name) },
      { parent: this },
    );

    // Namespace: created (and protected: deleting it would delete the volumes) or an existing one by name.
    const ns = k.createNamespace
      ? new k8s.core.v1.Namespace(
          `${name}-namespace`,
          {
            metadata: {
              name: k.namespace,
              labels: {
                ...labels.of("namespace"),
                // Everything here runs under the "restricted" Pod Security Standard; the API server enforces it.
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
              },
            },
          },
          { parent: this, protect },
        )
      : undefined;
    const namespace: pulumi.Output<string> = ns ? ns.metadata.name : pulumi.output(k.namespace);
    const meta = (objName: string, component: string) => ({ name: objName, namespace, labels: labels.of(component) });

    // Auto-named objects (Pulumi appends a random suffix): a data change replaces them create-before-delete, and the
    // new name changes every pod template that references it.
    const autoMeta = (component: string) => ({ namespace, labels: labels.of(component) });

    // Password: Secret only. It reaches containers as a mounted file (redis, bootstrap) or secretKeyRef env (exporter,
    // smoke Job). A new password is a new Secret (Secret data changes are replacements): the StatefulSet then rolls its
    // pods one at a time, each pod keeps the old Secret mounted until it is replaced, and Pulumi deletes the old Secret
    // after the roll. Neither is protected: both can be recreated from the stack config or the RandomPassword state.
    // Rotating safely needs a step on the live nodes first (docs/runbooks.md, "Rotate the password").
    const password: pulumi.Output<string> = args.password
      ? pulumi.secret(args.password)
      : new random.RandomPassword(`${name}-password`, { length: 32, special: false }, { parent: this }).result;
    const secret = new k8s.core.v1.Secret(
      `${name}-auth`,
      { metadata: autoMeta("auth"), type: "Opaque", stringData: { [PASSWORD_KEY]: password } },
      { parent: this },
    );

    // ACL users (acl.enabled): the ACL file (hashes) and replica's password (masterauth) in one Secret for the pods;
    // one Secret per other user (username, password) for the exporter, the smoke Job and applications. All auto-named:
    // a new password is a new Secret, which rolls the pods one at a time after the rotation step added it (below).
    const acl = spec.acl.enabled ? new AclUsers(`${name}-acl-users`, { spec, adminPassword: password, configured: args.aclPasswords }, { parent: this }) : undefined;
    const aclSecret = acl
      ? new k8s.core.v1.Secret(
          `${name}-acl`,
          { metadata: autoMeta("acl"), type: "Opaque", stringData: { "users.acl": acl.aclFile, "replica-password": acl.passwords.replica } },
          { parent: this },
        )
      : undefined;
    const userSecrets: Record<string, k8s.core.v1.Secret> = {};
    for (const [user, pw] of Object.entries(acl?.passwords ?? {})) {
      if (user === "admin") continue;
      userSecrets[user] = new k8s.core.v1.Secret(`${name}-user-${user}`, { metadata: autoMeta("auth"), type: "Opaque", stringData: { username: user, password: pw } }, { parent: this });
    }
    // The passwords the last rotation retired (JSON), for the smoke Job's old-passwords check. Auto-named: after a
    // rotation the smoke Job refers to a new Secret, so it is replaced and runs again.
    const retiredSecret = acl
      ? new k8s.core.v1.Secret(`${name}-acl-retired`, { metadata: autoMeta("auth"), type: "Opaque", stringData: { "retired.json": acl.retiredPasswords } }, { parent: this })
      : undefined;
    const aclVolumes = aclSecret ? [{ name: "acl", secret: { secretName: aclSecret.metadata.name, defaultMode: 0o440 } }] : [];
    const aclMounts = aclSecret ? [{ name: "acl", mountPath: ACL_PATHS.dir, readOnly: true }] : [];
    const aclEnv = acl ? Object.entries(aclNodeEnv()).map(([n, value]) => ({ name: n, value })) : [];

    // TLS: one node certificate for every pod (wildcard names under the headless service) and one client certificate
    // for the Jobs, from @pulumi/tls (keys secret in state) or cert-manager (kubernetes.certManagerIssuer).
    const tlsSecrets = spec.tls.enabled
      ? new KubernetesTlsSecrets(`${name}-tls`, { spec, requests: planCertificates(spec, plan, "kubernetes"), namespace, labels: labels.of("tls") }, { parent: this })
      : undefined;
    const tlsVolumes = (id: "nodes" | "client", volume: string) =>
      tlsSecrets ? [{ name: volume, secret: { secretName: tlsSecrets.secretNames[id], defaultMode: 0o440 } }] : [];
    const tlsMounts = (volume: string, dir: string) => (tlsSecrets ? [{ name: volume, mountPath: dir, readOnly: true }] : []);
    const tlsEnvOf = (files: typeof TLS_FILES | typeof TLS_CLIENT_FILES) =>
      tlsSecrets ? Object.entries(tlsEnv(files)).map(([n, value]) => ({ name: n, value })) : [];

    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      // Redis never talks to the Kubernetes API: no token in the pods.
      { metadata: meta(serviceAccountName, "node"), automountServiceAccountToken: false },
      { parent: this },
    );

    // The pods' files. Auto-named: a change is a new ConfigMap next to the old one (never a delete-then-create window
    // in which a restarting pod cannot mount it), and its new name rolls the pods (one at a time, readiness-gated).
    const podFiles: Record<string, string> = {
      "redis.conf": plan.redisConf,
      "entrypoint.sh": plan.entrypointScript,
      "refresh-peers.sh": readScript("refreshPeers"),
      "prestop.sh": readScript("prestop"),
      "probe.sh": readScript("probe"),
    };
    const configMap = new k8s.core.v1.ConfigMap(`${name}-config`, { metadata: autoMeta("config"), data: podFiles }, { parent: this });
    // bootstrap.sh runs in the Job only: its own ConfigMap, so a change re-runs the Job without restarting any pod.
    const bootstrapConfigMap = new k8s.core.v1.ConfigMap(
      `${name}-bootstrap`,
      { metadata: autoMeta("bootstrap"), data: { "bootstrap.sh": plan.bootstrapScript, ...(acl ? { "rotate.sh": readScript("rotate") } : {}) } },
      { parent: this },
    );
    // Also in the pod template, so the cause of a roll is visible on the pods.
    const configChecksum = createHash("sha256").update(JSON.stringify(podFiles)).digest("hex");

    const headless = new k8s.core.v1.Service(
      `${name}-headless`,
      {
        metadata: meta(names.headlessService, "node"),
        spec: {
          clusterIP: "None",
          // Pods need each other's DNS names before they are ready (formation, full restarts).
          publishNotReadyAddresses: true,
          selector: labels.selector,
          ports: [
            { name: "redis", port: REDIS_PORT, targetPort: "redis", protocol: "TCP" },
            { name: "bus", port: BUS_PORT, targetPort: "bus", protocol: "TCP" },
          ],
        },
      },
      { parent: this },
    );
    const clientService = new k8s.core.v1.Service(
      `${name}-client`,
      {
        metadata: meta(names.clientService, "node"),
        spec: {
          type: "ClusterIP",
          selector: labels.selector,
          ports: [{ name: "redis", port: REDIS_PORT, targetPort: "redis", protocol: "TCP" }],
        },
      },
      // A non-headless Service waits for ready endpoints, i.e. for the pods: the same bound as the StatefulSet.
      { parent: this, customTimeouts: { create: timings.rolloutTimeout, update: timings.rolloutTimeout } },
    );

    const podSecurityContext = {
      runAsNonRoot: true,
      runAsUser: k.runAsUser,
      runAsGroup: k.runAsUser,
      fsGroup: k.runAsUser,
      fsGroupChangePolicy: "OnRootMismatch",
      seccompProfile: { type: "RuntimeDefault" },
    };
    const containerSecurityContext = restrictedContainerSecurityContext(k.runAsUser);
    const secretVolume = { name: "secret", secret: { secretName: secret.metadata.name, defaultMode: 0o440, items: [{ key: PASSWORD_KEY, path: "password" }] } };
    // The only writable paths besides /data: the runtime redis.conf and temp files.
    const tmpVolume = { name: "tmp", emptyDir: { sizeLimit: "64Mi" } };
    // aclVolumes: the redis container mounts `acl` (users.acl); without the volume the API server refuses the StatefulSet (seen on the pods runner).
    const podVolumes = [{ name: "config", configMap: { name: configMap.metadata.name, defaultMode: 0o444 } }, secretVolume, tmpVolume, ...tlsVolumes("nodes", "tls"), ...aclVolumes];
    // The Job sees the pods' files and bootstrap.sh in the same directory.
    const jobVolumes = [
      {
        name: "config",
        projected: { defaultMode: 0o444, sources: [{ configMap: { name: configMap.metadata.name } }, { configMap: { name: bootstrapConfigMap.metadata.name } }] },
      },
      secretVolume,
      tmpVolume,
      ...tlsVolumes("client", "tls-client"),
    ];
    const sharedMounts = [
      { name: "config", mountPath: POD_PATHS.dir, readOnly: true },
      { name: "secret", mountPath: POD_PATHS.secretDir, readOnly: true },
      { name: "tmp", mountPath: POD_PATHS.tmp },
    ];
    const probe = (mode: "alive" | "ready") => ({ exec: { command: ["sh", POD_PATHS.probe, mode] } });
    // The pod's own stable name, as the plan computes it for node i (the template cannot know i).
    const ownHost = names.hostOf("$(POD_NAME)");

    const redisContainer = {
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
        { name: "REDIS_PORT", value: String(REDIS_PORT) },
        // Peers and clients reach the pod at its current IP; the stable DNS name goes into nodes.conf and
        // lets refresh-peers.sh find every peer's new IP after restarts.
        { name: "REDIS_ANNOUNCE_IP", value: "$(POD_IP)" },
        { name: "REDIS_ANNOUNCE_HOSTNAME", value: ownHost },
        { name: "REDIS_PREFERRED_ENDPOINT_TYPE", value: k.preferredEndpointType },
        { name: "REDIS_CONF_TEMPLATE", value: POD_PATHS.redisConf },
        { name: "REDIS_RUN_DIR", value: CONTAINER_PATHS.run },
        { name: "REDIS_DATA_DIR", value: POD_PATHS.data },
        { name: "REDIS_PASSWORD_FILE", value: POD_PATHS.passwordFile },
        { name: "REDIS_ENTRYPOINT_HOOK", value: POD_PATHS.refreshPeers },
        { name: "REDIS_PEER_RESOLVE_TIMEOUT", value: String(k.peerResolveTimeoutSeconds) },
        { name: "PRESTOP_TIMEOUT", value: String(timings.prestopSeconds) },
        // ACL: the node loads users.acl, replicates as `replica`; probes and preStop run as `admin`.
        ...aclEnv,
        // The node's certificate: the server's, its client certificate on the bus, and redis-cli's in probes and preStop.
        ...tlsEnvOf(TLS_FILES),
      ],
      resources: {
        requests: { ...k.resources.requests },
        limits: { ...(k.resources.limits.cpu ? { cpu: k.resources.limits.cpu } : {}), memory: k.resources.limits.memory },
      },
      volumeMounts: [{ name: "data", mountPath: POD_PATHS.data }, ...sharedMounts, ...tlsMounts("tls", TLS_FILES.dir), ...aclMounts],
      startupProbe: { ...probe("alive"), periodSeconds: timings.startupPeriodSeconds, timeoutSeconds: 5, failureThreshold: timings.startupFailureThreshold },
      // Liveness tolerates LOADING/BUSY and allows a full minute: a restart never helps a slow Redis.
      livenessProbe: { ...probe("alive"), periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
      readinessProbe: { ...probe("ready"), periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 2, successThreshold: 1 },
      lifecycle: { preStop: { exec: { command: ["sh", POD_PATHS.prestop] } } },
      securityContext: containerSecurityContext,
    };
    const containers: k8s.types.input.core.v1.Container[] = [redisContainer];
    if (spec.monitoring.enabled) {
      containers.push(
        exporterSidecar({
          image: spec.monitoring.exporterImage,
          passwordSecretName: acl ? userSecrets.exporter.metadata.name : secret.metadata.name,
          passwordSecretKey: PASSWORD_KEY,
          aclUser: !!acl,
          redisPort: REDIS_PORT,
          metricsPort: METRICS_PORT,
          tls: tlsSecrets ? { files: TLS_FILES, volume: "tls" } : undefined,
        }),
      );
    }

    const podAffinityTerm = { labelSelector: { matchLabels: labels.selector }, topologyKey: k.topologyKey };
    const affinity = {
      podAntiAffinity:
        k.antiAffinity === "hard"
          ? { requiredDuringSchedulingIgnoredDuringExecution: [podAffinityTerm] }
          : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm }] },
    };

    // Scaling in one `pulumi up` (docs/runbooks.md): phase `in` (drain, fail over and forget the pods that leave — the
    // highest ordinals) runs before the StatefulSet shrinks; phase `out` (join the new pods, move slots to them, attach
    // replicas) after it grew and the bootstrap Job verified the cluster. Both are no-ops when there is nothing to do.
    // The StatefulSet stays protected (a shrink is an update) and the PDB unchanged (a scale-down is not an eviction).
    const scaleJob = {
      namespace, secretName: secret.metadata.name, secretKey: PASSWORD_KEY,
      labels: { ...labels.of("scale"), [k.clientLabel]: "true" }, volumes: tlsVolumes("client", "tls-client"), volumeMounts: tlsMounts("tls-client", TLS_CLIENT_FILES.dir), env: [
        ...tlsEnvOf(TLS_CLIENT_FILES),
        // The Job connects to the pod IPs CLUSTER NODES gives, which no certificate names: the chain is checked, not the name.
        ...(tlsSecrets ? [{ name: "REDIS_TLS_VERIFY_HOSTNAME", value: "no" }] : []),
        ...(acl ? [{ name: "REDIS_USER", value: "admin" }] : []),
      ],
    };
    const scaleIn = new ScaleStep(
      `${name}-scale-in`,
      { platform: "kubernetes", plan, phase: "in", nodeTimeoutMs: spec.nodeTimeoutMs, dependsOn: [scalePlan, headless, secret], kubernetes: scaleJob },
      { parent: this },
    );

    // Password rotation (acl.enabled; docs/security.md): `rotate.sh add` gives every live node the new passwords beside
    // the old ones before anything switches (pods, exporter, smoke); `rotate.sh remove` leaves only the new ones once
    // the pods rolled and the bootstrap verified the cluster. Each Job re-runs when a Secret it mounts is new. A node
    // that is not running yet (first deploy) is skipped by `add`: it loads the ACL file when it starts.
    // One pod shape for every script Job (rotation, bootstrap): same identity, security and client label; only the
    // container, its volumes and the retry budget differ.
    const scriptJobSpec = (
      role: string,
      budget: { backoffLimit: number; activeDeadlineSeconds: number },
      container: k8s.types.input.core.v1.Container,
      volumes: pulumi.Input<k8s.types.input.core.v1.Volume>[],
    ): k8s.types.input.batch.v1.JobSpec => ({
      ...budget,
      template: {
        metadata: { labels: { ...labels.of(role), [k.clientLabel]: "true" } },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: serviceAccount.metadata.name,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurityContext,
          containers: [container],
          volumes,
        },
      },
    });
    const previousAdminSecret = `${spec.name}-acl-previous-admin`;
    const rotateJob = (mode: "add" | "remove", dependsOn: pulumi.Resource[]) =>
      new k8s.batch.v1.Job(
        `${name}-rotate-${mode}`,
        {
          metadata: { namespace, labels: labels.of("rotate"), annotations: { [REPLACE_UNREADY]: "true" } },
          spec: scriptJobSpec(
            "rotate",
            { backoffLimit: 2, activeDeadlineSeconds: 300 },
            {
              name: "rotate",
              image: spec.redisImage,
              imagePullPolicy: "IfNotPresent",
              command: ["sh", `${POD_PATHS.dir}/rotate.sh`, mode],
              env: Object.entries(
                rotateEnv({
                  nodes: plan.bootstrapEnv.REDIS_NODES,
                  passwordFile: POD_PATHS.passwordFile,
                  previousPasswordFile: ACL_PATHS.previousAdmin,
                  tls: tlsSecrets ? TLS_CLIENT_FILES : undefined,
                }),
              ).map(([n, value]) => ({ name: n, value })),
              resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { memory: "64Mi" } },
              volumeMounts: [...sharedMounts, ...tlsMounts("tls-client", TLS_CLIENT_FILES.dir), ...aclMounts, { name: "acl-previous", mountPath: ACL_PATHS.previousDir, readOnly: true }],
              securityContext: containerSecurityContext,
            },
            // The previous admin password: a fixed-name Secret written after the last rotation finished (absent on
            // the first deploy, hence optional).
            [...jobVolumes, ...aclVolumes, { name: "acl-previous", secret: { secretName: previousAdminSecret, optional: true, defaultMode: 0o440 } }],
          ),
        },
        { parent: this, dependsOn, customTimeouts: { create: "10m", update: "10m" } },
      );
    const rotateAdd = aclSecret ? rotateJob("add", [aclSecret, headless, ...Object.values(userSecrets)]) : undefined;

    const statefulSet = new k8s.apps.v1.StatefulSet(
      `${name}-statefulset`,
      {
        metadata: meta(names.statefulSet, "node"),
        spec: {
          serviceName: headless.metadata.name,
          replicas: nodeCount,
          // All pods start together: a full restart needs every node up to re-form.
          podManagementPolicy: "Parallel",
          updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
          // Volumes outlive the StatefulSet and any scale-down: data is only ever deleted by hand.
          persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
          selector: { matchLabels: labels.selector },
          template: {
            metadata: {
              labels: labels.of("node"),
              annotations: { "redis-cluster/config-checksum": configChecksum },
            },
            spec: {
              serviceAccountName: serviceAccount.metadata.name,
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              terminationGracePeriodSeconds: timings.terminationGracePeriodSeconds,
              securityContext: podSecurityContext,
              affinity,
              topologySpreadConstraints: [
                { maxSkew: 1, topologyKey: k.spreadTopologyKey, whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: labels.selector } },
              ],
              containers,
              volumes: podVolumes,
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
      },
      {
        parent: this,
        protect,
        dependsOn: [scaleIn.done, headless, configMap, secret, ...(rotateAdd ? [rotateAdd] : [])],
        // Kubernetes cannot change the claim templates of a StatefulSet; Pulumi would replace it (refused while
        // protected; otherwise every pod at once). Volumes are grown per PVC by hand (docs/runbooks.md).
        ignoreChanges: ["spec.volumeClaimTemplates"],
        customTimeouts: { create: timings.rolloutTimeout, update: timings.rolloutTimeout },
      },
    );

    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb`,
      // One node at a time: a drain never takes a master and its replica together.
      { metadata: meta(spec.name, "node"), spec: { maxUnavailable: 1, selector: { matchLabels: labels.selector } } },
      { parent: this },
    );

    const redisPorts = [{ protocol: "TCP", port: REDIS_PORT }];
    new k8s.networking.v1.NetworkPolicy(
      `${name}-netpol`,
      {
        metadata: meta(spec.name, "node"),
        spec: {
          podSelector: { matchLabels: labels.selector },
          policyTypes: ["Ingress"],
          ingress: [
            // Cluster pods: client port (replication, redirects) and the cluster bus.
            { from: [{ podSelector: { matchLabels: labels.selector } }], ports: [...redisPorts, { protocol: "TCP", port: BUS_PORT }] },
            // Clients (and the bootstrap Job) in this namespace opt in with a label.
            { from: [{ podSelector: { matchLabels: { [k.clientLabel]: "true" } } }], ports: redisPorts },
            ...(spec.monitoring.enabled
              ? [{
                  from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": k.monitoringNamespace } } }],
                  ports: [{ protocol: "TCP", port: METRICS_PORT }],
                }]
              : []),
          ],
        },
      },
      { parent: this },
    );

    // The same bootstrap.sh as Docker: forms the cluster once, verifies it on every later run, refuses foreign state.
    // Pulumi awaits the Job's completion; a retry covers a check that ran before gossip settled. A failed Job is
    // replaced (and so re-run) on the next update instead of blocking it (replaceUnready).
    const bootstrapTimeout = Number(plan.bootstrapEnv.BOOTSTRAP_TIMEOUT);
    const job = new k8s.batch.v1.Job(
      `${name}-bootstrap`,
      {
        metadata: { namespace, labels: labels.of("bootstrap"), annotations: { [REPLACE_UNREADY]: "true" } },
        spec: scriptJobSpec(
          "bootstrap",
          { backoffLimit: 3, activeDeadlineSeconds: 4 * bootstrapTimeout },
          {
            name: "bootstrap",
            image: spec.redisImage,
            imagePullPolicy: "IfNotPresent",
            command: ["sh", POD_PATHS.bootstrap],
            env: [
              ...Object.entries(plan.bootstrapEnv).map(([n, value]) => ({ name: n, value })),
              // A cluster whose shape differs from the plan is the scale step's to change (it runs next).
              { name: "REDIS_SCALE_STEP", value: "1" },
              ...(acl ? [{ name: "REDIS_USER", value: "admin" }] : []),
              { name: "REDIS_PASSWORD_FILE", value: POD_PATHS.passwordFile },
              ...tlsEnvOf(TLS_CLIENT_FILES),
            ],
            resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { memory: "64Mi" } },
            volumeMounts: [...sharedMounts, ...tlsMounts("tls-client", TLS_CLIENT_FILES.dir)],
            securityContext: containerSecurityContext,
          },
          jobVolumes,
        ),
      },
      { parent: this, dependsOn: [statefulSet, headless], customTimeouts: { create: `${Math.ceil((5 * bootstrapTimeout) / 60)}m`, update: `${Math.ceil((5 * bootstrapTimeout) / 60)}m` } },
    );

    const scaleOut = new ScaleStep(
      `${name}-scale-out`,
      { platform: "kubernetes", plan, phase: "out", nodeTimeoutMs: spec.nodeTimeoutMs, dependsOn: [job], kubernetes: scaleJob },
      { parent: this },
    );

    if (spec.monitoring.enabled) {
      new KubernetesMonitoring(
        `${name}-monitoring`,
        {
          namespace,
          selector: labels.selector,
          labels: labels.common,
          job: spec.name,
          masters: spec.masters,
          replicasPerMaster: spec.replicasPerMaster,
          metricsPort: METRICS_PORT,
          prometheusOperator: k.prometheusOperator,
          prometheusSelectorLabels: k.prometheusSelectorLabels,
          dashboardNamespace: k.dashboardNamespace ?? namespace,
          names: {
            metricsService: `${spec.name}-metrics`,
            serviceMonitor: spec.name,
            prometheusRule: `${spec.name}-rules`,
            dashboard: `${spec.name}-dashboard`,
          },
        },
        { parent: this, dependsOn: [statefulSet] },
      );
    }

    this.namespace = namespace;
    this.statefulSetName = statefulSet.metadata.name;
    this.headlessServiceName = headless.metadata.name;
    this.clientServiceName = clientService.metadata.name;
    this.configMapName = configMap.metadata.name;
    this.secretName = secret.metadata.name;
    this.bootstrapJobName = job.metadata.name;
    this.seeds = pulumi.output(plan.seeds);
    this.clientEndpoint = pulumi.interpolate`${clientService.metadata.name}.${namespace}.svc.cluster.local:${REDIS_PORT}`;
    this.password = pulumi.secret(password);
    this.tlsSecretName = tlsSecrets ? tlsSecrets.secretNames.nodes : pulumi.output(undefined);
    this.tlsClientSecretName = tlsSecrets ? tlsSecrets.secretNames.client : pulumi.output(undefined);
    this.scalePlan = scalePlan.plan;
    const rotateRemove = aclSecret ? rotateJob("remove", [scaleOut.done]) : undefined;
    if (rotateRemove) {
      // Only now does admin's current password become the "previous" one of the next rotation.
      new k8s.core.v1.Secret(
        `${name}-acl-previous-admin`,
        { metadata: { name: previousAdminSecret, namespace, labels: labels.of("auth") }, type: "Opaque", stringData: { [PASSWORD_KEY]: password } },
        { parent: this, dependsOn: [rotateRemove] },
      );
    }
    this.userSecretNames = pulumi.all(Object.fromEntries(Object.entries(userSecrets).map(([u, s]) => [u, s.metadata.name])));
    this.userPasswords = acl?.passwords ?? {};
    this.retiredPasswordsSecretName = retiredSecret?.metadata.name;
    this.ready = [rotateRemove ?? scaleOut.done];
    this.registerOutputs({
      namespace: this.namespace,
      statefulSetName: this.statefulSetName,
      headlessServiceName: this.headlessServiceName,
      clientServiceName: this.clientServiceName,
      configMapName: this.configMapName,
      secretName: this.secretName,
      userSecretNames: this.userSecretNames,
      bootstrapJobName: this.bootstrapJobName,
      scalePlan: this.scalePlan,
      seeds: this.seeds,
      clientEndpoint: this.clientEndpoint,
      password: this.password,
      tlsSecretName: this.tlsSecretName,
      tlsClientSecretName: this.tlsClientSecretName,
    });
  }
}
