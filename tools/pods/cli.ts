// `npm run pods:scenarios [-- --only a,b] [--json file]`: the prod program on the pods runner (./runner.ts), then the
// restart scenarios on that one deployment, one table row each (expected, observed, time to ok, acknowledged writes
// lost). Everything the run starts (dockerd, containers, network, directories) is removed at the end, also on failure.
import { writeFileSync } from "node:fs";
import { Command } from "commander";
import { CpuLedger } from "../../testbed/pods/cpu";
import { PodsRunner } from "../../testbed/pods/runner";
import * as s from "./scenarios";

// The rotations last: each is another `pulumi up` from the state of the last one (rotation: admin's password;
// rotation-smoke: admin's and the smoke user's, the application switching to its new password).
const ALL = ["graceful", "rolling", "force", "swap-late", "absent-reuse", "absent", "absent-factor10", "rotation", "rotation-smoke"] as const;

async function main(): Promise<number> {
  const opts = new Command()
    .option("--only <names>", `comma-separated subset of ${ALL.join(",")} (the first deploy always runs)`)
    .option("--json <file>", "write the rows as JSON")
    .option("--root <dir>", "project directory of the program (another checkout, with node_modules); default: this one")
    .option("--plain", "TLS and ACL off (one password, plain RESP) instead of Pulumi.prod.yaml as committed")
    .parse()
    .opts<{ only?: string; json?: string; root?: string; plain?: boolean }>();
  const only = opts.only ? opts.only.split(",") : [...ALL];
  for (const o of only) if (!(ALL as readonly string[]).includes(o)) throw new Error(`--only: unknown scenario ${o} (known: ${ALL.join(", ")})`);
  const t0 = Date.now();
  const log = (l: string) => console.error(`${((Date.now() - t0) / 1000).toFixed(1).padStart(7)} ${l}`);
  // The run's own CPU (daemon, runc, containers, engine), whatever else the machine runs (./cpu.ts).
  const ledger = CpuLedger.open();
  const runner = await PodsRunner.start({ log, cgroupParent: ledger?.cgroupParent });
  const rows: s.Row[] = [];
  const add = (r: s.Row) => {
    rows.push(r);
    console.error(`\n${s.table([r])}\n`);
  };
  let failed = false;
  try {
    let config = s.scenarioConfig({ plain: opts.plain });
    const first = await s.firstDeploy(runner, config, opts.root);
    add(first.row);
    const c = first.cluster;
    if (!c) throw new Error("first deploy failed before the cluster formed: no scenario can run");
    // The stack's last successful up (its state and outputs) and config: a rotation starts from them.
    let last = first.up;
    const rotate = async (o: { rotateSmoke?: boolean }) => {
      const r = await s.passwordRotation(c, last, config, opts.root, o);
      if (r.up?.run.ok) {
        last = r.up;
        config = r.config;
      }
      return r.row;
    };
    const run: Record<(typeof ALL)[number], () => Promise<s.Row>> = {
      graceful: () => s.gracefulFullRestart(c),
      rolling: () => s.rollingRestart(c),
      force: () => s.forceDeletedMaster(c),
      "swap-late": () => s.crashSwappedIpsLateMaster(c),
      "absent-reuse": () => s.masterAbsent(c, true),
      absent: () => s.masterAbsent(c, false),
      // The trade-off: the same case with Redis' default validity factor (10), set in the pods' ConfigMap.
      "absent-factor10": async () => {
        s.editRedisConf(runner, (conf) => conf.replace(/^cluster-replica-validity-factor .*$/m, "cluster-replica-validity-factor 10"));
        try {
          return await s.masterAbsent(c, false, "same, clusterReplicaValidityFactor 10 (before the fix)", false);
        } finally {
          s.editRedisConf(runner, (conf) => conf.replace(/^cluster-replica-validity-factor .*$/m, "cluster-replica-validity-factor 0"));
        }
      },
      rotation: () => rotate({}),
      "rotation-smoke": () => rotate({ rotateSmoke: true }),
    };
    for (const name of ALL) {
      if (!only.includes(name)) continue;
      log(`scenario ${name}`);
      try {
        add(await run[name]());
      } catch (e) {
        add({ scenario: name, expected: "", observed: `error: ${(e as Error).message.slice(0, 500)}`, pass: false, notes: [] });
      }
      // The next scenario starts from a whole cluster.
      await c.waitWhole(300_000).catch((e) => log(`not whole before the next scenario: ${(e as Error).message}`));
    }
  } catch (e) {
    failed = true;
    console.error((e as Error).stack);
  } finally {
    const left = await runner.stop();
    const cpu = ledger?.seconds();
    const cgroupsLeft = ledger?.close() ?? [];
    log(`teardown: ${JSON.stringify({ ...left, cgroupsLeft })}${cpu !== undefined ? `; CPU of this run: ${cpu.toFixed(0)} s` : ""}`);
    if (cgroupsLeft.length) failed = true;
    if (left.mountsLeft.length || left.dirLeft || left.daemonAlive || left.bridgeLeft) failed = true;
  }
  console.log(`\nPods runner scenarios (${((Date.now() - t0) / 1000).toFixed(0)} s in all):\n\n${s.table(rows)}`);
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
