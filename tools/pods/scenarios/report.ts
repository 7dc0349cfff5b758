// What a scenario reports: one table row (expected, observed, time to ok, acknowledged writes lost), and where on the
// runner's timeline an event fell.
import type { TimelineEvent } from "../../../testbed/pods/runner";
import { STS } from "./cluster";

export interface Row {
  scenario: string;
  expected: string;
  observed: string;
  pass: boolean;
  /** ms from the moment the disruption ended (pods released) until every node's view was whole. */
  timeToOkMs?: number;
  /** Acknowledged writes lost: with WAIT 1 / without (after re-reads); unreadable: every read of the key failed. */
  lost?: { wait: number; plain: number; ackedWait: number; ackedPlain: number; unreadable?: number };
  notes: string[];
}

/**
 * The writes held: no WAIT-acknowledged key lost (and, with `plain`, no plain one either) and every acknowledged key
 * read back. An unreadable key (every read failed) is not a pass: the scenario could not show the write survived.
 */
export function writesHeld(l: NonNullable<Row["lost"]>, opts: { plain?: boolean } = {}): boolean {
  return l.wait === 0 && (!opts.plain || l.plain === 0) && (l.unreadable ?? 0) === 0;
}

const lostText = (l: Row["lost"]) => (l ? `${l.wait}/${l.ackedWait} WAIT, ${l.plain}/${l.ackedPlain} plain${l.unreadable ? ` (${l.unreadable} unreadable)` : ""}` : "—");

export function table(rows: Row[]): string {
  const head = "| scenario | expected | observed | time to ok | acked writes lost | result |\n| --- | --- | --- | --- | --- | --- |";
  const fmt = (ms?: number) => (ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`);
  return [head, ...rows.map((r) => `| ${r.scenario} | ${r.expected} | ${r.observed}${r.notes.length ? ` (${r.notes.join("; ")})` : ""} | ${fmt(r.timeToOkMs)} | ${lostText(r.lost)} | ${r.pass ? "pass" : "FAIL"} |`)].join("\n");
}

/** What was going on at `at` by the runner's timeline: the Jobs running, pods being replaced or not Ready, else the last step. */
export function contextAt(timeline: TimelineEvent[], at: number, sts = STS): string {
  const jobs = new Set<string>();
  const pods = new Map<string, string>();
  let lastStep = "";
  for (const e of timeline) {
    if (e.at > at) break;
    const short = e.name.replace(`${sts}-`, "").replace(/-[0-9a-f]{8}$/, "");
    if (e.kind === "job") {
      if (e.what === "start") jobs.add(short);
      else jobs.delete(short);
    } else if (e.kind === "pod") {
      if (/^delete/.test(e.what) || e.what.startsWith("rolling update: delete")) pods.set(short, "stopping (preStop, SIGTERM)");
      else if (/^gone/.test(e.what) || e.what === "rolling update: deleted") pods.set(short, "gone");
      else if (e.what === "create") pods.set(short, "starting");
      else if (e.what === "not Ready") pods.set(short, pods.get(short) === "stopping (preStop, SIGTERM)" ? pods.get(short)! : "not Ready");
      else if (e.what.startsWith("Ready") || e.what === "rolling update: replacement Ready") pods.delete(short);
    } else if (e.what.endsWith("done") || e.what.endsWith("failed")) lastStep = `after step ${short} ${e.what}`;
    else lastStep = `step ${short} ${e.what}`;
  }
  const parts = [...[...jobs].map((j) => `Job ${j} running`), ...[...pods].map(([p, st]) => `pod ${p} ${st}`)];
  return parts.length ? parts.join(", ") : lastStep || "before any step";
}
