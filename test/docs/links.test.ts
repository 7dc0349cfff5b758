// The README stays a short read, and no link or path in the docs points at a file the repository no longer has
// (the layout moves; docs drift silently otherwise).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { codeSpans, githubAnchors, markdownLinks } from "./markdown";

const ROOT = resolve(__dirname, "../..");
const DOCS = [
  "README.md",
  "monitoring/README.md",
  ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`),
];
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");

/** Relative links of `file` whose target file, or heading in a Markdown target, does not exist. */
function brokenLinks(file: string, text: string): string[] {
  const broken: string[] = [];
  for (const { target, line } of markdownLinks(text)) {
    if (/^[a-z]+:/i.test(target)) continue; // https:, mailto: — not in the repository
    const [path = "", anchor] = target.split("#");
    const targetFile = path === "" ? file : relative(ROOT, resolve(ROOT, dirname(file), path));
    if (path !== "" && !existsSync(join(ROOT, targetFile))) {
      broken.push(`${file}:${line}: ${target} (no file ${targetFile})`);
    } else if (anchor !== undefined && targetFile.endsWith(".md")) {
      const headings = githubAnchors(path === "" ? text : read(targetFile));
      if (!headings.has(anchor)) broken.push(`${file}:${line}: ${target} (no heading #${anchor} in ${targetFile})`);
    }
  }
  return broken;
}

// Code spans naming a repository path (`testbed/docker/`, `node scripts/run-tests.mjs test/...`): every such path
// must exist. Globs and placeholders (`*`, `<stack>`) are patterns, not paths.
const TOP = /^(infra|smoke|monitoring|testbed|tools|test|scripts|docs|\.github|\.ci)\/[\w.\/-]*$/;
function missingPaths(file: string, text: string): string[] {
  const missing: string[] = [];
  for (const { code, line } of codeSpans(text)) {
    for (const raw of code.split(/\s+/)) {
      const token = raw.replace(/[,.:;)]+$/, "");
      if (TOP.test(token) && !existsSync(join(ROOT, token))) missing.push(`${file}:${line}: ${token}`);
    }
  }
  return missing;
}

describe("docs: links and paths", () => {
  it("README.md is at most 200 lines (the rest lives in docs/)", () => {
    const lines = read("README.md").replace(/\n$/, "").split("\n").length;
    assert.ok(lines <= 200, `README.md has ${lines} lines`);
  });

  it("every relative link in README.md, docs/*.md and monitoring/README.md lands on a file (and heading)", () => {
    assert.ok(DOCS.length > 3, DOCS.join(", "));
    const links = DOCS.flatMap((f) => markdownLinks(read(f)));
    assert.ok(links.length > 10, `only ${links.length} links found`);
    assert.deepEqual(DOCS.flatMap((f) => brokenLinks(f, read(f))), []);
  });

  it("every repository path named in code spans of those files exists", () => {
    assert.deepEqual(DOCS.flatMap((f) => missingPaths(f, read(f))), []);
  });

  it("reports a missing file, a missing heading and a missing path, and skips fenced blocks and URLs", () => {
    const doc = [
      "# Title",
      "[ok](#title) [no heading](#nowhere) [gone](nothing-here.md) [bad anchor](runbooks.md#no-such-heading) [web](https://example.com/x.md)",
      "[runbook](runbooks.md#redisdown) `testbed/docker/` `node scripts/run-tests.mjs test/no/such.test.ts` `infra/*/x.ts`",
      "```",
      "[fenced](also-missing.md) `tools/not-there.ts`",
      "```",
    ].join("\n");
    assert.deepEqual(brokenLinks("docs/example.md", doc), [
      "docs/example.md:2: #nowhere (no heading #nowhere in docs/example.md)",
      "docs/example.md:2: nothing-here.md (no file docs/nothing-here.md)",
      "docs/example.md:2: runbooks.md#no-such-heading (no heading #no-such-heading in docs/runbooks.md)",
    ]);
    assert.deepEqual(missingPaths("docs/example.md", doc), ["docs/example.md:3: test/no/such.test.ts"]);
  });

  it("computes GitHub anchors like GitHub does", () => {
    const a = githubAnchors("## RedisDown\n## Restore from AOF / volume snapshot\n## A node lost\n## A node lost\n```\n## not a heading\n```\n");
    assert.deepEqual([...a], ["redisdown", "restore-from-aof--volume-snapshot", "a-node-lost", "a-node-lost-1"]);
  });
});
