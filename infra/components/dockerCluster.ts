import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { ClusterSpec } from "../config/schema";
import { dockerAddressing, type ClusterPlan } from "../plan/plan";
import { planCertificates } from "../plan/tlsCertificates";
import { canaryJob, canarySlo } from "../config/canary";
import { DEFAULT_CANARY_PORT } from "../../smoke/canary/server";
import { DockerMonitoring } from "./dockerMonitoring";
import { AclUsers, type LastPasswords } from "./aclUsers";
import { ScaleStep } from "./scaleStep";
import { ClusterCertificates, type IssuedCertificate } from "./clusterCertificates";
import type { DockerClusterContext } from "./docker/context";
import { nodeContainers, nodeSecrets } from "./docker/nodes";
import { rotationSteps } from "./docker/rotation";
import { tlsReload } from "./docker/tlsReload";
import { bootstrap } from "./docker/bootstrap";
import { exitCheck } from "./docker/oneShot";
import { backupRun, restoreTrigger, type BackupClient, type RepositorySecrets } from "./docker/backupRun";
import { tlsPemEnv } from "./hostCommand";
import { BACKUP_USER } from "../plan/backup";

export interface RedisDockerClusterArgs {
  spec: ClusterSpec;
  plan: ClusterPlan;
  /** The Redis password (secret). It reaches the containers as a mode-400 file, never argv or env. */
  password: pulumi.Input<string>;
  /** acl.enabled: configured passwords of the other users by name (secret); the rest are generated. */
  aclPasswords?: Record<string, pulumi.Input<string>>;
  /** restore.snapshot: the repository's password and credentials (LoadedConfig.backupSecrets.restore, secret). */
  restoreSecrets?: RepositorySecrets;
  /** acl.enabled: the last deployment's passwords and retired ones (infra/lastDeployment.ts). */
  lastPasswords?: LastPasswords;
}

export interface DockerNodeEndpoint {
  name: string;
  /** Address and port inside the cluster network (what the node announces). */
  host: string;
  port: number;
  /** Published ports on the Docker host. */
  hostPort: number;
  hostBusPort: number;
}

/** The Docker cluster's stack outputs: only what its settings give (Pulumi warns about every undefined output). */
export interface DockerClusterOutputs {
  /** The cluster's Docker network. */
  network: pulumi.Output<string>;
  nodes: pulumi.Output<DockerNodeEndpoint[]>;
  /** "host:port" of every node inside the network. */
  seeds: pulumi.Output<string[]>;
  /** "host:port" of every node's published port, for clients on the Docker host. */
  hostSeeds: pulumi.Output<string[]>;
  /** ioredis `natMap` for host clients: announced "ip:port" -> published host:port. */
  natMap: pulumi.Output<Record<string, { host: string; port: number }>>;
  /** Exit code of the bootstrap container (0: formed or already formed; -1: none recorded). */
  bootstrapExitCode: pulumi.Output<number>;
  /** monitoring.enabled: Prometheus on the Docker host. */
  prometheusUrl?: pulumi.Output<string>;
  /** acl.enabled: every user's password (secret): `pulumi stack output aclPasswords --show-secrets`. */
  aclPasswords?: pulumi.Output<Record<string, string>>;
  /** acl.enabled: what the rotations retired, by user (secret; read back by the next deployment). */
  aclRetiredPasswords?: pulumi.Output<Record<string, string[]>>;
  /** tls.enabled: CA and client certificate for host clients (ioredis `tls: { ca, cert, key }`); the key is secret. */
  tlsCaCert?: pulumi.Output<string>;
  tlsClientCert?: pulumi.Output<string>;
  tlsClientKey?: pulumi.Output<string>;
}

/**
 * The dev topology: one bridge network with static addresses, one named volume and one container per node, and
 * one-shot containers around them (docker/oneShot.ts): the bootstrap that forms the cluster once all nodes are healthy,
 * and with ACL users or TLS the password rotation, the node secrets' copy and the certificate reload.
 * Every file comes from the shared plan; nothing here is Docker-specific text.
 */
