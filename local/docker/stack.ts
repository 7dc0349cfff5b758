// `pulumi up` / `pulumi destroy` of the program against a private Docker engine, without the Pulumi CLI: the program
// runs in the SDK's runtime with mocks whose newResource is the DockerApplier, so every resource is created for real
// when the SDK registers it (after its inputs and dependsOn resolved), and the program's own callbacks see real outputs
// (the bootstrap's exit code). A state file gives later runs Pulumi's update semantics: unchanged inputs -> nothing
// happens; changed inputs or `replace` -> delete, then create (the program's containers are delete-before-replace).
// One program evaluation per process (like `pulumi up`): use upInChild for every run after the first.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import Docker from "dockerode";
import { DockerApplier, hashInputs, plain, type Applied, type ApplierOptions } from "./applier";

export const PROJECT_ROOT = resolve(__dirname, "../..");

export interface UpArgs {
  stack: string;
  /** Engine-form config ("redis-cluster:masters" -> "3", objects as JSON). */
  config: Record<string, string>;
  secretKeys: string[];
  socket: string;
  stateFile: string;
  /** Resource names to replace even when unchanged (`pulumi up --replace`). */
  replace?: string[];
}

export interface UpResult {
  ok: boolean;
  /** The program's or a step's error (what `pulumi up` would print). */
  error?: string;
  /** Names created or replaced by this run, in order of completion. */
  created: string[];
  unchanged: string[];
  deleted: string[];
  outputs: Record<string, unknown>;
  /** ms from the start of the run until each created resource was done. */
  doneAtMs: Record<string, number>;
  totalMs: number;
}

interface StateFile {
  resources: Applied[];
}

export function readState(file: string): StateFile {
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as StateFile) : { resources: [] };
}
function writeState(file: string, s: StateFile): void {
  // Holds the password (secret inputs, unwrapped): private to the run.
  writeFileSync(file, JSON.stringify(s, null, 1), { mode: 0o600 });
}

/** Runs the program once in this process and applies what it registers. */
export async function up(args: UpArgs, opts: ApplierOptions = {}): Promise<UpResult> {
  const t0 = Date.now();
  const docker = new Docker({ socketPath: args.socket });
  const applier = new DockerApplier(docker, opts);
  const state = readState(args.stateFile);
  const seen = new Set<string>();
  const result: UpResult = { ok: true, created: [], unchanged: [], deleted: [], outputs: {}, doneAtMs: {}, totalMs: 0 };
  let programError: string | undefined;
  let inFlight = 0;
  let lastActivity = Date.now();
  const fail = (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    programError ??= msg;
  };
  process.on("unhandledRejection", fail);

  pulumi.runtime.setAllConfig(args.config, args.secretKeys);
  pulumi.runtime.setMocks(
    {
      async newResource(r) {
        if (!r.custom) return { id: undefined, state: {} }; // components: nothing to create
        inFlight++;
        lastActivity = Date.now();
        try {
          seen.add(r.name);
          // Like the engine after a failed program: no new steps start.
          if (programError) throw new Error(`not started: the program failed (${programError.split("\n")[0]})`);
          const old = state.resources.find((x) => x.name === r.name && x.type === r.type);
          const hash = hashInputs(plain(r.inputs));
          if (old && old.inputsHash === hash && !args.replace?.includes(r.name)) {
            result.unchanged.push(r.name);
            return { id: old.id, state: old.outputs };
          }
          if (old) {
            await applier.delete(old);
            state.resources = state.resources.filter((x) => x !== old);
            writeState(args.stateFile, state);
          }
          const applied = await applier.create(r.type, r.name, r.inputs);
          state.resources.push(applied);
          writeState(args.stateFile, state);
          result.created.push(r.name);
          result.doneAtMs[r.name] = Date.now() - t0;
          return { id: applied.id, state: applied.outputs };
        } catch (e) {
          fail(e);
          throw e;
        } finally {
          inFlight--;
          lastActivity = Date.now();
        }
      },
      call(c) {
        throw new Error(`applier: the program invokes ${c.token}, which is not implemented`);
      },
    },
    "redis-cluster",
    args.stack,
    false,
  );

  try {
    const program = await pulumi.runtime.runInPulumiStack(() => import(join(PROJECT_ROOT, "infra/index")));
    const exported = (program ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(exported)) {
      if (pulumi.Output.isInstance(v)) {
        try {
          result.outputs[k] = await (v as any).promise();
        } catch (e) {
          fail(e);
        }
      } else if (k !== "default") result.outputs[k] = v;
    }
  } catch (e) {
    fail(e);
  }
  // Steps registered late (the smoke command after the bootstrap) finish before the run ends; bounded.
  const until = Date.now() + 900_000;
  while ((inFlight > 0 || Date.now() - lastActivity < 1000) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));

  if (!programError) {
    // Resources in the state that the program no longer declares are deleted, newest first.
    for (const r of [...state.resources].reverse()) {
      if (seen.has(r.name)) continue;
      await applier.delete(r);
      state.resources = state.resources.filter((x) => x !== r);
      writeState(args.stateFile, state);
      result.deleted.push(r.name);
    }
  }
  process.off("unhandledRejection", fail);
  result.ok = !programError;
  result.error = programError;
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
    writeState(stateFile, state);
    deleted.push(r.name);
  }
  return deleted;
}

const RESULT_PREFIX = "UP-RESULT ";

/** Runs `up` in a fresh process (the program is evaluated once per process, like every `pulumi up`). */
export function upInChild(args: UpArgs, opts: { onLine?: (l: string) => void; timeoutMs?: number } = {}): Promise<UpResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "up.ts")], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, REDIS_CLUSTER_UP_ARGS: JSON.stringify(args) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let buf = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d;
      buf += d;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.startsWith(RESULT_PREFIX)) opts.onLine?.(line);
      }
    });
    child.stderr.on("data", (d: Buffer) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 600_000);
    child.once("close", (code, sig) => {
      clearTimeout(timer);
      const line = out.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
      if (!line) return reject(new Error(`up process ended (${code ?? sig}) without a result:\n${(out + err).trim().split("\n").slice(-30).join("\n")}`));
      resolvePromise(JSON.parse(line.slice(RESULT_PREFIX.length)) as UpResult);
    });
  });
}

export { RESULT_PREFIX };
