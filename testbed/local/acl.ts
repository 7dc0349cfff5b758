// ACL users of a local cluster: the same ACL file (infra/plan/acl.ts) and the same files the platforms deliver
// (ACL file, replica password for masterauth, admin password for the scripts), as mode-600 files in the temp dir.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ClusterSpec } from "../../infra/config/schema";
import { aclUsers, passwordUsers, renderAclFile } from "../../infra/plan/acl";

export interface LocalAclOptions {
  /** The `default` user: off (prod profile, the default here) or admin. */
  defaultUser?: "off" | "admin";
  /** Application users as in stack config `acl.users` (password optional: generated). */
  users?: { name: string; keys: string[]; channels?: string[]; commands: string[]; password?: string }[];
  /** Passwords by user name (admin, replica, exporter, smoke, application users); each generated when absent. */
  passwords?: Record<string, string>;
}

/** A password of the project's alphabet, 32 characters. */
export function generatePassword(): string {
  return randomBytes(24).toString("base64").replace(/[^A-Za-z0-9]/g, "x").slice(0, 32);
}

export class LocalAcl {
  readonly aclFile: string;
  readonly masterauthFile: string;
  readonly adminPasswordFile: string;
  readonly previousAdminPasswordFile: string;
  /** Current password of every user. */
  passwords: Record<string, string>;

  constructor(readonly dir: string, readonly spec: ClusterSpec, opts: LocalAclOptions, adminPassword?: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.aclFile = join(dir, "users.acl");
    this.masterauthFile = join(dir, "replica-password");
    this.adminPasswordFile = join(dir, "admin-password");
    this.previousAdminPasswordFile = join(dir, "admin-password-previous");
    this.passwords = {};
    const given: Record<string, string | undefined> = { ...opts.passwords, admin: adminPassword ?? opts.passwords?.admin };
    for (const u of opts.users ?? []) if (u.password) given[u.name] = u.password;
    for (const name of passwordUsers(spec)) this.passwords[name] = given[name] ?? generatePassword();
    this.write();
  }

  /** Renders the ACL file and the password files from `passwords` (what a new Secret/upload would hold). */
  write(): void {
    const pw = Object.fromEntries(Object.entries(this.passwords).map(([u, p]) => [u, [p]]));
    writeFileSync(this.aclFile, renderAclFile(aclUsers(this.spec), pw), { mode: 0o600 });
    writeFileSync(this.masterauthFile, this.passwords.replica, { mode: 0o600 });
    writeFileSync(this.adminPasswordFile, this.passwords.admin, { mode: 0o600 });
  }

  /** A changed config: new passwords for some users. The old admin password is kept as the previous one for rotate.sh. */
  change(next: Record<string, string>): void {
    writeFileSync(this.previousAdminPasswordFile, this.passwords.admin, { mode: 0o600 });
    this.passwords = { ...this.passwords, ...next };
    this.write();
  }

  /** Entrypoint environment of a node (files only, no password in the environment). */
  nodeEnv(): Record<string, string> {
    return { REDIS_ACL_FILE: this.aclFile, REDIS_MASTERUSER: "replica", REDIS_MASTERAUTH_FILE: this.masterauthFile };
  }

  /** Environment of rotate.sh: the desired ACL file, admin's current and previous password files, masterauth. */
  rotateEnv(): Record<string, string> {
    return {
      ROTATE_ACL_FILE: this.aclFile,
      REDIS_USER: "admin",
      REDIS_PASSWORD_FILE: this.adminPasswordFile,
      REDIS_PREVIOUS_PASSWORD_FILE: this.previousAdminPasswordFile,
      REDIS_MASTERUSER: "replica",
      REDIS_MASTERAUTH_FILE: this.masterauthFile,
    };
  }
}
