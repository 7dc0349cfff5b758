// Each platform's cluster as the stack deploys it: what the smoke test needs of it and what the stack exports of it.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as k8s from "@pulumi/kubernetes";
import type { LoadedConfig } from "./config/load";
import type { ClusterPlan } from "./plan/plan";
import { RedisDockerCluster, type DockerClusterOutputs } from "./components/dockerCluster";
import { RedisKubernetesCluster } from "./components/kubernetesCluster";
import { canaryBundle, type CanaryArgs } from "./components/canary";
import { canaryJob } from "./config/canary";
import { smokeBundle, type SmokeTestArgs } from "./components/smokeTest";
import { scaleBundle } from "./components/scaleStep";
import { backupBundle } from "./components/kubernetes/backupJobs";
import type { NodeJobArgs } from "./components/kubernetes/nodeJob";
import type { BackupClient } from "./components/docker/backupRun";
import type { LastPasswords } from "./components/aclUsers";
import type { LastDeployment } from "./lastDeployment";
import { podRangesWarning, preferredEndpointType } from "./plan/externalAccess";


/** The Kubernetes cluster's stack outputs: only what its settings give (Pulumi warns about every undefined output). */
export interface KubernetesClusterOutputs {
  /** "host:port" of every node as seen inside the cluster (pod DNS names). */
  seeds: pulumi.Output<string[]>;
  namespace: pulumi.Output<string>;
  statefulSet: pulumi.Output<string>;
  /** The client Service's "host:port". */
  clientEndpoint: pulumi.Output<string>;
  /** The Secret (key password) of admin's password. */
  secretName: pulumi.Output<string>;
  /** acl.enabled: the Secret (keys username, password) of each user but admin, whose Secret is `secretName`. */
  aclSecretNames?: pulumi.Output<Record<string, string>>;
  /** acl.enabled: every user's password (secret): `pulumi stack output aclPasswords --show-secrets`. */
  aclPasswords?: pulumi.Output<Record<string, string>>;
  /** acl.enabled: what the rotations retired, by user (secret; read back by the next deployment). */
  aclRetiredPasswords?: pulumi.Output<Record<string, string[]>>;
  /** restore.snapshot: the restore Job this deployment completed (read back by the next one: infra/lastDeployment.ts). */
  restoreJob?: pulumi.Output<string>;
  /** tls.enabled: Secrets (tls.crt, tls.key, ca.crt) of the nodes' and the clients' certificates. */
  tlsSecretName?: pulumi.Output<string>;
  tlsClientSecretName?: pulumi.Output<string>;
}

export type PlatformOutputs = ({ platform: "docker" } & DockerClusterOutputs) | ({ platform: "kubernetes" } & KubernetesClusterOutputs);

/** A deployed cluster: admin's password, how the smoke test reaches it, and what the stack exports of it. */
export interface PlatformCluster {
  /** admin's password (secret). */
  password: pulumi.Output<string>;
  smoke: Pick<SmokeTestArgs, "password" | "username" | "dependsOn" | "bootstrapExitCode" | "tls" | "retiredPasswords" | "kubernetes">;
  /** Where the canary (canary.enabled) runs and as whom. */
  canary: Pick<CanaryArgs, "username" | "docker" | "kubernetes">;
  outputs: PlatformOutputs;
  /** Docker: how the host-side backup run (after the smoke test) reaches the cluster. */
  backupClient?: BackupClient;
  /** Docker, restore.snapshot: the restore run's summary line. */
  restored?: pulumi.Output<string>;
}

/** `last`: the last deployment's outputs (infra/lastDeployment.ts): the ACL passwords and, on Kubernetes, the restore Job. */
export function deployCluster(config: LoadedConfig, plan: ClusterPlan, last: LastDeployment = {}): PlatformCluster {
  const passwords: LastPasswords = { passwords: last.aclPasswords, retired: last.aclRetired };
  return config.spec.platform === "kubernetes" ? deployKubernetes(config, plan, passwords, last.restoreJob) : deployDocker(config, plan, passwords);
}

function deployDocker({ spec, password: configured, aclPasswords, backupSecrets }: LoadedConfig, plan: ClusterPlan, lastPasswords?: LastPasswords): PlatformCluster {
  // A generated password is still a secret: random's `result` is secret in state and outputs.
  const password = configured ?? new random.RandomPassword(`${spec.name}-password`, { length: 32, special: false }).result;
  const cluster = new RedisDockerCluster(spec.name, { spec, plan, password, aclPasswords, lastPasswords, restoreSecrets: backupSecrets.restore });
  return {
    password,
    smoke: {
      password: spec.acl.enabled ? cluster.userPasswords.smoke : password,
      username: spec.acl.enabled ? "smoke" : undefined,
      dependsOn: cluster.ready,
      // The smoke command refuses to start unless the bootstrap exited 0.
      bootstrapExitCode: cluster.bootstrapExitCode,
      retiredPasswords: cluster.retiredPasswords ? { json: cluster.retiredPasswords } : undefined,
      // Host clients reach the nodes at the published 127.0.0.1 ports (natMap), a name in every node certificate.
      tls: cluster.tlsClient ? { pem: cluster.tlsClient, verifyHostname: true } : undefined,
    },
    canary: {
      username: spec.acl.enabled ? "canary" : undefined,
      docker: {
        networkName: cluster.outputs.network,
        password: spec.acl.enabled ? cluster.userPasswords.canary : password,
        tls: cluster.tlsClient,
        hostPort: spec.docker.canaryPort,
        hostIp: spec.docker.announceHost,
      },
    },
    outputs: { platform: "docker", ...cluster.outputs },
    backupClient: cluster.backupClient,
    restored: cluster.restore?.stdout,
  };
}

