import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { CONTAINER_PATHS } from "../../plan/plan";
import { TLS_CLIENT_FILES } from "../../plan/tls";
import { rotateEnv } from "../../plan/acl";
import { ACL_PATHS, type AclUsers } from "../aclUsers";
import { PASSWORD_FILE, REDIS_UID, dockerEnvs, passwordUpload, tlsUploads, type DockerClusterContext } from "./context";
import { oneShot, type OneShot } from "./oneShot";

/**
 * ACL password rotation (docs/security.md): `rotate.sh add` (created here) before the nodes change, `remove` after the
 * bootstrap verified them. The admin password the nodes had before is kept on a volume by the last successful `remove`
 * (absent on the first deploy).
 */
export function rotationSteps(cx: DockerClusterContext & { acl: AclUsers }): { add: OneShot; remove: (dependsOn: pulumi.Resource[]) => OneShot } {
  const { acl } = cx;
  const state = new docker.Volume(`${cx.name}-acl-state`, { name: `${cx.spec.name}-acl-state` }, { parent: cx.parent });
  const previousPasswordFile = `${CONTAINER_PATHS.data}/previous-admin-password`;
  const aclUploads: docker.types.input.ContainerUpload[] = [
    { file: ACL_PATHS.aclFile, content: acl.aclFile, owner: REDIS_UID, group: REDIS_UID, permissions: "0400" },
    { file: ACL_PATHS.masterauth, content: acl.passwords.replica, owner: REDIS_UID, group: REDIS_UID, permissions: "0400" },
  ];
  const step = (mode: "add" | "remove", dependsOn: pulumi.Resource[]) =>
    oneShot(cx, {
      step: `rotate-${mode}`,
      entrypoints: [
        "sh", "-c",
        mode === "add"
          ? `sh ${CONTAINER_PATHS.dir}/rotate.sh add`
          // -f: the copy from the last rotation is read-only (cp keeps the upload's 0400), so it is replaced, not
          // opened for writing (seen on the real engine: the second rotation's remove step failed on it).
          : `sh ${CONTAINER_PATHS.dir}/rotate.sh remove && cp -f ${PASSWORD_FILE} ${previousPasswordFile}`,
      ],
      envs: dockerEnvs(rotateEnv({ nodes: cx.plan.bootstrapEnv.REDIS_NODES, passwordFile: PASSWORD_FILE, previousPasswordFile, tls: cx.certs ? TLS_CLIENT_FILES : undefined })),
      scripts: ["rotate"],
      uploads: [passwordUpload(cx), ...aclUploads, ...tlsUploads(cx, "client", TLS_CLIENT_FILES)],
      // On /data: the image's /data belongs to uid 999, so a new volume mounted there is writable by it.
      volumes: [{ volumeName: state.name, containerPath: CONTAINER_PATHS.data }],
      dependsOn,
    });
  return { add: step("add", [cx.network, state]), remove: (dependsOn) => step("remove", dependsOn) };
}
