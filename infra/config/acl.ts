import { z } from "zod";

// Settings of the `acl` stack-config object: least-privilege Redis users (issue #12). The rules they get are in
// infra/plan/acl.ts; passwords come from here (secret config) or are generated, and never reach the spec.

/** Users the project itself runs as; application users must pick other names. */
export const BUILTIN_USERS = ["default", "admin", "replica", "exporter", "smoke", "canary", "backup"] as const;

// Same rule as the top-level `password` (survives redis.conf quoting, shell env and URLs unchanged).
const PASSWORD_RE = /^[A-Za-z0-9!#%+,\-./:=@^_~]{16,128}$/;
const password = z.string().regex(PASSWORD_RE, "must be 16-128 characters of A-Z a-z 0-9 !#%+,-./:=@^_~");
// ACL rule tokens go to redis-cli line by line: no spaces, quotes or backslashes.
const pattern = z.string().regex(/^[^\s"'\\]{1,200}$/, "must be a glob without spaces, quotes or backslashes, like app:*");
const commandRule = z.string().regex(/^[+-](@[a-z]+|[a-z]+(\|[a-z-]+)?)$/, "must be +@category, -@category, +command, -command or +command|subcommand, like +@read");

const appUserSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "must be 1-32 characters a-z 0-9 _ - starting with a letter")
      .refine((n) => !(BUILTIN_USERS as readonly string[]).includes(n), `is reserved (${BUILTIN_USERS.join(", ")}); choose another name`)
      .describe("User name (what the application passes as username)"),
    keys: z.array(pattern).min(1).describe("Key patterns the user may touch (~pattern), e.g. [\"app:*\"]"),
    channels: z.array(pattern).default([]).describe("Pub/Sub channel patterns (&pattern); none by default"),
    commands: z.array(commandRule).min(1).describe("Command rules in order, e.g. [\"+@read\", \"+@write\", \"-@dangerous\"]"),
    password: password.optional().describe("Password (set the whole acl key with --secret); generated when absent"),
  })
  .strict();

export const aclSchema = z
  .object({
    enabled: z.boolean().optional()
      .describe("Redis ACL users (admin, replica, exporter, smoke, application users) from an ACL file; false: one shared password (requirepass). Default: on for kubernetes, off for docker (dev)"),
    defaultUser: z.enum(["off", "admin"]).optional()
      .describe("The `default` user (clients that send only a password): off, or admin (same password and rights as admin, what clients without a username used before). Default: off on kubernetes, admin on docker (dev)"),
    passwords: z
      .object({ replica: password.optional(), exporter: password.optional(), smoke: password.optional() })
      .strict()
      .default({})
      .describe("Passwords of the built-in users (set with --secret); each generated when absent. admin's is `password`"),
    users: z.array(appUserSchema).max(100).default([])
      .refine((us) => new Set(us.map((u) => u?.name)).size === us.length, "has two users with the same name; names must be unique")
      .describe("Application users: name, keys, channels, commands, password"),
  })
  .strict();

export type AclConfig = z.infer<typeof aclSchema>;

/** An application user as the plan sees it: no password. */
export interface AppUserSpec {
  name: string;
  keys: string[];
  channels: string[];
  commands: string[];
  passwordProvided: boolean;
}

/** The `acl` settings with the platform default applied and every password removed. */
export interface AclSpec {
  enabled: boolean;
  defaultUser: "off" | "admin";
  users: AppUserSpec[];
  /** Built-in users whose password is configured (the others are generated). */
  passwordsProvided: ("replica" | "exporter" | "smoke")[];
}

export function aclSpec(c: AclConfig, platform: "docker" | "kubernetes"): AclSpec {
  return {
    enabled: c.enabled ?? platform === "kubernetes",
    defaultUser: c.defaultUser ?? (platform === "kubernetes" ? "off" : "admin"),
    users: c.users.map(({ password: pw, ...u }) => ({ ...u, passwordProvided: pw !== undefined })),
    passwordsProvided: (["replica", "exporter", "smoke"] as const).filter((u) => c.passwords[u] !== undefined),
  };
}
