// The live cluster as its members report it: one connection per node, every node's CLUSTER NODES and CLUSTER INFO
// read into LiveNodes (each node's own line is the authority on its role, slots and open slots), the planned nodes
// matched to members by address, IP or announced hostname, and the planner's input (NodeState) drawn from that.
import { lookup } from "node:dns/promises";
import { Redis } from "ioredis";
import { withTimeout } from "../../smoke/clients";
import { tlsConnectOptions } from "../../smoke/tls";
import { countSlots, isMyself, parseClusterNodes, parseInfo, slotsOf, type NodeLine } from "../../smoke/topology";
import type { NodeState } from "../plan/scaling";
import type { ScaleOptions } from "./options";

export interface LiveNode {
  id: string;
  /** Announced "ip:port". */
  addr: string;
  hostname?: string;
  name: string;
  flags: string[];
  role: "master" | "replica";
  masterId?: string;
  slots: number[];
  migrating: Map<number, string>;
  importing: Map<number, string>;
  /** Ids this node knows (its view). */
  knows: Set<string>;
  /** Bad flags it sees on others. */
  sees: { id: string; flags: string }[];
  info: Record<string, string>;
}

export interface Survey {
  members: LiveNode[];
  /** Planned addresses that answered but are not members (empty or foreign). */
  outsiders: { planned: string; known: number; slots: number; keys: number }[];
  /** Planned addresses that did not answer. */
  unreachable: string[];
}

export function parseAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

/** The planner's input: members by name (planned names where planned). */
export function nodeStates(s: Survey): NodeState[] {
  const byId = new Map(s.members.map((m) => [m.id, m]));
  return s.members.map((m) => ({ name: m.name, role: m.role, master: m.masterId ? byId.get(m.masterId)?.name : undefined, slots: m.slots }));
}

type Reach = Pick<ScaleOptions, "nodes" | "names" | "password" | "username" | "tls" | "natMap">;

export class LiveCluster {
  private readonly conns = new Map<string, Redis>();
  /** Planned address -> its "ip:port" once resolvable. */
  private readonly plannedIps = new Map<string, string>();

  constructor(private readonly o: Reach) {}

  /** Display name of planned node i. */
  name(i: number): string {
    return this.o.names?.[i] ?? this.o.nodes[i];
  }

  /** The planned node's "ip:port", if its name resolved. */
  plannedIp(planned: string): string | undefined {
    return this.plannedIps.get(planned);
  }

