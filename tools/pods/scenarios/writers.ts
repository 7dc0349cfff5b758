// The scenarios' writers: one with WAIT 1 and one without, each on unique keys (the smoke writer); what was
// acknowledged is read back after the scenario.
import { Cluster } from "ioredis";
import keySlot = require("cluster-key-slot");
import { sleep } from "../../../smoke/time";
import { Writer } from "../../../smoke/writer";
import type { ProdCluster } from "./cluster";
import type { Row } from "./report";

/** Acknowledged writes that did not read back, judged after re-reads (see AckedWriters.lost). */
export interface LostDetail {
  key: string;
  mode: "wait" | "plain";
  /** null: the key does not exist (lost); "error: …": every read failed (unreadable, not counted as lost). */
  value: string | null;
  /** ms between the acknowledgement and the disruption mark (negative: acknowledged before it). */
  ackedMsBeforeMark?: number;
  slot?: number;
}

/** Writers with and without WAIT 1 on unique keys; what was acknowledged is checked afterwards. */
export class AckedWriters {
  readonly acked = { wait: [] as string[], plain: [] as string[] };
  /** When each key was acknowledged (ms since the epoch). */
  private readonly ackedAt = new Map<string, number>();
  /** The disruption (e.g. the crash) happened at this time; lost keys report their acknowledgement relative to it. */
  mark?: number;
  /** Keys not read back after the re-reads, with what the last read gave. */
  readonly details: LostDetail[] = [];
  /** Keys whose first read failed (an error, not nil) and that a re-read then found: what the old checker counted as lost. */
  recoveredOnReread = 0;
  errors = 0;
  private writers: Writer[] = [];
  private clients: Cluster[] = [];

  constructor(private readonly cluster: ProdCluster, private readonly tag: string) {}

  start(): this {
    for (const mode of ["wait", "plain"] as const) {
      const c = this.cluster.client();
      this.clients.push(c);
      this.writers.push(new Writer(c, {
        key: (i) => `w:${this.tag}:${mode}:${i}`,
        ...(mode === "wait" ? { wait: { replicas: 1, timeoutMs: 1000 } } : {}),
        maxCommands: 1_000_000,
        pause: { ok: 0, error: 50 },
        keepTimeline: false,
        onWrite: (w) => {
          if (w.error) {
            this.errors++;
            this.noteError(mode, w.error);
          } else if (w.result === "acked") {
            this.acked[mode].push(w.key);
            this.ackedAt.set(w.key, w.end);
          }
        },
      }).start());
    }
    return this;
  }

  /** Failed commands by writer and message (numbers and addresses folded), for a row's notes. */
  readonly errorKinds = new Map<string, number>();
  private noteError(mode: "wait" | "plain", message: string): void {
    const k = `${mode}: ${message.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, "<addr>").replace(/\b\d+\b/g, "N").slice(0, 100)}`;
    this.errorKinds.set(k, (this.errorKinds.get(k) ?? 0) + 1);
  }
  describeErrors(): string {
    return [...this.errorKinds].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${n}× ${k}`).join("; ");
  }

  async stop(): Promise<void> {
    // Bounded: a command stuck on a dead node ends with its commandTimeout.
    await Promise.all(this.writers.map((w) => w.stop(10_000)));
    for (const c of this.clients) c.disconnect();
  }

  /**
   * Acknowledged keys that do not read back (a fresh client on the current pods). A key that does not read back is
   * read again up to 4 more times, 1 s apart (the first read can race a slot map that is still settling); it counts as
   * lost only when a read answered that it does not exist (nil) or holds another value. A key whose every read failed
   * is unreadable: reported in `details` and `unreadable`, not counted as lost.
   */
  async lost(): Promise<NonNullable<Row["lost"]>> {
    const c = this.cluster.client();
    const read = (k: string) => c.get(k).then((v) => v, (e: Error) => `error: ${e.message}`);
    try {
      const check = async (keys: string[], mode: "wait" | "plain") => {
        let suspects: { key: string; value: string | null }[] = [];
        for (let i = 0; i < keys.length; i += 200) {
          const part = keys.slice(i, i + 200);
          const vals = await Promise.all(part.map(read));
          part.forEach((k, j) => vals[j] !== k && suspects.push({ key: k, value: vals[j] }));
        }
        for (let round = 0; round < 4 && suspects.some((x) => x.value?.startsWith("error: ")); round++) {
          await sleep(1000);
          const again = await Promise.all(suspects.map(async (x) => ({ key: x.key, value: x.value?.startsWith("error: ") ? await read(x.key) : x.value })));
          this.recoveredOnReread += again.filter((x) => x.value === x.key).length;
          suspects = again.filter((x) => x.value !== x.key);
        }
        for (const x of suspects) {
          const at = this.ackedAt.get(x.key);
          this.details.push({ key: x.key, mode, value: x.value, ackedMsBeforeMark: at !== undefined && this.mark !== undefined ? at - this.mark : undefined, slot: keySlot(x.key) });
        }
        return { lost: suspects.filter((x) => !x.value?.startsWith("error: ")).length, unreadable: suspects.filter((x) => x.value?.startsWith("error: ")).length };
      };
      const w = await check(this.acked.wait, "wait");
      const p = await check(this.acked.plain, "plain");
      return { wait: w.lost, plain: p.lost, ackedWait: this.acked.wait.length, ackedPlain: this.acked.plain.length, unreadable: w.unreadable + p.unreadable };
    } finally {
      c.disconnect();
    }
  }

  /** One line on the keys that did not read back: how many per mode and value, when they were acknowledged relative to the mark, their slots. */
  describeLost(): string {
    const reread = this.recoveredOnReread ? `; ${this.recoveredOnReread} read back only on a re-read (first read failed)` : "";
    if (!this.details.length) return `every acknowledged key read back${reread}`;
    const by = new Map<string, LostDetail[]>();
    for (const d of this.details) {
      const k = `${d.mode} ${d.value === null ? "nil" : d.value.startsWith("error: ") ? d.value.slice(0, 60) : "other value"}`;
      by.set(k, [...(by.get(k) ?? []), d]);
    }
    return [...by].map(([k, ds]) => {
      const ms = ds.map((d) => d.ackedMsBeforeMark).filter((x): x is number => x !== undefined);
      const range = ms.length ? ` acknowledged ${Math.min(...ms)}..${Math.max(...ms)} ms after the disruption began (negative: before)` : "";
      return `${ds.length} ${k}${range} (slots ${[...new Set(ds.map((d) => d.slot))].slice(0, 8).join(",")})`;
    }).join("; ") + reread;
  }
}
