import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ClusterSpec } from "../config/schema";
import { ACL_PATHS, aclUsers, passwordUsers, renderAclFile } from "../plan/acl";

// Where the ACL files are is plan data (the rotation step's environment is built there); re-exported for the components.
export { ACL_PATHS };

/** Entrypoint environment of a node with ACL users: files only, no password (where they are: ACL_PATHS by default). */
export function aclNodeEnv(files: { aclFile: string; masterauth: string } = ACL_PATHS): Record<string, string> {
  return { REDIS_ACL_FILE: files.aclFile, REDIS_MASTERUSER: "replica", REDIS_MASTERAUTH_FILE: files.masterauth, REDIS_USER: "admin" };
}

/** The retired passwords after an update from `before` (with what it had retired) to `now`. Pure. */
export function retiredAfter(before: Record<string, string>, retiredBefore: Record<string, string[]>, now: Record<string, string>): Record<string, string[]> {
  const retired: Record<string, string[]> = {};
  for (const [user, pw] of Object.entries(now)) {
    const old = before[user];
    if (old !== undefined && old !== pw) retired[user] = [old];
    else if (Array.isArray(retiredBefore[user]) && !retiredBefore[user].includes(pw)) retired[user] = retiredBefore[user];
  }
  return retired;
}

export interface AclUsersArgs {
  spec: ClusterSpec;
  /** admin's password: the existing `password` config (or its generated default), kept as admin's for compatibility. */
  adminPassword: pulumi.Input<string>;
  /** Configured passwords by user (acl.passwords.*, acl.users[].password), secret; the others are generated. */
  configured?: Record<string, pulumi.Input<string>>;
  /** The last deployment's passwords and what its rotations had retired (its stack outputs, infra/lastDeployment.ts). */
  last?: LastPasswords;
}

/** Every user's password at the last deployment and the passwords retired by then. */
export interface LastPasswords {
  passwords?: Record<string, string>;
  retired?: Record<string, string[]>;
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
  /**
   * Passwords retired by the last rotation of each user, as JSON {user: [password]} (secret; "{}" when none, unknown
   * in preview). The smoke step checks every node refuses them (REDIS_RETIRED_PASSWORDS).
   */
  declare readonly retiredPasswords: pulumi.Output<string>;
  /** The same as a map (secret): a stack output, so the next deployment knows what this one retired. */
  declare readonly retired: pulumi.Output<Record<string, string[]>>;

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
    // Remembered across deployments (issue #12): a user whose password changed since the last deployment retires the
    // old one; one that did not keeps what it retired before (still refused), unless that is its password again.
    const last = args.last ?? {};
    this.retired = pulumi.secret(pulumi.all(this.passwords).apply((now) => retiredAfter(last.passwords ?? {}, last.retired ?? {}, now)));
    this.retiredPasswords = pulumi.secret(this.retired.apply((r) => JSON.stringify(r)));
    this.registerOutputs({ aclFile: this.aclFile });
  }
}
