// `pulumi up` / `pulumi destroy` of the program against a private Docker engine, without the Pulumi CLI: the program
// runs exactly as `pulumi up` runs it (testbed/engine: Pulumi's own language runtime, cmd/run, tsx, the CLI's config
// rules), and the engine hands every create/replace step to the DockerApplier, so each resource is created for real
// when the program registers it and the program's own callbacks see real outputs (the bootstrap's exit code gates the
// smoke step). The engine's state gives later runs Pulumi's update semantics: unchanged inputs -> nothing happens;
// changed inputs -> the engine's step order: delete then create with deleteBeforeReplace, else create then delete
// (a fixed container name then fails as it would in prod); `replace` forces it.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import Docker from "dockerode";
import { runProgram, type ConfigInput, type EngineState, type ProviderStep, type RemoveStep } from "../engine/engine";
import { unwrapSecrets } from "../engine/values";
import { DockerApplier, type Applied, type ApplierOptions } from "./applier";

export const PROJECT_ROOT = resolve(__dirname, "../..");

export interface UpArgs {
  stack: string;
  /** The stack's whole config (replaces Pulumi.<stack>.yaml's), values as in the stack file. */
  stackConfig: Record<string, ConfigInput>;
  socket: string;
  stateFile: string;
  /** Resource names to replace even when unchanged (`pulumi up --replace`). */
  replace?: string[];
  /** Bound of the whole run (program and steps). */
  timeoutMs?: number;
}

export interface UpResult {
  ok: boolean;
  /** What `pulumi up` prints on failure: engine errors (failed steps) and the program's error logs. */
  error?: string;
  /** Names created, replaced or updated in place by this run, in order of completion. */
  created: string[];
  unchanged: string[];
  deleted: string[];
  /** Stack outputs, secrets unwrapped. */
  outputs: Record<string, any>;
  /** ms from the start of the run until each created resource was done. */
  doneAtMs: Record<string, number>;
  totalMs: number;
}

interface StateFile {
  /** What exists on the engine, oldest first, by URN. */
  resources: (Applied & { urn: string })[];
  /** The test engine's state: what the next run diffs against. */
  engine: EngineState;
}

export function readState(file: string): StateFile {
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as StateFile) : { resources: [], engine: { resources: [] } };
}
function writeState(file: string, s: StateFile): void {
  // Holds the password (secret inputs): private to the run.
  writeFileSync(file, JSON.stringify(s, null, 1), { mode: 0o600 });
}

/** One `pulumi up`: the program in its own process through the test engine, every step applied to the engine. */
export async function up(args: UpArgs, opts: ApplierOptions = {}): Promise<UpResult> {
  const t0 = Date.now();
  const applier = new DockerApplier(new Docker({ socketPath: args.socket }), opts);
  const state = readState(args.stateFile);
  const result: UpResult = { ok: true, created: [], unchanged: [], deleted: [], outputs: {}, doneAtMs: {}, totalMs: 0 };
  const inFlight = new Set<Promise<unknown>>();
  // During a create-before-delete replacement old and new share the URN: the engine's id tells them apart.
  const existing = (urn: string, id: string | undefined) => state.resources.find((r) => r.urn === urn && r.id === id);

  const provider = async (step: ProviderStep) => {
    const work = (async () => {
      const old = step.prior && existing(step.urn, step.prior.id);
      if (step.op === "update") {
        // In place (the applier refuses the types whose provider has no in-place update).
        if (!old) throw new Error(`in-place update of ${step.type} ${step.name}: not in the applier's state`);
        const applied = await applier.update(old, step.inputs);
        state.resources = state.resources.map((r) => (r === old ? { ...applied, urn: step.urn } : r));
        writeState(args.stateFile, state);
        result.created.push(step.name);
        result.doneAtMs[step.name] = Date.now() - t0;
        return { id: applied.id, outputs: applied.outputs };
      }
      // A replace: the engine already deleted the old one (deleteBeforeReplace) or deletes it after the program.
      const applied = await applier.create(step.type, step.name, step.inputs);
      state.resources.push({ ...applied, urn: step.urn });
      writeState(args.stateFile, state);
      result.created.push(step.name);
      result.doneAtMs[step.name] = Date.now() - t0;
      return { id: applied.id, outputs: applied.outputs };
    })();
    inFlight.add(work);
    try {
      return await work;
    } finally {
      inFlight.delete(work);
    }
  };

  const remove = async (step: RemoveStep) => {
    const r = existing(step.urn, step.prior.id);
    if (!r) return;
    await applier.delete(r);
    state.resources = state.resources.filter((x) => x !== r);
    writeState(args.stateFile, state);
    if (step.reason === "delete") result.deleted.push(r.name);
  };

  const run = await runProgram({
    stack: args.stack,
    mode: "up",
    stackConfig: args.stackConfig,
    priorState: state.engine,
    provider,
    remove,
    replace: args.replace,
    timeoutMs: args.timeoutMs ?? 600_000,
  });
  // The engine stops issuing steps when the program ends; steps already running finish (as with the real engine).
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);

  result.unchanged = run.resources.filter((r) => r.custom && r.op === "same").map((r) => r.name);
  // Steps that failed or never ran keep no engine state; ids and outputs of what exists come from the applier.
  const live = new Map(state.resources.map((r) => [r.urn, r]));
  state.engine = {
    resources: run.state.resources.filter((e) => {
      const rec = run.resources.find((r) => r.urn === e.urn);
      // Components (the stack's outputs among them: the next run reads them back) and dynamic resources live only in
      // the engine's state.
      return !rec?.custom || live.has(e.urn) || e.type.startsWith("pulumi-nodejs:dynamic");
    }),
  };
  writeState(args.stateFile, state);
  result.ok = run.ok;
  result.error = run.ok ? undefined : run.errors.join("\n");
  result.outputs = unwrapSecrets(run.outputs);
  result.totalMs = Date.now() - t0;
  return result;
}

/** `pulumi destroy` (with `only`: of those resources, like `--target`): deletes from the state, newest first. */
export async function destroy(socket: string, stateFile: string, opts: ApplierOptions & { only?: (r: Applied) => boolean } = {}): Promise<string[]> {
  const applier = new DockerApplier(new Docker({ socketPath: socket }), opts);
  const state = readState(stateFile);
  const deleted: string[] = [];
  for (const r of [...state.resources].reverse()) {
    if (opts.only && !opts.only(r)) continue;
    await applier.delete(r);
    state.resources = state.resources.filter((x) => x !== r);
    state.engine.resources = state.engine.resources.filter((e) => e.urn !== r.urn);
    writeState(stateFile, state);
    deleted.push(r.name);
  }
  return deleted;
}
