// Where a V8 CPU profile (node --cpu-prof) spent its time, by who owns the code: the preview benchmark's answer to
// "module loading of an SDK? zod? our code?" (docs/benchmarks.md#preview-time).

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
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
  const out = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const o = owner.get(id) ?? "(unknown)";
    out.set(o, (out.get(o) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
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
