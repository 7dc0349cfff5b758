// node:test reporter used by scripts/run-tests.mjs: one line per test file, "<ms>\t<passed>\t<file>", when the file ends
// (the runner's file-level test, from the moment the file starts until its process is done).
export default async function* fileDurations(source) {
  for await (const event of source) {
    const d = event.data;
    if (event.type === "test:complete" && d.nesting === 0 && d.file && d.name === d.file) {
      yield `${Math.round(d.details.duration_ms)}\t${d.details.passed}\t${d.file}\n`;
    }
  }
}
