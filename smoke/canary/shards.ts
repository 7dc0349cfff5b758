// The canary's shards: masters owning slots, ordered by their lowest slot (the `shard` label), each with its replicas
// and a hash tag of a slot it owns. Pure (CLUSTER NODES lines in, shards out).
import calculateSlot = require("cluster-key-slot");
import { badFlags, isMaster, type NodeLine } from "../topology";
import { keysPerSlot } from "../load/keys";

export interface Shard {
  /** "0".."N-1": position by lowest slot. */
  label: string;
  masterId: string;
  /** Announced address of the master. */
  master: string;
  /** Announced addresses of its replicas that are not flagged failing. */
  replicas: string[];
  ranges: [number, number][];
  /** A hash tag (without braces) whose slot is the master's lowest slot: the canary's keys stay on this shard. */
  tag: string;
}

export interface Topology {
  shards: Shard[];
  /** Every node with an address (both roles), for the next CLUSTER NODES round. */
  nodes: string[];
  /** Highest config epoch of a slot owner: a view after a failover has a higher one than a view before it. */
  epoch: number;
}

let tags: string[] | undefined;
/** The tag of a slot (computed once for all slots: cluster-key-slot hashes as the servers do). */
export function tagOfSlot(slot: number): string {
  tags ??= keysPerSlot("shard");
  return tags[slot];
}

export function topologyOf(lines: NodeLine[]): Topology {
  const owners = lines.filter((n) => isMaster(n) && n.slots.length > 0 && n.addr !== "");
  owners.sort((a, b) => Math.min(...a.slots.map((r) => r[0])) - Math.min(...b.slots.map((r) => r[0])));
  const shards = owners.map((m, i) => {
    const lowest = Math.min(...m.slots.map((r) => r[0]));
    return {
      label: String(i),
      masterId: m.id,
      master: m.addr,
      replicas: lines.filter((r) => r.masterId === m.id && r.addr !== "" && badFlags(r).length === 0).map((r) => r.addr).sort(),
      ranges: [...m.slots].sort((a, b) => a[0] - b[0]),
      tag: tagOfSlot(lowest),
    };
  });
  return {
    shards,
    nodes: [...new Set(lines.filter((n) => n.addr !== "").map((n) => n.addr))].sort(),
    epoch: Math.max(0, ...owners.map((m) => m.configEpoch)),
  };
}

/** The freshest of several nodes' views: highest epoch, then most slots owned (a view missing owners is partial). */
export function pickView(views: Topology[]): Topology | undefined {
  const slots = (t: Topology) => t.shards.reduce((n, s) => n + s.ranges.reduce((m, [a, b]) => m + b - a + 1, 0), 0);
  let best: Topology | undefined;
  for (const v of views) if (!best || v.epoch > best.epoch || (v.epoch === best.epoch && slots(v) > slots(best))) best = v;
  return best;
}

/** What the shard label and the metrics care about: which master owns which slots. */
export const mastersKey = (t: Topology): string => t.shards.map((s) => `${s.masterId}@${s.master}:${s.ranges.map((r) => r.join("-")).join(",")}`).join(" ");

/** The shard owning a key's slot, if any. */
export function shardOfKey(t: Topology, key: string): Shard | undefined {
  const slot = calculateSlot(key);
  return t.shards.find((s) => s.ranges.some(([a, b]) => a <= slot && slot <= b));
}

/** One line for the log: "0=host:port(+1 replica) 1=…". */
export const describeTopology = (t: Topology): string =>
  t.shards.map((s) => `${s.label}=${s.master}[${s.ranges.map((r) => (r[0] === r[1] ? r[0] : r.join("-"))).join(",")}](${s.replicas.length} replica${s.replicas.length === 1 ? "" : "s"})`).join(" ");
