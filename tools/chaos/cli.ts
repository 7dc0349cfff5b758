// `npm run chaos`: the chaos suite on the dev stack's plan (about 10 minutes), report in .chaos/<time>/.
//   --minutes <n>   run the fault schedule again while time remains (default 10)
//   --short         the short schedule of `npm test` (node timeout 2000 ms, three faults)
// Exit: 0 the checker passed, 1 it found a problem (or something could not be cleaned up), 2 usage.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { runChaos } from "./run";
import { FAULTS, type FaultName } from "./nemesis";
import { FULL, SHORT } from "./cli-options";
import { availabilitySvg, markdownTable, summary } from "./report";


async function main() {
  const program = new Command("chaos")
    .option("--minutes <n>", "total run time to fill with the fault schedule", (v) => {
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 120) throw new InvalidArgumentError("--minutes must be 1..120");
      return Number(v);
    }, 10)
    .option("--short", "the short schedule run by npm test")
    .option("--faults <list>", `comma-separated schedule instead (${FAULTS.join(", ")})`, (v) => {
      const list = v.split(",").map((f) => f.trim());
      const bad = list.filter((f) => !(FAULTS as readonly string[]).includes(f));
      if (bad.length) throw new InvalidArgumentError(`unknown fault ${bad.join(", ")}; known: ${FAULTS.join(", ")}`);
      return list as FaultName[];
    })
    .option("--set <key=json>", "stack config override, e.g. clusterReplicaValidityFactor=1 (repeatable)", (v, acc: Record<string, unknown>) => {
      const i = v.indexOf("=");
      if (i < 1) throw new InvalidArgumentError("--set needs key=value");
      let value: unknown = v.slice(i + 1);
      try {
        value = JSON.parse(value as string);
      } catch {
        /* a plain string */
      }
      return { ...acc, [v.slice(0, i)]: value };
    }, {})
    .option("--out <dir>", "report folder", join(__dirname, "..", "..", ".chaos", new Date().toISOString().replace(/[:.]/g, "-")))
    .exitOverride();
  let o: { minutes: number; short?: boolean; out: string; faults?: FaultName[]; set: Record<string, unknown> };
  try {
    o = program.parse().opts();
  } catch (e) {
    process.exit((e as { code?: string }).code === "commander.helpDisplayed" ? 0 : 2);
  }
  const base = o.short ? SHORT : FULL;
  const t0 = Date.now();
  const custom = o.faults !== undefined;
  const r = await runChaos({
    ...base,
    faults: o.faults ?? base.faults,
    overrides: { ...base.overrides, ...o.set },
    durationMs: o.short || custom ? undefined : o.minutes * 60_000, log: (l) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0)}s] ${l}`) });
  mkdirSync(o.out, { recursive: true });
  const text = [
    `# Chaos run ${new Date().toISOString()}`,
    "",
    "Settings: " + Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(", "),
    "",
    markdownTable(r.verdict),
    "",
    "```",
    summary(r.verdict, r.history),
    "```",
    "",
    `Leftovers after teardown: ${r.leftovers.length ? r.leftovers.join(", ") : "none"}`,
    "",
    "![availability](availability.svg)",
  ].join("\n");
  writeFileSync(join(o.out, "report.md"), text + "\n");
  writeFileSync(join(o.out, "availability.svg"), availabilitySvg(r.verdict, r.history));
  // The raw history, for judging again or by other means, and the lost writes with what was found instead.
  writeFileSync(join(o.out, "history.json"), JSON.stringify(r.history));
  writeFileSync(join(o.out, "lost.json"), JSON.stringify({ ...r.verdict.lost, found: r.verdict.found }, null, 1));
  console.log(text);
  console.log(`\nreport: ${join(o.out, "report.md")}`);
  process.exit(r.verdict.failures.length === 0 && r.leftovers.length === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`chaos: ${e instanceof Error ? e.stack : e}`);
  process.exit(1);
});
