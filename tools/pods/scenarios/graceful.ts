// Every pod stopped gracefully and started again on all-new IPs: whole again by itself, every key there.
import { hookWaits, KEYS, restartAll, type ProdCluster } from "./cluster";
import type { Row } from "./report";

export async function gracefulFullRestart(c: ProdCluster): Promise<Row> {
  const old = Object.fromEntries(c.pods().map((p) => [p, c.ip(p)]));
  const t = await restartAll(c, "graceful", {});
  await c.runner.waitReady(c.pods(), 300_000).catch(() => undefined);
  const ms = await c.waitWhole(180_000).then(() => Date.now() - t).catch(() => undefined);
  const fresh = c.pods().filter((p) => c.ip(p) !== old[p]).length;
  const missing = await c.missingKeys("base", KEYS);
  return {
    scenario: "graceful full restart, all-new IPs",
    expected: "whole again by itself, every key there",
    observed: `${fresh}/6 pods on new IPs; ${ms !== undefined ? "whole" : "NOT whole"}; ${KEYS - missing.length}/${KEYS} keys`,
    pass: ms !== undefined && missing.length === 0 && fresh === 6,
    timeToOkMs: ms,
    notes: [await hookWaits(c)],
  };
}
