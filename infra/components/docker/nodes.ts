import { posix } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { CONTAINER_PATHS, nodeEnv, type PlannedNode } from "../../plan/plan";
import { aclNodeEnv } from "../aclUsers";
import { NODE_SECRETS, NODE_SECRETS_DIR, PASSWORD_FILE, REDIS_UID, dockerEnvs, passwordUpload, tlsEnvs, type DockerClusterContext } from "./context";
import { exitCheck, oneShot } from "./oneShot";

/** Stop grace of a node container on delete: room for Redis's shutdown (AOF fsync, nodes.conf save). */
export const NODE_STOP_GRACE_SECONDS = 30;

/**
 * Each node's secrets volume and the one-shot container that fills them, when ACL users or TLS are on (nothing
 * otherwise). Secrets are not node uploads: a new password or a renewed certificate would then re-create all six nodes at
 * once (an outage); a rotation or renewal re-runs this step and the ones around it and leaves the nodes running. It runs
 * after `rotate.sh add` (the live nodes know the new passwords before their healthcheck reads the new admin one), as
 * root, without a network: a new volume mounted outside the image's own directories belongs to root. Each file is
 * written beside its old one and renamed over it, so a node (re)starting meanwhile reads either the old or the new
 * file, never half of one. Returns the volumes by node name and the check the nodes wait for.
 */
export function nodeSecrets(cx: DockerClusterContext, dependsOn: pulumi.Resource[]): { volumes: Map<string, docker.Volume>; check?: pulumi.Resource } {
  const { acl, certs, plan } = cx;
  const volumes = new Map(
    (acl || certs ? plan.nodes : []).map((node) => [node.name, new docker.Volume(`${cx.name}-node-${node.index}-secrets`, { name: `${node.name}-secrets` }, { parent: cx.parent })]),
  );
  if (!volumes.size) return { volumes };
  const secretsIn = "/etc/redis-cluster-node-secrets";
  const files = (node: PlannedNode): [string, pulumi.Input<string>][] => {
    const out: [string, pulumi.Input<string>][] = [];
    if (acl) out.push([NODE_SECRETS.aclFile, acl.aclFile], [NODE_SECRETS.masterauth, acl.passwords.replica], [NODE_SECRETS.adminPassword, pulumi.secret(cx.password)]);
    const c = certs?.issued[`node-${node.index}`];
    if (c) out.push([NODE_SECRETS.tls.cert, c.cert], [NODE_SECRETS.tls.key, c.key], [NODE_SECRETS.tls.ca, c.ca]);
    return out;
  };
  const copy = oneShot(cx, {
    step: "node-secrets",
    user: "0:0",
    entrypoints: [
      "sh", "-c",
      `set -eu; for d in /out/*/; do n=\${d%/}; n=\${n##*/}; for f in "${secretsIn}/$n"/*; do b=\${f##*/}; ` +
        `install -o ${REDIS_UID} -g ${REDIS_UID} -m 0400 "$f" "$d.$b.new"; mv -f "$d.$b.new" "$d$b"; done; done`,
    ],
    uploads: plan.nodes.flatMap((node) => files(node).map(([file, content]) => ({ file: `${secretsIn}/${node.name}/${posix.basename(file)}`, content, permissions: "0400" }))),
    volumes: [...volumes].map(([node, v]) => ({ volumeName: v.name, containerPath: `/out/${node}` })),
    network: false,
    dependsOn,
  });
  // A failed copy stops `pulumi up` before the nodes (first deploy) or the bootstrap and `rotate.sh remove` (rotation).
  return { volumes, check: exitCheck(cx, "node-secrets-check", copy, "copying the secrets into the node volumes") };
}

/**
 * One data volume and one container per node, each with only the files a node runs: uploads are container inputs, and
 * any change to a container's inputs replaces it — a new bootstrap.sh must not restart all nodes at once.
 */
export function nodeContainers(cx: DockerClusterContext, secrets: ReturnType<typeof nodeSecrets>): docker.Container[] {
  const { spec, plan, acl, certs } = cx;
  const uploads: docker.types.input.ContainerUpload[] = [
    { file: CONTAINER_PATHS.redisConf, content: plan.redisConf },
    { file: CONTAINER_PATHS.entrypoint, content: plan.entrypointScript, executable: true },
    // acl.enabled: admin's password is in the node's secrets volume with the ACL files, not an upload.
    ...(acl ? [] : [passwordUpload(cx)]),
  ];
  const passwordFile = acl ? NODE_SECRETS.adminPassword : PASSWORD_FILE;
  const aclEnv = acl ? dockerEnvs(aclNodeEnv(NODE_SECRETS)) : [];
  // redis-cli in the healthcheck: admin (ACL) and the node's own certificate (TLS; 127.0.0.1 is among its names).
  const cliUser = acl ? "--user admin " : "";
  const cliTls = certs ? `--tls --cacert ${NODE_SECRETS.tls.ca} --cert ${NODE_SECRETS.tls.cert} --key ${NODE_SECRETS.tls.key} ` : "";
  return plan.nodes.map((node) => {
    const volume = new docker.Volume(`${cx.name}-node-${node.index}-data`, { name: `${node.name}-data` }, { parent: cx.parent });
    const secretsVolume = secrets.volumes.get(node.name);
    return new docker.Container(
      `${cx.name}-node-${node.index}`,
      {
        name: node.name,
        hostname: node.name,
        image: cx.image.imageId,
        user: `${REDIS_UID}:${REDIS_UID}`,
        entrypoints: ["sh", CONTAINER_PATHS.entrypoint],
        envs: [`REDIS_CONF_TEMPLATE=${CONTAINER_PATHS.redisConf}`, `REDIS_PASSWORD_FILE=${passwordFile}`, ...dockerEnvs(nodeEnv(node, "docker")), ...tlsEnvs(cx, NODE_SECRETS.tls), ...aclEnv],
        uploads,
        networksAdvanced: [{ name: cx.network.name, ipv4Address: node.host, aliases: [node.name] }],
        // Client and bus ports on the host's announce address only (default loopback): the bus has no
        // authentication, so it must never listen on every interface.
        ports: [
          { internal: node.port, external: node.hostPort, ip: spec.docker.announceHost },
          { internal: node.busPort, external: node.hostBusPort, ip: spec.docker.announceHost },
        ],
        volumes: [
          { volumeName: volume.name, containerPath: CONTAINER_PATHS.data },
          ...(secretsVolume ? [{ volumeName: secretsVolume.name, containerPath: NODE_SECRETS_DIR, readOnly: true }] : []),
        ],
        healthcheck: {
          // The password is read inside the container into redis-cli's environment, never onto argv.
          tests: ["CMD-SHELL", `REDISCLI_AUTH="$(cat ${passwordFile})" redis-cli ${cliUser}${cliTls}-p ${node.port} ping | grep -q PONG`],
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
      { parent: cx.parent, deleteBeforeReplace: true, dependsOn: secrets.check ? [secrets.check] : [] },
    );
  });
}