/** The CLI bundles a Kubernetes stack ships in ConfigMaps, under the conditions their components declare them. */
export function kubernetesBundles(spec: LoadedConfig["spec"], plan: ClusterPlan): NodeJobArgs["bundle"][] {
  return [
    ...(spec.smoke.enabled ? [smokeBundle()] : []),
    scaleBundle(),
    ...(spec.canary.enabled ? [canaryBundle()] : []),
    ...(plan.backup || plan.restore ? [backupBundle()] : []),
  ];
}

function deployKubernetes({ spec, password, aclPasswords, backupSecrets }: LoadedConfig, plan: ClusterPlan, lastPasswords: LastPasswords, lastRestoreJob?: string): PlatformCluster {
  // One explicit provider for every Kubernetes object, pinned to the configured kubeconfig context: prod must not go
  // to whatever context happens to be current on the machine running `pulumi up`.
  if (!spec.kubernetes.context) {
    pulumi.log.warn(
      `redis-cluster:kubernetes.context is not set, so ${spec.name} deploys to the kubeconfig's current context; ` +
        "pin it with `pulumi config set --path redis-cluster:kubernetes.context <context>`",
    );
  }
  const podRanges = podRangesWarning(spec);
  if (podRanges) pulumi.log.warn(podRanges);
  const provider = new k8s.Provider(`${spec.name}-kubernetes`, { context: spec.kubernetes.context });
  // Without a configured password the component generates one (a secret in state).
  const cluster = new RedisKubernetesCluster(spec.name, { spec, plan, password, aclPasswords, lastPasswords, lastRestoreJob, backupSecrets: backupSecrets.backup, restoreSecrets: backupSecrets.restore }, { providers: [provider] });
  const acl = spec.acl.enabled;
  const tls = spec.tls.enabled;
  // Pod IPs are in no certificate: with preferredEndpointType ip a client checks the chain only.
  const verifyHostname = preferredEndpointType(spec) === "hostname";
  return {
    password: cluster.password,
    smoke: {
      password: acl ? cluster.userPasswords.smoke : cluster.password,
      username: acl ? "smoke" : undefined,
      dependsOn: cluster.ready,
      retiredPasswords: cluster.retiredPasswordsSecretName ? { secretName: cluster.retiredPasswordsSecretName, key: "retired.json" } : undefined,
      tls: tls ? { secretName: cluster.tlsClientSecretName.apply((n) => n ?? ""), verifyHostname } : undefined,
      kubernetes: {
        namespace: cluster.namespace,
        secretName: acl ? cluster.userSecretNames.apply((n) => n.smoke) : cluster.secretName,
        secretKey: "password",
        // The NetworkPolicy admits clients that carry this label.
        labels: { [spec.kubernetes.clientLabel]: "true", "app.kubernetes.io/part-of": spec.name, "app.kubernetes.io/component": "smoke-test" },
        provider,
      },
    },
    canary: {
      username: acl ? "canary" : undefined,
      kubernetes: {
        namespace: cluster.namespace,
        secretName: acl ? cluster.userSecretNames.apply((n) => n.canary) : cluster.secretName,
        secretKey: "password",
        // The NetworkPolicy admits clients that carry this label.
        labels: { [spec.kubernetes.clientLabel]: "true", "app.kubernetes.io/part-of": spec.name, "app.kubernetes.io/component": "canary" },
        tls: tls ? { secretName: cluster.tlsClientSecretName.apply((n) => n ?? ""), verifyHostname } : undefined,
        podMonitor: spec.monitoring.enabled && spec.kubernetes.prometheusOperator ? { job: canaryJob(spec.name), selectorLabels: spec.kubernetes.prometheusSelectorLabels } : undefined,
        ingressFrom: { clientLabel: spec.kubernetes.clientLabel, monitoringNamespace: spec.monitoring.enabled ? spec.kubernetes.monitoringNamespace : undefined },
        provider,
      },
    },
    outputs: {
      platform: "kubernetes",
      seeds: cluster.seeds,
      namespace: cluster.namespace,
      statefulSet: cluster.statefulSetName,
      clientEndpoint: cluster.clientEndpoint,
      secretName: cluster.secretName,
      ...(acl && { aclSecretNames: cluster.userSecretNames, aclPasswords: pulumi.secret(pulumi.all(cluster.userPasswords)), aclRetiredPasswords: cluster.retiredPasswords! }),
      ...(cluster.restoreJobName && { restoreJob: cluster.restoreJobName }),
      // Set whenever tls.enabled.
      ...(tls && { tlsSecretName: cluster.tlsSecretName.apply((n) => n!), tlsClientSecretName: cluster.tlsClientSecretName.apply((n) => n!) }),
    },
  };
}
