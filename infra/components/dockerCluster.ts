import { createHash } from "node:crypto";
import { posix } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as command from "@pulumi/command";
import type { ClusterSpec } from "../config/schema";
import { CONTAINER_PATHS, dockerAddressing, nodeEnv, type ClusterPlan } from "../plan/plan";
import { DockerMonitoring } from "./dockerMonitoring";
import { ACL_PATHS, AclUsers, aclNodeEnv } from "./aclUsers";
import { readScript } from "../plan/scripts";
import { BOOTSTRAP_EXIT_ENV } from "./smokeTest";
import { ScalePlan } from "./scalePlan";
import { ScaleStep } from "./scaleStep";
import { ClusterCertificates, type IssuedCertificate } from "./clusterCertificates";
import { TLS_CLIENT_FILES, TLS_FILES, tlsEnv, type TlsFilePaths } from "../plan/tls";
import { planCertificates } from "../plan/tlsCertificates";
import { rotateEnv } from "../plan/acl";

/** uid/gid of the `redis` user in the official redis images: the server never runs as root. */
const REDIS_UID = "999";
const PASSWORD_FILE = `${CONTAINER_PATHS.dir}/secret/password`;
/**
 * A node's secrets volume, read-only in the node: its ACL files and admin's password (acl.enabled), its TLS
 * certificate, key and CA (tls.enabled). File names as in the Kubernetes Secrets.
 */
const NODE_SECRETS_DIR = "/etc/redis-cluster-secrets";
const NODE_SECRETS = {
  aclFile: `${NODE_SECRETS_DIR}/${posix.basename(ACL_PATHS.aclFile)}`,
  masterauth: `${NODE_SECRETS_DIR}/${posix.basename(ACL_PATHS.masterauth)}`,
  adminPassword: `${NODE_SECRETS_DIR}/admin-password`,
  tls: { cert: `${NODE_SECRETS_DIR}/${posix.basename(TLS_FILES.cert)}`, key: `${NODE_SECRETS_DIR}/${posix.basename(TLS_FILES.key)}`, ca: `${NODE_SECRETS_DIR}/${posix.basename(TLS_FILES.ca)}` },
} as const;
/** Stop grace of a node container on delete: room for Redis's shutdown (AOF fsync, nodes.conf save). */
export const NODE_STOP_GRACE_SECONDS = 30;

/** Docker's `envs` form of an environment map. */
const envList = (env: Record<string, string>) => Object.entries(env).map(([k, v]) => `${k}=${v}`);

export interface RedisDockerClusterArgs {
  spec: ClusterSpec;
  plan: ClusterPlan;
  /** The Redis password (secret). It reaches the containers as a mode-400 file, never argv or env. */
  password: pulumi.Input<string>;
  /** acl.enabled: configured passwords of the other users by name (secret); the rest are generated. */
  aclPasswords?: Record<string, pulumi.Input<string>>;
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

/**
 * The dev topology: one bridge network with static addresses, one named volume and one container per node,
 * and a one-shot bootstrap container that forms the cluster once all nodes are healthy.
 * Every file comes from the shared plan; nothing here is Docker-specific text.
 */
export class RedisDockerCluster extends pulumi.ComponentResource {
  declare readonly networkName: pulumi.Output<string>;
  declare readonly nodes: pulumi.Output<DockerNodeEndpoint[]>;
  /** "host:port" of every node inside the network. */
  declare readonly seeds: pulumi.Output<string[]>;
  /** "host:port" of every node's published port, for clients on the Docker host. */
  declare readonly hostSeeds: pulumi.Output<string[]>;
  /** ioredis `natMap` for host clients: announced "ip:port" -> published host:port. */
  declare readonly natMap: pulumi.Output<Record<string, { host: string; port: number }>>;
  /** Prometheus on the Docker host, when monitoring is enabled. */
  declare readonly prometheusUrl: pulumi.Output<string | undefined>;
  /** Exit code of the bootstrap container (0: formed or already formed; -1: none recorded). Non-zero fails the check step. */
  declare readonly bootstrapExitCode: pulumi.Output<number>;
  /** What the scale step does to reach this topology from the last deployed one (computed at preview). */
  declare readonly scalePlan: pulumi.Output<string[]>;
  /** Resources the next steps (smoke test, monitoring) must wait for. */
  readonly ready: pulumi.Resource[];
  /** acl.enabled: each user's password (secret outputs). */
  readonly userPasswords: Record<string, pulumi.Output<string>> = {};
  /** acl.enabled: passwords the last rotation retired, JSON {user: [password]} (secret), for the smoke step. */
  readonly retiredPasswords?: pulumi.Output<string>;
  /** TLS (tls.enabled): the client certificate for host clients and the smoke step (key secret), and the CA. */
  readonly tlsClient?: IssuedCertificate;

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

