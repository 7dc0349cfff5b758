// The Pulumi CLI's config rules, applied before the program starts (what `pulumi up`/`preview` do in
// sdk/go/common/workspace: project validation, then ValidateStackConfigAndApplyProjectConfig). Written from the
// CLI's documented behaviour and error texts; the project's own tests pin each rule (test/pulumi-project.test.ts).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

/** The types a Pulumi.yaml `config:` declaration may have. */
export const PROJECT_CONFIG_TYPES = ["string", "integer", "boolean", "array"] as const;

export interface ProjectConfigDecl {
  type?: string;
  items?: { type?: string };
  default?: unknown;
  value?: unknown;
  secret?: boolean;
  description?: string;
}

export interface Project {
  name: string;
  runtime: string | { name: string; options?: Record<string, unknown> };
  config?: Record<string, ProjectConfigDecl>;
  main?: string;
}

/** A stack config value as the CLI holds it: text (objects as JSON text), and whether it is encrypted. */
export interface ConfigValue {
  text: string;
  /** `secure:` in the stack file / `pulumi config set --secret`. */
  secret: boolean;
  /** Structured (object/array) value: `text` is JSON. */
  object: boolean;
}

/** An error the CLI prints before the program runs (`pulumi up` exits 255, the program never starts). */
export class CliError extends Error {
  override name = "CliError";
}

export function readProject(root: string): Project {
  return parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as Project;
}

/** Go's `fmt.Sprintf("%v", v)` of a YAML scalar, which is how the CLI turns a scalar into config text. */
function scalarText(v: unknown): string {
  return typeof v === "string" ? v : String(v);
}

/** The CLI's ValidateConfigValue: strings are what they are; integers and booleans may be given as their text. */
export function configValueMatches(type: string, items: { type?: string } | undefined, content: unknown): boolean {
  switch (type) {
    case "string":
      return typeof content === "string";
    case "integer":
      if (typeof content === "number") return Number.isInteger(content);
      // strconv.Atoi: optional sign, decimal digits only.
      return typeof content === "string" && /^[+-]?\d+$/.test(content);
    case "boolean":
      if (typeof content === "boolean") return true;
      // strconv.ParseBool
      return typeof content === "string" && ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"].includes(content);
    case "array":
      return Array.isArray(content) && content.every((x) => items?.type === undefined || configValueMatches(items.type, undefined, x));
    default:
      return false;
  }
}

const fullTypeName = (type: string, items?: { type?: string }) => (type === "array" ? `array<${items?.type ?? "unknown"}>` : type);

/** Project-level checks the CLI makes when it loads Pulumi.yaml (schema + Project.Validate). */
export function validateProject(project: Project): void {
  const problems: string[] = [];
  for (const [key, decl] of Object.entries(project.config ?? {})) {
    if (decl.type === undefined) continue; // untyped: a plain value/default, any type
    if (!(PROJECT_CONFIG_TYPES as readonly string[]).includes(decl.type)) {
      problems.push(`config.${key}.type must be one of ${PROJECT_CONFIG_TYPES.join(", ")}, got ${JSON.stringify(decl.type)}`);
      continue;
    }
    if (decl.type === "array" && !decl.items?.type) problems.push(`The configuration key '${key}' declares an array but no items type`);
    if (decl.default !== undefined && !configValueMatches(decl.type, decl.items, decl.default)) {
      problems.push(`The default value specified for configuration key '${key}' is not of the expected type '${fullTypeName(decl.type, decl.items)}'`);
    }
  }
  if (problems.length > 0) throw new CliError(`could not validate '${join("Pulumi.yaml")}': ${problems.join("; ")}`);
}

/** Reads Pulumi.<stack>.yaml (a new stack has none: empty config). Scalars become text, objects JSON text. */
export function readStackConfig(root: string, stack: string): Record<string, ConfigValue> {
  const file = join(root, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) return {};
  const doc = (parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const out: Record<string, ConfigValue> = {};
  for (const [k, v] of Object.entries(doc.config ?? {})) out[k] = toConfigValue(v);
  return out;
}

/** A value as written in a stack file or given to the engine: `{ secure: ... }` marks a secret. */
export function toConfigValue(v: unknown, secret = false): ConfigValue {
  if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && "secure" in v) {
    // Ciphertext cannot be decrypted here; tests give secrets in the clear with secret: true instead.
    throw new CliError("the test engine cannot decrypt `secure:` values; pass secrets to runProgram as { secret: <value> }");
  }
  if (v !== null && typeof v === "object") return { text: JSON.stringify(v), secret, object: true };
  return { text: scalarText(v), secret, object: false };
}

/** Qualifies a project key the way the CLI does: `masters` -> `redis-cluster:masters`; namespaced keys stay. */
export const qualify = (project: string, key: string) => (key.includes(":") ? key : `${project}:${key}`);

/**
 * ValidateStackConfigAndApplyProjectConfig: declared keys missing from the stack take their default (as text;
 * structured defaults as JSON), a declared key with neither is an error, then every typed key's value is checked
 * (secret declarations must be encrypted, values must match the declared type). Returns the merged stack config.
 */
export function mergeProjectConfig(project: Project, stack: string, stackConfig: Record<string, ConfigValue>): Record<string, ConfigValue> {
  const merged: Record<string, ConfigValue> = { ...stackConfig };
  const decls = Object.entries(project.config ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const missing: string[] = [];
  for (const [key, decl] of decls) {
    const full = qualify(project.name, key);
    if (merged[full] !== undefined) continue;
    const given = decl.default !== undefined ? decl.default : decl.value;
    if (given === undefined) {
      if (full.startsWith(`${project.name}:`)) missing.push(key);
      continue;
    }
    merged[full] = toConfigValue(given);
  }
  if (missing.length > 0) {
    const list = missing.length === 1 ? `'${missing[0]}'` : `${missing.slice(0, -1).map((k) => `'${k}'`).join(", ").replace(/, ([^,]*)$/, " $1")} and '${missing[missing.length - 1]}'`;
    throw new CliError(`Stack '${stack}' is missing configuration value${missing.length === 1 ? "" : "s"} ${list}`);
  }
  for (const [key, decl] of decls) {
    if (decl.type === undefined) continue;
    const v = merged[qualify(project.name, key)];
    if (!v) continue;
    if (decl.secret && !v.secret) throw new CliError(`Stack '${stack}' with configuration key '${key}' must be encrypted as it's secret`);
    const content = v.object ? JSON.parse(v.text) : v.text;
    if (!configValueMatches(decl.type, decl.items, content)) {
      throw new CliError(`Stack '${stack}' with configuration key '${key}' must be of type '${fullTypeName(decl.type, decl.items)}'`);
    }
  }
  return merged;
}

/**
 * What pulumi-language-nodejs hands the program: PULUMI_CONFIG (keys `<ns>:config:<key>`) and PULUMI_CONFIG_SECRET_KEYS
 * (keys `<ns>:<key>`, the form the SDK's isConfigSecret compares with).
 */
export function programConfigEnv(config: Record<string, ConfigValue>): { PULUMI_CONFIG: string; PULUMI_CONFIG_SECRET_KEYS: string } {
  const map: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [k, v] of Object.entries(config)) {
    const i = k.indexOf(":");
    const envKey = `${k.slice(0, i)}:config:${k.slice(i + 1)}`;
    map[envKey] = v.text;
    if (v.secret) secrets.push(k);
  }
  return { PULUMI_CONFIG: JSON.stringify(map), PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(secrets) };
}
