// Program entry: stack config -> validated spec -> cluster plan -> platform component -> smoke test.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as k8s from "@pulumi/kubernetes";
import { loadStackConfig } from "./config/load";
import { planCluster } from "./plan/plan";
import { RedisDockerCluster } from "./components/dockerCluster";
import { RedisKubernetesCluster } from "./components/kubernetesCluster";
import { SmokeTest, smokeSettingsFromSpec, type SmokeTestArgs } from "./components/smokeTest";

// Throws one error naming every bad setting before any resource is declared.
const { spec, password: configuredPassword, aclPasswords: configuredAclPasswords } = loadStackConfig();
const plan = planCluster(spec);

interface ClusterOutputs {
  seeds: pulumi.Output<string[]>;
  password: pulumi.Output<string>;
  ready: pulumi.Resource[];
  /** Docker: the bootstrap's recorded exit code, for the smoke step's refusal. */
  bootstrapExitCode?: pulumi.Output<number>;
  /** acl.enabled: the smoke test's own user (name, password; Kubernetes: its Secret). */
  smokeUser?: { password: pulumi.Output<string>; secretName?: pulumi.Output<string> };
  /** TLS (tls.enabled): how the smoke test connects. */
  smokeTls?: SmokeTestArgs["tls"];
  /** acl.enabled: the passwords the last rotation retired, for the smoke test's old-passwords check. */
  smokeRetired?: SmokeTestArgs["retiredPasswords"];
  extra: Record<string, pulumi.Output<unknown>>;
}

// One explicit provider for every Kubernetes object, pinned to the configured kubeconfig context: prod must not go
// to whatever context happens to be current on the machine running `pulumi up`.
let k8sProvider: k8s.Provider | undefined;
function kubernetesProvider(): k8s.Provider {
  if (!k8sProvider) {
    if (!spec.kubernetes.context) {
      pulumi.log.warn(
        `redis-cluster:kubernetes.context is not set, so ${spec.name} deploys to the kubeconfig's current context; ` +
          "pin it with `pulumi config set --path redis-cluster:kubernetes.context <context>`",
      );
    }
    k8sProvider = new k8s.Provider(`${spec.name}-kubernetes`, { context: spec.kubernetes.context });
  }
  return k8sProvider;
}

function deploy(): ClusterOutputs {
  if (spec.platform === "kubernetes") {
    // Without a configured password the component generates one (a secret in state).
    const cluster = new RedisKubernetesCluster(spec.name, { spec, plan, password: configuredPassword, aclPasswords: configuredAclPasswords }, { providers: [kubernetesProvider()] });
    return {
      seeds: cluster.seeds,
      password: cluster.password,
      ready: cluster.ready,
      smokeUser: spec.acl.enabled ? { password: cluster.userPasswords.smoke, secretName: cluster.userSecretNames.apply((n) => n.smoke) } : undefined,
      smokeRetired: cluster.retiredPasswordsSecretName ? { secretName: cluster.retiredPasswordsSecretName, key: "retired.json" } : undefined,
      // Pod IPs are in no certificate: with preferredEndpointType ip the smoke test checks the chain only.
      smokeTls: spec.tls.enabled ? { secretName: cluster.tlsClientSecretName.apply((n) => n ?? ""), verifyHostname: spec.kubernetes.preferredEndpointType === "hostname" } : undefined,
      extra: {
        tlsSecretName: cluster.tlsSecretName,
        tlsClientSecretName: cluster.tlsClientSecretName,
        namespace: cluster.namespace,
        statefulSet: cluster.statefulSetName,
        clientEndpoint: cluster.clientEndpoint,
        secretName: cluster.secretName,
        aclSecretNames: spec.acl.enabled ? cluster.userSecretNames : pulumi.output(undefined),
        aclPasswords: spec.acl.enabled ? pulumi.secret(pulumi.all(cluster.userPasswords)) : pulumi.output(undefined),
        scalePlan: cluster.scalePlan,
      },
    };
  }
  // A generated password is still a secret: random's `result` is secret in state and outputs.
  const password = configuredPassword ?? new random.RandomPassword(`${spec.name}-password`, { length: 32, special: false }).result;
  const cluster = new RedisDockerCluster(spec.name, { spec, plan, password, aclPasswords: configuredAclPasswords });
  return {
    seeds: cluster.seeds,
    password,
    ready: cluster.ready,
    bootstrapExitCode: cluster.bootstrapExitCode,
    smokeUser: spec.acl.enabled ? { password: cluster.userPasswords.smoke } : undefined,
    smokeRetired: cluster.retiredPasswords ? { json: cluster.retiredPasswords } : undefined,
    // Host clients reach the nodes at the published 127.0.0.1 ports (natMap), a name in every node certificate.
    smokeTls: cluster.tlsClient ? { pem: cluster.tlsClient, verifyHostname: true } : undefined,
    extra: {
      tlsCaCert: pulumi.output(cluster.tlsClient?.ca),
      tlsClientCert: pulumi.output(cluster.tlsClient?.cert),
      tlsClientKey: cluster.tlsClient ? pulumi.secret(cluster.tlsClient.key) : pulumi.output(undefined),
      network: cluster.networkName,
      nodes: cluster.nodes,
      hostSeeds: cluster.hostSeeds,
      natMap: cluster.natMap,
      bootstrapExitCode: cluster.bootstrapExitCode,
      prometheusUrl: cluster.prometheusUrl,
      aclPasswords: spec.acl.enabled ? pulumi.secret(pulumi.all(cluster.userPasswords)) : pulumi.output(undefined),
      scalePlan: cluster.scalePlan,
    },
  };
}

