// One TCP connection of the load generator to one node: requests are queued in the current tick and written with one
// socket write (the same batching ioredis calls auto-pipelining), replies are matched to requests in order.
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

export class RespConnection {
  private readonly queue: Pending[] = [];
  private head = 0;
  private out: string[] = [];
  private flushScheduled = false;
  private readonly scanner: ReplyScanner;
  private closedError?: Error;
  /** Replies received (every command, including errors). */
  replies = 0;

  private constructor(private readonly socket: Socket, readonly addr: string) {
    this.scanner = new ReplyScanner((e) => this.onReply(e));
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.scanner.push(d));
    socket.on("error", (e) => this.fail(e));
    socket.on("close", () => this.fail(new Error(`connection to ${addr} closed`)));
  }

  /** Connects, authenticates when a password is given (never on argv: it comes from the caller's memory). */
  static async open(host: string, port: number, o: { password?: string; username?: string; tls?: TlsClientOptions; connectTimeoutMs?: number; addr?: string } = {}): Promise<RespConnection> {
    const addr = o.addr ?? `${host}:${port}`;
    const socket = await new Promise<Socket>((resolve, reject) => {
      // TLS: ready after the handshake ("secureConnect"), which also verifies the node's certificate.
      const s: Socket = o.tls ? tlsConnect({ host, port, ...tlsConnectOptions(o.tls) }) : connect({ host, port });
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
    const c = new RespConnection(socket, addr);
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
      this.send(commands.map(encodeCommand).join(""), commands.length, (errors, first) => resolve(errors ? first : undefined));
    });
  }

  /** Hot path: `wire` holds `count` encoded commands; `done` runs when all their replies have arrived. */
  send(wire: string, count: number, done: Pending["done"]): void {
    if (this.closedError) {
      done(count, this.closedError.message);
      return;
    }
    this.queue.push({ remaining: count, errors: 0, done });
    this.out.push(wire);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }

  private readonly flush = () => {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.closedError) return;
    const data = this.out.length === 1 ? this.out[0] : this.out.join("");
    this.out = [];
    this.socket.write(data);
  };

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
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
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
