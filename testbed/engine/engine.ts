// A test engine: runs the program the way `pulumi preview` / `pulumi up` do, without the CLI or provider plugins.
// It applies the CLI's config rules (./config.ts), serves Pulumi's ResourceMonitor and Engine gRPC services, and
// starts the program through Pulumi's own Node.js runtime exactly as pulumi-language-nodejs does
// (`node [nodeargs] @pulumi/pulumi/cmd/run --monitor … --engine … --project … --stack … [--dry-run] .`, CommonJS).
// Dynamic providers are served by Pulumi's own `cmd/dynamic-provider` host. Its API: docs/testbed.md, "The test engine".
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as resrpc from "@pulumi/pulumi/proto/resource_grpc_pb";
import * as resproto from "@pulumi/pulumi/proto/resource_pb";
import * as engrpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engproto from "@pulumi/pulumi/proto/engine_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { CliError, mergeProjectConfig, programConfigEnv, qualify, readProject, readStackConfig, toConfigValue, validateProject, type ConfigValue } from "./config";
import { TLS_IN_PLACE } from "../tlsProvider";
import { annotateSecrets, hasUnknown, isSecret, sameValue, secret, UNKNOWN, unwrapSecrets } from "./values";

export const REPO_ROOT = resolve(__dirname, "..", "..");
const runner = (root: string) => join(root, "node_modules", "@pulumi", "pulumi", "cmd", "run");
const dynamicProviderHost = (root: string) => join(root, "node_modules", "@pulumi", "pulumi", "cmd", "dynamic-provider");
/** Dynamic resources: `pulumi-nodejs:dynamic:Resource`, or `pulumi-nodejs:<module>:<type>` when named. */
const DYNAMIC_PACKAGE = "pulumi-nodejs:";
const isDynamic = (type: string) => type.startsWith(DYNAMIC_PACKAGE);
/** The program logged a user-facing error and exited (cmd/run's nodeJSProcessExitedAfterLoggingUserActionableMessage). */
export const EXIT_LOGGED_ERROR = 32;
/** `pulumi` exits 255 on an error before the program runs (config rules). */
export const EXIT_CLI_ERROR = 255;

/** "read": a resource read, not managed (StackReference); kept out of the state the run leaves. */
export type StepOp = "create" | "same" | "update" | "replace" | "read";

export interface ResourceOptions {
  parent?: string;
  /** Every resource this one directly depends on: explicit dependsOn plus those its inputs came from (as the SDK sends them). */
  dependsOn: string[];
  /** Per input property: the resources its value came from. */
  propertyDependencies: Record<string, string[]>;
  protect?: boolean;
  retainOnDelete?: boolean;
  ignoreChanges: string[];
  replaceOnChanges: string[];
  deleteBeforeReplace?: boolean;
  customTimeouts?: { create?: string; update?: string; delete?: string };
  provider?: string;
  additionalSecretOutputs: string[];
  aliases: number;
  version?: string;
}

export interface RecordedResource {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  /** Inputs as the program sent them: secrets wrapped (values.isSecret/unwrapSecrets), unknowns as values.UNKNOWN. */
  inputs: Record<string, any>;
  /** What the engine answered (preview: the inputs only, so the SDK treats every other output as unknown). */
  outputs: Record<string, any>;
  id?: string;
  options: ResourceOptions;
  /** What `pulumi up` would do with it, given priorState. */
  op: StepOp;
  /** Top-level input keys that differ from priorState. */
  changedKeys: string[];
  /** A replace step: true when the old resource goes before the new one is created (the option, or the provider's diff says so). */
  deleteBeforeReplace?: boolean;
}

export interface StateEntry {
  urn: string;
  type: string;
  id?: string;
  inputs: Record<string, any>;
  outputs: Record<string, any>;
  protect?: boolean;
}

export interface EngineState {
  resources: StateEntry[];
}

export interface LogEntry {
  severity: "debug" | "info" | "warning" | "error";
  message: string;
  urn?: string;
}

/** A config value for runProgram: plain scalars/objects, `{ secret: value }` for `pulumi config set --secret`, or null to remove. */
export type ConfigInput = string | number | boolean | object | { secret: string | number | boolean } | null;

export interface RunOptions {
  stack: string;
  mode: "preview" | "up";
  /** Changes to the stack file's config (keys `redis-cluster:x`, `x` for the project, or `kubernetes:context` etc.). */
  config?: Record<string, ConfigInput>;
  /** Replace Pulumi.<stack>.yaml's config entirely (a brand-new stack: `{}`); default: the file in the repository. */
  stackConfig?: Record<string, ConfigInput>;
  /** State of a previous `up` (RunResult.state): the engine diffs against it (second up, scale-down). */
  priorState?: EngineState;
  /** Outputs to report on `up` instead of the plausible defaults, by resource name (e.g. a failing bootstrap's exitCode). */
  outputOverrides?: Record<string, Record<string, unknown>>;
  /**
   * `up` only: a real provider for custom resources that are not dynamic (issue 10's Docker applier). Called for each
   * create/update/replace step instead of the plausible outputs; what it throws fails the step as an engine error.
   */
  provider?: (step: ProviderStep) => Promise<{ id: string; outputs: Record<string, any> }>;
  /**
   * With `provider`: deletes a resource that exists (a replaced one, or one the program no longer declares). Given, the
   * engine orders replacements itself, as the real engine does: delete-before-replace deletes the old resource before
   * the provider's create; otherwise the new one is created first and the old one deleted after the program ends
   * (then the resources the program dropped, newest first). Without it the provider sees `replace` and must do both.
   */
  remove?: (step: RemoveStep) => Promise<void>;
  /** Resource names or URNs to replace even when unchanged (`pulumi up --replace`). */
  replace?: string[];
  /** Project directory (another checkout of the repository); default: this repository. */
  root?: string;
  /** Program to run, relative to the repository root (engine self-tests); default "." = package.json main, as Pulumi.yaml has no `main`. */
  program?: string;
  /** Extra node arguments (as Pulumi.yaml runtime.options.nodeargs), e.g. --cpu-prof for a benchmark. */
  nodeArgs?: string[];
  /** Extra environment for the program. */
  env?: Record<string, string>;
  /** Bound of the whole run; default 120 s. */
  timeoutMs?: number;
}

