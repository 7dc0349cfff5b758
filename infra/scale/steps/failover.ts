// The planned failovers: CLUSTER FAILOVER on the heir, checked everywhere (its OK only means "started"), tried again
// after two node timeouts, at most three times.
import { sleep } from "../../../smoke/time";
import type { ScaleRun } from "../run";

export async function failovers(run: ScaleRun): Promise<void> {
  const { live, o } = run;
  const s = await live.survey();
  const d = run.decide(s);
  for (const f of d.failovers) {
    const heir = s.members.find((m) => m.name === f.to)!;
    const old = s.members.find((m) => m.name === f.from)!;
    const timeout = Math.max(10_000, 4 * (o.nodeTimeoutMs ?? 5000));
    for (let attempt = 1; ; attempt++) {
      run.log(`CLUSTER FAILOVER on ${heir.name} (takes over from ${old.name}, attempt ${attempt})`);
      await live.conn(heir.addr).call("CLUSTER", "FAILOVER");
      // A manual failover can time out silently: check the roles everywhere.
      const ok = await run.waitFor(`${heir.name} to be master everywhere`, async () => {
        const t = await live.survey();
        const h = t.members.find((m) => m.id === heir.id);
        const was = t.members.find((m) => m.id === old.id);
        return !!h && h.role === "master" && h.slots.length > 0 && (!was || was.role === "replica");
      }, timeout, false);
      if (ok) break;
      if (attempt >= 3) throw new Error(`${heir.name} did not take over from ${old.name} after 3 manual failovers`);
      await sleep(2 * (o.nodeTimeoutMs ?? 5000));
    }
  }
}