    // Each role gets only the files it runs: uploads are container inputs, and any change to a container's inputs
    // replaces it — a new bootstrap.sh must not restart all nodes at once. The password is a private file in both.
    const passwordUpload: docker.types.input.ContainerUpload = {
      file: PASSWORD_FILE, content: pulumi.secret(args.password), owner: REDIS_UID, group: REDIS_UID, permissions: "0400",
    };
    const nodeUploads: docker.types.input.ContainerUpload[] = [
      { file: CONTAINER_PATHS.redisConf, content: plan.redisConf },
      { file: CONTAINER_PATHS.entrypoint, content: plan.entrypointScript, executable: true },
      // acl.enabled: admin's password is in the node's secrets volume with the ACL files (below), not an upload.
      ...(spec.acl.enabled ? [] : [passwordUpload]),
    ];
    const nodesDefinition = createHash("sha256").update(JSON.stringify([plan.redisConf, plan.entrypointScript, plan.nodes])).digest("hex");
    const bootstrapUploads: docker.types.input.ContainerUpload[] = [
      { file: CONTAINER_PATHS.bootstrap, content: plan.bootstrapScript, executable: true },
      passwordUpload,
    ];

    // Secrets of the nodes (ACL files and admin's password with acl.enabled, certificates with tls.enabled) are not node
    // uploads: a new password or a renewed certificate would then re-create all six nodes at once (an outage). A
    // one-shot `node-secrets` container copies them into each node's own volume instead (below); a rotation or renewal
    // re-runs that container and the steps around it (rotate.sh, tls-reload.sh) and leaves the nodes running.
    const acl = spec.acl.enabled ? new AclUsers(`${name}-acl-users`, { spec, adminPassword: args.password, configured: args.aclPasswords }, { parent: this }) : undefined;
    const aclUploads: docker.types.input.ContainerUpload[] = acl
      ? [
          { file: ACL_PATHS.aclFile, content: acl.aclFile, owner: REDIS_UID, group: REDIS_UID, permissions: "0400" },
          { file: ACL_PATHS.masterauth, content: acl.passwords.replica, owner: REDIS_UID, group: REDIS_UID, permissions: "0400" },
        ]
      : [];
    const aclEnv = acl ? envList(aclNodeEnv(NODE_SECRETS)) : [];
    const cliUser = acl ? "--user admin " : "";
    // Rotation (docs/security.md): `add` before the nodes change, `remove` after the bootstrap verified them. The admin
    // password the nodes had before is kept on a volume by the last successful `remove` (absent on the first deploy).
    const aclState = acl ? new docker.Volume(`${name}-acl-state`, { name: `${spec.name}-acl-state` }, { parent: this }) : undefined;
    const rotateStep = (mode: "add" | "remove", dependsOn: pulumi.Resource[]) =>
      new docker.Container(
        `${name}-rotate-${mode}`,
        {
          name: `${spec.name}-rotate-${mode}`,
          image: image.imageId,
          user: `${REDIS_UID}:${REDIS_UID}`,
          entrypoints: [
            "sh", "-c",
            mode === "add"
              ? `sh ${CONTAINER_PATHS.dir}/rotate.sh add`
              // -f: the copy from the last rotation is read-only (cp keeps the upload's 0400), so it is replaced, not
              // opened for writing (seen on the real engine: the second rotation's remove step failed on it).
              : `sh ${CONTAINER_PATHS.dir}/rotate.sh remove && cp -f ${PASSWORD_FILE} ${CONTAINER_PATHS.data}/previous-admin-password`,
          ],
          envs: envList(
            rotateEnv({
              nodes: plan.bootstrapEnv.REDIS_NODES,
              passwordFile: PASSWORD_FILE,
              previousPasswordFile: `${CONTAINER_PATHS.data}/previous-admin-password`,
              tls: certs ? TLS_CLIENT_FILES : undefined,
            }),
          ),
          uploads: [{ file: `${CONTAINER_PATHS.dir}/rotate.sh`, content: readScript("rotate"), executable: true }, passwordUpload, ...aclUploads, ...tlsUploads("client", TLS_CLIENT_FILES)],
          // On /data: the image's /data belongs to uid 999, so a new volume mounted there is writable by it.
          volumes: [{ volumeName: aclState!.name, containerPath: CONTAINER_PATHS.data }],
          networksAdvanced: [{ name: network.name }],
          restart: "no",
          mustRun: false,
          attach: true,
          logs: true,
        },
        { parent: this, dependsOn, deleteBeforeReplace: true },
      );


