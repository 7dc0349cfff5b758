// The restore drill's throwaway cluster: `masters` temporary redis-servers (./tempServer.ts) in cluster mode on
// kernel-picked loopback ports, no replicas, the 16384 slots split evenly, one random password. Reached only from
// this process or container; killed with it (setpriv --pdeathsig) and removed by stop().
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import type { Redis } from "ioredis";
import { sleep } from "../../smoke/time";
import { parseInfo, SLOT_COUNT } from "../../smoke/topology";
import { startTempServer, type TempServer } from "./tempServer";

export interface ThrowawayNode {
  addr: string;
  /** Through the node's unix socket: DEBUG is allowed there. */
  client: Redis;
  slots: [number, number];
}

export interface ThrowawayCluster {
  seeds: string[];
  password: string;
  nodes: ThrowawayNode[];
  stop(): Promise<void>;
}

/** A loopback port the kernel has just handed out (closed again: redis-server binds it right after). */
function loopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startThrowawayCluster(masters: number, dir: string, opts: { bin?: string; timeoutMs?: number } = {}): Promise<ThrowawayCluster> {
  if (!Number.isInteger(masters) || masters < 1 || masters > 64) throw new Error(`masters must be an integer from 1 to 64, not ${masters}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const password = randomBytes(24).toString("hex");
  const servers: TempServer[] = [];
  const nodes: ThrowawayNode[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      const [port, bus] = [await loopbackPort(), await loopbackPort()];
      const s = await startTempServer(undefined, dir, {
        bin: opts.bin,
        password,
        config: [`port ${port}`, "bind 127.0.0.1", "cluster-announce-ip 127.0.0.1", "cluster-enabled yes", "cluster-config-file nodes.conf", `cluster-port ${bus}`, "cluster-require-full-coverage yes"],
        timeoutMs: 30_000,
      });
      servers.push(s);
      const lo = Math.floor((SLOT_COUNT * i) / masters);
      const hi = Math.floor((SLOT_COUNT * (i + 1)) / masters) - 1;
      await s.client.call("CLUSTER", "ADDSLOTSRANGE", String(lo), String(hi));
      nodes.push({ addr: `127.0.0.1:${port}`, client: s.client, slots: [lo, hi] });
      if (i > 0) await servers[0].client.call("CLUSTER", "MEET", "127.0.0.1", String(port), String(bus));
    }
    // Formed when every node sees every other and serves all slots (bounded: gossip on loopback takes a few seconds at most).
    const until = Date.now() + (opts.timeoutMs ?? 30_000);
    for (let round = 0; ; round++) {
      const infos = await Promise.all(nodes.map(async (n) => parseInfo(String(await n.client.call("CLUSTER", "INFO")))));
      if (infos.every((x) => x.cluster_state === "ok" && Number(x.cluster_known_nodes) === masters)) break;
      if (Date.now() > until || round > 10_000) throw new Error(`the drill's throwaway cluster of ${masters} masters did not form within ${opts.timeoutMs ?? 30_000} ms (${infos.map((x) => `${x.cluster_state}/${x.cluster_known_nodes}`).join(", ")})`);
      await sleep(100);
    }
    return { seeds: nodes.map((n) => n.addr), password, nodes, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
