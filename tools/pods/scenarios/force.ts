// A master's pod force-deleted (--grace-period=0 --force) under the writers: recreated on a new IP, rejoins.
import { sleep } from "../../../smoke/time";
import { STS, type ProdCluster } from "./cluster";
import { writesHeld, type Row } from "./report";
import { AckedWriters } from "./writers";

export async function forceDeletedMaster(c: ProdCluster): Promise<Row> {
  const [shard] = await c.shards();
  const w = new AckedWriters(c, "force").start();
  await sleep(2000);
  const t = Date.now();
  w.mark = t;
  await c.runner.deletePod(shard.master, "force");
  await c.runner.waitReady(c.pods(), 180_000).catch(() => undefined);
  const ms = await c.waitWhole(120_000).then(() => Date.now() - t).catch(() => undefined);
  await sleep(1000);
  await w.stop();
  const lost = await w.lost();
  const after = (await c.shards()).map((s) => s.master);
  return {
    scenario: "force-deleted master (--grace-period=0 --force)",
    expected: "pod recreated on a new IP, rejoins; 0 WAIT-acknowledged writes lost",
    observed: `${shard.master.replace(`${STS}-`, "pod ")} killed, ${after.includes(shard.master) ? "still master after rejoining (back within node timeout)" : `replica ${shard.replica} took over`}; ${w.errors} write errors`,
    pass: ms !== undefined && writesHeld(lost),
    timeToOkMs: ms,
    lost,
    notes: [`writes: ${w.describeLost()}`],
  };
}
