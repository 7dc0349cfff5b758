// One master's RDB through the network only, the way `redis-cli --rdb` gets it: the replication handshake with
// `REPLCONF rdb-only 1` (the master sends the RDB and then closes, no command stream follows), then `PSYNC ? -1`.
// The master answers `+FULLRESYNC` right after it forked the snapshot child (replication.c: the reply is written in
// the same event-loop turn as the fork), so that line marks the moment the snapshot's content is fixed: the cut may
// end there. Transfer "disk" (no `capa eof`) forks at once whatever repl-diskless-sync-delay says, writing the RDB to
// the node's own dir like a scheduled save before streaming it; "diskless" (`capa eof`) streams from the child
// but the master delays the fork by repl-diskless-sync-delay, which would hold the pause that long.
import { createHash } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { rdbVersionOf } from "./rdb";

export type Transfer = "disk" | "diskless";

export interface RdbPullOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls?: ConnectionOptions;
  transfer: Transfer;
  /** Where the RDB is written. */
  file: string;
  connectTimeoutMs?: number;
  /** No byte for this long fails the pull (the master sends a newline every second while it writes to disk). */
  idleTimeoutMs?: number;
}

export interface RdbFile {
  bytes: number;
  sha256: string;
  rdbVersion: number;
}

/** RESP array of bulk strings (binary-safe: a password may hold any byte). */
function resp(args: string[]): Buffer {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

type Phase = "handshake" | "fullresync" | "preamble" | "payload" | "done";

export class RdbPull {
  private sock?: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private phase: Phase = "handshake";
  private pendingReplies: { resolve: () => void; reject: (e: Error) => void; what: string }[] = [];
  private out?: WriteStream;
  private readonly hash = createHash("sha256");
  private bytes = 0;
  private remaining = -1;
  private eofMark?: Buffer;
  private tail: Buffer = Buffer.alloc(0);
  private header: Buffer = Buffer.alloc(0);
  private forkResolve!: () => void;
  private forkReject!: (e: Error) => void;
  private doneResolve!: (f: RdbFile) => void;
  private doneReject!: (e: Error) => void;
  private failed?: Error;
  /** Resolves when the master has forked the snapshot child (+FULLRESYNC). */
  readonly forkStarted: Promise<void>;
  /** Resolves when the whole RDB is in `file`. */
  readonly done: Promise<RdbFile>;

  constructor(private readonly o: RdbPullOptions) {
    this.forkStarted = new Promise((res, rej) => ((this.forkResolve = res), (this.forkReject = rej)));
    this.done = new Promise((res, rej) => ((this.doneResolve = res), (this.doneReject = rej)));
    // Callers await these at different times; an early failure must not surface as an unhandled rejection.
    this.forkStarted.catch(() => undefined);
    this.done.catch(() => undefined);
  }

  private get where(): string {
    return `${this.o.host}:${this.o.port}`;
  }

  /** Connects, authenticates and sends the REPLCONFs; the snapshot is not asked for yet. */
  async open(): Promise<void> {
    const { host, port } = this.o;
    const timeout = this.o.connectTimeoutMs ?? 5000;
    await new Promise<void>((resolve, reject) => {
      const s = this.o.tls ? tlsConnect({ host, port, ...this.o.tls, servername: /^[\d.]+$/.test(host) ? undefined : host }) : netConnect({ host, port });
      this.sock = s;
      const t = setTimeout(() => (s.destroy(), reject(new Error(`${this.where}: no connection within ${timeout} ms`))), timeout);
      s.once(this.o.tls ? "secureConnect" : "connect", () => (clearTimeout(t), resolve()));
      s.once("error", (e) => (clearTimeout(t), reject(new Error(`${this.where}: ${e.message}`))));
    });
    const s = this.sock!;
    s.on("data", (d: Buffer) => this.onData(d));
    s.on("error", (e) => this.fail(new Error(`${this.where}: ${e.message}`)));
    s.on("close", () => this.fail(new Error(`${this.where}: the master closed the replication connection ${this.phase === "payload" ? `after ${this.bytes} bytes of the RDB` : `during ${this.phase}`}`)));
    s.setTimeout(this.o.idleTimeoutMs ?? 60_000, () => this.fail(new Error(`${this.where}: nothing received for ${this.o.idleTimeoutMs ?? 60_000} ms (${this.phase})`)));
    if (this.o.password) await this.command(this.o.username ? ["AUTH", this.o.username, this.o.password] : ["AUTH", this.o.password], "AUTH");
    await this.command(["REPLCONF", "rdb-only", "1"], "REPLCONF rdb-only");
    if (this.o.transfer === "diskless") await this.command(["REPLCONF", "capa", "eof"], "REPLCONF capa");
  }

  /** Asks for the snapshot: the master forks now (disk) or after its diskless delay. */
  startSync(): void {
    if (this.failed) return;
    this.phase = "fullresync";
    this.out = createWriteStream(this.o.file, { mode: 0o600 });
    this.out.on("error", (e) => {
      const err = new Error(`writing ${this.o.file}: ${e.message}`);
      if (this.phase === "done") this.doneReject(err);
      else this.fail(err);
    });
    this.out.on("drain", () => this.sock?.resume());
    this.sock!.write(resp(["PSYNC", "?", "-1"]));
  }

  abort(): void {
    this.fail(new Error(`${this.where}: aborted`));
  }

  private command(args: string[], what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.pendingReplies.push({ resolve, reject, what });
      this.sock!.write(resp(args));
    });
  }

  private fail(e: Error): void {
    if (this.phase === "done" || this.failed) return;
    this.failed = e;
    for (const p of this.pendingReplies.splice(0)) p.reject(e);
    this.forkReject(e);
    this.doneReject(e);
    this.sock?.destroy();
    this.out?.destroy();
  }

  /** One CRLF-terminated line from the buffer, or undefined when it has not arrived yet. */
  private line(): string | undefined {
    const i = this.buf.indexOf("\r\n");
    if (i < 0) return undefined;
    const l = this.buf.subarray(0, i).toString("latin1");
    this.buf = this.buf.subarray(i + 2);
    return l;
  }

  private skipNewlines(): void {
    let i = 0;
    while (i < this.buf.length && this.buf[i] === 0x0a) i++;
    if (i) this.buf = this.buf.subarray(i);
  }

  private onData(d: Buffer): void {
    if (this.failed) return;
    if (this.phase === "payload") return this.payload(d);
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (let guard = 0; guard < 100 && this.buf.length && !this.failed; guard++) {
      if (this.phase === "handshake") {
        const l = this.line();
        if (l === undefined) return;
        const p = this.pendingReplies.shift();
        if (!p) return this.fail(new Error(`${this.where}: unexpected reply ${JSON.stringify(l.slice(0, 80))}`));
        if (l.startsWith("-")) p.reject(new Error(`${this.where}: ${p.what} refused: ${l.slice(1)}`));
        else p.resolve();
      } else if (this.phase === "fullresync" || this.phase === "preamble") {
        // The master sends bare newlines as keep-alives while the child works.
        this.skipNewlines();
        const l = this.line();
        if (l === undefined) return;
        if (this.phase === "fullresync") {
          if (!l.startsWith("+FULLRESYNC")) return this.fail(new Error(`${this.where}: PSYNC answered ${JSON.stringify(l.slice(0, 120))}, not +FULLRESYNC`));
          this.phase = "preamble";
          this.forkResolve();
          continue;
        }
        if (l.startsWith("$EOF:")) this.eofMark = Buffer.from(l.slice(5), "latin1");
        else if (/^\$\d+$/.test(l)) this.remaining = Number(l.slice(1));
        else return this.fail(new Error(`${this.where}: unexpected RDB preamble ${JSON.stringify(l.slice(0, 80))}`));
        this.phase = "payload";
        const rest = this.buf;
        this.buf = Buffer.alloc(0);
        if (rest.length) this.payload(rest);
        return;
      } else return;
    }
  }

  private write(chunk: Buffer): void {
    if (!chunk.length) return;
    if (this.header.length < 9) this.header = Buffer.concat([this.header, chunk.subarray(0, 9 - this.header.length)]);
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (!this.out!.write(chunk)) this.sock?.pause();
  }

  private payload(d: Buffer): void {
    if (this.eofMark) {
      // Diskless: the RDB ends with the 40-byte mark announced in the preamble; hold back that many bytes until the end.
      const all = this.tail.length ? Buffer.concat([this.tail, d]) : d;
      const m = this.eofMark.length;
      if (all.length >= m && all.subarray(all.length - m).equals(this.eofMark)) {
        this.write(all.subarray(0, all.length - m));
        return this.finish();
      }
      const keep = Math.min(m, all.length);
      this.write(all.subarray(0, all.length - keep));
      this.tail = Buffer.from(all.subarray(all.length - keep));
      return;
    }
    const take = d.subarray(0, this.remaining);
    this.write(take);
    this.remaining -= take.length;
    if (this.remaining === 0) this.finish();
  }

  private finish(): void {
    this.phase = "done";
    this.sock?.destroy();
    let rdbVersion: number;
    try {
      rdbVersion = rdbVersionOf(this.header);
    } catch (e) {
      this.out?.destroy();
      return this.doneReject(new Error(`${this.where}: ${(e as Error).message}`));
    }
    const sha256 = this.hash.digest("hex");
    this.out!.end(() => this.doneResolve({ bytes: this.bytes, sha256, rdbVersion }));
  }
}
