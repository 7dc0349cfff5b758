// ioredis connections of the smoke test: one direct connection per node (mapped through natMap) and
// Cluster clients configured to ride through a failover.
import { Cluster, Redis, type ClusterOptions } from "ioredis";
import type { NatMapEntries, TlsClientOptions } from "./types";
import { tlsConnectOptions } from "./tls";

export function parseAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a host:port address: ${JSON.stringify(addr)}`);
  return { host, port };
}

/**
 * ioredis retries a command hit by a failover every `retryDelayOnFailover` ms at most `maxRedirections` times; the product
 * must outlast the failover (its docs: > cluster-node-timeout). A failover takes node timeout + FAIL propagation + election
 * (measured: docs/benchmarks.md, "Numbers from code comments"), so the budget is 2x node timeout + 2 s.
 */
export function failoverRetryOptions(nodeTimeoutMs: number): Pick<ClusterOptions, "maxRedirections" | "retryDelayOnFailover" | "retryDelayOnClusterDown" | "retryDelayOnTryAgain"> {
  const maxRedirections = 16;
  const delay = Math.ceil((2 * nodeTimeoutMs + 2000) / maxRedirections);
  return { maxRedirections, retryDelayOnFailover: delay, retryDelayOnClusterDown: delay, retryDelayOnTryAgain: Math.min(delay, 200) };
}

/** Refreshes the client's slot map and waits for it (ioredis joins a refresh already running; errors leave the map as it was). */
export function refreshSlots(c: Cluster): Promise<void> {
  return new Promise<void>((resolve) => c.refreshSlotsCache(() => resolve()));
}

export interface ClusterClientSettings {
  seeds: string[];
  password?: string;
  natMap: NatMapEntries;
  nodeTimeoutMs: number;
  /** Reject a command after this long (a frozen node never answers). */
  commandTimeoutMs?: number;
  autoPipelining?: boolean;
  /** Refresh the slot map periodically (needed to notice a failover when the old master just hangs). */
  slotsRefreshIntervalMs?: number;
  /**
   * Bound of one node's CLUSTER SLOTS answer in a slot-map refresh (default 2000): a refresh that asks a frozen node
   * first moves on to the next node only after it, and holds every other refresh of the client until then.
   */
  slotsRefreshTimeoutMs?: number;
  tls?: TlsClientOptions;
  /** ACL user of the password (absent: `default`). */
  username?: string;
}

export function clusterClient(s: ClusterClientSettings): Cluster {
  const c = new Cluster(s.seeds.map(parseAddr), {
    ...failoverRetryOptions(s.nodeTimeoutMs),
    natMap: Object.keys(s.natMap).length ? s.natMap : undefined,
    enableAutoPipelining: s.autoPipelining ?? false,
    slotsRefreshTimeout: s.slotsRefreshTimeoutMs ?? 2000,
    slotsRefreshInterval: s.slotsRefreshIntervalMs,
    clusterRetryStrategy: (times) => (times > 10 ? null : Math.min(100 * times, 1000)),
    // Connect to a node by the name it announces, not the address ioredis would resolve it to: a certificate names the
    // host (external access: <pod>.<domain>, verified), not the load balancer's address.
    dnsLookup: (address, callback) => callback(null, address),
    lazyConnect: true,
    redisOptions: {
      username: s.username,
      password: s.password,
      tls: tlsConnectOptions(s.tls),
      connectTimeout: 3000,
      commandTimeout: s.commandTimeoutMs,
    },
  });
  c.on("error", () => {}); // failures surface on the commands; an unhandled "error" event would only print noise
  return c;
}

const lastErrors = new WeakMap<Redis, Error>();

/** Direct connections to individual nodes, keyed by announced address. */
export class NodePool {
  private readonly conns = new Map<string, Redis>();
  private readonly extra: Redis[] = [];
  /** Connections being opened, by address. */
  private readonly opening = new Map<string, Promise<void>>();
  /** Set by closeAll(): a check that outlived its timeout gets an error instead of a new connection nobody closes. */
  private closed = false;

  constructor(
    private readonly password: string | undefined,
    readonly natMap: NatMapEntries,
    private readonly connectTimeoutMs: number,
    private readonly commandTimeoutMs = 5000,
    private readonly tls?: TlsClientOptions,
    private readonly username?: string,
  ) {}

  /** Where to reach an announced address from here. */
  resolve(addr: string): { host: string; port: number } {
    return this.natMap[addr] ?? parseAddr(addr);
  }

  private make(addr: string, opts: { password?: string | null; commandTimeoutMs?: number | null } = {}): Redis {
    const { host, port } = this.resolve(addr);
    const r = new Redis({
      host,
      port,
      password: opts.password === null ? undefined : (opts.password ?? this.password),
      username: opts.password === null ? undefined : this.username,
      lazyConnect: true,
      tls: tlsConnectOptions(this.tls),
      connectTimeout: this.connectTimeoutMs,
      commandTimeout: opts.commandTimeoutMs === null ? undefined : (opts.commandTimeoutMs ?? this.commandTimeoutMs),
      enableReadyCheck: false,
      enableOfflineQueue: false,
      // RESP2 (no HELLO): an unauthenticated probe gets NOAUTH on its command, and replies keep their RESP2 shapes.
      protocol: 2,
      // No CLIENT SETINFO in the handshake: a frozen node would stall connect() until the command timeout.
      disableClientInfo: true,
      maxRetriesPerRequest: 0,
      // Reconnect when a node restarts, but give up instead of retrying forever.
      retryStrategy: (times) => (times > 100 ? null : 200),
    });
    // The connect promise only says "Connection is closed"; the cause (WRONGPASS, ECONNREFUSED) arrives as an event.
    r.on("error", (e: Error) => lastErrors.set(r, e));
    return r;
  }

  private async open(r: Redis): Promise<void> {
    try {
      await r.connect();
    } catch (e) {
      const cause = lastErrors.get(r);
      r.disconnect();
      throw cause && cause.message !== (e as Error).message ? new Error(`${cause.message}`) : e;
    }
  }

  /** Pooled connection to a node (connects on first use; throws the connect/auth error). */
  async get(addr: string): Promise<Redis> {
    if (this.closed) throw new Error(`connection to ${addr} refused: the smoke run is closed`);
    // A caller arriving while another opens the connection waits for that open: handed the connection before it is
    // ready, its command would fail at once ("Stream isn't writeable": no offline queue).
    const pending = this.opening.get(addr);
    if (pending) {
      await pending;
      return this.get(addr);
    }
    let r = this.conns.get(addr);
    if (!r) {
      r = this.make(addr);
      this.conns.set(addr, r);
    }
    if (r.status === "wait" || r.status === "end" || r.status === "close") {
      const conn = r.status === "wait" ? r : (r.disconnect(), this.make(addr));
      this.conns.set(addr, conn);
      const open = this.open(conn).finally(() => this.opening.delete(addr));
      this.opening.set(addr, open);
      try {
        await open;
      } catch (e) {
        this.conns.delete(addr);
        throw e;
      }
      return conn;
    }
    return r;
  }

  /** A separate connection (own lifetime), e.g. without a password or without a command timeout. */
  async dedicated(addr: string, opts: { password?: string | null; commandTimeoutMs?: number | null } = {}): Promise<Redis> {
    if (this.closed) throw new Error(`connection to ${addr} refused: the smoke run is closed`);
    const r = this.make(addr, opts);
    this.extra.push(r);
    await this.open(r);
    return r;
  }

  closeAll(): void {
    this.closed = true;
    for (const r of [...this.conns.values(), ...this.extra]) r.disconnect();
    this.conns.clear();
    this.extra.length = 0;
  }
}

/** Rejects when `p` does not settle within `ms` (a frozen node accepts TCP connections but never answers). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** Error text without the password (defence in depth: replies never echo it, but messages are printed). */
export function errorText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/\s+/g, " ").trim();
}
