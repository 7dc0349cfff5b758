// Pulumi.yaml and the stack files under the CLI's config rules (as testbed/engine/config.ts encodes them), and the
// repository layout Pulumi's Node.js runtime depends on. Reads only what the repository holds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { configReference } from "../infra/config/schema";
import { TEXT_KEYS } from "../infra/config/load";
import { ROOT, readStackFile } from "./helpers/stackConfig";
import {
  CliError, PROJECT_CONFIG_TYPES, mergeProjectConfig, programConfigEnv, readProject, readStackConfig, toConfigValue, validateProject, type Project,
} from "../testbed/engine/config";

const project = readProject(ROOT);
const cli = (config: Project["config"]): Project => ({ name: "redis-cluster", runtime: "nodejs", config });
const text = (v: unknown, secret = false) => toConfigValue(v, secret);

test("the CLI's rules: a declared key with no default and no stack value stops every stack", () => {
  const p = cli({ password: { type: "string", secret: true }, token: { type: "string" }, masters: { type: "integer", default: 3 } });
  assert.throws(() => mergeProjectConfig(cli({ password: { type: "string" } }), "dev", {}), new CliError("Stack 'dev' is missing configuration value 'password'"));
  assert.throws(() => mergeProjectConfig(p, "dev", {}), new CliError("Stack 'dev' is missing configuration values 'password' and 'token'"));
  // Given (encrypted), the stack passes.
  const merged = mergeProjectConfig(p, "dev", { "redis-cluster:password": text("x", true), "redis-cluster:token": text("t") });
  assert.equal(merged["redis-cluster:masters"].text, "3");
});

test("the CLI's rules: defaults reach the program as text, so a string \"0\" and an integer 0 look the same", () => {
  const merged = mergeProjectConfig(cli({ s: { type: "string", default: "0" }, i: { type: "integer", default: 0 }, b: { type: "boolean", default: true } }), "x", {});
  assert.equal(merged["redis-cluster:s"].text, "0");
  assert.equal(merged["redis-cluster:i"].text, "0");
  assert.equal(merged["redis-cluster:b"].text, "true");
  // Objects from a stack file arrive as JSON text.
  assert.equal(text({ a: 1 }).text, '{"a":1}');
  const env = programConfigEnv({ ...merged, "redis-cluster:password": text("pw", true) });
  assert.deepEqual(JSON.parse(env.PULUMI_CONFIG), { "redis-cluster:config:s": "0", "redis-cluster:config:i": "0", "redis-cluster:config:b": "true", "redis-cluster:config:password": "pw" });
  assert.deepEqual(JSON.parse(env.PULUMI_CONFIG_SECRET_KEYS), ["redis-cluster:password"]);
});

