// The one write loop of everything that writes through a disruption (the failover check, chaos, the pods scenarios,
// the scale writer, the rotation tests): SET of the n-th key, alone or pipelined with WAIT on the same connection,
// each command's outcome kept on a timeline that is judged after the run, never during it. Bounded in commands and
// in time per command; stops when asked or when its signal aborts.
import type { Cluster } from "ioredis";
import calculateSlot = require("cluster-key-slot");
import { errorText, refreshSlots } from "./clients";
import { sleep } from "./time";

/** One command as the client saw it. Times are Date.now(). */
export interface Write {
  /** Command number over all loops (loop l writes l, l + loops, ...) and the loop that wrote it. */
  n: number;
  loop: number;
  key: string;
  value: string;
  start: number;
  /** 0 while no reply has come. */
  end: number;
  /**
   * When the SET's own OK arrived (acked/unacked only): in a pipeline it comes before WAIT's reply, which can take
   * WAIT's whole timeout (a promoted master without a replica yet).
   */
  accepted?: number;
  /**
   * acked: SET OK and, with WAIT, at least `wait.replicas` replicas acknowledged; unacked: SET OK, WAIT short or
   * failed; error: refused, no reply, or a reply other than OK; pending: still waiting.
   */
  result: "pending" | "acked" | "unacked" | "error";
  /** WAIT's reply (SET OK; 0 when WAIT itself failed). */
  replicas?: number;
  /** The error's message: a failed SET, or WAIT's error on an accepted SET (result unacked). */
  error?: string;
  /** No reply within commandTimeoutMs: the write may or may not have been applied. */
  noReply?: true;
  /** MOVED/ASK/TRYAGAIN/CLUSTERDOWN replies retried before this outcome. */
  redirects: number;
  /** Times the command was sent again to its slot's new master while the old one gave no reply (followFailover). */
  resent?: number;
}

export interface WriterOptions {
  key(n: number, loop: number): string;
  /** Default: the key itself. */
  value?(key: string, n: number, loop: number): string;
  /** Extra SET arguments, e.g. ["EX", 600]. */
  setArgs?: (string | number)[];
  /** Pipelined after the SET on the same connection: WAIT replicas timeoutMs. */
  wait?: { replicas: number; timeoutMs: number };
  /** Concurrent loops on the one client. Default 1. */
  loops?: number;
  /** Bound on commands over all loops. */
  maxCommands: number;
  /** A command without a reply by then is given up (noReply). Default: the client's own timeouts only. */
  commandTimeoutMs?: number;
  /** Pause after a command (ms): after one with an error, and after any other. */
  pause?: { ok: number; error: number };
  /**
   * ioredis does not follow a MOVED/ASK inside a pipeline whose other command succeeded: retry such a reply (and
   * TRYAGAIN/CLUSTERDOWN) up to this many times, refreshing the slot map on MOVED. Default 0.
   */
  redirectRetries?: number;
  /**
   * A frozen master gives no reply at all, not MOVED: once a command has waited `probeMs` the slot map is refreshed
   * every `probeMs` while it waits, and the command is sent again to the key's master as soon as that is another node
   * (the promoted replica; the first attempt is abandoned). A reply that merely comes late changes nothing. Off by default.
   */
  followFailover?: { probeMs: number };
  signal?: AbortSignal;
  /** Called once per command when its outcome is known. */
  onWrite?(w: Write): void;
  /** Keep every command on `timeline` (default true; a long run that judges with onWrite turns it off). */
  keepTimeline?: boolean;
}

const REDIRECT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)/;
/** Bounds of followFailover: resends of one command, and how long one attempt is watched. */
const MAX_RESENDS = 5;
const FOLLOW_SPAN_MS = 60_000;

export class Writer {
  readonly timeline: Write[] = [];
  attempts = 0;
  acked = 0;
  unacked = 0;
  errors = 0;
  readonly startedAt = Date.now();
  private stopped = false;
  private done?: Promise<void>;

  constructor(private readonly client: Cluster, private readonly o: WriterOptions) {}

  get running(): boolean {
    return !this.stopped && !this.o.signal?.aborted;
  }

  start(): this {
    const loops = this.o.loops ?? 1;
    this.done = Promise.all(Array.from({ length: loops }, (_, l) => this.loop(l, loops))).then(() => undefined);
    return this;
  }

  /** Waits until the loops end by themselves (maxCommands written, or the signal aborted). */
  async finished(): Promise<this> {
    await this.done;
    return this;
  }

