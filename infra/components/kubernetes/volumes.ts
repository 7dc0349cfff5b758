import { ACL_PATHS } from "../../plan/acl";
import { tlsEnv, type TlsFilePaths } from "../../plan/tls";
import type { PodRefs } from "./context";
import { envList } from "./env";
import { POD_PATHS } from "./podPaths";
import { PASSWORD_KEY } from "./secrets";

/** A certificate's Secret (`nodes` for the pods, `client` for the Jobs) as a volume; none without TLS. */
export function tlsVolumes(refs: PodRefs, id: "nodes" | "client", volume: string) {
  return refs.tls ? [{ name: volume, secret: { secretName: refs.tls[id], defaultMode: 0o440 } }] : [];
}

export function tlsMounts(refs: PodRefs, volume: string, dir: string) {
  return refs.tls ? [{ name: volume, mountPath: dir, readOnly: true }] : [];
}

/** REDIS_TLS_* of the certificate files; none without TLS. */
export function tlsEnvOf(refs: PodRefs, files: TlsFilePaths) {
  return refs.tls ? envList(tlsEnv(files)) : [];
}

export function aclVolumes(refs: PodRefs) {
  return refs.aclSecretName !== undefined ? [{ name: "acl", secret: { secretName: refs.aclSecretName, defaultMode: 0o440 } }] : [];
}

export function aclMounts(refs: PodRefs) {
  return refs.aclSecretName !== undefined ? [{ name: "acl", mountPath: ACL_PATHS.dir, readOnly: true }] : [];
}

function secretVolume(refs: PodRefs) {
  return { name: "secret", secret: { secretName: refs.secretName, defaultMode: 0o440, items: [{ key: PASSWORD_KEY, path: "password" }] } };
}

// The only writable paths besides /data: the runtime redis.conf and temp files.
const tmpVolume = () => ({ name: "tmp", emptyDir: { sizeLimit: "64Mi" } });

/** The Redis pods' volumes. `acl`: the redis container mounts users.acl; without the volume the API server refuses the StatefulSet (seen on the pods runner). */
export function podVolumes(refs: PodRefs) {
  return [{ name: "config", configMap: { name: refs.configMapName, defaultMode: 0o444 } }, secretVolume(refs), tmpVolume(), ...tlsVolumes(refs, "nodes", "tls"), ...aclVolumes(refs)];
}

/** The script Jobs' volumes: the pods' files and the Jobs' scripts in one directory, the client certificate. */
export function jobVolumes(refs: PodRefs) {
  return [
    {
      name: "config",
      projected: { defaultMode: 0o444, sources: [{ configMap: { name: refs.configMapName } }, { configMap: { name: refs.bootstrapConfigMapName } }] },
    },
    secretVolume(refs),
    tmpVolume(),
    ...tlsVolumes(refs, "client", "tls-client"),
  ];
}

/** Mounts of the files, the password and /tmp, the same in the pods and the script Jobs. */
export function sharedMounts() {
  return [
    { name: "config", mountPath: POD_PATHS.dir, readOnly: true },
    { name: "secret", mountPath: POD_PATHS.secretDir, readOnly: true },
    { name: "tmp", mountPath: POD_PATHS.tmp },
  ];
}
