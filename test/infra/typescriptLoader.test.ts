// The program's TypeScript loader (infra/typescriptLoader.cjs, Pulumi.yaml nodeargs) in a plain node process, as the
// language host starts it: TypeScript runs, the output's source map leads a stack trace back to the .ts line (for
// --enable-source-maps and debuggers), an unchanged file is served from the cache, a changed one is transformed again,
// and a syntax error names the file and line. Under Pulumi's runner (the test engine): an unexpected error of the
// program is reported at its .ts line, without the SDK frame Node 20/22's colored inspect loops on.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runProgram } from "../../testbed/engine/engine";

const ROOT = resolve(__dirname, "../..");
const LOADER = join(ROOT, "infra", "typescriptLoader.cjs");
let dir: string;
let cache: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "ts-loader-"));
  cache = join(dir, "cache");
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** `node --require <loader> <file>` with the cache in the scratch directory; stdout, stderr and the exit code. */
function run(file: string, nodeArgs: string[] = []) {
  const r = spawnSync(process.execPath, [...nodeArgs, "--require", LOADER, file], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 30_000,
    env: { PATH: process.env.PATH, REDIS_CLUSTER_TS_CACHE: cache },
  });
  return { out: r.stdout, err: r.stderr, code: r.status };
}

const cached = () => readdirSync(cache).filter((f) => f.endsWith(".js"));

test("TypeScript runs: types stripped, an enum, class fields, an import of another .ts file without its extension", () => {
  writeFileSync(join(dir, "lib.ts"), "export enum Shade { Light = 1, Dark }\nexport class Box<T> {\n  items: T[] = [];\n  constructor(readonly name: string) {}\n}\n");
  writeFileSync(join(dir, "main.ts"), 'import { Box, Shade } from "./lib";\nconst b = new Box<number>("b");\nb.items.push(Shade.Dark as number);\nconsole.log(JSON.stringify({ name: b.name, items: b.items }));\n');
  const r = run(join(dir, "main.ts"));
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), '{"name":"b","items":[2]}');
  assert.equal(cached().length, 2, "one cache entry per file");
});

test("with Node's source maps on, a stack trace names the .ts file and line", () => {
  writeFileSync(join(dir, "throws.ts"), "type Unused = { a: number };\n\n\nfunction fail(): never {\n  throw new Error('here');\n}\nfail();\n");
  const r = run(join(dir, "throws.ts"), ["--enable-source-maps"]);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /at fail \([^)]*throws\.ts:5:\d+\)/, r.err);
  assert.match(r.err, /throws\.ts:7:\d+/, r.err);
});

test("an unchanged file comes from the cache; a changed one is transformed again, never served stale", () => {
  const file = join(dir, "value.ts");
  writeFileSync(file, "const v: number = 1;\nconsole.log(v);\n");
  const before = new Set(cached());
  assert.equal(run(file).out.trim(), "1");
  const entry = cached().filter((f) => !before.has(f));
  assert.equal(entry.length, 1);
  // The stored output stands in for the transform: a second run that prints what the entry says read the cache.
  writeFileSync(join(cache, entry[0]), "console.log('from the cache');\n");
  assert.equal(run(file).out.trim(), "from the cache");
  // Same length, other content: a new key.
  writeFileSync(file, "const v: number = 2;\nconsole.log(v);\n");
  assert.equal(run(file).out.trim(), "2");
});

test("a syntax error names the file and the line", () => {
  const file = join(dir, "broken.ts");
  writeFileSync(file, "const ok = 1;\nconst = 2;\n");
  const r = run(file);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /broken\.ts:2:\d+: ERROR/, r.err);
});

test("under Pulumi's runner an unexpected error is reported at the program's .ts line, SDK frames on their .js files (no frame Node 20/22 loops on)", async () => {
  const t0 = Date.now();
  const r = await runProgram({ stack: "loader-test", mode: "preview", program: "testbed/engine/programs/throws.ts", stackConfig: {} });
  const took = Date.now() - t0;
  assert.notEqual(r.exitCode, 0);
  const report = r.errors.join("\n");
  assert.match(report, /the program failed on purpose/);
  // The throw is on line 6 of the .ts file (the transformed code has it elsewhere).
  assert.match(report, /testbed\/engine\/programs\/throws\.ts:6:\d+/, report);
  // The SDK's own maps would give node_modules/@pulumi/resource.ts, which Node 20/22's colored inspect loops on.
  assert.doesNotMatch(report, /node_modules\/(\u001b\[\d+m)?@pulumi\/[^/\s]+\.ts/, report);
  assert.match(report, /@pulumi\/pulumi(\u001b\[\d+m)?\/resource\.js:\d+/, report);
  // That frame cost ~25 s of CPU on Node 20 (nodejs/node#64011); this lane asserts no timing, the frame is the cause.
  console.log(`# the failed preview took ${took} ms`);
});
