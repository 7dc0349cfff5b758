import { readFileSync } from "node:fs";
import { createServer } from "node:net";

const BUS_OFFSET = 10000;

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** First port of the kernel's ephemeral (outgoing) range; Linux default 32768. */
function ephemeralRangeStart(): number {
  try {
    const first = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 0 ? first : 32768;
  } catch {
    return 32768;
  }
}

/**
 * `count` ports that are free on `host` right now; with `withBus` also port+10000 is free (Redis Cluster bus).
 * Ports start at a random point of 20000..29999 (with the bus: 20000..22767, so bus ports stay below the ephemeral
 * range) so parallel runs rarely race for the same ones.
 */
export async function freePorts(count: number, opts: { withBus?: boolean; host?: string } = {}): Promise<number[]> {
  const host = opts.host ?? "127.0.0.1";
  const lo = 20000;
  // Stay below the kernel's ephemeral range: an outgoing connection may take a port there at any moment, and a
  // bus port (client + 10000) taken that way after this check makes redis-server fail to start.
  const ephemeralLow = ephemeralRangeStart();
  const hi = Math.min(opts.withBus ? ephemeralLow - BUS_OFFSET : ephemeralLow, 30000);
  const span = hi - lo;
  if (span <= 0) throw new Error(`freePorts: the ephemeral port range starts at ${ephemeralLow}, leaving no ports from ${lo} for Redis`);
  const start = lo + Math.floor(Math.random() * span);
  const out: number[] = [];
  // Bounded scan: at most `span` candidates.
  for (let k = 0; k < span && out.length < count; k++) {
    const p = lo + ((start - lo + k) % span);
    if (!(await canListen(p, host))) continue;
    if (opts.withBus && !(await canListen(p + BUS_OFFSET, host))) continue;
    out.push(p);
  }
  if (out.length < count) throw new Error(`freePorts: found only ${out.length} of ${count} free ports on ${host}`);
  return out;
}