/** One step handed to RunOptions.provider. */
export interface ProviderStep {
  urn: string;
  type: string;
  name: string;
  /** Checked inputs, secrets wrapped as the program sent them. */
  inputs: Record<string, any>;
  op: Exclude<StepOp, "same">;
  /** The resource's entry in priorState (update/replace). */
  prior?: StateEntry;
  options: ResourceOptions;
  /** A replace step: the old resource is (or, with RunOptions.remove, was) deleted first. */
  deleteBeforeReplace?: boolean;
}

/** One delete handed to RunOptions.remove: the resource as the state holds it. */
export interface RemoveStep {
  urn: string;
  type: string;
  name: string;
  prior: StateEntry;
  /** Why: the old half of a replacement, or the program no longer declares it. */
  reason: "replace" | "delete";
}

export interface RunResult {
  /** The program's exit code (0 ok, 32 a logged user-facing error), or 255 when the CLI's config rules stop the run. */
  exitCode: number;
  /** Exit 0 and no engine error. */
  ok: boolean;
  /** What the user reads: the CLI error, engine errors (check failures, rejected options, protected deletes) and error logs. */
  errors: string[];
  logs: LogEntry[];
  resources: RecordedResource[];
  /** Stack outputs (secrets wrapped; preview: unknowns as values.UNKNOWN). */
  outputs: Record<string, any>;
  /** Resources in priorState the program no longer declares (what `up` would delete). */
  deletes: string[];
  /** For a second run: the state this run leaves (up only; preview returns priorState). */
  state: EngineState;
  /** The config the program received (PULUMI_CONFIG), keys `<ns>:<key>`. */
  config: Record<string, string>;
  stdout: string;
  stderr: string;
  durationMs: number;
}

// Features the 3.x engine supports; the SDK asks before using them.
const FEATURES = new Set(["secrets", "resourceReferences", "outputValues", "deletedWith", "replaceWith", "aliasSpecs", "transforms", "invokeTransforms", "parameterization", "resourceHooks", "errorHooks"]);

// Go's time.ParseDuration grammar: the engine rejects anything else as a custom timeout.
const GO_DURATION = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

const short = (urn: string, n = 8) => createHash("sha256").update(urn).digest("hex").slice(0, n);

function configFromInputs(input: Record<string, ConfigInput>, project: string): Record<string, ConfigValue | null> {
  const out: Record<string, ConfigValue | null> = {};
  for (const [k, v] of Object.entries(input)) {
    const key = qualify(project, k);
    if (v === null) out[key] = null;
    else if (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && "secret" in v) out[key] = toConfigValue((v as { secret: unknown }).secret, true);
    else out[key] = toConfigValue(v);
  }
  return out;
}

/**
 * Runs the program once, as `pulumi preview` (mode "preview": --dry-run, unknown outputs) or `pulumi up`
 * (mode "up": plausible provider outputs, a state for the next run). Never throws for program failures: they are
 * in exitCode/errors, as a user would see them.
 */
export async function runProgram(opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const root = opts.root ?? REPO_ROOT;
  const project = readProject(root);
  const empty = (exitCode: number, errors: string[]): RunResult => ({
    exitCode, ok: false, errors, logs: [], resources: [], outputs: {}, deletes: [], state: opts.priorState ?? { resources: [] },
    config: {}, stdout: "", stderr: "", durationMs: Date.now() - started,
  });

  // 1. The CLI: project validation, stack config + Pulumi.yaml defaults, the declared-key rules.
  let merged: Record<string, ConfigValue>;
  try {
    validateProject(project);
    const base = opts.stackConfig ? configFromInputs(opts.stackConfig, project.name) : readStackConfig(root, opts.stack);
    const stackConfig: Record<string, ConfigValue> = {};
    for (const [k, v] of Object.entries({ ...base, ...configFromInputs(opts.config ?? {}, project.name) })) if (v) stackConfig[k] = v;
    merged = mergeProjectConfig(project, opts.stack, stackConfig);
  } catch (e) {
    if (e instanceof CliError) return empty(EXIT_CLI_ERROR, [e.message]);
    throw e;
  }

  const session = new Session(opts, project.name);
  try {
    return await session.run(merged, started);
  } finally {
    await session.close();
  }
}