export class RedisDockerCluster extends pulumi.ComponentResource {
  /** What the stack exports of this cluster. */
  readonly outputs: DockerClusterOutputs;
  /** "host:port" of every node inside the network. */
  declare readonly seeds: pulumi.Output<string[]>;
  /** Exit code of the bootstrap container (0: formed or already formed; -1: none recorded). Non-zero fails the check step. */
  declare readonly bootstrapExitCode: pulumi.Output<number>;
  /** Resources the next steps (smoke test, monitoring) must wait for. */
  readonly ready: pulumi.Resource[];
  /** acl.enabled: each user's password (secret outputs). */
  readonly userPasswords: Record<string, pulumi.Output<string>> = {};
  /** acl.enabled: passwords the last rotation retired, JSON {user: [password]} (secret), for the smoke step. */
  readonly retiredPasswords?: pulumi.Output<string>;
  /** TLS (tls.enabled): the client certificate for host clients and the smoke step (key secret), and the CA. */
  readonly tlsClient?: IssuedCertificate;
  /** How the backup and restore runs reach the cluster: the `backup` user (ACL), else admin. */
  readonly backupClient: BackupClient;
  /** restore.snapshot: the restore run (before the smoke test); its stdout is the engine's summary. */
  readonly restore?: pulumi.Resource & { stdout: pulumi.Output<string> };