    // TLS: a CA and one certificate per node (its container address, name, and the published host address of the
    // natMap path) plus a client certificate for the bootstrap, the exporters and host clients. Keys are private files.
    const certs = spec.tls.enabled ? new ClusterCertificates(`${name}-tls`, { spec, requests: planCertificates(spec, plan, "docker") }, { parent: this }) : undefined;
    const tlsUploads = (id: string, files: TlsFilePaths): docker.types.input.ContainerUpload[] => {
      const c = certs?.issued[id];
      if (!c) return [];
      return [
        { file: files.ca, content: c.ca },
        { file: files.cert, content: c.cert },
        { file: files.key, content: c.key, owner: REDIS_UID, group: REDIS_UID, permissions: "0400" },
      ];
    };
    const tlsEnvs = (files: TlsFilePaths) => (certs ? envList(tlsEnv(files)) : []);
    // redis-cli in the healthcheck: the node's own certificate (127.0.0.1 is among its names).
    const cliTls = certs ? `--tls --cacert ${NODE_SECRETS.tls.ca} --cert ${NODE_SECRETS.tls.cert} --key ${NODE_SECRETS.tls.key} ` : "";
    // A failed one-shot step stops `pulumi up` (the provider records its exit code without failing the container).
    const exitCheck = (step: string, c: docker.Container, what: string, check = `${step}-check`) =>
      new command.local.Command(
        `${name}-${check}`,
        {
          create: `if [ "$EXIT_CODE" != 0 ]; then echo "${what} exited $EXIT_CODE; its diagnosis: docker logs ${spec.name}-${step}" >&2; exit 1; fi`,
          environment: { EXIT_CODE: c.exitCode.apply((x) => String(typeof x === "number" ? x : -1)) },
        },
        { parent: this, dependsOn: [c] },
      );