  conn(addr: string): Redis {
    let c = this.conns.get(addr);
    if (!c) {
      const { host, port } = this.o.natMap?.[addr] ?? parseAddr(addr);
      const tls = tlsConnectOptions(this.o.tls);
      c = new Redis({
        host, port, password: this.o.password, username: this.o.username, tls,
        lazyConnect: false, connectTimeout: 3000, commandTimeout: 15_000, maxRetriesPerRequest: 1, enableReadyCheck: false,
        protocol: 2, disableClientInfo: true,
        retryStrategy: (t) => (t > 20 ? null : 250),
      });
      c.on("error", () => {}); // surfaced by the commands
      this.conns.set(addr, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.conns.values()) c.disconnect();
    this.conns.clear();
  }

  /** A read for the survey, bounded (a frozen node accepts the connection and never answers). */
  private async ask(addr: string, ...args: string[]): Promise<string> {
    return String(await withTimeout(this.conn(addr).call(args[0], ...args.slice(1)), 3000, `${addr} ${args.join(" ")}`));
  }

  nodesView(addr: string): Promise<string> {
    return this.ask(addr, "CLUSTER", "NODES");
  }

  private async clusterInfo(addr: string): Promise<Record<string, string>> {
    return parseInfo(await this.ask(addr, "CLUSTER", "INFO"));
  }

  /** The cluster as its members report it (each node's own line is the authority on its role, slots and open slots). */
  async survey(): Promise<Survey> {
    // Planned names may be DNS names (Kubernetes): CLUSTER NODES shows IPs (and the announced hostname).
    for (const a of this.o.nodes) {
      if (this.plannedIps.has(a)) continue;
      const { host, port } = parseAddr(a);
      try {
        const ip = /^[\d.]+$/.test(host) ? host : (await lookup(host, { family: 4 })).address;
        this.plannedIps.set(a, `${ip}:${port}`);
      } catch {
        /* not resolvable yet (a pod that does not exist yet) */
      }
    }
    const unreachable: string[] = [];
    const outsiders: Survey["outsiders"] = [];
    const members = new Map<string, LiveNode>();
    const toVisit: string[] = [];
    for (const a of this.o.nodes) {
      try {
        const view = await this.nodesView(a);
        const info = await this.clusterInfo(a);
        const myself = parseClusterNodes(view).find(isMyself);
        const slots = myself ? countSlots(myself.slots) : 0;
        const known = Number(info.cluster_known_nodes);
        if (known <= 1 && slots === 0) {
          outsiders.push({ planned: a, known, slots, keys: Number(await this.ask(a, "DBSIZE")) });
        } else {
          toVisit.push(a);
        }
      } catch {
        unreachable.push(a);
      }
    }
    // Members: every node known by a visited planned node (removed nodes are not planned, so found through the views).
    const seen = new Set<string>();
    while (toVisit.length) {
      const a = toVisit.shift()!;
      if (seen.has(a)) continue;
      seen.add(a);
      let view: string;
      let info: Record<string, string>;
      try {
        view = await this.nodesView(a);
        info = await this.clusterInfo(a);
      } catch (e) {
        unreachable.push(a);
        continue;
      }
      const lines = parseClusterNodes(view);
      const node = this.liveNode(lines.find(isMyself)!, info);
      node.knows = new Set(lines.map((n) => n.id));
      node.sees = lines.filter((n) => /fail|handshake|noaddr/.test(n.flags.join(","))).map((n) => ({ id: n.id, flags: n.flags.join(",") }));
      members.set(node.id, node);
      for (const n of lines) {
        if (!seen.has(n.addr) && !unreachable.includes(n.addr) && !isMyself(n) && !/noaddr|handshake/.test(n.flags.join(","))) toVisit.push(n.addr);
      }
    }
    // Planned outsiders that members already know (a MEET in flight) are members-to-be, not outsiders.
    return { members: [...members.values()], outsiders, unreachable: unreachable.filter((u) => !this.memberAt([...members.values()], u)) };
  }

  /** The member a planned address names (by address, resolved IP or announced hostname). */
  memberAt(members: LiveNode[], planned: string): LiveNode | undefined {
    const ip = this.plannedIps.get(planned);
    const { host, port } = parseAddr(planned);
    return members.find((m) => m.addr === planned || m.addr === ip || (m.hostname && `${m.hostname}:${port}` === `${host}:${port}`));
  }

  private liveNode(n: NodeLine, info: Record<string, string>): LiveNode {
    const { addr, hostname } = n;
    const node: LiveNode = {
      id: n.id, addr, hostname, name: addr, flags: n.flags, role: n.flags.includes("slave") ? "replica" : "master", masterId: n.masterId,
      slots: slotsOf(n.slots), migrating: new Map(n.migrating.map((m) => [m.slot, m.to])), importing: new Map(n.importing.map((m) => [m.slot, m.from])),
      knows: new Set(), sees: [], info,
    };
    const i = this.o.nodes.findIndex((p) => {
      const { host, port } = parseAddr(p);
      return p === addr || this.plannedIps.get(p) === addr || (hostname && `${hostname}:${port}` === `${host}:${port}`);
    });
    node.name = i >= 0 ? this.name(i) : hostname ? `${hostname}:${parseAddr(addr).port}` : addr;
    return node;
  }

  /** Whether every node's CLUSTER NODES shows the same owner for every slot as the owners' own lines. */
  async slotViewsAgree(t: Survey): Promise<boolean> {
    const owner = new Map<number, string>();
    for (const m of t.members) for (const x of m.slots) if (m.role === "master") owner.set(x, m.id);
    for (const m of t.members) {
      const view = await this.nodesView(m.addr);
      for (const n of parseClusterNodes(view)) for (const x of slotsOf(n.slots)) if (owner.get(x) !== n.id) return false;
    }
    return true;
  }

  /** A replica's master_link_status ("none" on a master, "unreachable" when it does not answer). */
  async linkStatus(addr: string): Promise<string> {
    try {
      return parseInfo(String(await this.conn(addr).info("replication"))).master_link_status ?? "none";
    } catch {
      return "unreachable";
    }
  }
}
