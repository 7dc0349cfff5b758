// Latency histograms (HdrHistogram, hdr-histogram-js): microsecond resolution, 3 significant digits, up to 60 s.
import * as hdr from "hdr-histogram-js";

export interface LatencySummary {
  /** Latencies recorded (one per command). */
  count: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
}

const MAX_US = 60_000_000;

export class LatencyHistogram {
  private readonly h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_US, numberOfSignificantValueDigits: 3, bitBucketSize: 32, useWebAssembly: false });

  /** Records `count` commands that took `us` microseconds (a pipelined batch records every command it carried). */
  record(us: number, count = 1): void {
    const v = Math.min(MAX_US, Math.max(1, Math.round(us)));
    if (count === 1) this.h.recordValue(v);
    else this.h.recordValueWithCount(v, count);
  }

  add(other: LatencyHistogram): void {
    this.h.add(other.h);
  }

  /** Compressed form (worker threads send their histograms to the main thread this way). */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.h);
  }

  static decode(text: string): LatencyHistogram {
    const out = new LatencyHistogram();
    const h = hdr.decodeFromCompressedBase64(text, 32, false);
    out.h.add(h);
    h.destroy();
    return out;
  }

  summary(): LatencySummary {
    const ms = (us: number) => Number((us / 1000).toFixed(3));
    const h = this.h;
    // A percentile is reported as its bucket's highest value; never above the exact maximum.
    const at = (p: number) => ms(Math.min(h.getValueAtPercentile(p), h.maxValue));
    return {
      count: h.totalCount,
      p50Ms: at(50),
      p99Ms: at(99),
      p999Ms: at(99.9),
      maxMs: ms(h.maxValue),
      meanMs: ms(h.mean),
    };
  }
}
