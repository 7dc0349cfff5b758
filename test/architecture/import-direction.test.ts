// The wings import one way (.dependency-cruiser.cjs): tests -> tools (and scripts/) -> testbed -> product. The real
// tree must pass the check, and the check must fail on a forbidden import: a small tree of planted imports, judged
// with the project's own config, is refused with the importing file, the imported file and the rule named.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");
const CONFIG = join(ROOT, ".dependency-cruiser.cjs");
const DEPCRUISE = join(ROOT, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");

/** `depcruise` over `dir` with the project's config; `err` output is the one a developer reads. */
function cruise(dir: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [DEPCRUISE, "--config", CONFIG, "--output-type", "err", "."], {
    cwd: dir,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The violations in err output (`error <rule>: <from> → <to>`, a cycle's path over several lines), one line each. */
function violations(out: string): string[] {
  return [...out.matchAll(/^ *error (\S+): ([^\n]+(?:\n {5,}\S[^\n]*)*)/gm)].map(([, rule, path]) => `${rule}: ${path.split(/\s+/).filter(Boolean).join(" ")}`).sort();
}

interface Plant {
  file: string;
  source: string;
  /** The violations the file must cause, as "rule: from → to"; none for an import in the allowed direction. */
  refused?: string[];
}

// Targets every planted import resolves to (a violation is judged on the resolved file).
const TARGETS: Plant[] = [
  { file: "infra/plan/base.ts", source: "export const base = 1;\n" },
  { file: "testbed/refuse.ts", source: 'import { base } from "../infra/plan/base";\nexport type Refusal = typeof base;\n' },
  { file: "tools/cli.ts", source: 'import type { Refusal } from "../testbed/refuse";\nexport const cli: Refusal = 1;\n' },
  { file: "test/helpers/fixture.ts", source: 'import { cli } from "../../tools/cli";\nexport const fixture = cli;\n' },
];

const PLANTS: Plant[] = [
  {
    file: "infra/plan/planted.ts",
    source: 'import { Unemulated } from "../../testbed/refuse";\nexport const x = Unemulated;\n',
    refused: ["product-imports-outside-product: infra/plan/planted.ts → testbed/refuse.ts"],
  },
  {
    file: "smoke/planted.ts",
    source: 'import type { Refusal } from "../testbed/refuse";\nexport const x: Refusal = 1;\n',
    refused: ["product-imports-outside-product: smoke/planted.ts → testbed/refuse.ts"],
  },
  {
    file: "monitoring/planted.ts",
    source: 'import { cli } from "../tools/cli";\nexport const x = cli;\n',
    refused: ["product-imports-outside-product: monitoring/planted.ts → tools/cli.ts"],
  },
  {
    file: "testbed/planted.ts",
    source: 'import { fixture } from "../test/helpers/fixture";\nexport const x = fixture;\n',
    refused: [
      "outside-tests-imports-tests: testbed/planted.ts → test/helpers/fixture.ts",
      "testbed-imports-tools-or-tests: testbed/planted.ts → test/helpers/fixture.ts",
    ],
  },
  {
    file: "testbed/planted-tools.ts",
    source: 'import { cli } from "../tools/cli";\nexport const x = cli;\n',
    refused: ["testbed-imports-tools-or-tests: testbed/planted-tools.ts → tools/cli.ts"],
  },
  {
    file: "tools/planted.ts",
    source: 'import type { fixture } from "../test/helpers/fixture";\nexport type X = typeof fixture;\n',
    refused: ["outside-tests-imports-tests: tools/planted.ts → test/helpers/fixture.ts"],
  },
  {
    file: "tools/planted.cjs",
    source: 'module.exports = require("../test/helpers/fixture");\n',
    refused: ["outside-tests-imports-tests: tools/planted.cjs → test/helpers/fixture.ts"],
  },
  {
    file: "scripts/planted.mjs",
    source: 'export { fixture } from "../test/helpers/fixture";\n',
    refused: ["outside-tests-imports-tests: scripts/planted.mjs → test/helpers/fixture.ts"],
  },
  {
    file: "infra/plan/planted-cycle.ts",
    source: 'import { y } from "./planted-cycle-back";\nexport const x = () => y;\n',
    // The cycle is reported once, from its first file, with its whole path.
    refused: ["no-circular: infra/plan/planted-cycle-back.ts → infra/plan/planted-cycle.ts → infra/plan/planted-cycle-back.ts"],
  },
  {
    file: "infra/plan/planted-cycle-back.ts",
    source: 'import { x } from "./planted-cycle";\nexport const y = () => x;\n',
  },
  // The allowed direction, including a wing skipped on the way down.
  { file: "test/allowed.test.ts", source: 'import { fixture } from "./helpers/fixture";\nimport { base } from "../infra/plan/base";\nexport const x = [fixture, base];\n' },
  { file: "tools/allowed.ts", source: 'import { base } from "../infra/plan/base";\nexport const x = base;\n' },
  { file: "scripts/allowed.mjs", source: 'export { cli } from "../tools/cli";\n' },
];

describe("import direction of the wings", () => {
  it("the tree as it is passes", () => {
    const r = cruise(ROOT);
    assert.equal(r.status, 0, `imports against the wings' direction (rule: importing file → imported file; see .dependency-cruiser.cjs):\n${r.out}`);
  });

  describe("planted imports", () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), "imports-test-"));
      copyFileSync(join(ROOT, "tsconfig.json"), join(dir, "tsconfig.json"));
      for (const p of [...TARGETS, ...PLANTS]) {
        mkdirSync(dirname(join(dir, p.file)), { recursive: true });
        writeFileSync(join(dir, p.file), p.source);
      }
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("are refused, each naming its rule, file and target; the allowed ones are not", () => {
      const r = cruise(dir);
      assert.notEqual(r.status, 0, r.out);
      const expected = PLANTS.flatMap((p) => p.refused ?? []).sort();
      assert.deepEqual(violations(r.out), expected, r.out);
    });
  });
});