class Session {
  private readonly resources: RecordedResource[] = [];
  private readonly byUrn = new Map<string, RecordedResource>();
  private readonly prior = new Map<string, StateEntry>();
  private readonly logs: LogEntry[] = [];
  private readonly engineErrors: string[] = [];
  /** Old halves of create-before-delete replacements, deleted after the program (the real engine's pending deletes). */
  private readonly pendingDeletes: StateEntry[] = [];
  private outputs: Record<string, any> = {};
  private rootUrn?: string;
  private monitorServer?: grpc.Server;
  private engineServer?: grpc.Server;
  private engineAddr = "";
  private dynamic?: { proc: ChildProcess; client: provrpc.ResourceProviderClient };
  private dynamicStarting?: Promise<provrpc.ResourceProviderClient>;
  private child?: ChildProcess;

  private readonly root: string;

  constructor(private readonly opts: RunOptions, private readonly project: string) {
    this.root = opts.root ?? REPO_ROOT;
    for (const r of opts.priorState?.resources ?? []) this.prior.set(r.urn, r);
  }

  private get preview() {
    return this.opts.mode === "preview";
  }

  async run(config: Record<string, ConfigValue>, started: number): Promise<RunResult> {
    const monitorAddr = await this.serve();
    const env: NodeJS.ProcessEnv = { ...process.env, ...programConfigEnv(config) };
    // As pulumi-language-nodejs: TypeScript when Pulumi.yaml says runtime.options.typescript (default true).
    const root = this.root;
    const rt = readProject(root).runtime;
    const ts = typeof rt === "object" ? rt.options?.typescript !== false : true;
    if (ts) env.PULUMI_NODEJS_TYPESCRIPT = "true";
    delete env.PULUMI_NODEJS_TRANSPILE_ONLY;
    // tsx's loader from the test runner must not leak into the program: Pulumi runs plain node.
    delete env.NODE_OPTIONS;
    for (const k of Object.keys(env)) if (k.startsWith("TSX_") || k.startsWith("NODE_TEST")) delete env[k];
    delete env.FORCE_COLOR;
    Object.assign(env, { NO_COLOR: "1" }, this.opts.env ?? {});

    // As the language host: runtime.options.nodeargs go before the runner.
    const nodeargs = typeof rt === "object" && typeof rt.options?.nodeargs === "string" ? rt.options.nodeargs.split(/\s+/).filter(Boolean) : [];
    const args = [
      ...nodeargs, ...(this.opts.nodeArgs ?? []), runner(root), "--monitor", monitorAddr, "--engine", this.engineAddr, "--organization", "organization", "--project", this.project,
      "--root-directory", root, "--stack", this.opts.stack, "--pwd", root,
      ...(this.preview ? ["--dry-run"] : []), "--query-mode", "false", "--parallel", "16", this.opts.program ?? ".",
    ];
    let stdout = "";
    let stderr = "";
    const exitCode = await new Promise<number>((resolveExit) => {
      const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
      this.child = child;
      child.stdout!.on("data", (d) => (stdout += d));
      child.stderr!.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => {
        this.engineErrors.push(`test engine: the program did not finish within ${this.opts.timeoutMs ?? 120_000} ms`);
        child.kill("SIGKILL");
      }, this.opts.timeoutMs ?? 120_000);
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        resolveExit(code ?? (signal ? 128 : 1));
      });
    });

    // What `up` would delete: resources of the prior state the program no longer declares.
    const deletes = exitCode === 0 ? [...this.prior.keys()].filter((u) => !this.byUrn.has(u)) : [];
    for (const urn of deletes) {
      if (this.prior.get(urn)!.protect) {
        this.engineErrors.push(`unable to delete resource "${urn}"\nas it is currently marked for protection. To unprotect the resource, remove the \`protect\` flag from the resource in your Pulumi program and run \`pulumi up\``);
      }
    }
    // The deletion phase of a successful `up`: replaced resources, then those the program dropped, newest first.
    if (!this.preview && exitCode === 0 && this.engineErrors.length === 0) {
      const steps = [
        ...[...this.pendingDeletes].reverse().map((p) => [p, "replace"] as const),
        ...[...deletes].reverse().map((u) => [this.prior.get(u)!, "delete"] as const),
      ];
      for (const [p, reason] of steps) {
        if (!isDynamic(p.type) && !this.opts.remove) continue;
        try {
          await this.deleteResource(p, reason);
        } catch (e) {
          this.engineErrors.push(`${p.urn}: deleting failed: ${(e as Error).message}`);
          break;
        }
      }
    }
    // A failed run keeps the stack outputs it did not register (the SDK registers none when the program throws), as
    // the engine does since 3.112: the next run's StackReference to the stack reads the last good ones.
    const stackRec = this.rootUrn ? this.byUrn.get(this.rootUrn) : undefined;
    const priorStack = this.rootUrn ? this.prior.get(this.rootUrn) : undefined;
    if (exitCode !== 0 && stackRec && priorStack) stackRec.outputs = { ...priorStack.outputs, ...stackRec.outputs };
    const errors = [...this.engineErrors, ...this.logs.filter((l) => l.severity === "error").map((l) => l.message)];
    if (exitCode !== 0 && errors.length === 0) errors.push(`program exited with code ${exitCode}:\n${stderr.trim() || stdout.trim()}`);
    const state: EngineState = this.preview
      ? this.opts.priorState ?? { resources: [] }
      : {
          resources: [
            ...this.resources.filter((r) => r.op !== "read").map((r) => ({ urn: r.urn, type: r.type, id: r.id, inputs: r.inputs, outputs: r.outputs, protect: r.options.protect })),
            // A failed run keeps what it did not get to.
            ...(exitCode === 0 ? [] : [...this.prior.values()].filter((p) => !this.byUrn.has(p.urn))),
          ],
        };
    const cfg = JSON.parse(programConfigEnv(config).PULUMI_CONFIG) as Record<string, string>;
    return {
      exitCode,
      ok: exitCode === 0 && this.engineErrors.length === 0,
      errors,
      logs: this.logs,
      resources: this.resources,
      outputs: this.outputs,
      deletes,
      state,
      config: Object.fromEntries(Object.entries(cfg).map(([k, v]) => [k.replace(":config:", ":"), v])),
      stdout,
      stderr,
      durationMs: Date.now() - started,
    };
  }

  async close(): Promise<void> {
    if (this.child && this.child.exitCode === null) this.child.kill("SIGKILL");
    if (this.dynamic) {
      this.dynamic.client.close();
      this.dynamic.proc.kill("SIGKILL");
    }
    for (const s of [this.monitorServer, this.engineServer]) if (s) s.forceShutdown();
  }

  private async serve(): Promise<string> {
    const bind = (server: grpc.Server) =>
      new Promise<number>((ok, fail) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => (err ? fail(err) : ok(port))));
    const limits = { "grpc.max_receive_message_length": 400 * 1024 * 1024, "grpc.max_send_message_length": 400 * 1024 * 1024 };

    this.engineServer = new grpc.Server(limits);
    this.engineServer.addService(engrpc.EngineService, {
      log: (call: any, cb: any) => {
        const req = call.request as engproto.LogRequest;
        const sev = (["debug", "info", "warning", "error"] as const)[req.getSeverity()] ?? "info";
        this.logs.push({ severity: sev, message: req.getMessage(), urn: req.getUrn() || undefined });
        cb(null, new Empty());
      },
      getRootResource: (_call: any, cb: any) => {
        const resp = new engproto.GetRootResourceResponse();
        resp.setUrn(this.rootUrn ?? "");
        cb(null, resp);
      },
      setRootResource: (call: any, cb: any) => {
        this.rootUrn = (call.request as engproto.SetRootResourceRequest).getUrn();
        cb(null, new engproto.SetRootResourceResponse());
      },
      requirePulumiVersion: (_call: any, cb: any) => cb(null, new engproto.RequirePulumiVersionResponse()),
      startDebugging: (_call: any, cb: any) => cb(null, new Empty()),
    } as any);
    this.engineAddr = `127.0.0.1:${await bind(this.engineServer)}`;

    const unimplemented = (what: string) => (call: any, cb: any) =>
      cb({ code: grpc.status.UNIMPLEMENTED, details: `the test engine does not serve ${what}${call.request?.getTok ? ` (${call.request.getTok()})` : ""}` });
    this.monitorServer = new grpc.Server(limits);
    this.monitorServer.addService(resrpc.ResourceMonitorService, {
      supportsFeature: (call: any, cb: any) => {
        const resp = new resproto.SupportsFeatureResponse();
        resp.setHassupport(FEATURES.has((call.request as resproto.SupportsFeatureRequest).getId()));
        cb(null, resp);
      },
      registerResource: (call: any, cb: any) => {
        this.registerResource(call.request as resproto.RegisterResourceRequest).then(
          (resp) => cb(null, resp),
          (e: Error) => cb({ code: grpc.status.INVALID_ARGUMENT, details: e.message }),
        );
      },
      registerResourceOutputs: (call: any, cb: any) => {
        const req = call.request as resproto.RegisterResourceOutputsRequest;
        const outs = req.getOutputs()?.toJavaScript() ?? {};
        if (req.getUrn() === this.rootUrn) this.outputs = outs;
        const r = this.byUrn.get(req.getUrn());
        if (r && !r.custom) r.outputs = outs;
        cb(null, new Empty());
      },
      signalAndWaitForShutdown: (_call: any, cb: any) => cb(null, new Empty()),
      invoke: unimplemented("provider functions (Invoke)"),
      call: unimplemented("method calls (Call)"),
      readResource: (call: any, cb: any) => {
        try {
          cb(null, this.readResource(call.request as resproto.ReadResourceRequest));
        } catch (e) {
          cb({ code: grpc.status.INVALID_ARGUMENT, details: (e as Error).message });
        }
      },
      getDeploymentInfo: unimplemented("GetDeploymentInfo"),
      registerStackTransform: unimplemented("transforms"),
      registerStackInvokeTransform: unimplemented("invoke transforms"),
      registerResourceHook: unimplemented("resource hooks"),
      registerErrorHook: unimplemented("error hooks"),
      registerPackage: unimplemented("packages"),
    } as any);
    return `127.0.0.1:${await bind(this.monitorServer)}`;
  }

  private urnOf(type: string, name: string, parent: string): string {
    // The parent's qualified type prefixes the child's, except for the root stack.
    let qualified = type;
    if (parent) {
      const parentType = parent.split("::")[2];
      if (parentType && parentType !== "pulumi:pulumi:Stack") qualified = `${parentType}$${type}`;
    }
    return `urn:pulumi:${this.opts.stack}::${this.project}::${qualified}::${name}`;
  }

  /**
   * A read: only a StackReference to the stack being run, answered as the engine's built-in provider answers it
   * (from the backend: the outputs of the stack's last completed deployment, here priorState's; none before the
   * first). Any other read (`.get`, another stack) is refused: the test engine has no backend of other stacks.
   */
  private readResource(req: resproto.ReadResourceRequest): resproto.ReadResourceResponse {
    const type = req.getType();
    const name = req.getName();
    const urn = this.urnOf(type, name, req.getParent());
    const self = `organization/${this.project}/${this.opts.stack}`;
    const refuse = (message: string): never => {
      this.engineErrors.push(message);
      this.abort();
      throw new Error(message);
    };
    if (type !== "pulumi:pulumi:StackReference") refuse(`the test engine does not serve ReadResource (.get) of ${type} (${name}): only a StackReference to the stack itself`);
    // A bare stack name is the current project's stack, as the DIY backend resolves it.
    if (req.getId() !== self && req.getId() !== this.opts.stack) refuse(`the test engine reads no stack but the one it runs: StackReference ${name} names ${req.getId()}, not ${self}`);
    if (this.byUrn.has(urn)) refuse(`Duplicate resource URN '${urn}'; try giving it a unique name`);
    const outputs = this.opts.priorState?.resources.find((r) => r.type === "pulumi:pulumi:Stack")?.outputs ?? {};
    const properties = { name: req.getId(), outputs, secretOutputNames: Object.keys(outputs).filter((k) => isSecret(outputs[k])) };
    const rec: RecordedResource = {
      urn, type, name, custom: true, inputs: { name: req.getId() }, outputs: properties, id: req.getId(), op: "read", changedKeys: [],
      options: { parent: req.getParent() || undefined, dependsOn: req.getDependenciesList(), propertyDependencies: {}, ignoreChanges: [], replaceOnChanges: [], additionalSecretOutputs: [], aliases: 0 },
    };
    this.resources.push(rec);
    this.byUrn.set(urn, rec);
    const resp = new resproto.ReadResourceResponse();
    resp.setUrn(urn);
    resp.setProperties(Struct.fromJavaScript(properties));
    return resp;
  }

  private async registerResource(req: resproto.RegisterResourceRequest): Promise<resproto.RegisterResourceResponse> {
    const type = req.getType();
    const name = req.getName();
    const parent = req.getParent();
    const urn = this.urnOf(type, name, parent);
    const fail = (message: string): never => {
      this.engineErrors.push(message);
      this.abort();
      throw new Error(message);
    };
    // What the real engine rejects before any provider is involved.
    if (this.byUrn.has(urn)) fail(`Duplicate resource URN '${urn}'; try giving it a unique name`);
    if (parent && !this.byUrn.has(parent)) fail(`resource ${urn} has a parent ${parent} that was not registered`);
    for (const d of req.getDependenciesList()) if (!this.byUrn.has(d)) fail(`resource ${urn} depends on ${d}, which was not registered`);
    const ct = req.getCustomtimeouts();
    const customTimeouts = ct && (ct.getCreate() || ct.getUpdate() || ct.getDelete()) ? { create: ct.getCreate() || undefined, update: ct.getUpdate() || undefined, delete: ct.getDelete() || undefined } : undefined;
    for (const [op, d] of Object.entries(customTimeouts ?? {})) {
      if (d !== undefined && !GO_DURATION.test(d)) fail(`resource ${urn}: unable to parse customTimeouts.${op}: time: invalid duration "${d}"`);
    }
    const propertyDependencies: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((v, k) => (propertyDependencies[k] = v.getUrnsList()));
    const options: ResourceOptions = {
      parent: parent || undefined,
      dependsOn: req.getDependenciesList(),
      propertyDependencies,
      protect: req.hasProtect() ? req.getProtect() : undefined,
      retainOnDelete: req.hasRetainondelete() ? req.getRetainondelete() : undefined,
      ignoreChanges: req.getIgnorechangesList(),
      replaceOnChanges: req.getReplaceonchangesList(),
      deleteBeforeReplace: req.getDeletebeforereplacedefined() ? req.getDeletebeforereplace() : undefined,
      customTimeouts,
      provider: req.getProvider() || undefined,
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      aliases: req.getAliasesList().length + req.getAliasurnsList().length,
      version: req.getVersion() || undefined,
    };
    const inputs = (req.getObject()?.toJavaScript() ?? {}) as Record<string, any>;
    const rec: RecordedResource = { urn, type, name, custom: req.getCustom(), inputs, outputs: {}, options, op: "create", changedKeys: [] };
    this.resources.push(rec);
    this.byUrn.set(urn, rec);

    const resp = new resproto.RegisterResourceResponse();
    resp.setUrn(urn);
    if (!rec.custom) {
      rec.op = this.prior.has(urn) ? "same" : "create";
      // As the engine's same step: the old outputs stay until the program registers new ones (a run that fails
      // before the stack's outputs keeps the last deployment's, which the next run's StackReference reads).
      rec.outputs = this.prior.get(urn)?.outputs ?? {};
      resp.setObject(Struct.fromJavaScript({}));
      return resp;
    }

    const prior = this.prior.get(urn);
    let checked = type.startsWith("kubernetes:") ? kubernetesCheck(type, name, urn, inputs, prior) : inputs;
    let op: StepOp;
    let changed: string[] = [];
    // Whether the provider itself asks for delete-before-replace (the option can only add to it).
    let providerDbr = false;
    if (isDynamic(type)) {
      ({ checked, op, changed, providerDbr } = await this.dynamicCheckAndDiff(urn, type, name, inputs, prior, fail));
    } else if (!prior) op = "create";
    else {
      // As the engine: the ignored paths keep their old values in what is stored and sent to the provider (an update
      // or a replacement is made from them), not only in the diff.
      if (options.ignoreChanges.length) checked = applyIgnoreChanges(prior.inputs, checked, options.ignoreChanges);
      ({ op, changed } = diff(type, prior.inputs, checked, options));
    }
    // pulumi-kubernetes: an object named by the program cannot exist twice, so its Diff asks for delete-before-replace.
    if (type.startsWith("kubernetes:") && inputs.metadata?.name !== undefined) providerDbr = true;
    if (prior && (this.opts.replace ?? []).some((r) => r === name || r === urn)) op = "replace";
    const deleteBeforeReplace = op === "replace" ? options.deleteBeforeReplace === true || providerDbr : undefined;
    if (prior?.protect && op === "replace") {
      fail(`unable to replace resource "${urn}"\nas it is currently marked for protection. To unprotect the resource, remove the \`protect\` flag from the resource in your Pulumi program and run \`pulumi up\``);
    }
    rec.inputs = checked;
    rec.op = op;
    rec.changedKeys = changed;
    rec.deleteBeforeReplace = deleteBeforeReplace;

    let id: string | undefined;
    let outputs: Record<string, any>;
    if (op === "same") {
      id = prior!.id;
      outputs = prior!.outputs;
    } else if (this.preview) {
      // A dry run answers with the inputs only: the SDK treats every other output as unknown.
      id = op === "update" ? prior!.id : undefined;
      outputs = checked;
    } else if (isDynamic(type) || this.opts.provider) {
      const ordered = op === "replace" && (isDynamic(type) || this.opts.remove !== undefined);
      try {
        if (ordered && deleteBeforeReplace) await this.deleteResource(prior!, "replace");
        if (isDynamic(type)) ({ id, outputs } = await this.dynamicApply(urn, type, checked, prior, op));
        else ({ id, outputs } = await this.opts.provider!({ urn, type, name, inputs: checked, op, prior, options, deleteBeforeReplace }));
        // Create-before-delete: the old one goes when the program is done (the real engine's pending deletes).
        if (ordered && !deleteBeforeReplace) this.pendingDeletes.push(prior!);
      } catch (e) {
        return fail(`${urn}: ${(e as Error).message}`);
      }
    } else {
      id = op === "update" ? prior!.id : `${name}-${short(urn + JSON.stringify(unwrapSecrets(checked)))}`;
      outputs = { ...checked, ...plausibleOutputs(type, checked, urn), ...(this.opts.outputOverrides?.[name] ?? {}) };
    }
    // The engine's two secret rules for provider results: the input's secretness, then additionalSecretOutputs.
    outputs = annotateSecrets(outputs, checked);
    for (const k of options.additionalSecretOutputs) if (k in outputs && !isSecret(outputs[k])) outputs = { ...outputs, [k]: secret(outputs[k]) };
    rec.id = id;
    rec.outputs = outputs;
    resp.setId(id ?? "");
    resp.setObject(Struct.fromJavaScript(outputs));
    return resp;
  }

  private aborting = false;
  /**
   * The real engine stops the deployment on an engine-side error and goes away: the program's next RPCs fail and it
   * exits. Same here, after a moment for the program to log the failed registration; killed if it still lingers.
   */
  private abort(): void {
    if (this.aborting) return;
    this.aborting = true;
    setTimeout(() => {
      this.monitorServer?.forceShutdown();
      setTimeout(() => this.child?.exitCode === null && this.child.kill("SIGKILL"), 3_000).unref();
    }, 1_500).unref();
  }

  private startDynamicProvider(): Promise<provrpc.ResourceProviderClient> {
    this.dynamicStarting ??= new Promise((ok, fail) => {
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      const proc = spawn(process.execPath, [dynamicProviderHost(this.root), this.engineAddr], { cwd: this.root, env, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      const timer = setTimeout(() => fail(new Error(`dynamic provider host did not start: ${err}`)), 30_000);
      proc.stderr!.on("data", (d) => (err += d));
      proc.on("exit", (code) => fail(new Error(`dynamic provider host exited ${code}: ${err}`)));
      proc.stdout!.on("data", async (d) => {
        out += d;
        const m = /^(\d+)\s*$/m.exec(out);
        if (!m || this.dynamic) return;
        clearTimeout(timer);
        const client = new provrpc.ResourceProviderClient(`127.0.0.1:${m[1]}`, grpc.credentials.createInsecure());
        this.dynamic = { proc, client };
        const creq = new provproto.ConfigureRequest();
        creq.setArgs(Struct.fromJavaScript({}));
        creq.setAcceptsecrets(true);
        creq.setAcceptresources(true);
        client.configure(creq, (e) => (e ? fail(e) : ok(client)));
      });
    });
    return this.dynamicStarting;
  }

  private async dynamicCheckAndDiff(urn: string, type: string, name: string, news: Record<string, any>, prior: StateEntry | undefined, fail: (m: string) => never) {
    const client = await this.startDynamicProvider();
    const creq = new provproto.CheckRequest();
    creq.setUrn(urn);
    creq.setName(name);
    creq.setType(type);
    creq.setOlds(Struct.fromJavaScript(prior?.inputs ?? {}));
    creq.setNews(Struct.fromJavaScript(news));
    const check = await new Promise<provproto.CheckResponse>((ok, no) => client.check(creq, (e, r) => (e ? no(e) : ok(r!))));
    const failures = check.getFailuresList();
    if (failures.length > 0) {
      // The engine's wording for provider check failures (diag.GetResourcePropertyInvalidValueError).
      fail(failures.map((f) => `${type} resource '${name}': property ${f.getProperty()} value {${JSON.stringify(unwrapSecrets(news[f.getProperty()]))}} has a problem: ${f.getReason()}`).join("\n"));
    }
    const checked = (check.getInputs()?.toJavaScript() ?? news) as Record<string, any>;
    if (!prior) return { checked, op: "create" as StepOp, changed: [], providerDbr: false };
    const dreq = new provproto.DiffRequest();
    dreq.setId(prior.id ?? "");
    dreq.setUrn(urn);
    dreq.setName(name);
    dreq.setType(type);
    dreq.setOlds(Struct.fromJavaScript(prior.outputs));
    dreq.setOldInputs(Struct.fromJavaScript(prior.inputs));
    dreq.setNews(Struct.fromJavaScript(checked));
    const d = await new Promise<provproto.DiffResponse>((ok, no) => client.diff(dreq, (e, r) => (e ? no(e) : ok(r!))));
    const changed = Object.keys({ ...prior.inputs, ...checked }).filter((k) => k !== "__provider" && !sameValue(prior.inputs[k], checked[k]));
    const kind = d.getChanges();
    let op: StepOp;
    if (kind === provproto.DiffResponse.DiffChanges.DIFF_NONE) op = "same";
    else if (kind === provproto.DiffResponse.DiffChanges.DIFF_SOME) op = d.getReplacesList().length > 0 ? "replace" : "update";
    else op = changed.length > 0 ? "update" : "same";
    return { checked, op, changed, providerDbr: d.getDeletebeforereplace() };
  }

  /** A delete step: a dynamic resource through its provider's Delete, anything else through RunOptions.remove. */
  private async deleteResource(prior: StateEntry, reason: RemoveStep["reason"]): Promise<void> {
    const name = prior.urn.split("::").pop()!;
    if (!isDynamic(prior.type)) return this.opts.remove?.({ urn: prior.urn, type: prior.type, name, prior, reason });
    const client = await this.startDynamicProvider();
    const dreq = new provproto.DeleteRequest();
    dreq.setId(prior.id ?? "");
    dreq.setUrn(prior.urn);
    dreq.setProperties(Struct.fromJavaScript(prior.outputs));
    dreq.setOldInputs(Struct.fromJavaScript(prior.inputs));
    await new Promise<void>((ok, no) => client.delete(dreq, (e) => (e ? no(e) : ok())));
  }

  private async dynamicApply(urn: string, type: string, checked: Record<string, any>, prior: StateEntry | undefined, op: StepOp) {
    const client = await this.startDynamicProvider();
    if (op === "update" && prior) {
      const ureq = new provproto.UpdateRequest();
      ureq.setId(prior.id ?? "");
      ureq.setUrn(urn);
      ureq.setOlds(Struct.fromJavaScript(prior.outputs));
      ureq.setOldInputs(Struct.fromJavaScript(prior.inputs));
      ureq.setNews(Struct.fromJavaScript(checked));
      const r = await new Promise<provproto.UpdateResponse>((ok, no) => client.update(ureq, (e, x) => (e ? no(e) : ok(x!))));
      return { id: prior.id, outputs: (r.getProperties()?.toJavaScript() ?? {}) as Record<string, any> };
    }
    const creq = new provproto.CreateRequest();
    creq.setUrn(urn);
    creq.setProperties(Struct.fromJavaScript(checked));
    const r = await new Promise<provproto.CreateResponse>((ok, no) => client.create(creq, (e, x) => (e ? no(e) : ok(x!))));
    return { id: r.getId(), outputs: (r.getProperties()?.toJavaScript() ?? {}) as Record<string, any> };
  }
}

/** Property paths (a.b.c) from ignoreChanges are copied from the old inputs, as the engine does before diffing. */
function applyIgnoreChanges(olds: Record<string, any>, news: Record<string, any>, paths: string[]): Record<string, any> {
  const out = structuredClone(news);
  for (const p of paths) {
    const parts = p.replace(/\[(\d+|"[^"]*")\]/g, (_m, k: string) => `.${k.replace(/"/g, "")}`).split(".").filter(Boolean);
    let from: any = olds;
    let to: any = out;
    for (let i = 0; i < parts.length - 1; i++) {
      from = from?.[parts[i]];
      if (to[parts[i]] === undefined || typeof to[parts[i]] !== "object") break;
      to = to[parts[i]];
    }
    const last = parts[parts.length - 1];
    if (from && typeof from === "object" && last in from) to[last] = from[last];
    else if (to && typeof to === "object") delete to[last];
  }
  return out;
}

/**
 * Top-level inputs the Docker provider changes in place: its schema (kreuzwerker/terraform-provider-docker, which
 * @pulumi/docker bridges) marks every other input ForceNew. Only restart and the resource limits reach the running
 * container (docker update); the rest change how the provider treats it.
 */
const DOCKER_IN_PLACE: Record<string, readonly string[]> = {
  "docker:index/container:Container": [
    "restart", "maxRetryCount", "memory", "memorySwap", "cpuShares", "cpuSet", "rm", "start", "attach", "logs", "mustRun", "removeVolumes",
    "destroyGraceSeconds", "tmpfs", "healthcheck", "init", "wait", "waitTimeout", "containerReadRefreshTimeoutMilliseconds",
  ],
  "docker:index/remoteImage:RemoteImage": ["keepLocally", "forceRemove"],
};

// Which input changes a provider performs in place and which force a replacement. A model of the providers this
// program uses (docker: DOCKER_IN_PLACE, everything else replaces; tls: only earlyRenewalHours is in place, as
// tlsProvider.ts applies it; random: every input replaces; pulumi-command: only triggers replace; kubernetes:
// immutable fields and ConfigMap/Secret data replace), enough to see what an `up` would do.
function replaces(type: string, key: string, olds: Record<string, any>, news: Record<string, any>): boolean {
  if (type.startsWith("docker:")) return !(DOCKER_IN_PLACE[type] ?? []).includes(key);
  if (type.startsWith("tls:")) return !TLS_IN_PLACE.includes(key);
  if (type.startsWith("random:")) return true;
  if (type === "command:local:Command") return key === "triggers";
  if (type.startsWith("kubernetes:")) {
    if (key === "metadata") return !sameValue(olds.metadata?.name, news.metadata?.name) || !sameValue(olds.metadata?.namespace, news.metadata?.namespace);
    if (/core\/v1:(ConfigMap|Secret)$/.test(type)) return ["data", "stringData", "binaryData", "immutable", "type"].includes(key);
    if (type === "kubernetes:batch/v1:Job") return key === "spec";
    if (type === "kubernetes:apps/v1:StatefulSet" && key === "spec") {
      return ["selector", "serviceName", "volumeClaimTemplates", "podManagementPolicy"].some((f) => !sameValue(olds.spec?.[f], news.spec?.[f]));
    }
    return false;
  }
  return false;
}

/** `news` has ignoreChanges applied already (registerResource: what is stored and sent keeps the ignored values). */
function diff(type: string, olds: Record<string, any>, news: Record<string, any>, options: Pick<ResourceOptions, "replaceOnChanges">): { op: StepOp; changed: string[] } {
  const changed = Object.keys({ ...olds, ...news }).filter((k) => hasUnknown(news[k]) || !sameValue(olds[k], news[k]));
  if (changed.length === 0) return { op: "same", changed };
  const replace = changed.some((k) => options.replaceOnChanges.includes(k) || options.replaceOnChanges.includes("*") || replaces(type, k, olds, news));
  return { op: replace ? "replace" : "update", changed };
}

// pulumi-kubernetes' Check auto-names objects without metadata.name (name + random suffix, kept across updates),
// so names are known already in preview.
function kubernetesCheck(type: string, name: string, urn: string, inputs: Record<string, any>, prior: StateEntry | undefined): Record<string, any> {
  if (/:(List|[A-Za-z]+List)$/.test(type) || inputs.metadata?.name !== undefined) return inputs;
  const priorName = prior?.inputs.metadata?.name;
  const withName = (n: string) => ({ ...inputs, metadata: { ...(inputs.metadata ?? {}), name: n } });
  if (priorName !== undefined && prior) {
    const kept = withName(priorName);
    if (diff(type, prior.inputs, kept, { replaceOnChanges: [] }).op !== "replace") return kept;
  }
  return withName(`${name}-${short(urn + JSON.stringify(unwrapSecrets(inputs)))}`);
}

const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;

/** What a provider reports after create, for the outputs this program reads. */
function plausibleOutputs(type: string, inputs: Record<string, any>, urn: string): Record<string, unknown> {
  const h = createHash("sha256").update(urn).digest("hex");
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      return { result: `Gen${h.slice(0, Number(inputs.length ?? 16) - 3)}`, bcryptHash: `$2a$10$${h.slice(0, 53)}` };
    case "docker:index/remoteImage:RemoteImage":
      return { imageId: `sha256:${createHash("sha256").update(String(inputs.name)).digest("hex")}`, repoDigest: `${inputs.name}@sha256:${h}` };
    case "docker:index/container:Container":
      return { ...(inputs.attach ? { exitCode: 0, containerLogs: "" } : {}), networkDatas: [] };
    case "docker:index/volume:Volume":
      return { mountpoint: `/var/lib/docker/volumes/${inputs.name}/_data`, driver: "local" };
    case "docker:index/network:Network":
      return { scope: "local" };
    case "command:local:Command":
      return { stdout: "", stderr: "" };
    // @pulumi/tls: outputs of the shapes the provider reports (not real keys: testbed/tlsProvider.ts makes those).
    case "tls:index/privateKey:PrivateKey":
      return { privateKeyPem: pem("EC PRIVATE KEY", h), privateKeyPemPkcs8: pem("PRIVATE KEY", h), publicKeyPem: pem("PUBLIC KEY", h), publicKeyFingerprintSha256: `SHA256:${h}` };
    case "tls:index/certRequest:CertRequest":
      return { certRequestPem: pem("CERTIFICATE REQUEST", h) };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { certPem: pem("CERTIFICATE", h), validityStartTime: "2026-01-01T00:00:00Z", validityEndTime: "2036-01-01T00:00:00Z", readyForRenewal: false };
    default:
      if (type === "kubernetes:core/v1:Service") return { spec: { ...(inputs.spec ?? {}), clusterIP: inputs.spec?.clusterIP ?? `10.96.${parseInt(h.slice(0, 2), 16)}.${parseInt(h.slice(2, 4), 16)}` } };
      if (type.startsWith("kubernetes:")) return { status: {} };
      return {};
  }
}

export { UNKNOWN };
