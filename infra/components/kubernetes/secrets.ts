import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import type { ObjectMeta } from "./metadata";

export const PASSWORD_KEY = "password";

// Passwords live in Secrets only. They reach containers as mounted files (redis, bootstrap) or secretKeyRef env
// (exporter, smoke Job). All but the previous admin's are auto-named: a new password is a new Secret (Secret data
// changes are replacements), so the StatefulSet rolls its pods one at a time, each keeping the old Secret mounted until
// it is replaced, and Pulumi deletes the old Secret after the roll. None is protected: each can be recreated from the
// stack config or the RandomPassword state. Rotating safely needs a step on the live nodes first (docs/runbooks.md).

/** The admin password (the only one without ACL users). */
export function passwordSecret(meta: ObjectMeta, password: pulumi.Input<string>): k8s.core.v1.SecretArgs {
  return { metadata: meta.auto("auth"), type: "Opaque", stringData: { [PASSWORD_KEY]: password } };
}

/** ACL users: the ACL file (hashes) and replica's password (masterauth), for the pods. */
export function aclSecret(meta: ObjectMeta, aclFile: pulumi.Input<string>, replicaPassword: pulumi.Input<string>): k8s.core.v1.SecretArgs {
  return { metadata: meta.auto("acl"), type: "Opaque", stringData: { "users.acl": aclFile, "replica-password": replicaPassword } };
}

/** ACL users: one user's login, for the exporter, the smoke Job and applications. */
export function userSecret(meta: ObjectMeta, user: string, password: pulumi.Input<string>): k8s.core.v1.SecretArgs {
  return { metadata: meta.auto("auth"), type: "Opaque", stringData: { username: user, password } };
}

/** The passwords the last rotation retired (JSON), for the smoke Job's old-passwords check. */
export function retiredPasswordsSecret(meta: ObjectMeta, json: pulumi.Input<string>): k8s.core.v1.SecretArgs {
  return { metadata: meta.auto("auth"), type: "Opaque", stringData: { "retired.json": json } };
}

/** Fixed name: the rotation Job mounts it (optional) as the previous admin password of the next rotation. */
export const previousAdminSecretName = (clusterName: string) => `${clusterName}-acl-previous-admin`;

export function previousAdminSecret(meta: ObjectMeta, clusterName: string, password: pulumi.Input<string>): k8s.core.v1.SecretArgs {
  return { metadata: meta.named(previousAdminSecretName(clusterName), "auth"), type: "Opaque", stringData: { [PASSWORD_KEY]: password } };
}
