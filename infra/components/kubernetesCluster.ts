import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import type { ClusterSpec } from "../config/schema";
import { REDIS_PORT, type ClusterPlan } from "../plan/plan";
import { planCertificates } from "../plan/tlsCertificates";
import { ScaleStep, declareScaleBundle } from "./scaleStep";
import { KubernetesMonitoring } from "./kubernetesMonitoring";
import { AclUsers, type LastPasswords } from "./aclUsers";
import { KubernetesTlsSecrets } from "./clusterCertificates";
import { clusterContext, type PodRefs } from "./kubernetes/context";
import { kubernetesLabels } from "./kubernetes/metadata";
import { namespaceArgs } from "./kubernetes/namespace";
import { aclSecret, passwordSecret, previousAdminSecret, retiredPasswordsSecret, userSecret } from "./kubernetes/secrets";
import { serviceAccountArgs } from "./kubernetes/serviceAccount";
import { bootstrapFiles, configChecksum, configMapArgs, podFiles } from "./kubernetes/configMaps";
import { clientServiceArgs, externalServiceArgs, headlessServiceArgs } from "./kubernetes/services";
import { externalAccessPlan } from "../plan/externalAccess";
import { scaleJobArgs } from "./kubernetes/scaleJob";
import { bootstrapJobArgs, bootstrapTimeoutSeconds, rotateJobArgs } from "./kubernetes/scriptJobs";
import { statefulSetArgs } from "./kubernetes/statefulSet";
import { networkPolicyArgs, podDisruptionBudgetArgs } from "./kubernetes/podPolicies";
import { monitoringArgs } from "./kubernetes/monitoring";
import type { BackupSecrets } from "../config/backup";
import { backupBundle, backupCronJobArgs, repositorySecretArgs, RESTORE_JOB_IGNORE, restoreJobArgs, restoreJobName } from "./kubernetes/backupJobs";
import { bundleConfigMapArgs } from "./kubernetes/nodeJob";
import { pushgatewayObjects } from "./kubernetes/pushgateway";

export interface RedisKubernetesClusterArgs {
  spec: ClusterSpec;
  plan: ClusterPlan;
  /** The Redis password (secret). Absent: a random one is generated and kept (secret) in the stack state. */
  password?: pulumi.Input<string>;
  /** acl.enabled: configured passwords of the other users by name (secret); the rest are generated. */
  aclPasswords?: Record<string, pulumi.Input<string>>;
  /** backup.enabled: the repository's password and S3 credentials (secret), for the backup and drill CronJobs. */
  backupSecrets?: RepositorySecretValues;
  /** restore.snapshot: the repository's password and S3 credentials (secret), for the restore Job. */
  restoreSecrets?: RepositorySecretValues;
  /** acl.enabled: the last deployment's passwords and retired ones (infra/lastDeployment.ts). */
  lastPasswords?: LastPasswords;
  /** restore.snapshot: the restore Job the last deployment completed (its `restoreJob` output). */
  lastRestoreJob?: string;
}

type RepositorySecretValues = NonNullable<BackupSecrets<pulumi.Input<string>>["backup"]>;

