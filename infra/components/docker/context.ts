import { posix } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { ClusterSpec } from "../../config/schema";
import { CONTAINER_PATHS, type ClusterPlan } from "../../plan/plan";
import { TLS_CLIENT_FILES, TLS_FILES, tlsEnv, type TlsFilePaths } from "../../plan/tls";
import { ACL_PATHS, type AclUsers } from "../aclUsers";
import type { ClusterCertificates } from "../clusterCertificates";

/** uid/gid of the `redis` user in the official redis images: the server never runs as root. */
export const REDIS_UID = "999";
export const PASSWORD_FILE = `${CONTAINER_PATHS.dir}/secret/password`;
/**
 * A node's secrets volume, read-only in the node: its ACL files and admin's password (acl.enabled), its TLS
 * certificate, key and CA (tls.enabled). File names as in the Kubernetes Secrets.
 */
export const NODE_SECRETS_DIR = "/etc/redis-cluster-secrets";
export const NODE_SECRETS = {
  aclFile: `${NODE_SECRETS_DIR}/${posix.basename(ACL_PATHS.aclFile)}`,
  masterauth: `${NODE_SECRETS_DIR}/${posix.basename(ACL_PATHS.masterauth)}`,
  adminPassword: `${NODE_SECRETS_DIR}/admin-password`,
  tls: { cert: `${NODE_SECRETS_DIR}/${posix.basename(TLS_FILES.cert)}`, key: `${NODE_SECRETS_DIR}/${posix.basename(TLS_FILES.key)}`, ca: `${NODE_SECRETS_DIR}/${posix.basename(TLS_FILES.ca)}` },
} as const;

/** What every part of the Docker cluster shares: names, plan, image, network, and ACL users and certificates when on. */
export interface DockerClusterContext {
  /** Resource name prefix (the component's name). */
  name: string;
  spec: ClusterSpec;
  plan: ClusterPlan;
  /** The component: parent of every resource. */
  parent: pulumi.Resource;
  image: docker.RemoteImage;
  network: docker.Network;
  /** admin's password (secret). */
  password: pulumi.Input<string>;
  acl?: AclUsers;
  certs?: ClusterCertificates;
}

/** Docker's `envs` form of an environment map. */
export const dockerEnvs = (env: Record<string, string>) => Object.entries(env).map(([k, v]) => `${k}=${v}`);

/** admin's password as a private file of the redis user. */
export const passwordUpload = (cx: DockerClusterContext): docker.types.input.ContainerUpload => ({
  file: PASSWORD_FILE, content: pulumi.secret(cx.password), owner: REDIS_UID, group: REDIS_UID, permissions: "0400",
});

/** A CA, certificate and private key at `files`, the key readable by `uid` alone (and secret in state). */
export function certUploads(c: { ca: pulumi.Input<string>; cert: pulumi.Input<string>; key: pulumi.Input<string> }, files: TlsFilePaths, uid: string): docker.types.input.ContainerUpload[] {
  return [
    { file: files.ca, content: c.ca },
    { file: files.cert, content: c.cert },
    { file: files.key, content: pulumi.secret(c.key), owner: uid, group: uid, permissions: "0400" },
  ];
}

/** tls.enabled: certificate `id`'s CA, certificate and (private) key at `files`; nothing otherwise. */
export function tlsUploads(cx: DockerClusterContext, id: string, files: TlsFilePaths): docker.types.input.ContainerUpload[] {
  const c = cx.certs?.issued[id];
  return c ? certUploads(c, files, REDIS_UID) : [];
}

export const tlsEnvs = (cx: DockerClusterContext, files: TlsFilePaths) => (cx.certs ? dockerEnvs(tlsEnv(files)) : []);

/** A step that talks to the nodes as admin: the password file, the client certificate (TLS) and the user (ACL). */
export const adminClient = (cx: DockerClusterContext) => ({
  envs: [...tlsEnvs(cx, TLS_CLIENT_FILES), ...(cx.acl ? ["REDIS_USER=admin"] : [])],
  uploads: [passwordUpload(cx), ...tlsUploads(cx, "client", TLS_CLIENT_FILES)],
});
