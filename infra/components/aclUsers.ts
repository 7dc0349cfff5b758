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

// Remembers each user's password across deployments, so the smoke step can check after a rotation that the retired
// ones are refused (issue #12). `update` gets the last deployment's outputs as `olds`: a user whose password changed
// retires the old one; a user that did not change keeps what it retired before (still refused), unless that is its
// password again. Dynamic providers are serialized into the state: this one captures nothing.
const passwordHistoryProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: any, news: any) {
    return { changes: JSON.stringify(unwrapSecret(olds.current) ?? {}) !== JSON.stringify(unwrapSecret(news.current) ?? {}) };
  },
  async create(inputs: any) {
    return { id: "password-history", outs: { current: unwrapSecret(inputs.current), retired: {} } };
  },
  async update(_id: string, olds: any, news: any) {
    const current = unwrapSecret(news.current);
    return { outs: { current, retired: retiredAfter(unwrapSecret(olds.current) ?? {}, unwrapSecret(olds.retired) ?? {}, current) } };
  },
};

/**
 * The dynamic-provider host can hand secret values over still wrapped ({<sig>: <secret sig>, value}; seen on the real
 * Docker engine run: the stored outputs came back wrapped). The engine marks the outputs secret again
 * (additionalSecretOutputs), so the provider works on plain values only.
 */
export function unwrapSecret(v: any): any {
  if (v && typeof v === "object" && "4dabf18193072939515e22adb298388d" in v) return unwrapSecret(v.value);
  return v;
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

/** Each user's current password and the ones the last rotation of it retired (both secret). */
class PasswordHistory extends pulumi.dynamic.Resource {
  declare readonly retired: pulumi.Output<Record<string, string[]>>;
  constructor(name: string, current: pulumi.Input<Record<string, pulumi.Input<string>>>, opts?: pulumi.CustomResourceOptions) {
    super(passwordHistoryProvider, name, { current: pulumi.secret(current), retired: undefined }, { ...opts, additionalSecretOutputs: ["current", "retired"] }, "redis-cluster", "PasswordHistory");
  }
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
  /**
   * Passwords retired by the last rotation of each user, as JSON {user: [password]} (secret; "{}" when none, unknown
   * in preview). The smoke step checks every node refuses them (REDIS_RETIRED_PASSWORDS).
   */
  declare readonly retiredPasswords: pulumi.Output<string>;

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
    const history = new PasswordHistory(`${name}-password-history`, this.passwords, { parent: this });
    this.retiredPasswords = pulumi.secret(history.retired.apply((r) => JSON.stringify(r ?? {})));
    this.registerOutputs({ aclFile: this.aclFile });
  }
}
