import { createServer } from "node:net";

const BUS_OFFSET = 10000;

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * `count` ports that are free on `host` right now; with `withBus` also port+10000 is free (Redis Cluster bus).
 * Ports start at a random point of 20000..29999 so parallel runs rarely race for the same ones.
 */
export async function freePorts(count: number, opts: { withBus?: boolean; host?: string } = {}): Promise<number[]> {
  const host = opts.host ?? "127.0.0.1";
  const lo = 20000;
  const hi = opts.withBus ? 65535 - BUS_OFFSET : 29999;
  const span = Math.min(10000, hi - lo);
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
