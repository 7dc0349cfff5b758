import * as pulumi from "@pulumi/pulumi";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

export interface RecordedOptions {
  type: string;
  name: string;
  dependsOn: string[];
  protect?: boolean;
  retainOnDelete?: boolean;
  deleteBeforeReplace?: boolean;
}

/**
 * Replaces the Pulumi engine with mocks (the only thing this project mocks) and records every resource.
 * Call before importing the program or a component module's consumers.
 */
export function installMocks(opts: { config: Record<string, string>; secretKeys?: string[]; stack?: string; preview?: boolean }) {
  pulumi.runtime.setAllConfig(opts.config, opts.secretKeys);
  const resources: RecordedResource[] = [];
  const options: RecordedOptions[] = [];
  pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "random:index/randomPassword:RandomPassword") state.result = "generatedPassword0123456789abcdef";
        if (args.type === "docker:index/remoteImage:RemoteImage") state.imageId = `sha256:${args.inputs.name}`;
        if (args.type === "docker:index/container:Container") state.exitCode = 0;
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        return args.inputs;
      },
    },
    "redis-cluster",
    opts.stack ?? "dev",
    opts.preview ?? false,
  );
  /** Runs the program inside a root stack, where stack transformations record resource options. */
  const run = <T>(load: () => Promise<T>): Promise<T> => {
    let loaded!: T;
    return pulumi.runtime
      .runInPulumiStack(async () => {
        // Stack transformations see resource options (dependsOn, protect) that the mock monitor does not.
        pulumi.runtime.registerStackTransformation((args) => {
          const deps = args.opts.dependsOn;
          const list = (Array.isArray(deps) ? deps : deps ? [deps] : []) as pulumi.Resource[];
          options.push({
            type: args.type,
            name: args.name,
            dependsOn: list.map((r) => (r as any).__name as string),
            protect: args.opts.protect,
            retainOnDelete: args.opts.retainOnDelete,
          deleteBeforeReplace: (args.opts as pulumi.CustomResourceOptions).deleteBeforeReplace,
          });
          return undefined;
        });
        loaded = await load();
        return undefined;
      })
      .then(() => loaded);
  };
  return { resources, options, run };
}

/** Resolves an Output's value (unwrapping secrets) under mocks. */
export function valueOf<T>(o: pulumi.Input<T> | undefined): Promise<T> {
  return new Promise((resolve) => pulumi.output(o as pulumi.Input<T>).apply((v) => resolve(v as T)));
}

/** True when a mock input is a wrapped secret (the SDK serialises secrets with a signature key). */
export function isSecretInput(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
}

/** Every string inside a value, secrets included; for "no password anywhere plain" checks. */
export function plainStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => plainStrings(x, out));
  else if (v && typeof v === "object" && !isSecretInput(v)) Object.values(v).forEach((x) => plainStrings(x, out));
  return out;
}

/** The value inside a wrapped secret input (or the input itself). */
export function unwrapSecret<T = any>(v: unknown): T {
  return (isSecretInput(v) ? (v as Record<string, unknown>).value : v) as T;
}

/** Waits until no new resource registers (resources whose inputs wait on other outputs come later); bounded. */
export async function settle(resources: RecordedResource[]): Promise<void> {
  for (let n = -1, k = 0; n !== resources.length && k < 50; k++) {
    n = resources.length;
    await new Promise((r) => setTimeout(r, 20));
  }
}
