// `npm run bench` (not part of npm test): the benchmarks that carry issue 25's goal lines, one after another (never
// side by side: on 2 cores they would measure each other): throughput and latency (bench.ts, given the arguments
// after `--`), failover as the client sees it (failover.ts) and the prod preview's evaluation (preview.ts). Each
// prints its own tables; at the end every goal line again, together. Exit code: the worst section's.
// `--sections <list>` (first, before the throughput's arguments) runs only some.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { Command } from "commander";

const SECTIONS = { throughput: "bench.ts", failover: "failover.ts", preview: "preview.ts" } as const;
type Section = keyof typeof SECTIONS;

/** Runs one section's script under tsx, its output passed through; resolves with its exit code and goal lines. */
function runSection(file: string, args: string[]): Promise<{ code: number; goals: string[] }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, file), ...args], { stdio: ["ignore", "pipe", "inherit"] });
    const goals: string[] = [];
    let partial = "";
    // Decoded as a stream: a chunk may end inside a multi-byte character (≤, ×, — are in goal lines).
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      process.stdout.write(chunk);
      const lines = (partial + chunk).split("\n");
      partial = lines.pop()!;
      goals.push(...lines.filter((l) => l.startsWith("goal:")));
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (partial.startsWith("goal:")) goals.push(partial);
      resolveRun({ code: code ?? (signal ? 2 : 1), goals });
    });
  });
}

async function main(argv: string[]): Promise<number> {
  const cmd = new Command("bench").option("--sections <list>", `sections to run, in this order: ${Object.keys(SECTIONS).join(",")}`, Object.keys(SECTIONS).join(",")).allowUnknownOption().helpOption(false);
  const { operands, unknown } = cmd.parseOptions(argv);
  const sections = cmd.opts<{ sections: string }>().sections.split(",") as Section[];
  const bad = sections.filter((s) => !(s in SECTIONS));
  if (bad.length) throw new Error(`--sections: unknown ${bad.join(", ")} (known: ${Object.keys(SECTIONS).join(", ")})`);
  const throughputArgs = [...operands, ...unknown];
  // JSON on stdout would mix with the other sections' tables, and its goal lines go to stderr, out of the summary.
  const json = throughputArgs.indexOf("--json");
  if ((json >= 0 && throughputArgs[json + 1] === "-") || throughputArgs.includes("--json=-")) throw new Error("--json - (JSON on stdout): run the throughput section alone, npm run bench:throughput -- --json -");
  let worst = 0;
  const all: { section: Section; goals: string[]; code: number }[] = [];
  for (const section of Object.keys(SECTIONS) as Section[]) {
    if (!sections.includes(section)) continue;
    console.log(`\n=== ${section} (tools/bench/${SECTIONS[section]}) ===`);
    const r = await runSection(SECTIONS[section], section === "throughput" ? throughputArgs : []);
    all.push({ section, ...r });
    worst = Math.max(worst, r.code);
  }
  console.log("\n=== goal lines of every section ===");
  for (const s of all) {
    for (const g of s.goals) console.log(`${s.section}: ${g}`);
    if (s.code !== 0) console.log(`${s.section}: exited with ${s.code} (its output above says why)`);
  }
  const goals = all.flatMap((s) => s.goals);
  console.log(`${goals.filter((g) => / met$/.test(g) && !/NOT met$/.test(g)).length} met, ${goals.filter((g) => /NOT met$/.test(g)).length} NOT met`);
  return worst;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(2);
  },
);