    const rotateAdd = acl ? rotateStep("add", [network, aclState!]) : undefined;
    // Each node's secrets volume and the one-shot container that fills them, after `rotate.sh add` (the live nodes
    // know the new passwords before their healthcheck reads the new admin one). It runs as root, without a network: a
    // new volume mounted outside the image's own directories belongs to root. Each file is written beside its old one
    // and renamed over it, so a node (re)starting meanwhile reads either the old or the new file, never half of one.
    const secretsIn = "/etc/redis-cluster-node-secrets";
    const nodeSecretFiles = (node: (typeof plan.nodes)[number]): [string, pulumi.Input<string>][] => {
      const files: [string, pulumi.Input<string>][] = [];
      if (acl) files.push([NODE_SECRETS.aclFile, acl.aclFile], [NODE_SECRETS.masterauth, acl.passwords.replica], [NODE_SECRETS.adminPassword, pulumi.secret(args.password)]);
      const c = certs?.issued[`node-${node.index}`];
      if (c) files.push([NODE_SECRETS.tls.cert, c.cert], [NODE_SECRETS.tls.key, c.key], [NODE_SECRETS.tls.ca, c.ca]);
      return files;
    };
    const secretVolumes = new Map(
      (acl || certs ? plan.nodes : []).map((node) => [node.name, new docker.Volume(`${name}-node-${node.index}-secrets`, { name: `${node.name}-secrets` }, { parent: this })]),
    );
    const nodeSecrets = secretVolumes.size
      ? new docker.Container(
          `${name}-node-secrets`,
          {
            name: `${spec.name}-node-secrets`,
            image: image.imageId,
            user: "0:0",
            entrypoints: [
              "sh", "-c",
              `set -eu; for d in /out/*/; do n=\${d%/}; n=\${n##*/}; for f in "${secretsIn}/$n"/*; do b=\${f##*/}; ` +
                `install -o ${REDIS_UID} -g ${REDIS_UID} -m 0400 "$f" "$d.$b.new"; mv -f "$d.$b.new" "$d$b"; done; done`,
            ],
            uploads: plan.nodes.flatMap((node) =>
              nodeSecretFiles(node).map(([file, content]) => ({ file: `${secretsIn}/${node.name}/${posix.basename(file)}`, content, permissions: "0400" })),
            ),
            volumes: [...secretVolumes].map(([node, v]) => ({ volumeName: v.name, containerPath: `/out/${node}` })),
            networkMode: "none",
            restart: "no",
            mustRun: false,
            attach: true,
            logs: true,
          },
          { parent: this, dependsOn: rotateAdd ? [rotateAdd] : [], deleteBeforeReplace: true },
        )
      : undefined;
    // A failed copy stops `pulumi up` before the nodes (first deploy) or the bootstrap and `rotate.sh remove` (rotation).
    const nodeSecretsCheck = nodeSecrets ? exitCheck("node-secrets", nodeSecrets, "copying the secrets into the node volumes") : undefined;
    const nodePasswordFile = acl ? NODE_SECRETS.adminPassword : PASSWORD_FILE;
    const containers: docker.Container[] = [];
    for (const node of plan.nodes) {
      const volume = new docker.Volume(`${name}-node-${node.index}-data`, { name: `${node.name}-data` }, { parent: this });
      containers.push(
        new docker.Container(
          `${name}-node-${node.index}`,
          {
            name: node.name,
            hostname: node.name,
            image: image.imageId,
            user: `${REDIS_UID}:${REDIS_UID}`,
            entrypoints: ["sh", CONTAINER_PATHS.entrypoint],
            envs: [`REDIS_CONF_TEMPLATE=${CONTAINER_PATHS.redisConf}`, `REDIS_PASSWORD_FILE=${nodePasswordFile}`, ...envList(nodeEnv(node, "docker")), ...tlsEnvs(NODE_SECRETS.tls), ...aclEnv],
            uploads: nodeUploads,
            networksAdvanced: [{ name: network.name, ipv4Address: node.host, aliases: [node.name] }],
            // Client and bus ports on the host's announce address only (default loopback): the bus has no
            // authentication, so it must never listen on every interface.
            ports: [
              { internal: node.port, external: node.hostPort, ip: spec.docker.announceHost },
              { internal: node.busPort, external: node.hostBusPort, ip: spec.docker.announceHost },
            ],
            volumes: [
              { volumeName: volume.name, containerPath: CONTAINER_PATHS.data },
              ...(secretVolumes.size ? [{ volumeName: secretVolumes.get(node.name)!.name, containerPath: NODE_SECRETS_DIR, readOnly: true }] : []),
            ],
            healthcheck: {
              // The password is read inside the container into redis-cli's environment, never onto argv.
              tests: ["CMD-SHELL", `REDISCLI_AUTH="$(cat ${nodePasswordFile})" redis-cli ${cliUser}${cliTls}-p ${node.port} ping | grep -q PONG`],
              interval: "2s",
              timeout: "2s",
              startPeriod: "5s",
              retries: 15,
            },
            restart: "unless-stopped",
            wait: true,
            waitTimeout: 120,
            // Deleting/replacing a node stops it with SIGTERM first: Redis then flushes the AOF and saves nodes.conf,
            // instead of the provider's default of removing it at once (0 s grace).
            destroyGraceSeconds: NODE_STOP_GRACE_SECONDS,
          },
          // Fixed container names: the old one must go before its replacement can start.
          { parent: this, deleteBeforeReplace: true, dependsOn: nodeSecretsCheck ? [nodeSecretsCheck] : [] },
        ),
      );
    }

