// Pure parsing of CLUSTER NODES / INFO replies and slot-map comparison (no I/O: unit-tested on fixtures).

import { isIP } from "node:net";
import { formatRanges as formatSlotRanges, SLOT_COUNT } from "../infra/plan/scaling";

export { SLOT_COUNT };

export interface NodeLine {
  id: string;
  /** Announced "host:port" ("" for a node without address): the hostname with endpoint "hostname", else the IP. */
  addr: string;
  busPort?: number;
  hostname?: string;
  flags: string[];
  /** Master id for a replica. */
  masterId?: string;
  configEpoch: number;
  linkState: string;
  /** Owned slot ranges, inclusive. */
  slots: [number, number][];
  /** Open slots this node is moving away: `[slot->-id]` markers (only a node's own line carries them). */
  migrating: { slot: number; to: string }[];
  /** Open slots this node is receiving: `[slot-<-id]` markers. */
  importing: { slot: number; from: string }[];
}

/**
 * What the nodes give clients (cluster-preferred-endpoint-type): CLUSTER NODES lists IP and hostname whatever it is,
 * so the endpoint is told apart by a CLUSTER SLOTS reply, whose node entries start with the preferred endpoint.
 */
export function endpointTypeOf(slotsReply: unknown): "ip" | "hostname" {
  const entries = Array.isArray(slotsReply) ? slotsReply.flatMap((r) => (Array.isArray(r) ? r.slice(2) : [])) : [];
  const hosts = entries.map((n) => (Array.isArray(n) ? String(n[0] ?? "") : "")).filter((h) => h !== "" && h !== "?");
  return hosts.some((h) => isIP(h) === 0) ? "hostname" : "ip";
}

/** Parses one CLUSTER NODES reply; `endpoint` "hostname": a node that announces a hostname is addressed by it. */
export function parseClusterNodes(text: string, endpoint: "ip" | "hostname" = "ip"): NodeLine[] {
  const out: NodeLine[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const f = line.split(" ");
    if (f.length < 8) continue;
    const [id, address, flags, master, , , epoch, link, ...slotFields] = f;
    // address: ip:port@cport[,hostname]; IPv6 keeps its colons, the port follows the last one.
    const [hostPort, hostname] = address.split(",", 2);
    const [ipPort, cport] = hostPort.split("@", 2);
    const noAddr = ipPort.startsWith(":") || ipPort === "";
    const slots: [number, number][] = [];
    const migrating: NodeLine["migrating"] = [];
    const importing: NodeLine["importing"] = [];
    for (const s of slotFields) {
      if (s.startsWith("[")) {
        // [slot->-id]: this node migrates the slot to id; [slot-<-id]: it imports the slot from id.
        const open = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/i.exec(s);
        if (open && open[2] === ">") migrating.push({ slot: Number(open[1]), to: open[3] });
        else if (open) importing.push({ slot: Number(open[1]), from: open[3] });
        continue;
      }
      const m = /^(\d+)(?:-(\d+))?$/.exec(s);
      if (m) slots.push([Number(m[1]), Number(m[2] ?? m[1])]);
    }
    const port = ipPort.slice(ipPort.lastIndexOf(":") + 1);
    out.push({
      id,
      addr: noAddr ? "" : endpoint === "hostname" && hostname ? `${hostname}:${port}` : ipPort,
      busPort: cport ? Number(cport) : undefined,
      hostname: hostname || undefined,
      flags: flags.split(","),
      masterId: master === "-" ? undefined : master,
      configEpoch: Number(epoch),
      linkState: link,
      slots,
      migrating,
      importing,
    });
  }
  return out;
}

/** Parses an INFO reply (any sections) into key -> value. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith("#")) continue;
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** INFO replication `slaveN:ip=..,port=..,state=online,offset=..,lag=..` lines of a master. */
export function parseReplicaLines(info: Record<string, string>): { addr: string; state: string; offset: number; lag: number }[] {
  return Object.keys(info)
    .filter((k) => /^slave\d+$/.test(k))
    .map((k) => {
      const kv = Object.fromEntries(info[k].split(",").map((p) => p.split("=", 2) as [string, string]));
      return { addr: `${kv.ip}:${kv.port}`, state: kv.state, offset: Number(kv.offset), lag: Number(kv.lag) };
    });
}

export const isMaster = (n: NodeLine) => n.flags.includes("master");
export const isReplica = (n: NodeLine) => n.flags.includes("slave") || n.flags.includes("replica");
export const isMyself = (n: NodeLine) => n.flags.includes("myself");
/** Flags that mean a node is not a healthy member. */
export const BAD_FLAGS = ["fail", "fail?", "handshake", "noaddr"] as const;
export const badFlags = (n: NodeLine) => n.flags.filter((f) => (BAD_FLAGS as readonly string[]).includes(f));

/** slot -> owner ids in one node's view (normally one owner; more means the view itself is contradictory). */
export function slotOwners(lines: NodeLine[]): string[][] {
  const owners: string[][] = Array.from({ length: SLOT_COUNT }, () => []);
  for (const n of lines) {
    if (!isMaster(n)) continue;
    for (const [a, b] of n.slots) for (let s = a; s <= b && s < SLOT_COUNT; s++) owners[s].push(n.id);
  }
  return owners;
}

