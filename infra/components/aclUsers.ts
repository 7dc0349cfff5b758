import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ClusterSpec } from "../config/schema";
import { ACL_PATHS, aclUsers, passwordUsers, renderAclFile } from "../plan/acl";

// Where the ACL files are is plan data (the rotation step's environment is built there); re-exported for the components.
export { ACL_PATHS };

/** Entrypoint environment of a node with ACL users: files only, no password. */
export function aclNodeEnv(): Record<string, string> {
  return { REDIS_ACL_FILE: ACL_PATHS.aclFile, REDIS_MASTERUSER: "replica", REDIS_MASTERAUTH_FILE: ACL_PATHS.masterauth, REDIS_USER: "admin" };
}

export interface AclUsersArgs {
  spec: ClusterSpec;
  /** admin's password: the existing `password` config (or its generated default), kept as admin's for compatibility. */
  adminPassword: pulumi.Input<string>;
  /** Configured passwords by user (acl.passwords.*, acl.users[].password), secret; the others are generated. */
  configured?: Record<string, pulumi.Input<string>>;
}

/**
 * The passwords of every ACL user (configured, else a RandomPassword each, secret in state) and the ACL file rendered
 * from them (hashes only, still a secret output). Platform components deliver both.
 */
export class AclUsers extends pulumi.ComponentResource {
  /** Password of each user (admin, replica, exporter, smoke, application users), all secret outputs. */
  readonly passwords: Record<string, pulumi.Output<string>>;
  /** The ACL file text (infra/plan/acl.ts), secret. */
  declare readonly aclFile: pulumi.Output<string>;

  constructor(name: string, args: AclUsersArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-cluster:acl:AclUsers", name, {}, opts);
    const { spec } = args;
    if (!spec.acl.enabled) throw new Error("AclUsers: acl.enabled is false");
    this.passwords = {};
    for (const user of passwordUsers(spec)) {
      const given = user === "admin" ? args.adminPassword : args.configured?.[user];
      this.passwords[user] = given !== undefined
        ? pulumi.secret(pulumi.output(given))
        : new random.RandomPassword(`${name}-${user}-password`, { length: 32, special: false }, { parent: this }).result;
    }
    const users = aclUsers(spec);
    this.aclFile = pulumi.secret(
      pulumi.all(this.passwords).apply((pw) => renderAclFile(users, Object.fromEntries(Object.entries(pw).map(([u, p]) => [u, [p]])))),
    );
    this.registerOutputs({ aclFile: this.aclFile });
  }
}
