// The CLI bundles' cache across processes (smoke/bundle.ts): a second process reuses the stored bundle, and a changed
// input (a file the entry imports) is rebuilt, never served stale. Each bundle is built in its own node, as each
// preview does. And what the canary's and the backup's bundles weigh in zod: zod/mini with English messages only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildSync } from "esbuild";
import { BACKUP_BUNDLE_ENTRY } from "../../infra/backup/bundle";
import { BUNDLE_CACHE_DIR } from "../../smoke/bundle";

const BUNDLE_MODULE = resolve(__dirname, "../../smoke/bundle.ts");

function bundleInNewProcess(entry: string): string {
  const script = `process.stdout.write(require(${JSON.stringify(BUNDLE_MODULE)}).bundleCli(${JSON.stringify(entry)}, "// test"))`;
  return execFileSync(process.execPath, ["--require", "tsx/cjs", "-e", script], { cwd: resolve(__dirname, "../.."), encoding: "utf8", timeout: 60_000 });
}

/** Cache entries built from files under dir. */
const entriesFor = (dir: string) =>
  (existsSync(BUNDLE_CACHE_DIR) ? readdirSync(BUNDLE_CACHE_DIR) : []).map((f) => join(BUNDLE_CACHE_DIR, f)).filter((f) => f.endsWith(".json") && readFileSync(f, "utf8").includes(dir));

test("a stored bundle is reused by the next process while its inputs are unchanged, and rebuilt when one changes", () => {
  const dir = mkdtempSync(join(tmpdir(), "bundle-cache-"));
  try {
    const entry = join(dir, "entry.ts");
    writeFileSync(join(dir, "dep.ts"), `export const word: string = "first-version";\n`);
    writeFileSync(entry, `import { word } from "./dep";\nconsole.log(word);\n`);
    assert.match(bundleInNewProcess(entry), /first-version/);
    const [stored] = entriesFor(dir);
    assert.ok(stored, `no cache entry under ${BUNDLE_CACHE_DIR}`);
    const written = statSync(stored).mtimeMs;
    assert.match(bundleInNewProcess(entry), /first-version/);
    assert.equal(statSync(stored).mtimeMs, written, "the second process rebuilt instead of reusing the stored bundle");
    // Same length, so nothing but the content hash can tell the two apart.
    writeFileSync(join(dir, "dep.ts"), `export const word: string = "other-version";\n`);
    const rebuilt = bundleInNewProcess(entry);
    assert.match(rebuilt, /other-version/);
    assert.doesNotMatch(rebuilt, /first-version/);
  } finally {
    for (const f of entriesFor(dir)) rmSync(f, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the canary's and the backup's bundles carry zod/mini and its English messages, not classic zod or other locales", () => {
  for (const entry of [resolve(__dirname, "../../smoke/canary/cli.ts"), BACKUP_BUNDLE_ENTRY]) {
    const { metafile } = buildSync({ entryPoints: [entry], bundle: true, platform: "node", format: "cjs", write: false, metafile: true, logLevel: "silent" });
    // Files that put code in the bundle (a module read and then shaken off puts none).
    const zod = Object.entries(Object.values(metafile.outputs)[0].inputs).filter(([p, i]) => p.includes("node_modules/zod/") && i.bytesInOutput > 0).map(([p]) => p);
    assert.ok(zod.some((p) => p.includes("/zod/v4/mini/")), `${entry}: no zod/mini in the bundle`);
    assert.deepEqual(zod.filter((p) => p.includes("/zod/v4/classic/") || (p.includes("/zod/v4/locales/") && !p.endsWith("/en.js"))), [], `${entry}: classic zod or other locales`);
  }
});
