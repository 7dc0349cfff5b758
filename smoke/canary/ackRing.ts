// The acknowledged writes of one hash tag waiting to be re-read: a bounded queue (oldest first) plus the write
// counter that names the keys. A key is reused every `capacity` writes, so at most `capacity` keys exist per tag.

export interface AckedWrite {
  seq: number;
  key: string;
  value: string;
  /** When WAIT acknowledged it (ms since epoch). */
  ackedAt: number;
}

export class AckRing {
  private readonly pending: AckedWrite[] = [];
  private seq = 0;
  /** The newest acknowledged write (the replica read's target when a round's own write was not acknowledged). */
  last?: AckedWrite;
  /** Writes dropped before being re-read (their key was about to be reused, or they waited too long). */
  unverified = 0;

  constructor(
    readonly capacity: number,
    private readonly keyOf: (slotInRing: number) => string,
  ) {}

  /** The next write's sequence number and key; a pending write whose key this reuses is dropped first. */
  next(): { seq: number; key: string } {
    const seq = this.seq++;
    while (this.pending.length > 0 && seq - this.pending[0].seq >= this.capacity) {
      this.pending.shift();
      this.unverified++;
    }
    if (this.last && seq - this.last.seq >= this.capacity) this.last = undefined;
    return { seq, key: this.keyOf(seq % this.capacity) };
  }

  acked(w: AckedWrite): void {
    this.pending.push(w);
    this.last = w;
  }

  /** Up to `max` writes acknowledged at least `ageMs` ago, oldest first (still queued until settled). */
  due(now: number, ageMs: number, max: number): AckedWrite[] {
    const out: AckedWrite[] = [];
    for (const w of this.pending) {
      if (out.length >= max || now - w.ackedAt < ageMs) break;
      out.push(w);
    }
    return out;
  }

  /** Removes a write once re-read (intact or lost). */
  settle(w: AckedWrite): void {
    const i = this.pending.indexOf(w);
    if (i >= 0) this.pending.splice(i, 1);
  }

  /** Drops writes older than `maxAgeMs` (their key may have expired): they count as unverified, never as lost. */
  expire(now: number, maxAgeMs: number): void {
    while (this.pending.length > 0 && now - this.pending[0].ackedAt > maxAgeMs) {
      this.pending.shift();
      this.unverified++;
    }
  }

  get size(): number {
    return this.pending.length;
  }
}
