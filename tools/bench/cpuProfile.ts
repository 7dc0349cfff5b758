// Where a V8 CPU profile (node --cpu-prof) spent its time, by who owns the code: the preview benchmark's answer to
// "module loading of an SDK? zod? our code?" (docs/benchmarks.md#preview-time).

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber?: number }; children?: number[] }[];
  samples: number[];
  /** Microseconds since the previous sample. */
  timeDeltas: number[];
}

/**
 * Self time (ms) by owner: a package under node_modules (`@pulumi/pulumi`), a top-level directory of `root`
 * (`repo:infra`), `(compile)` for V8 compiling a module's source, `node:` for Node's other internals, and V8's own
 * `(idle)` (waiting, e.g. for the engine's answers), `(garbage collector)` and `(program)`.
 */
export function timeByOwner(p: CpuProfile, root: string): Map<string, number> {
  const owner = new Map<number, string>();
  for (const n of p.nodes) {
    const { functionName: fn, url } = n.callFrame;
    let o: string;
    if (fn === "wrapSafe" || fn === "compileFunction" || (fn === "Script" && url === "node:vm")) o = "(compile)";
    else if (!url) o = fn.startsWith("(") ? fn : "(native)";
    else if (url.startsWith("node:")) o = "node:";
    else {
      const path = url.replace(/^file:\/\//, "");
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
      if (pkg) o = pkg[1];
      else if (path.startsWith(`${root}/`)) o = `repo:${path.slice(root.length + 1).split("/")[0]}`;
      else o = url.split(":")[0];
    }
    owner.set(n.id, o);
  }
  return selfTime(p, owner);
}

/** The samples' time (ms) added up by the name each profile node has in `names`. */
function selfTime(p: CpuProfile, names: Map<number, string>): Map<string, number> {
  const out = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const k = names.get(id) ?? "(unknown)";
    out.set(k, (out.get(k) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  return out;
}

/** The largest owners, one line each, with another profile's time beside it when given (e.g. the floor's). */
export function ownerTable(a: Map<string, number>, b?: Map<string, number>, top = 14): string[] {
  return [...a]
    .sort((x, y) => y[1] - x[1])
    .slice(0, top)
    .map(([k, v]) => `${v.toFixed(0).padStart(7)} ms${b ? ` ${(b.get(k) ?? 0).toFixed(0).padStart(7)} ms` : ""}  ${k}`);
}

/** Self time (ms) per function, named `name (file:line)` with the file relative to `root` when under it. */
export function timeByFunction(p: CpuProfile, root: string): Map<string, number> {
  const name = new Map<number, string>();
  for (const n of p.nodes) {
    const { functionName: fn, url, lineNumber } = n.callFrame;
    const file = url.replace(/^file:\/\//, "").replace(`${root}/`, "");
    name.set(n.id, url ? `${fn || "(anonymous)"} (${file}:${(lineNumber ?? -1) + 1})` : fn);
  }
  return selfTime(p, name);
}

/** A CPU profile of this process while `fn` runs (V8's sampling profiler through the inspector, as --cpu-prof takes it). */
export async function profileDuring<T>(fn: () => Promise<T>): Promise<{ result: T; profile: CpuProfile }> {
  const { Session } = await import("node:inspector/promises");
  const s = new Session();
  s.connect();
  try {
    await s.post("Profiler.enable");
    await s.post("Profiler.start");
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      await s.post("Profiler.stop").catch(() => undefined);
      throw e;
    }
    const { profile } = (await s.post("Profiler.stop")) as { profile: CpuProfile };
    return { result, profile };
  } finally {
    s.disconnect();
  }
}
