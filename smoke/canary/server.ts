// The canary's HTTP endpoint: GET /metrics (Prometheus text), GET /healthz (200 while rounds keep completing) and
// GET /view?last_ms=N (JSON: what it counted in the last N ms; the smoke step's report of a deploy).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Canary } from "./canary";

export const DEFAULT_CANARY_PORT = 9122;
/** The longest window /view answers for; the canary keeps about an hour of history anyway. */
export const MAX_VIEW_MS = 24 * 3600_000;

export interface CanaryServer {
  server: Server;
  /** The bound port (the requested one, or the one the OS chose for port 0). */
  port: number;
  close(): Promise<void>;
}

export async function serveCanary(canary: Canary, opts: { host?: string; port?: number } = {}): Promise<CanaryServer> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://canary");
    const path = url.pathname;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
    } else if (path === "/metrics") {
      canary.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": canary.metrics.registry.contentType }).end(text),
        (e: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics: ${e.message}\n`),
      );
    } else if (path === "/healthz") {
      const ok = canary.healthy();
      const ago = canary.lastRoundAt === undefined ? "no round completed yet" : `last round ended ${Date.now() - canary.lastRoundAt} ms ago`;
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(`${ok ? "ok" : "stalled"}: ${ago}\n`);
    } else if (path === "/view") {
      const raw = url.searchParams.get("last_ms") ?? "";
      if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_VIEW_MS) {
        res.writeHead(400, { "content-type": "text/plain" }).end(`/view needs last_ms=<1..${MAX_VIEW_MS}>, got "${raw.slice(0, 40)}"\n`);
      } else {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(canary.view(Number(raw))) + "\n");
      }
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics, /healthz or /view?last_ms=N\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? DEFAULT_CANARY_PORT, opts.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
