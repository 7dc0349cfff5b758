// docs/config.md's config table must equal the table generated from infra/config/schema.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { configReference } from "../../infra/config/schema";
import { currentBlock, DOC, END, main, renderConfigTable, replaceBlock, START } from "../../tools/config-table";

const CONFIG_DOC = resolve(__dirname, "../..", DOC);

describe("config table (docs/config.md)", () => {
  it("docs/config.md holds the generated table between the markers (else run: npm run docs:config)", () => {
    const doc = readFileSync(CONFIG_DOC, "utf8");
    const block = currentBlock(doc);
    assert.ok(block !== undefined, `${DOC} needs the markers ${START} / ${END}`);
    assert.equal(block, renderConfigTable(configReference()), `${DOC} table is stale: run npm run docs:config`);
  });

  it("--check fails on a stale file, the rewrite makes it pass, and it keeps the text around the block", () => {
    const dir = mkdtempSync(join(tmpdir(), "config-table-"));
    try {
      const file = join(dir, "config.md");
      writeFileSync(file, `# Config\nintro\n${START}\n| stale |\n${END}\nafter\n`);
      assert.equal(main(["--check", "--doc", file]), 1);
      assert.equal(main(["--doc", file]), 0);
      assert.equal(main(["--check", "--doc", file]), 0);
      const text = readFileSync(file, "utf8");
      assert.ok(text.startsWith(`# Config\nintro\n${START}\n`) && text.endsWith(`${END}\nafter\n`), text.slice(0, 80));
      writeFileSync(file, "# no markers\n");
      assert.equal(main(["--doc", file]), 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