    // Scaling in one `pulumi up` (docs/runbooks.md, Scale out / Scale in): the plan is shown at preview; phase `in`
    // (drain, fail over and forget the nodes that leave) runs before the bootstrap re-verifies, phase `out` (join new
    // nodes, move slots to them, attach replicas) after it. Containers that leave the program are deleted by the engine
    // after every create and update, i.e. after both phases (already forgotten by every node then).
    const scalePlan = new ScalePlan(`${name}-scale-plan`, { masters: plan.masters, replicasPerMaster: plan.replicasPerMaster, nodes: plan.nodes.map((n) => n.name) }, { parent: this });
    // The host-side CLI as the smoke step: admin user (ACL), the client certificate's PEMs in its environment (TLS;
    // the node certificates name the published host address, so the host name is checked too).
    const scaleEnv: Record<string, pulumi.Input<string>> = {
      ...(acl ? { REDIS_USER: "admin" } : {}),
      ...(certs ? { REDIS_TLS_CA_PEM: certs.issued.client.ca, REDIS_TLS_CERT_PEM: certs.issued.client.cert, REDIS_TLS_KEY_PEM: pulumi.secret(certs.issued.client.key) } : {}),
    };
    // tls.enabled: the nodes present certificates they loaded when they started. After new ones are in their volumes
    // (renewal: `pulumi up` re-issues them in the last third of their validity), tls-reload.sh makes every live node
    // re-read its files (CONFIG SET): no restart, open connections go on. It re-runs whenever a node certificate changes.
    const nodeCertsHash = certs
      ? pulumi.all(plan.nodes.map((n) => certs.issued[`node-${n.index}`].cert)).apply((pems) => createHash("sha256").update(pems.join("\n")).digest("hex"))
      : undefined;
    const tlsReload = certs
      ? new docker.Container(
          `${name}-tls-reload`,
          {
            name: `${spec.name}-tls-reload`,
            image: image.imageId,
            user: `${REDIS_UID}:${REDIS_UID}`,
            entrypoints: ["sh", `${CONTAINER_PATHS.dir}/tls-reload.sh`],
            envs: [
              `REDIS_NODES=${plan.bootstrapEnv.REDIS_NODES}`, `REDIS_PASSWORD_FILE=${PASSWORD_FILE}`, ...tlsEnvs(TLS_CLIENT_FILES), ...(acl ? ["REDIS_USER=admin"] : []),
              pulumi.interpolate`NODE_CERTIFICATES_SHA256=${nodeCertsHash}`,
            ],
            uploads: [{ file: `${CONTAINER_PATHS.dir}/tls-reload.sh`, content: readScript("tlsReload"), executable: true }, passwordUpload, ...tlsUploads("client", TLS_CLIENT_FILES)],
            networksAdvanced: [{ name: network.name }],
            restart: "no",
            mustRun: false,
            attach: true,
            logs: true,
          },
          { parent: this, dependsOn: containers, deleteBeforeReplace: true },
        )
      : undefined;
    const tlsReloadCheck = tlsReload ? exitCheck("tls-reload", tlsReload, "tls-reload.sh (nodes re-read their certificates)") : undefined;

    const scaleIn = new ScaleStep(
      `${name}-scale-in`,
      { platform: "docker", plan, phase: "in", nodeTimeoutMs: spec.nodeTimeoutMs, password: args.password, extraEnv: scaleEnv, dependsOn: [...containers, scalePlan] },
      { parent: this },
    );

