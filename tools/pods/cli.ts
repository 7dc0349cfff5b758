// `npm run pods:scenarios [-- --only a,b] [--json file]`: the prod program on the pods runner, then the restart
// scenarios (./scenarios/index.ts) on that one deployment, one table row each (expected, observed, time to ok,
// acknowledged writes lost). Everything the run starts (dockerd, containers, network, directories) is removed at the
// end, also on failure.
import { writeFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { CpuLedger } from "../../testbed/pods/cpu";
import { leftoverFailures } from "../../testbed/pods/daemon";
import { PodsRunner } from "../../testbed/pods/runner";
import { firstDeploy, scenarioConfig, SCENARIOS, table, type Deployment, type Row, type ScenarioName } from "./scenarios";

const NAMES: readonly string[] = SCENARIOS.map((x) => x.name);

async function main(): Promise<number> {
  const opts = new Command()
    .option("--only <names>", `comma-separated subset (the first deploy always runs):\n${SCENARIOS.map((x) => `  ${x.name}: ${x.about}`).join("\n")}`, (v) => {
      const list = v.split(",");
      for (const o of list) if (!NAMES.includes(o)) throw new InvalidArgumentError(`unknown scenario ${o} (known: ${NAMES.join(", ")})`);
      return list as ScenarioName[];
    })
    .option("--json <file>", "write the rows as JSON")
    .option("--root <dir>", "project directory of the program (another checkout, with node_modules); default: this one")
    .option("--plain", "TLS and ACL off (one password, plain RESP) instead of Pulumi.prod.yaml as committed")
    .parse()
    .opts<{ only?: ScenarioName[]; json?: string; root?: string; plain?: boolean }>();
  const only = opts.only ?? NAMES;
  const t0 = Date.now();
  const log = (l: string) => console.error(`${((Date.now() - t0) / 1000).toFixed(1).padStart(7)} ${l}`);
  // The run's own CPU (daemon, runc, containers, engine), whatever else the machine runs (testbed/pods/cpu.ts).
  const ledger = CpuLedger.open();
  const runner = await PodsRunner.start({ log, cgroupParent: ledger?.cgroupParent });
  const rows: Row[] = [];
  const add = (r: Row) => {
    rows.push(r);
    console.error(`\n${table([r])}\n`);
  };
  let failed = false;
  try {
    const config = scenarioConfig({ plain: opts.plain });
    const first = await firstDeploy(runner, config, opts.root);
    add(first.row);
    if (!first.cluster) throw new Error("first deploy failed before the cluster formed: no scenario can run");
    const d: Deployment = { cluster: first.cluster, last: first.up, config, root: opts.root };
    for (const scenario of SCENARIOS) {
      if (!only.includes(scenario.name)) continue;
      log(`scenario ${scenario.name}`);
      try {
        add(await scenario.run(d));
      } catch (e) {
        add({ scenario: scenario.name, expected: "", observed: `error: ${(e as Error).message.slice(0, 500)}`, pass: false, notes: [] });
      }
      // The next scenario starts from a whole cluster.
      await d.cluster.waitWhole(300_000).catch((e) => log(`not whole before the next scenario: ${(e as Error).message}`));
    }
  } catch (e) {
    failed = true;
    console.error((e as Error).stack);
  } finally {
    const left = await runner.stop();
    const cpu = ledger?.seconds();
    const problems = leftoverFailures(left, ledger?.close());
    log(`teardown: ${problems.length ? `FAIL: ${problems.join("; ")}` : "nothing left"}${cpu !== undefined ? `; CPU of this run: ${cpu.toFixed(0)} s` : ""}`);
    if (problems.length) failed = true;
  }
  console.log(`\nPods runner scenarios (${((Date.now() - t0) / 1000).toFixed(0)} s in all):\n\n${table(rows)}`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify(rows, null, 1));
  return failed || rows.some((r) => !r.pass) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