  constructor(name: string, args: RedisDockerClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-cluster:docker:RedisDockerCluster", name, {}, opts);
    const { spec, plan } = args;

    const image = new docker.RemoteImage(`${name}-image`, { name: spec.redisImage, keepLocally: true }, { parent: this });
    const addressing = dockerAddressing(spec.docker.subnet);
    const network = new docker.Network(
      `${name}-network`,
      {
        name: `${spec.docker.network}-${pulumi.getStack()}`,
        driver: "bridge",
        attachable: true,
        // Containers without a fixed address (bootstrap, exporters, Prometheus) never take a node's static address.
        ipamConfigs: [{ subnet: addressing.subnet, gateway: addressing.gateway, ipRange: addressing.dynamicRange }],
      },
      { parent: this },
    );
    const acl = spec.acl.enabled ? new AclUsers(`${name}-acl-users`, { spec, adminPassword: args.password, configured: args.aclPasswords, last: args.lastPasswords }, { parent: this }) : undefined;
    // TLS: a CA and one certificate per node (its container address, name, and the published host address of the
    // natMap path) plus a client certificate for the bootstrap, the exporters and host clients. Keys are private files.
    const certs = spec.tls.enabled ? new ClusterCertificates(`${name}-tls`, { spec, requests: planCertificates(spec, plan, "docker") }, { parent: this }) : undefined;
    const cx: DockerClusterContext = { name, spec, plan, parent: this, image, network, password: args.password, acl, certs };

    // Rotation: `add` before the node secrets change, `remove` once the cluster is verified (below).
    const rotation = acl ? rotationSteps({ ...cx, acl }) : undefined;
    const secrets = nodeSecrets(cx, rotation ? [rotation.add.container] : []);
    const containers = nodeContainers(cx, secrets);

    // Scaling in one `pulumi up` (docs/runbooks.md, Scale out / Scale in): the plan is shown at preview (the
    // scalePlan output, infra/plan/scaling.ts scalePreview); phase `in`
    // (drain, fail over and forget the nodes that leave) runs before the bootstrap re-verifies, phase `out` (join new
    // nodes, move slots to them, attach replicas) after it. Containers that leave the program are deleted by the engine
    // after every create and update, i.e. after both phases (already forgotten by every node then).
    // The host-side CLI as the smoke step: admin user (ACL), the client certificate's PEMs in its environment (TLS;
    // the node certificates name the published host address, so the host name is checked too).
    const scaleEnv: Record<string, pulumi.Input<string>> = {
      ...(acl ? { REDIS_USER: "admin" } : {}),
      ...(certs ? tlsPemEnv(certs.issued.client) : {}),
    };
    const scaleStep = (phase: "in" | "out", dependsOn: pulumi.Resource[]) =>
      new ScaleStep(
        `${name}-scale-${phase}`,
        { platform: "docker", plan, phase, nodeTimeoutMs: spec.nodeTimeoutMs, password: args.password, extraEnv: scaleEnv, dependsOn },
        { parent: this },
      );
    const reloaded = certs ? tlsReload({ ...cx, certs }, containers) : undefined;
    const scaleIn = scaleStep("in", containers);
    const formed = bootstrap(cx, [...containers, scaleIn.done, ...(reloaded ? [reloaded] : [])]);
    const scaleOut = scaleStep("out", [formed.check]);

    // Exporters and Prometheus start once the cluster is formed, so the first scrapes see a healthy cluster.
    const monitoring = spec.monitoring.enabled
      ? new DockerMonitoring(
          `${name}-monitoring`,
          {
            networkName: network.name,
            nodes: plan.nodes.map((n) => ({ name: n.name, host: n.host, port: n.port })),
            job: spec.name,
            masters: spec.masters,
            replicasPerMaster: spec.replicasPerMaster,
            password: acl ? acl.passwords.exporter : args.password,
            aclUser: !!acl,
            prometheusHostPort: spec.docker.prometheusPort,
            publishIp: spec.docker.announceHost,
            exporterImage: spec.monitoring.exporterImage,
            prometheusImage: spec.monitoring.prometheusImage,
            tls: certs?.issued.client,
            // The canary container (declared after the cluster, infra/platforms.ts) is reached by its name.
            canary: spec.canary.enabled ? { target: `${canaryJob(spec.name)}:${DEFAULT_CANARY_PORT}`, slo: canarySlo(spec) } : undefined,
            pushgateway: plan.backup?.pushgatewayUrl ? { name: plan.backup.pushgatewayName, hostPort: spec.docker.pushgatewayPort, cluster: plan.backup.pushCluster } : undefined,
          },
          { parent: this, dependsOn: [formed.check] },
        )
      : undefined;
    const rotateCheck = rotation ? exitCheck(cx, "rotate-check", rotation.remove([scaleOut.done]), "rotate.sh remove") : undefined;

    // The backup user exists when a backup or a restore runs (infra/plan/acl.ts); without ACL users, admin.
    this.backupClient = {
      password: acl ? acl.passwords[BACKUP_USER] ?? args.password : args.password,
      username: acl ? BACKUP_USER : undefined,
      tls: certs?.issued.client,
      pushgateway: monitoring?.pushgateway,
    };
    // restore.snapshot: the new cluster is formed, scaled and its users rotated; the restore fills it before anything
    // else (the smoke test, the canary) writes a key. It runs once: an unchanged `pulumi up` does not repeat it.
    const clusterDone = rotateCheck ?? scaleOut.done;
    if (plan.restore) {
      this.restore = backupRun(
        `${name}-restore`,
        {
          cliArgs: plan.restore.args,
          plan,
          repository: plan.restore.repository,
          secrets: args.restoreSecrets ?? {},
          client: this.backupClient,
          triggers: [restoreTrigger(plan.restore)],
          dependsOn: [clusterDone],
          once: true,
        },
        this,
      );
    }

    const endpoints: DockerNodeEndpoint[] = plan.nodes.map((n) => ({
      name: n.name, host: n.host, port: n.port, hostPort: n.hostPort!, hostBusPort: n.hostBusPort!,
    }));
    this.seeds = pulumi.output(plan.seeds);
    this.bootstrapExitCode = formed.exitCode;
    this.userPasswords = acl?.passwords ?? {};
    this.retiredPasswords = acl?.retiredPasswords;
    this.ready = [this.restore ?? clusterDone];
    this.tlsClient = certs?.issued.client;
    this.outputs = {
      network: network.name,
      nodes: pulumi.output(endpoints),
      seeds: this.seeds,
      hostSeeds: pulumi.output(plan.hostSeeds),
      natMap: pulumi.output(plan.natMap),
      bootstrapExitCode: this.bootstrapExitCode,
      ...(monitoring && { prometheusUrl: monitoring.prometheusUrl }),
      ...(acl && { aclPasswords: pulumi.secret(pulumi.all(acl.passwords)), aclRetiredPasswords: acl.retired }),
      ...(certs && { tlsCaCert: certs.issued.client.ca, tlsClientCert: certs.issued.client.cert, tlsClientKey: pulumi.secret(certs.issued.client.key) }),
    };
    this.registerOutputs(this.outputs);
  }
}