  /** Stops the loops and waits for them (at most `boundMs`: a command stuck on a dead node is left pending). */
  async stop(boundMs = 60_000): Promise<this> {
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.done, new Promise((r) => (timer = setTimeout(r, boundMs)))]);
    clearTimeout(timer);
    return this;
  }

  private async loop(l: number, loops: number): Promise<void> {
    const pause = this.o.pause ?? { ok: 0, error: 0 };
    for (let n = l; this.running && n < this.o.maxCommands; n += loops) {
      const key = this.o.key(n, l);
      const w: Write = { n, loop: l, key, value: this.o.value?.(key, n, l) ?? key, start: Date.now(), end: 0, result: "pending", redirects: 0 };
      if (this.o.keepTimeline ?? true) this.timeline.push(w);
      this.attempts++;
      await this.write(w);
      w.end = Date.now();
      if (w.result === "error") delete w.accepted;
      else w.accepted ??= w.end;
      if (w.result === "acked") this.acked++;
      else if (w.result === "unacked") this.unacked++;
      else this.errors++;
      this.o.onWrite?.(w);
      // A SET accepted whose WAIT fell short is no refusal: only a failed command backs off.
      const ms = w.result === "error" ? pause.error : pause.ok;
      if (ms > 0 && this.running) await sleep(ms);
    }
  }

  private async write(w: Write): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const attempt = this.o.followFailover ? this.sendFollowing(w, this.o.followFailover.probeMs) : this.send(w);
    const limit = this.o.commandTimeoutMs;
    try {
      const noReply = limit === undefined ? undefined : new Promise<"none">((r) => (timer = setTimeout(() => r("none"), limit)));
      const res = await (noReply ? Promise.race([attempt, noReply]) : attempt);
      if (res === "none") {
        attempt.catch(() => undefined);
        Object.assign(w, { result: "error", error: `no reply within ${limit} ms`, noReply: true });
        return;
      }
      const [[setErr, setRes], waitRes] = res;
      if (setErr) Object.assign(w, { result: "error", error: errorText(setErr) });
      else if (setRes !== "OK") Object.assign(w, { result: "error", error: `SET replied ${String(setRes)}` });
      else if (!this.o.wait) w.result = "acked";
      else {
        const [waitErr, replicas] = waitRes!;
        w.replicas = waitErr ? 0 : Number(replicas);
        if (waitErr) w.error = errorText(waitErr);
        w.result = w.replicas >= this.o.wait.replicas && !waitErr ? "acked" : "unacked";
      }
    } catch (e) {
      Object.assign(w, { result: "error", error: errorText(e) });
    } finally {
      clearTimeout(timer);
    }
  }

  /** send(), sent again to the slot's new master when the one it went to stopped answering and lost the slot. */
  private async sendFollowing(w: Write, probeMs: number): Promise<[Error | null, unknown][]> {
    const slot = calculateSlot(w.key);
    for (;;) {
      const owner = this.client.slots?.[slot]?.[0];
      const attempt = this.send(w);
      if (owner === undefined || (w.resent ?? 0) >= MAX_RESENDS) return attempt;
      const moved = await Promise.race([attempt.then(() => false), this.ownerChanged(slot, owner, attempt, probeMs)]);
      if (!moved) return attempt;
      attempt.catch(() => undefined);
      w.resent = (w.resent ?? 0) + 1;
    }
  }

  /** Resolves true once `slot` has a master other than `owner` while `pending` is unsettled; never resolves otherwise. */
  private ownerChanged(slot: number, owner: string, pending: Promise<unknown>, probeMs: number): Promise<boolean> {
    let settled = false;
    pending.then(() => (settled = true), () => (settled = true));
    return new Promise((resolve) => {
      const watch = async () => {
        for (let i = 0; i < Math.ceil(FOLLOW_SPAN_MS / probeMs) && !settled && this.running; i++) {
          await sleep(probeMs);
          if (settled) return;
          await refreshSlots(this.client);
          const now = this.client.slots?.[slot]?.[0];
          if (!settled && now !== undefined && now !== owner) return resolve(true);
        }
      };
      void watch();
    });
  }

  /** The SET (and WAIT) replies, redirects retried as configured. */
  private async send(w: Write): Promise<[Error | null, unknown][]> {
    const args = [w.key, w.value, ...(this.o.setArgs ?? [])] as [string, string];
    if (!this.o.wait) {
      try {
        return [[null, await this.client.set(...args)]];
      } catch (e) {
        return [[e instanceof Error ? e : new Error(String(e)), null]];
      }
    }
    let res: [Error | null, unknown][] = [];
    const sent = w.resent ?? 0;
    // Only this send's SET counts, before the write's outcome: an abandoned attempt may still be answered later.
    const onSet = (err: Error | null | undefined, reply: unknown) => {
      if (!err && reply === "OK" && (w.resent ?? 0) === sent && w.end === 0) w.accepted ??= Date.now();
    };
    for (let attempt = 0; attempt <= (this.o.redirectRetries ?? 0); attempt++) {
      res = ((await this.client.pipeline().set(...args, onSet).call("WAIT", String(this.o.wait.replicas), String(this.o.wait.timeoutMs)).exec()) ?? []) as [Error | null, unknown][];
      const e = res.find(([x]) => x)?.[0];
      if (!e || !REDIRECT.test(e.message) || attempt === (this.o.redirectRetries ?? 0)) break;
      w.redirects++;
      if (/^MOVED/.test(e.message)) this.client.refreshSlotsCache();
      await sleep(25);
    }
    if (res.length < 2) return [[new Error("no reply"), null]];
    return res;
  }

  /** Errors in the order they happened: when the command ended and the message. */
  errorsSeen(): { at: number; message: string }[] {
    return this.timeline.filter((w) => w.result === "error").map((w) => ({ at: w.end, message: w.error! }));
  }

  /** Commands that took `minMs` or more (an outage hidden by the client's retries shows here): end time and duration. */
  slow(minMs: number): { at: number; ms: number }[] {
    return this.timeline.filter((w) => w.end && w.end - w.start >= minMs).map((w) => ({ at: w.end, ms: w.end - w.start }));
  }

  /** Acknowledged writes per whole second since the writer started. */
  ackedPerSecond(): number[] {
    const out: number[] = [];
    for (const w of this.timeline) {
      if (w.result !== "acked") continue;
      const sec = Math.floor((w.end - this.startedAt) / 1000);
      while (out.length <= sec) out.push(0);
      out[sec]++;
    }
    return out;
  }
}