/** Compresses slot numbers into "0-99,200,300-310", every range (the scaling plan's formatter, uncut). */
export const formatRanges = (slots: number[]): string => formatSlotRanges(slots, Infinity);

/** Every slot of inclusive ranges, in order. */
export function slotsOf(ranges: [number, number][]): number[] {
  const out: number[] = [];
  for (const [a, b] of ranges) for (let s = a; s <= b; s++) out.push(s);
  return out;
}

export function countSlots(ranges: [number, number][]): number {
  return ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);
}

export interface NodeView {
  /** Reporting node's label ("host:port (id6)"). */
  node: string;
  lines: NodeLine[];
}

export interface SlotMapAnalysis {
  /** Views in which some slots have no owner: ranges per reporting node. */
  uncovered: { ranges: string; count: number; nodes: string[] }[];
  /** Slots claimed by more than one master within one view. */
  duplicated: { ranges: string; node: string; owners: string[] }[];
  /** Slots whose owner differs between views: ranges with who-says-what. */
  disagreements: { ranges: string; count: number; claims: { owner: string; nodes: string[] }[] }[];
}

/**
 * Compares the slot maps of several nodes. `label(id)` names an owner id for messages.
 * Pure, so the failure messages are unit-tested without a cluster.
 */
export function analyzeSlotMaps(views: NodeView[], label: (id: string) => string): SlotMapAnalysis {
  const owners = views.map((v) => slotOwners(v.lines));
  const uncoveredBy = new Map<string, { slots: number[]; nodes: string[] }>();
  const duplicated: SlotMapAnalysis["duplicated"] = [];
  views.forEach((v, i) => {
    const missing: number[] = [];
    const dup: number[] = [];
    const dupOwners = new Set<string>();
    owners[i].forEach((o, s) => {
      if (o.length === 0) missing.push(s);
      if (o.length > 1) {
        dup.push(s);
        o.forEach((x) => dupOwners.add(label(x)));
      }
    });
    if (missing.length > 0) {
      const key = formatRanges(missing);
      const e = uncoveredBy.get(key) ?? { slots: missing, nodes: [] };
      e.nodes.push(v.node);
      uncoveredBy.set(key, e);
    }
    if (dup.length > 0) duplicated.push({ ranges: formatRanges(dup), node: v.node, owners: [...dupOwners] });
  });
  // Disagreement: group consecutive slots with the same "who says what" signature.
  const groups = new Map<string, { slots: number[]; claims: { owner: string; nodes: string[] }[] }>();
  if (views.length > 1) {
    for (let s = 0; s < SLOT_COUNT; s++) {
      const claim = new Map<string, string[]>();
      views.forEach((v, i) => {
        const o = owners[i][s].length ? owners[i][s].map(label).join("+") : "nobody";
        claim.set(o, [...(claim.get(o) ?? []), v.node]);
      });
      if (claim.size <= 1) continue;
      const claims = [...claim.entries()].map(([owner, nodes]) => ({ owner, nodes })).sort((a, b) => a.owner.localeCompare(b.owner));
      const sig = JSON.stringify(claims);
      const g = groups.get(sig) ?? { slots: [], claims };
      g.slots.push(s);
      groups.set(sig, g);
    }
  }
  return {
    uncovered: [...uncoveredBy.entries()].map(([ranges, e]) => ({ ranges, count: e.slots.length, nodes: e.nodes })),
    duplicated,
    disagreements: [...groups.values()].map((g) => ({ ranges: formatRanges(g.slots), count: g.slots.length, claims: g.claims })),
  };
}

/**
 * Open slots (MIGRATING / IMPORTING left set, as `redis-cli --cluster check` reports them), one message per slot:
 * "open slot 100 (A migrating to B; B importing from A)". `label(id)` names a node id.
 */
export function openSlots(views: NodeView[], label: (id: string) => string): { slot: number; message: string }[] {
  const bySlot = new Map<number, Set<string>>();
  const add = (slot: number, what: string) => bySlot.set(slot, (bySlot.get(slot) ?? new Set()).add(what));
  for (const v of views) {
    for (const n of v.lines) {
      for (const m of n.migrating) add(m.slot, `${label(n.id)} migrating to ${label(m.to)}`);
      for (const i of n.importing) add(i.slot, `${label(n.id)} importing from ${label(i.from)}`);
    }
  }
  return [...bySlot.entries()]
    .sort(([a], [b]) => a - b)
    .map(([slot, what]) => ({ slot, message: `open slot ${slot} (${[...what].sort().join("; ")}): finish the resharding or run CLUSTER SETSLOT ${slot} STABLE / redis-cli --cluster fix` }));
}

/** Short label for a node: "host:port (abcdef)". */
export function nodeLabel(addr: string, id?: string): string {
  return id ? `${addr || "?"} (${id.slice(0, 6)})` : addr;
}
