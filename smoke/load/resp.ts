// RESP2 on the load generator's hot path: requests encoded straight into buffers, replies counted without
// materialising their values. A general client (ioredis) builds a Command, a promise and a decoded JS value per reply;
// profiled, that cost dominated (docs/benchmarks.md, "Numbers from code comments") — the client, not the cluster, was measured.
// The generator only needs "how many replies arrived, and was any an error", so it scans for reply boundaries.

const CRLF = "\r\n";
const EMPTY = Buffer.alloc(0);

/** One command in RESP2 wire format (`*n $len arg …`); arguments are ASCII/UTF-8 strings. */
export function encodeCommand(args: readonly string[]): string {
  let s = `*${args.length}${CRLF}`;
  for (const a of args) s += `$${Buffer.byteLength(a)}${CRLF}${a}${CRLF}`;
  return s;
}

/** Commands encoded back to back in one buffer: command i is `buf[offsets[i], offsets[i + 1])`. */
export interface EncodedCommands {
  buf: Buffer;
  offsets: Uint32Array;
}

export function encodeAll(commands: readonly (readonly string[])[]): EncodedCommands {
  const wires = commands.map(encodeCommand);
  const offsets = new Uint32Array(wires.length + 1);
  for (let i = 0; i < wires.length; i++) offsets[i + 1] = offsets[i] + Buffer.byteLength(wires[i]);
  return { buf: Buffer.from(wires.join("")), offsets };
}

/** A reply the scanner saw: ok, or the text of an error reply (`-ERR …`, `-MOVED …`). */
export type ReplyHandler = (error: string | undefined) => void;

/**
 * Incremental reply scanner. `push(chunk)` calls `onReply` once per complete top-level reply, in order. Handles every
 * RESP2 type (+ - : $ *, nested arrays, null bulk/array) across chunk boundaries; values are skipped, error text kept.
 */
export class ReplyScanner {
  private buf: Buffer = EMPTY;
  /** Elements still expected per open array level (top of stack = innermost). */
  private readonly pending: number[] = [];
  /** Error seen inside the current top-level reply (an EXEC reply may carry one). */
  private nestedError: string | undefined;

  constructor(private readonly onReply: ReplyHandler) {}

  push(chunk: Buffer): void {
    const buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let pos = 0;
    const n = buf.length;
    while (pos < n) {
      const eol = buf.indexOf(10, pos); // '\n' ending the header line
      if (eol < 0) break;
      const type = buf[pos];
      let next = eol + 1;
      let error: string | undefined;
      let opensArray = 0;
      if (type === 0x24 /* $ */) {
        const len = intAt(buf, pos + 1, eol - 1);
        if (len >= 0) {
          next = eol + 1 + len + 2;
          if (next > n) break; // the value has not fully arrived
        }
      } else if (type === 0x2a /* * */) {
        opensArray = intAt(buf, pos + 1, eol - 1);
      } else if (type === 0x2d /* - */) {
        error = buf.toString("utf8", pos + 1, eol - 1);
      } else if (type !== 0x2b /* + */ && type !== 0x3a /* : */) {
        throw new Error(`unexpected RESP type byte 0x${type.toString(16)} at offset ${pos}`);
      }
      pos = next;
      if (opensArray > 0) {
        this.pending.push(opensArray);
        continue;
      }
      // A scalar (or empty/null array) completed: close every array it completes.
      if (this.pending.length === 0) {
        this.onReply(error);
        continue;
      }
      if (error) this.nestedError ??= error;
      let depth = this.pending.length;
      while (depth > 0 && --this.pending[depth - 1] === 0) {
        this.pending.pop();
        depth--;
      }
      if (depth === 0) {
        const e = this.nestedError;
        this.nestedError = undefined;
        this.onReply(e);
      }
    }
    // A copy: the connection reads into one reused buffer, which the next read overwrites.
    this.buf = pos >= n ? EMPTY : Buffer.from(buf.subarray(pos));
  }
}

/** Decimal integer (possibly negative) in buf[from, to). */
function intAt(buf: Buffer, from: number, to: number): number {
  let neg = false;
  let i = from;
  if (buf[i] === 0x2d) {
    neg = true;
    i++;
  }
  let v = 0;
  for (; i < to; i++) v = v * 10 + (buf[i] - 48);
  return neg ? -v : v;
}