const cluster = deploy();

// The deployment is only done when the smoke test passes: `pulumi up` fails with the failing checks otherwise.
const smoke = new SmokeTest(
  `${spec.name}-smoke`,
  {
    platform: spec.platform,
    plan,
    settings: smokeSettingsFromSpec(spec),
    // Part of the re-run trigger: a Redis upgrade is re-verified.
    redisImage: spec.redisImage,
    nodeTimeoutMs: spec.nodeTimeoutMs,
    password: cluster.smokeUser?.password ?? cluster.password,
    username: cluster.smokeUser ? "smoke" : undefined,
    dependsOn: cluster.ready,
    // Docker: the smoke command refuses to start unless the bootstrap exited 0.
    bootstrapExitCode: cluster.bootstrapExitCode,
    tls: cluster.smokeTls,
    retiredPasswords: cluster.smokeRetired,
    kubernetes:
      spec.platform === "kubernetes"
        ? {
            namespace: cluster.extra.namespace as pulumi.Output<string>,
            secretName: cluster.smokeUser?.secretName ?? (cluster.extra.secretName as pulumi.Output<string>),
            secretKey: "password",
            // The NetworkPolicy admits clients that carry this label.
            labels: { [spec.kubernetes.clientLabel]: "true", "app.kubernetes.io/part-of": spec.name, "app.kubernetes.io/component": "smoke-test" },
            provider: kubernetesProvider(),
          }
        : undefined,
  },
);

export const platform = spec.platform;
export const masters = spec.masters;
export const replicasPerMaster = spec.replicasPerMaster;
/** "host:port" of every node as seen inside the cluster network. */
export const seeds = cluster.seeds;
/** Platform-specific endpoints: docker (hostSeeds, natMap, prometheusUrl, …) or kubernetes (namespace, clientEndpoint, …). */
export const network = cluster.extra.network;
export const nodes = cluster.extra.nodes;
export const hostSeeds = cluster.extra.hostSeeds;
export const natMap = cluster.extra.natMap;
export const bootstrapExitCode = cluster.extra.bootstrapExitCode;
export const prometheusUrl = cluster.extra.prometheusUrl;
export const namespace = cluster.extra.namespace;
export const statefulSet = cluster.extra.statefulSet;
export const clientEndpoint = cluster.extra.clientEndpoint;
export const secretName = cluster.extra.secretName;
/** acl.enabled (Kubernetes): the Secret (keys username, password) of each user but admin, whose Secret is `secretName`. */
export const aclSecretNames = cluster.extra.aclSecretNames;
/** acl.enabled: every user's password (secret output): `pulumi stack output aclPasswords --show-secrets`. */
export const aclPasswords = cluster.extra.aclPasswords;
/** What the scale step does to go from the last deployed topology to this one (lines; computed at preview). */
export const scalePlan = cluster.extra.scalePlan;
/** Changes when the cluster definition changes; the smoke test re-runs then. */
export const smokeDefinitionHash = smoke.definitionHash;
/** TLS (tls.enabled). Kubernetes: Secrets (tls.crt, tls.key, ca.crt) of the nodes' and the clients' certificates. */
export const tlsSecretName = cluster.extra.tlsSecretName;
export const tlsClientSecretName = cluster.extra.tlsClientSecretName;
/** Docker: CA and client certificate for host clients (ioredis `tls: { ca, cert, key }`); the key is a secret output. */
export const tlsCaCert = cluster.extra.tlsCaCert;
export const tlsClientCert = cluster.extra.tlsClientCert;
export const tlsClientKey = cluster.extra.tlsClientKey;
/** Secret: read with `pulumi stack output redisPassword --show-secrets`. */
export const redisPassword = pulumi.secret(cluster.password);
