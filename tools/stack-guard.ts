// Decides whether a Pulumi stack may be destroyed by the dev teardown paths
// (`npm run dev:down`, .github/workflows/dev-teardown.yml). Prod data must never be
// lost by a typo, so every rule refuses; a stack is destroyable only when no rule objects.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PROJECT } from "../infra/config/schema";

export { PROJECT };
export const PLATFORM_KEY = `${PROJECT}:platform`;
/** Exit code for "refused by the guard" (distinct from pulumi's own failures). */
export const EXIT_REFUSED = 3;

export type Platform = "docker" | "kubernetes" | string;

export interface PlatformLookup {
  platform: Platform | undefined;
  /** Where the value came from, for messages. */
  source: string;
}

export interface GuardInput {
  /** Stack name as given to `pulumi -s`; may be fully qualified (org/project/stack). */
  stack: string;
  /** Pulumi project directory (holds Pulumi.yaml and Pulumi.<stack>.yaml). */
  projectDir: string;
  /** Output of `pulumi stack export` when it was read; undefined when not inspected. */
  state?: unknown;
}

export interface GuardVerdict {
  /** True only when no rule objects and the platform is known (from config or state). */
  allowed: boolean;
  /** Why the stack must not be destroyed. */
  reasons: string[];
  /** Config does not tell the platform and no state was given: decide again with the state. */
  needsState: boolean;
  platform: PlatformLookup;
}

/** `org/redis-cluster/dev-alice` -> `dev-alice`: stack files are named after the short name. */
export function shortStackName(stack: string): string {
  const parts = stack.split("/");
  return parts[parts.length - 1] ?? stack;
}

export function isProdName(stack: string): boolean {
  return /prod/i.test(shortStackName(stack));
}

function readYaml(file: string): unknown {
  return parse(readFileSync(file, "utf8")) as unknown;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

// Pulumi.yaml declares `platform: {type, default}` (or a bare value); stack files hold `redis-cluster:platform: x`.
function platformFrom(config: Record<string, unknown> | undefined): string | undefined {
  if (!config) return undefined;
  for (const key of [PLATFORM_KEY, "platform"]) {
    const v = config[key];
    if (typeof v === "string") return v;
    const rec = asRecord(v);
    if (rec) {
      const d = rec["value"] ?? rec["default"];
      if (typeof d === "string") return d;
    }
  }
  return undefined;
}

/** Platform of a stack: its stack file first, then the project default in Pulumi.yaml. */
export function lookupPlatform(stack: string, projectDir: string): PlatformLookup {
  const stackFile = join(projectDir, `Pulumi.${shortStackName(stack)}.yaml`);
  if (existsSync(stackFile)) {
    const p = platformFrom(asRecord(asRecord(readYaml(stackFile))?.["config"]));
    if (p !== undefined) return { platform: p, source: stackFile };
  }
  const projectFile = join(projectDir, "Pulumi.yaml");
  if (existsSync(projectFile)) {
    const p = platformFrom(asRecord(asRecord(readYaml(projectFile))?.["config"]));
    if (p !== undefined) return { platform: p, source: `${projectFile} (project default)` };
  }
  return { platform: undefined, source: `neither ${stackFile} nor ${projectFile} sets ${PLATFORM_KEY}` };
}

/** Resource types in a `pulumi stack export` document that belong to Kubernetes. */
export function kubernetesResourceTypes(state: unknown): string[] {
  const resources = asRecord(asRecord(state)?.["deployment"])?.["resources"];
  if (!Array.isArray(resources)) return [];
  const types = resources
    .map((r) => asRecord(r)?.["type"])
    .filter((t): t is string => typeof t === "string")
    .filter((t) => t.startsWith("kubernetes:") || t === "pulumi:providers:kubernetes");
  return [...new Set(types)].sort();
}

export function guardStack(input: GuardInput): GuardVerdict {
  const reasons: string[] = [];
  const name = shortStackName(input.stack);
  if (isProdName(input.stack)) {
    reasons.push(`stack "${name}" is a production stack (its name matches /prod/)`);
  }
  const platform = lookupPlatform(input.stack, input.projectDir);
  if (platform.platform === "kubernetes") {
    reasons.push(`stack "${name}" runs on kubernetes (${PLATFORM_KEY} in ${platform.source})`);
  } else if (platform.platform !== undefined && platform.platform !== "docker") {
    reasons.push(`stack "${name}" has unknown platform "${platform.platform}" (${platform.source})`);
  }
  if (input.state !== undefined) {
    const k8s = kubernetesResourceTypes(input.state);
    if (k8s.length > 0) {
      reasons.push(`stack "${name}" state holds Kubernetes resources (${k8s.slice(0, 5).join(", ")})`);
    }
  }
  // Without a config file the deployed state is the only evidence; never guess.
  const needsState = input.state === undefined && platform.platform === undefined;
  return { allowed: reasons.length === 0 && !needsState, reasons, needsState, platform };
}