/**
 * The prod topology on Kubernetes: one StatefulSet pod per planned node, formed once by a Job running the same
 * bootstrap script as Docker, with stable identity across pod restarts (entrypoint hook refresh-peers.sh) and a
 * graceful master hand-over on termination (preStop). Every file comes from the shared plan or infra/scripts.
 * The objects are built in ./kubernetes/; this wires them together.
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
  /** acl.enabled: what the rotations retired, by user (secret; read back by the next deployment). */
  readonly retiredPasswords?: pulumi.Output<Record<string, string[]>>;
  /** restore.snapshot: the restore Job's name, known once it completed. */
  readonly restoreJobName?: pulumi.Output<string>;
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
    const child = { parent: this };

    // Namespace: created (and protected: deleting it would delete the volumes) or an existing one by name.
    const labels = kubernetesLabels(spec);
    const ns = k.createNamespace ? new k8s.core.v1.Namespace(`${name}-namespace`, namespaceArgs(k.namespace, labels), { parent: this, protect: k.protect }) : undefined;
    const namespace: pulumi.Output<string> = ns ? ns.metadata.name : pulumi.output(k.namespace);
    const cx = clusterContext(spec, plan, namespace);

    const password: pulumi.Output<string> = args.password
      ? pulumi.secret(args.password)
      : new random.RandomPassword(`${name}-password`, { length: 32, special: false }, child).result;
    const secret = new k8s.core.v1.Secret(`${name}-auth`, passwordSecret(cx.meta, password), child);

    // ACL users (acl.enabled): the pods' Secret, one Secret per other user and the retired passwords; a new password
    // is a new Secret, which rolls the pods one at a time after the rotation step added it (below).
    const acl = spec.acl.enabled ? new AclUsers(`${name}-acl-users`, { spec, adminPassword: password, configured: args.aclPasswords, last: args.lastPasswords }, child) : undefined;
    const aclPodSecret = acl ? new k8s.core.v1.Secret(`${name}-acl`, aclSecret(cx.meta, acl.aclFile, acl.passwords.replica), child) : undefined;
    const userSecrets: Record<string, k8s.core.v1.Secret> = {};
    for (const [user, pw] of Object.entries(acl?.passwords ?? {})) {
      if (user === "admin") continue;
      userSecrets[user] = new k8s.core.v1.Secret(`${name}-user-${user}`, userSecret(cx.meta, user, pw), child);
    }
    // After a rotation the smoke Job refers to a new Secret, so it is replaced and runs again.
    const retiredSecret = acl ? new k8s.core.v1.Secret(`${name}-acl-retired`, retiredPasswordsSecret(cx.meta, acl.retiredPasswords), child) : undefined;

    // TLS: one node certificate for every pod (wildcard names under the headless service) and one client certificate
    // for the Jobs, from @pulumi/tls (keys secret in state) or cert-manager (kubernetes.certManagerIssuer).
    const tlsSecrets = spec.tls.enabled
      ? new KubernetesTlsSecrets(`${name}-tls`, { spec, requests: planCertificates(spec, plan, "kubernetes"), namespace, labels: labels.of("tls") }, child)
      : undefined;

    const serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-sa`, serviceAccountArgs(cx), child);
    const files = podFiles(plan);
    const configMap = new k8s.core.v1.ConfigMap(`${name}-config`, configMapArgs(cx.meta, "config", files), child);
    // The Jobs' scripts in their own ConfigMap: a change re-runs the Jobs without restarting any pod.
    const bootstrapConfigMap = new k8s.core.v1.ConfigMap(`${name}-bootstrap`, configMapArgs(cx.meta, "bootstrap", bootstrapFiles(plan, !!acl)), child);

    const headless = new k8s.core.v1.Service(`${name}-headless`, headlessServiceArgs(cx), child);
    const rollout = { create: cx.timings.rolloutTimeout, update: cx.timings.rolloutTimeout };
    // A non-headless Service waits for ready endpoints, i.e. for the pods: the same bound as the StatefulSet.
    const clientService = new k8s.core.v1.Service(`${name}-client`, clientServiceArgs(cx), { parent: this, customTimeouts: rollout });
    // externalAccess: one LoadBalancer Service per pod (client port only), added and removed with the pods when scaling;
    // the smoke test waits for them (below), so `pulumi up` ends with every node reachable from outside.
    const externalServices = externalAccessPlan(spec)
      ? plan.nodes.map((n) => new k8s.core.v1.Service(`${name}-external-${n.index}`, externalServiceArgs(cx, n.index), { parent: this, customTimeouts: rollout }))
      : [];

    const refs: PodRefs = {
      serviceAccountName: serviceAccount.metadata.name,
      headlessServiceName: headless.metadata.name,
      secretName: secret.metadata.name,
      exporterSecretName: acl ? userSecrets.exporter.metadata.name : secret.metadata.name,
      configMapName: configMap.metadata.name,
      bootstrapConfigMapName: bootstrapConfigMap.metadata.name,
      tls: tlsSecrets ? { nodes: tlsSecrets.secretNames.nodes, client: tlsSecrets.secretNames.client } : undefined,
      aclSecretName: aclPodSecret?.metadata.name,
    };

    // Scaling in one `pulumi up` (docs/runbooks.md): phase `in` (drain, fail over and forget the pods that leave — the
    // highest ordinals) runs before the StatefulSet shrinks; phase `out` (join the new pods, move slots to them, attach
    // replicas) after it grew and the bootstrap Job verified the cluster. Both are no-ops when there is nothing to do.
    // The StatefulSet stays protected (a shrink is an update) and the PDB unchanged (a scale-down is not an eviction).
    const scaleArgs = scaleJobArgs(cx, refs);
    const scaleBundle = declareScaleBundle(`${name}-scale-bundle`, scaleArgs, child);
    const scaleStep = (phase: "in" | "out", dependsOn: pulumi.Resource[]) =>
      new ScaleStep(`${name}-scale-${phase}`, { platform: "kubernetes", plan, phase, nodeTimeoutMs: spec.nodeTimeoutMs, dependsOn, kubernetes: { ...scaleArgs, bundle: scaleBundle } }, child);
    const scaleIn = scaleStep("in", [headless, secret]);

    // Password rotation (acl.enabled; docs/security.md): `add` before the pods roll, `remove` once the cluster is verified.
    const rotateJob = (mode: "add" | "remove", dependsOn: pulumi.Resource[]) =>
      new k8s.batch.v1.Job(`${name}-rotate-${mode}`, rotateJobArgs(cx, refs, mode), { parent: this, dependsOn, customTimeouts: { create: "10m", update: "10m" } });
    const rotateAdd = aclPodSecret ? rotateJob("add", [aclPodSecret, headless, ...Object.values(userSecrets)]) : undefined;

    const statefulSet = new k8s.apps.v1.StatefulSet(`${name}-statefulset`, statefulSetArgs(cx, refs, configChecksum(files)), {
      parent: this,
      protect: k.protect,
      dependsOn: [scaleIn.done, headless, configMap, secret, ...(rotateAdd ? [rotateAdd] : [])],
      // Kubernetes cannot change the claim templates of a StatefulSet; Pulumi would replace it (refused while
      // protected; otherwise every pod at once). Volumes are grown per PVC by hand (docs/runbooks.md).
      ignoreChanges: ["spec.volumeClaimTemplates"],
      customTimeouts: rollout,
    });
    new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, podDisruptionBudgetArgs(cx), child);
    new k8s.networking.v1.NetworkPolicy(`${name}-netpol`, networkPolicyArgs(cx), child);

    const bootstrapWait = `${Math.ceil((5 * bootstrapTimeoutSeconds(cx)) / 60)}m`;
    const job = new k8s.batch.v1.Job(`${name}-bootstrap`, bootstrapJobArgs(cx, refs), {
      parent: this,
      dependsOn: [statefulSet, headless],
      customTimeouts: { create: bootstrapWait, update: bootstrapWait },
    });
    const scaleOut = scaleStep("out", [job]);

    // backup.enabled: the backup and restore-drill CronJobs, and the Pushgateway they push to (monitoring.enabled).
    // restore.snapshot: a restore Job (below, after the cluster is formed). All run the backup CLI's bundle.
    const backupBundleMap = plan.backup || plan.restore ? (() => {
      const bundle = backupBundle();
      const map = new k8s.core.v1.ConfigMap(`${name}-backup-bundle`, bundleConfigMapArgs({ namespace, labels: labels.of("backup"), bundle }), child);
      return { bundle, mapName: map.metadata.name };
    })() : undefined;
    const backupJobRefs = (id: string, secrets: RepositorySecretValues | undefined, user: string | undefined) => {
      if (!secrets?.password) throw new Error(`RedisKubernetesCluster ${name}: ${id} needs the repository password`);
      const c = secrets.credentials;
      const repoSecret = new k8s.core.v1.Secret(`${name}-${id}-repository`, repositorySecretArgs(cx.meta, { password: secrets.password, accessKeyId: c?.accessKeyId, secretAccessKey: c?.secretAccessKey }), child);
      return {
        bundleConfigMapName: backupBundleMap!.mapName,
        repositorySecretName: repoSecret.metadata.name,
        clusterSecretName: user ? userSecrets[user].metadata.name : secret.metadata.name,
      };
    };
    let createCronJobs: ((after: pulumi.Resource) => void) | undefined;
    if (plan.backup) {
      const b = plan.backup;
      const jobRefs = backupJobRefs("backup", args.backupSecrets, b.user);
      // Declared after the restore Job (below): no scheduled backup may store a half-restored cluster.
      createCronJobs = (after) => {
        for (const kind of ["backup", "restore-drill"] as const) {
          new k8s.batch.v1.CronJob(`${name}-${kind}`, backupCronJobArgs(cx, refs, b, kind, jobRefs, backupBundleMap!.bundle), { parent: this, dependsOn: [after] });
        }
      };
      if (b.pushgatewayUrl) {
        const pg = pushgatewayObjects(cx, b.pushgatewayName);
        const deployment = new k8s.apps.v1.Deployment(`${name}-pushgateway`, pg.deployment, child);
        new k8s.core.v1.Service(`${name}-pushgateway`, pg.service, child);
        new k8s.networking.v1.NetworkPolicy(`${name}-pushgateway-netpol`, pg.networkPolicy, child);
        if (pg.serviceMonitor) new k8s.apiextensions.CustomResource(`${name}-pushgateway-servicemonitor`, pg.serviceMonitor, { parent: this, dependsOn: [deployment] });
      }
    }

    if (spec.monitoring.enabled) new KubernetesMonitoring(`${name}-monitoring`, monitoringArgs(cx), { parent: this, dependsOn: [statefulSet] });

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
    const rotateRemove = aclPodSecret ? rotateJob("remove", [scaleOut.done]) : undefined;
    if (rotateRemove) {
      // Only now does admin's current password become the "previous" one of the next rotation.
      new k8s.core.v1.Secret(`${name}-acl-previous-admin`, previousAdminSecret(cx.meta, spec.name, password), { parent: this, dependsOn: [rotateRemove] });
    }
    this.userSecretNames = pulumi.all(Object.fromEntries(Object.entries(userSecrets).map(([u, s]) => [u, s.metadata.name])));
    this.userPasswords = acl?.passwords ?? {};
    this.retiredPasswordsSecretName = retiredSecret?.metadata.name;
    this.retiredPasswords = acl?.retired;
    // restore.snapshot: the new cluster is formed, scaled and its users rotated; the restore fills it before the smoke test.
    const formed = rotateRemove ?? scaleOut.done;
    const restoreJob = plan.restore
      ? new k8s.batch.v1.Job(restoreJobName(name, plan.restore), restoreJobArgs(cx, refs, plan.restore, backupJobRefs("restore", args.restoreSecrets, plan.restore.user), backupBundleMap!.bundle), {
          parent: this,
          dependsOn: [formed],
          customTimeouts: { create: "6h", update: "6h" },
          ignoreChanges: args.lastRestoreJob === restoreJobName(name, plan.restore) ? RESTORE_JOB_IGNORE : [],
        })
      : undefined;
    // Resolves once the Job completed (pulumi-kubernetes awaits it): a failed restore leaves the last outputs as they were.
    this.restoreJobName = restoreJob?.metadata.name;
    createCronJobs?.(restoreJob ?? job);
    this.ready = [restoreJob ?? formed, ...externalServices];
    this.registerOutputs({
      namespace: this.namespace,
      statefulSetName: this.statefulSetName,
      headlessServiceName: this.headlessServiceName,
      clientServiceName: this.clientServiceName,
      configMapName: this.configMapName,
      secretName: this.secretName,
      userSecretNames: this.userSecretNames,
      bootstrapJobName: this.bootstrapJobName,
      seeds: this.seeds,
      clientEndpoint: this.clientEndpoint,
      password: this.password,
      tlsSecretName: this.tlsSecretName,
      tlsClientSecretName: this.tlsClientSecretName,
    });
  }
}
