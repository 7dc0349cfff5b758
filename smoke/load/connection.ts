// One TCP connection of the load generator to one node. Two write disciplines: `coalesce` queues the requests of the
// current tick and writes them with one socket write (the batching ioredis calls auto-pipelining); without it every
// request is its own write at once, as redis-benchmark sends. Replies are matched to requests in order. The connection
// counts what it really did (socket writes, commands, requests in flight), so a run's shape is measured, not assumed.
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { TlsClientOptions } from "../types";
import { tlsConnectOptions } from "../tls";
import { encodeCommand, ReplyScanner } from "./resp";

/** A batch of commands sent together; `done` gets the number of error replies and the first error's text. */
interface Pending {
  remaining: number;
  errors: number;
  firstError?: string;
  done: (errors: number, firstError: string | undefined) => void;
}

/** What one connection sent since its counters were last reset. */
export interface ConnectionCounters {
  /** socket.write calls. */
  writes: number;
  /** Commands in those writes. */
  commands: number;
  /** Requests (batches handed to `send`). */
  requests: number;
  /** Sum over requests of the requests in flight on this connection once it was queued (itself included). */
  inFlightSum: number;
  /** Most requests in flight at once. */
  maxInFlight: number;
}

const zeroCounters = (): ConnectionCounters => ({ writes: 0, commands: 0, requests: 0, inFlightSum: 0, maxInFlight: 0 });

/** Reused receive buffer size of a plain TCP connection (Node reads into it instead of allocating per read). */
const READ_BUFFER_BYTES = 64 * 1024;

export interface ConnectionOptions {
  password?: string;
  username?: string;
  tls?: TlsClientOptions;
  connectTimeoutMs?: number;
  addr?: string;
  /** Queue the requests of one tick into one socket write (default true); false: one write per request, at once. */
  coalesce?: boolean;
}

export class RespConnection {
  private readonly queue: Pending[] = [];
  private head = 0;
  private out: Buffer[] = [];
  private flushScheduled = false;
  private readonly scanner: ReplyScanner;
  private closedError?: Error;
  private readonly coalesce: boolean;
  /** Replies received (every command, including errors). */
  replies = 0;
  counters: ConnectionCounters = zeroCounters();

  private constructor(private readonly socket: Socket, readonly addr: string, coalesce: boolean, sink: { onData?: (b: Buffer) => void }) {
    this.coalesce = coalesce;
    this.scanner = new ReplyScanner((e) => this.onReply(e));
    socket.setNoDelay(true);
    sink.onData = (d) => this.scanner.push(d);
    socket.on("error", (e) => this.fail(e));
    socket.on("close", () => this.fail(new Error(`connection to ${addr} closed`)));
  }

  /** Connects, authenticates when a password is given (never on argv: it comes from the caller's memory). */
  static async open(host: string, port: number, o: ConnectionOptions = {}): Promise<RespConnection> {
    const addr = o.addr ?? `${host}:${port}`;
    const sink: { onData?: (b: Buffer) => void } = {};
    const socket = await new Promise<Socket>((resolve, reject) => {
      // TLS: ready after the handshake ("secureConnect"), which also verifies the node's certificate. Plain TCP reads
      // into one reused buffer (`onread`): no Buffer and no stream event per read (the scanner copies what it keeps).
      const s: Socket = o.tls
        ? tlsConnect({ host, port, ...tlsConnectOptions(o.tls) })
        : connect({ host, port, onread: { buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES), callback: (n: number, buf: Uint8Array) => {
              sink.onData?.((buf as Buffer).subarray(0, n));
              return true;
            } } });
      if (o.tls) s.on("data", (d: Buffer) => sink.onData?.(d));
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${addr}: no answer within ${o.connectTimeoutMs ?? 3000} ms`));
      }, o.connectTimeoutMs ?? 3000);
      s.once(o.tls ? "secureConnect" : "connect", () => {
        clearTimeout(t);
        resolve(s);
      });
      s.once("error", (e) => {
        clearTimeout(t);
        reject(new Error(`connect to ${addr}: ${e.message}`));
      });
    });
    const c = new RespConnection(socket, addr, o.coalesce ?? true, sink);
    if (o.password) {
      const err = await c.request([o.username ? ["AUTH", o.username, o.password] : ["AUTH", o.password]]);
      if (err) {
        c.close();
        throw new Error(`authentication at ${addr} failed (${err})`);
      }
    }
    return c;
  }

  /** Sends the commands as one batch; resolves with the first error reply's text (undefined when all succeeded). */
  request(commands: string[][]): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      if (this.closedError) return reject(this.closedError);
      this.send(Buffer.from(commands.map(encodeCommand).join("")), commands.length, (errors, first) => resolve(errors ? first : undefined));
    });
  }

  /** The socket closed or failed: every later send fails at once. */
  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Hot path: `wire` holds `count` encoded commands; `done` runs when all their replies have arrived. */
  send(wire: Buffer, count: number, done: Pending["done"]): void {
    if (this.closedError) {
      done(count, this.closedError.message);
      return;
    }
    this.queue.push({ remaining: count, errors: 0, done });
    const c = this.counters;
    const inFlight = this.queue.length - this.head;
    c.requests++;
    c.commands += count;
    c.inFlightSum += inFlight;
    if (inFlight > c.maxInFlight) c.maxInFlight = inFlight;
    if (!this.coalesce) {
      c.writes++;
      this.socket.write(wire);
      return;
    }
    this.out.push(wire);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }

  private readonly flush = () => {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.closedError) return;
    const data = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out);
    this.out = [];
    this.counters.writes++;
    this.socket.write(data);
  };

  /** Starts counting afresh (the measured window starts after the connection's AUTH). */
  resetCounters(): void {
    this.counters = zeroCounters();
  }

  private onReply(error: string | undefined): void {
    this.replies++;
    const p = this.queue[this.head];
    if (!p) return; // a reply nobody waits for (cannot happen with in-order replies)
    if (error) {
      p.errors++;
      p.firstError ??= error;
    }
    if (--p.remaining === 0) {
      this.queue[this.head++] = undefined as unknown as Pending;
      if (this.head === this.queue.length) {
        // Drained: start over (a connection with one request in flight never grows its queue).
        this.queue.length = 0;
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      p.done(p.errors, p.firstError);
    }
  }

  /** Requests still waiting for replies. */
  get inFlight(): number {
    return this.queue.length - this.head;
  }

  private fail(e: Error): void {
    if (this.closedError) return;
    this.closedError = e;
    const waiting = this.queue.slice(this.head);
    this.queue.length = 0;
    this.head = 0;
    for (const p of waiting) p.done(p.errors + p.remaining, p.firstError ?? e.message);
  }

  close(): void {
    this.fail(new Error(`connection to ${this.addr} closed by the load generator`));
    this.socket.destroy();
  }
}

/** The counters of several connections added up. */
export function sumCounters(cs: readonly ConnectionCounters[]): ConnectionCounters {
  const s = zeroCounters();
  for (const c of cs) {
    s.writes += c.writes;
    s.commands += c.commands;
    s.requests += c.requests;
    s.inFlightSum += c.inFlightSum;
    s.maxInFlight = Math.max(s.maxInFlight, c.maxInFlight);
  }
  return s;
}