    // One-shot: runs the shared bootstrap script on the cluster network after every node is healthy.
    // Its inputs change with the plan, so it re-runs (and re-verifies) whenever the cluster definition changes.
    const bootstrap = new docker.Container(
      `${name}-bootstrap`,
      {
        name: `${spec.name}-bootstrap`,
        image: image.imageId,
        user: `${REDIS_UID}:${REDIS_UID}`,
        // Outer limit: the script bounds itself by BOOTSTRAP_TIMEOUT; `timeout` (coreutils) kills it should anything still hang, so `pulumi up` never does.
        entrypoints: ["timeout", "-s", "KILL", String(Number(plan.bootstrapEnv.BOOTSTRAP_TIMEOUT) + 60), "sh", CONTAINER_PATHS.bootstrap],
        // The nodes' definition as a hash: when the nodes change (and are replaced), the bootstrap re-runs and re-verifies.
        envs: [`REDIS_PASSWORD_FILE=${PASSWORD_FILE}`, ...envList(plan.bootstrapEnv), `NODES_DEFINITION_SHA256=${nodesDefinition}`, "REDIS_SCALE_STEP=1", ...tlsEnvs(TLS_CLIENT_FILES), ...(acl ? ["REDIS_USER=admin"] : [])],
        uploads: [...bootstrapUploads, ...tlsUploads("client", TLS_CLIENT_FILES)],
        networksAdvanced: [{ name: network.name }],
        restart: "no",
        mustRun: false,
        attach: true,
        logs: true,
      },
      { parent: this, dependsOn: [...containers, scaleIn.done, ...(tlsReloadCheck ? [tlsReloadCheck] : [])], deleteBeforeReplace: true },
    );

    // The provider records the bootstrap's exit code without failing the container. A check step fails `pulumi up`
    // on a non-zero code, saying where the bootstrap's diagnosis is and how to re-run it; everything after the
    // bootstrap (monitoring, smoke test) waits for the check. Not a throwing `.apply`: a failed apply feeding other
    // resources can leave the Node.js SDK waiting forever (pulumi/pulumi#14980; seen under the test engine).
    const exitCode = bootstrap.exitCode.apply((c) => (typeof c === "number" ? c : -1));
    const check = new command.local.Command(
      `${name}-bootstrap-check`,
      {
        create: pulumi.interpolate`if [ "$${BOOTSTRAP_EXIT_ENV}" != 0 ]; then echo "bootstrap of ${spec.name} exited $${BOOTSTRAP_EXIT_ENV}; its diagnosis: docker logs ${spec.name}-bootstrap. After fixing the cause, run it again with: pulumi up -s ${pulumi.getStack()} --replace '${bootstrap.urn}'" >&2; exit 1; fi`,
        environment: { [BOOTSTRAP_EXIT_ENV]: exitCode.apply(String) },
      },
      { parent: this, dependsOn: [bootstrap] },
    );

    const scaleOut = new ScaleStep(
      `${name}-scale-out`,
      { platform: "docker", plan, phase: "out", nodeTimeoutMs: spec.nodeTimeoutMs, password: args.password, extraEnv: scaleEnv, dependsOn: [check] },
      { parent: this },
    );

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
          },
          { parent: this, dependsOn: [check] },
        )
      : undefined;

    const endpoints: DockerNodeEndpoint[] = plan.nodes.map((n) => ({
      name: n.name, host: n.host, port: n.port, hostPort: n.hostPort!, hostBusPort: n.hostBusPort!,
    }));
    this.networkName = network.name;
    this.nodes = pulumi.output(endpoints);
    this.seeds = pulumi.output(plan.seeds);
    this.hostSeeds = pulumi.output(plan.hostSeeds);
    this.natMap = pulumi.output(plan.natMap);
    this.bootstrapExitCode = exitCode;
    this.prometheusUrl = monitoring ? monitoring.prometheusUrl : pulumi.output(undefined);
    this.scalePlan = scalePlan.plan;
    // The remove step's exit code fails `pulumi up` like the bootstrap's (the provider records it without failing).
    const rotateRemove = acl ? rotateStep("remove", [scaleOut.done]) : undefined;
    const rotateCheck = rotateRemove ? exitCheck("rotate-remove", rotateRemove, "rotate.sh remove", "rotate-check") : undefined;
    this.userPasswords = acl?.passwords ?? {};
    this.retiredPasswords = acl?.retiredPasswords;
    this.ready = [rotateCheck ?? scaleOut.done];
    this.tlsClient = certs?.issued.client;
    this.registerOutputs({
      networkName: this.networkName,
      nodes: this.nodes,
      seeds: this.seeds,
      hostSeeds: this.hostSeeds,
      natMap: this.natMap,
      bootstrapExitCode: this.bootstrapExitCode,
      scalePlan: this.scalePlan,
      prometheusUrl: this.prometheusUrl,
    });
  }
}
