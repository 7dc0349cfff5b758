// A rolling restart (highest ordinal first, preStop) under the WAIT and plain writers.
import { sleep } from "../../../smoke/time";
import { STS, type ProdCluster } from "./cluster";
import { writesHeld, type Row } from "./report";
import { AckedWriters } from "./writers";

export async function rollingRestart(c: ProdCluster): Promise<Row> {
  const w = new AckedWriters(c, "roll").start();
  await sleep(2000);
  const t = Date.now();
  w.mark = t;
  const steps = await c.runner.rolloutRestart(STS, 300_000);
  const rollMs = Date.now() - t;
  await sleep(2000);
  await w.stop();
  const ms = await c.waitWhole(120_000).catch(() => undefined);
  const lost = await w.lost();
  const prestops = steps.filter((s) => s.preStop).length;
  return {
    scenario: "rolling restart (highest ordinal first, preStop, WAIT writer)",
    expected: "0 acknowledged writes lost; each pod Ready before the next",
    observed: `order ${steps.map((s) => s.pod.replace(`${STS}-`, "")).join(",")} in ${(rollMs / 1000).toFixed(0)} s; ${w.errors} write errors; preStop ran on ${prestops}/6 (${steps.filter((s) => /handing over/.test(s.preStop ?? "")).length} masters handed over)`,
    pass: writesHeld(lost, { plain: true }) && ms !== undefined && steps.map((s) => s.pod).join() === [...c.pods()].reverse().join(),
    timeToOkMs: ms,
    lost,
    notes: [`writes: ${w.describeLost()}`, ...(w.errors ? [`write errors: ${w.describeErrors()}`] : [])],
  };
}