test("the CLI's rules: values are checked against declared types; secret declarations must be encrypted", () => {
  const p = cli({ masters: { type: "integer", default: 3 }, on: { type: "boolean", default: true }, pw: { type: "string", secret: true, default: "" } });
  assert.throws(() => mergeProjectConfig(p, "dev", { "redis-cluster:masters": text("three") }), /Stack 'dev' with configuration key 'masters' must be of type 'integer'/);
  assert.throws(() => mergeProjectConfig(p, "dev", { "redis-cluster:on": text("maybe") }), /must be of type 'boolean'/);
  assert.doesNotThrow(() => mergeProjectConfig(p, "dev", { "redis-cluster:masters": text(4), "redis-cluster:on": text("false"), "redis-cluster:pw": text("x", true) }));
  assert.throws(() => mergeProjectConfig(p, "dev", { "redis-cluster:pw": text("x") }), /Stack 'dev' with configuration key 'pw' must be encrypted as it's secret/);
});

test("the CLI's rules: config types are string, integer, boolean or array, and a default must match its type", () => {
  assert.deepEqual([...PROJECT_CONFIG_TYPES], ["string", "integer", "boolean", "array"]);
  assert.throws(() => validateProject(cli({ k: { type: "object" } })), /config\.k\.type must be one of string, integer, boolean, array/);
  assert.throws(() => validateProject(cli({ k: { type: "integer", default: "three" } })), /The default value specified for configuration key 'k' is not of the expected type 'integer'/);
  assert.throws(() => validateProject(cli({ k: { type: "array" } })), /declares an array but no items type/);
  assert.doesNotThrow(() => validateProject(cli({ k: { type: "array", items: { type: "string" }, default: ["a"] } })));
});

test("Pulumi.yaml passes the CLI's checks and every stack (dev, prod, a new empty one) gets its config", () => {
  validateProject(project);
  assert.equal(project.name, "redis-cluster");
  assert.equal(typeof project.runtime === "object" && project.runtime.name, "nodejs");
  for (const stack of ["dev", "prod"]) assert.doesNotThrow(() => mergeProjectConfig(project, stack, readStackConfig(ROOT, stack)), stack);
  const fresh = mergeProjectConfig(project, "dev-feature-x", readStackConfig(ROOT, "dev-feature-x"));
  assert.equal(fresh["redis-cluster:maxmemory"].text, "0");
});

test("Pulumi.yaml declares exactly the scalar keys that have a default, with the schema's types, defaults and descriptions", () => {
  const scalars = configReference().filter((r) => !r.key.includes("."));
  const ref = new Map(scalars.map((r) => [r.key, r]));
  for (const [key, decl] of Object.entries(project.config ?? {})) {
    const row = ref.get(key);
    assert.ok(row, `${key} is declared in Pulumi.yaml but not in the schema`);
    assert.equal(decl.description, row!.description, `${key} description`);
    assert.equal(JSON.stringify(decl.default), row!.default, `${key} default`);
    // A string key is declared as a string (its value is never JSON-decoded), the others by their JSON type.
    assert.equal(decl.type, TEXT_KEYS.has(key) ? "string" : row!.type, `${key} type`);
  }
  for (const r of scalars) {
    if (r.default === "—") assert.ok(!project.config?.[r.key], `${r.key} has no default, so declaring it would make the CLI refuse every stack without it`);
    else assert.ok(project.config?.[r.key], `${r.key} is not declared in Pulumi.yaml`);
  }
  assert.ok(TEXT_KEYS.has("password") && TEXT_KEYS.has("maxmemory") && !TEXT_KEYS.has("masters"));
});

test("package.json main is the program entry, engines admit Node 20+, and TypeScript loads through the project's loader from Pulumi.yaml's nodeargs", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  assert.equal(pkg.main, "infra/index.ts");
  assert.ok(existsSync(join(ROOT, pkg.main)));
  assert.equal(pkg.engines.node, ">=20");
  // Pulumi's ts-node off (it would transpile every file with the TypeScript compiler on each run); the language host
  // passes nodeargs to node before its runner, and node resolves the --require from the project directory.
  const options = typeof project.runtime === "object" ? project.runtime.options : undefined;
  assert.equal(options?.typescript, false);
  assert.equal(options?.nodeargs, "--require=./infra/typescriptLoader.cjs");
  assert.ok(existsSync(join(ROOT, "infra", "typescriptLoader.cjs")));
  assert.ok(pkg.dependencies.esbuild, "esbuild is a dependency, so `npm ci --omit=dev` still installs what the loader runs");
  // The program is loaded without a type check (tsc --noEmit in npm test checks the types); isolatedModules makes tsc
  // reject what per-file transpilation (esbuild) would get wrong.
  const tsconfig = JSON.parse(readFileSync(join(ROOT, "tsconfig.json"), "utf8"));
  assert.equal(tsconfig.compilerOptions.isolatedModules, true);
});

test("no module is shadowed by a .json beside it (Node's CommonJS resolver tries X.json before the loader's X.ts)", () => {
  const files = execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" }).split("\n");
  const set = new Set(files);
  const pairs = files.filter((f) => f.endsWith(".ts") && set.has(f.replace(/\.ts$/, ".json")));
  assert.deepEqual(pairs, []);
});

test("stack files use only the project namespace or provider namespaces", () => {
  for (const stack of ["dev", "prod"]) {
    for (const key of Object.keys(readStackFile(stack))) {
      assert.match(key, /^(redis-cluster|kubernetes|docker|pulumi):/, `${stack}: ${key}`);
    }
  }
});
