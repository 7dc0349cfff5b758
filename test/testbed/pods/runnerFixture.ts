// One pods runner per test file, stopped after the file even when a test fails; `finish()` stops it and returns
// what the teardown left (nothing, normally), for the test to assert.
import { after } from "node:test";
import { CpuLedger } from "../../../testbed/pods/cpu";
import { leftoverFailures } from "../../../testbed/pods/daemon";
import { PodsRunner } from "../../../testbed/pods/runner";

export function podsRunnerFixture() {
  const t0 = Date.now();
  const log = (l: string) => process.env.PODS_LOG && console.error(`${((Date.now() - t0) / 1000).toFixed(1)} ${l}`);
  let runner: PodsRunner | undefined;
  let stopped = false;
  let ledger: CpuLedger | undefined;
  after(async () => {
    if (runner && !stopped) await runner.stop();
    ledger?.close();
  });
  return {
    t0,
    async start(): Promise<PodsRunner> {
      ledger = CpuLedger.open();
      runner = await PodsRunner.start({ log, cgroupParent: ledger?.cgroupParent });
      return runner;
    },
    /** Stops the runner; the teardown's failures (daemon, mount, directory, bridge, cgroup), empty when nothing is left. */
    async finish(): Promise<string[]> {
      const left = await runner!.stop();
      stopped = true;
      return leftoverFailures(left, ledger?.close());
    },
  };
}
