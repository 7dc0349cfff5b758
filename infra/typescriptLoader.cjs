// How `pulumi up` loads the program's TypeScript (Pulumi.yaml: nodeargs --require=./infra/typescriptLoader.cjs,
// typescript: false). `.ts` files only: each is transformed by esbuild (types stripped, no type check: `npm test` runs
// tsc --noEmit) and the result kept in a cache keyed by the file's content, so an unchanged file is read, not
// transformed. Everything else (the SDKs' .js) loads through Node untouched: a general loader (tsx) also lexes every
// .js file and turns on Node's source maps for all of them, which the profile of a preview showed as its cost
// (docs/benchmarks.md#preview-time). The output carries an inline source map for `node --enable-source-maps` and
// debuggers, and Pulumi's runner (source-map-support) is handed it too, so stack traces give the .ts lines
// (sourceForStackTraces below).
"use strict";
const Module = require("node:module");
const { createHash } = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
// REDIS_CLUSTER_TS_CACHE: another directory (the loader's test keeps its entries apart).
const CACHE_DIR = process.env.REDIS_CLUSTER_TS_CACHE || path.join(ROOT, "node_modules", ".cache", "redis-cluster-ts");

// Node 22.1+ keeps V8's compiled code of every module on disk (the SDKs' compile is a large part of the runtime's
// start); Node 20 has no such switch and compiles them on every run.
if (typeof Module.enableCompileCache === "function") Module.enableCompileCache(path.join(CACHE_DIR, "v8"));

/** tsconfig's compilerOptions, which decide esbuild's class-field and import semantics as they decide tsc's. */
function compilerOptions() {
  let text;
  try {
    text = fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8");
  } catch (e) {
    if (e.code === "ENOENT") return {};
    throw e;
  }
  // A tsconfig.json tsc accepts but JSON.parse does not (comments, trailing commas) fails here, loudly: silently
  // transforming with other options than tsc checks with would be worse.
  return JSON.parse(text).compilerOptions ?? {};
}

let settings;
/** esbuild's options and what else the output depends on, read once per process. */
function transformSettings() {
  if (!settings) {
    const tsconfigRaw = JSON.stringify({ compilerOptions: compilerOptions() });
    const esbuildVersion = require("esbuild/package.json").version;
    // A change of any of them is a new cache entry, never a stale one.
    // The loader's own text too: a change of its transform options must not serve entries made with the old ones.
    const loader = createHash("sha256").update(fs.readFileSync(__filename)).digest("hex");
    settings = { tsconfigRaw, salt: `${esbuildVersion}\0${process.versions.node}\0${tsconfigRaw}\0${loader}` };
  }
  return settings;
}

/** The transform's output for `source` of `filename`: from the cache, else esbuild's (then stored, best effort). */
function transform(source, filename) {
  const { tsconfigRaw, salt } = transformSettings();
  const key = createHash("sha256").update(`${salt}\0${filename}\0${source}`).digest("hex");
  const file = path.join(CACHE_DIR, `${key}.js`);
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    // not cached yet
  }
  const { code } = require("esbuild").transformSync(source, {
    loader: "ts",
    format: "cjs",
    target: `node${process.versions.node}`,
    sourcemap: "inline",
    sourcefile: filename,
    tsconfigRaw,
  });
  try {
    fs.mkdirSync(CACHE_DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code);
    // rename is atomic: a concurrent run reads a whole entry or none.
    fs.renameSync(tmp, file);
  } catch {
    // A read-only checkout still runs, transforming each time.
  }
  return code;
}

/** The transformed code of each loaded .ts file, which stack traces are mapped through. */
const transformed = new Map();

Module._extensions[".ts"] = function loadTypeScript(module, filename) {
  const code = transform(fs.readFileSync(filename, "utf8"), filename);
  transformed.set(filename, code);
  module._compile(code, filename);
};

/**
 * Stack traces under Pulumi's runner (source-map-support maps each frame through the source map of its file): a .ts
 * file of the program is read as its transformed code, whose inline map gives the frame the line of the .ts source;
 * a file of a dependency gets an empty map, so the frame stays on the .js file that exists. The SDKs' own maps point
 * at .ts files they do not ship (node_modules/@pulumi/resource.ts), and Node 20's and 22's util.inspect with colors,
 * which Pulumi prints an uncaught error with, loops on such a frame until the string is too long (nodejs/node#64011):
 * every unexpected error of the program cost ~25 s of CPU before its report.
 */
const EMPTY_MAP = JSON.stringify({ version: 3, sources: [], names: [], mappings: "" });
const inDependency = (file) => /[/\\]node_modules[/\\]/.test(file);
const handlers = {
  retrieveFile: (file) => transformed.get(file) ?? null,
  retrieveSourceMap: (file) => (inDependency(file) ? { url: file, map: EMPTY_MAP } : null),
  handleUncaughtExceptions: false,
};

// Only under Pulumi's runner (the main script), on the same source-map-support it installs (resolved from the SDK:
// handlers are per instance). It loads it after this file; installing the handlers first changes nothing else it sets
// up. Elsewhere (plain `node --require`) Node's own --enable-source-maps keeps working.
if (/[/\\]@pulumi[/\\]pulumi[/\\]cmd[/\\]run([/\\]|$)/.test(process.argv[1] ?? "")) {
  const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [ROOT] }));
  require(require.resolve("source-map-support", { paths: [sdk] })).install(handlers);
}
