// The canary's HTTP endpoint: GET /metrics (Prometheus text) and GET /healthz (200 while rounds keep completing).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Canary } from "./canary";

export const DEFAULT_CANARY_PORT = 9122;

export interface CanaryServer {
  server: Server;
  /** The bound port (the requested one, or the one the OS chose for port 0). */
  port: number;
  close(): Promise<void>;
}

export async function serveCanary(canary: Canary, opts: { host?: string; port?: number } = {}): Promise<CanaryServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
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
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /metrics or /healthz\n");
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
