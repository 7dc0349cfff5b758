// The README config table must equal the table generated from infra/config/schema.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { configReference } from "../../infra/config/schema";
import { currentBlock, END, renderConfigTable, replaceBlock, START } from "../../tools/config-table";

const README = resolve(__dirname, "../../README.md");

describe("README config table", () => {
  it("README.md holds the generated table between the markers (else run: npm run docs:config)", () => {
    const readme = readFileSync(README, "utf8");
    const block = currentBlock(readme);
    assert.ok(block !== undefined, `README.md needs the markers ${START} / ${END}`);
    assert.equal(block, renderConfigTable(configReference()), "README table is stale: run npm run docs:config");
  });

  it("has one row per schema key, nested keys dotted", () => {
    const rows = configReference();
    const table = renderConfigTable(rows);
    const body = table.split("\n").filter((l) => l.startsWith("| `"));
    assert.equal(body.length, rows.length);
    assert.ok(rows.some((r) => r.key === "platform"));
    assert.ok(rows.some((r) => r.key.includes(".")), "nested keys appear dotted");
    // Every row keeps 4 cells: no unescaped pipe leaks from a type or description.
    for (const line of body) assert.equal(line.split(/(?<!\\)\|/).length, 6, line);
  });

  it("replaces only the block between the markers", () => {
    const doc = `# T\nbefore\n${START}\nold\n${END}\nafter\n`;
    assert.equal(replaceBlock(doc, "NEW"), `# T\nbefore\n${START}\nNEW\n${END}\nafter\n`);
    assert.equal(currentBlock(replaceBlock(doc, "NEW")), "NEW");
    assert.throws(() => replaceBlock("# no markers", "x"), /lacks the markers/);
  });
});
