// No Pulumi CLI runs here, so Pulumi.yaml is checked against the CLI's own project schema.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import Ajv2020 from "ajv/dist/2020";
import { configReference } from "../infra/config/schema";
import { ROOT, readStackFile } from "./helpers/stackConfig";

const SCHEMA = join(ROOT, "..", "shared", "reference", "pulumi-project.schema.json");
const project = parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")) as any;

test("Pulumi.yaml validates against Pulumi's project schema", () => {
  assert.ok(existsSync(SCHEMA), `missing ${SCHEMA}`);
  const schema = JSON.parse(readFileSync(SCHEMA, "utf8"));
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(schema);
  const valid = validate(structuredClone(project));
  assert.ok(valid, JSON.stringify(validate.errors, null, 2));
  assert.equal(project.name, "redis-cluster");
  assert.equal(project.runtime.name, "nodejs");
});

test("Pulumi.yaml declares only scalar config types, with the schema's defaults and descriptions", () => {
  const ref = new Map(configReference().map((r) => [r.key, r]));
  for (const [key, decl] of Object.entries<any>(project.config)) {
    assert.ok(["string", "integer", "boolean", "array"].includes(decl.type), `${key}: type ${decl.type}`);
    const row = ref.get(key);
    assert.ok(row, `${key} is declared in Pulumi.yaml but not in the schema`);
    assert.equal(decl.description, row!.description, `${key} description`);
    assert.equal(decl.default === undefined ? "—" : JSON.stringify(decl.default), row!.default, `${key} default`);
  }
  const scalars = configReference().filter((r) => !r.key.includes("."));
  for (const r of scalars) assert.ok(project.config[r.key], `${r.key} is declared in Pulumi.yaml`);
  assert.equal(project.config.password.secret, true);
});

test("package.json main is the program entry and engines admit Node 20, 22 and 24", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  assert.equal(pkg.main, "infra/index.ts");
  assert.ok(existsSync(join(ROOT, pkg.main)));
  assert.equal(pkg.engines.node, ">=20");
  assert.ok(pkg.dependencies["ts-node"], "Pulumi's nodejs runtime needs ts-node for TypeScript");
});

test("stack files use only the project namespace or provider namespaces", () => {
  for (const stack of ["dev", "prod"]) {
    for (const key of Object.keys(readStackFile(stack))) {
      assert.match(key, /^(redis-cluster|kubernetes|docker|pulumi):/, `${stack}: ${key}`);
    }
  }
});
