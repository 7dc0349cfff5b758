// Whether a cluster may be backed up now: checked before any pause, so a refusal changes nothing. On top of the
// scale step's health rules (one cluster, every slot served once, nobody flagged failing or unreachable, no open
// slot towards a stranger): no open slot at all, no master without slots, no fork running on a master (a save or
// an AOF rewrite in progress would hold the snapshot's fork, and with it the pause).
import { sleep } from "../../smoke/time";
import { parseInfo } from "../../smoke/topology";
import { healthProblems } from "../scale/health";
import type { LiveCluster, LiveNode, Survey } from "../scale/survey";

export class BackupRefused extends Error {}

export async function backupProblems(live: LiveCluster, seeds: string[], s: Survey): Promise<string[]> {
  const p = healthProblems(live, seeds, s, "all");
  for (const m of s.members) {
    if (m.role === "master" && !m.slots.length) p.push(`${m.name}: a master without slots (mid-resharding or a node being added): finish the scale step first`);
    for (const [slot, to] of m.migrating) p.push(`open slot ${slot}: ${m.name} migrating to ${to.slice(0, 8)} (mid-resharding): finish it, or CLUSTER SETSLOT ${slot} STABLE`);
    for (const [slot, from] of m.importing) p.push(`open slot ${slot}: ${m.name} importing from ${from.slice(0, 8)} (mid-resharding): finish it, or CLUSTER SETSLOT ${slot} STABLE`);
    if (m.flags.some((f) => f === "fail" || f === "fail?")) p.push(`${m.name} flags itself ${m.flags.join(",")}`);
  }
  for (const m of masters(s)) {
    try {
      const i = parseInfo(String(await live.conn(m.addr).info("persistence")));
      const forks = ["rdb_bgsave_in_progress", "aof_rewrite_in_progress", "module_fork_in_progress"].filter((k) => i[k] === "1");
      if (forks.length) p.push(`${m.name}: a fork is running (${forks.join(", ")}); the snapshot would wait for it, and the pause with it`);
    } catch (e) {
      p.push(`${m.name}: INFO persistence failed: ${(e as Error).message}`);
    }
  }
  return p;
}

export const masters = (s: Survey): LiveNode[] => s.members.filter((m) => m.role === "master").sort((a, b) => (a.slots[0] ?? 0) - (b.slots[0] ?? 0));

/** Surveys until the cluster is fit for a backup, at most `settleMs`; throws BackupRefused with every problem. */
export async function surveyForBackup(live: LiveCluster, seeds: string[], settleMs: number): Promise<Survey> {
  const until = Date.now() + settleMs;
  for (let i = 0; i < 1000; i++) {
    const s = await live.survey();
    if (!s.members.length) throw new BackupRefused(`no node answers (${s.unreachable.join(", ")}): check the addresses, the password and the TLS settings; nothing was changed`);
    const p = await backupProblems(live, seeds, s);
    if (!p.length) return s;
    if (Date.now() >= until) throw new BackupRefused(`the cluster cannot be backed up now, nothing was changed:\n  ${p.join("\n  ")}`);
    await sleep(500);
  }
  throw new BackupRefused("the cluster did not settle");
}
