// The scale step: brings a healthy cluster to the planned topology (infra/plan/scaling.ts decides, this executes).
// Every step is recomputed from the live cluster, so a run killed at any point is finished by the next one: open slots
// are completed forward (all keys to the importing side, then SETSLOT NODE), joined nodes are not joined twice, a
// half-done FORGET is done again. It never runs CLUSTER RESET, FLUSHALL/FLUSHDB or SHUTDOWN; anything it cannot do
// safely is refused before the first change (exit 2) or reported with what is left (exit 3).
import { readFileSync } from "node:fs";
import { lookup } from "node:dns/promises";
import { Redis } from "ioredis";
import { tlsConnectOptions, tlsFromEnv } from "../../smoke/tls";
import type { TlsClientOptions } from "../../smoke/types";
import { decideScaling, describeDecision, formatRanges, parseSlotTokens, planSlotMoves, SLOT_COUNT, type NodeState, type ScalingDecision } from "../plan/scaling";

export type Phase = "in" | "out" | "all";

export interface ScaleOptions {
  /** Planned nodes ("host:port" as announced or resolvable), ordinal order. */
  nodes: string[];
  /** Display names of the planned nodes (default: the addresses). */
  names?: string[];
  masters: number;
  replicasPerMaster: number;
  /** in: only what must happen before nodes are removed; out: only what needs the new nodes; all: both. */
  phase?: Phase;
  password?: string;
  username?: string;
  /** PEM text (smoke/tls.ts reads it from REDIS_TLS_*_FILE or REDIS_TLS_*_PEM; REDIS_TLS_VERIFY_HOSTNAME=no: chain only). */
  tls?: TlsClientOptions;
  /** Announced "ip:port" -> where this process reaches it (Docker host). */
  natMap?: Record<string, { host: string; port: number }>;
  /** Keys per MIGRATE (default 100). */
  batchKeys?: number;
  /** Slots open (importing/migrating) at once (default 32). */
  slotGroup?: number;
  /** Pause after each MIGRATE batch (default 0). */
  pauseMs?: number;
  /** cluster-node-timeout of the cluster (bounds failover waits). Default 5000. */
  nodeTimeoutMs?: number;
  /** How long an unhealthy-looking cluster may take to settle before the run refuses (default 15 s). */
  settleMs?: number;
  /** Bound of the whole run (default 30 min). */
  timeoutMs?: number;
  /** Print the plan and change nothing. */
  dryRun?: boolean;
  log?: (line: string) => void;
  /** Test hook: called after each slot is moved (e.g. to kill the run mid-migration). */
  onSlotMoved?: (movedSoFar: number) => void | Promise<void>;
}

export interface ScaleResult {
  /** 0 done (or nothing to do), 2 refused (nothing changed), 3 failed part-way (`left` says what remains). */
  code: 0 | 2 | 3;
  message: string;
  plan: string[];
  slotsMoved: number;
  keysMoved: number;
  ms: number;
  left?: string[];
}

export class ScaleRefused extends Error {}

interface LiveNode {
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

interface Survey {
  members: LiveNode[];
  /** Planned addresses that answered but are not members (empty or foreign). */
  outsiders: { planned: string; known: number; slots: number; keys: number }[];
  /** Planned addresses that did not answer. */
  unreachable: string[];
}

const ownersOf = (s: Survey) => Object.fromEntries(s.members.filter((m) => m.role === "master" && m.slots.length).map((m) => [m.name, m.slots]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fields = (text: string) =>
  Object.fromEntries(text.split(/\r?\n/).filter((l) => l.includes(":")).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]));

function parseAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

export class Scaler {
  private readonly conns = new Map<string, Redis>();
  private readonly log: (l: string) => void;
  private readonly deadline: number;
  private slotsMoved = 0;
  private keysMoved = 0;
  private readonly started = Date.now();
  private plannedIps = new Map<string, string>();

  constructor(private readonly o: ScaleOptions) {
    this.log = o.log ?? ((l) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} scale: ${l}\n`));
    this.deadline = Date.now() + (o.timeoutMs ?? 30 * 60_000);
  }

  private name(i: number) {
    return this.o.names?.[i] ?? this.o.nodes[i];
  }

  private conn(addr: string): Redis {
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
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${addr} did not answer ${args.join(" ")} within 3 s`)), 3000);
    });
    try {
      return String(await Promise.race([this.conn(addr).call(args[0], ...args.slice(1)), bound]));
    } finally {
      clearTimeout(timer);
    }
  }

  private async nodesView(addr: string): Promise<string> {
    return this.ask(addr, "CLUSTER", "NODES");
  }

  /** The cluster as its members report it (each node's own line is the authority on its role, slots and open slots). */
  async survey(): Promise<Survey> {
    const plannedByAddr = new Map<string, number>();
    this.o.nodes.forEach((a, i) => plannedByAddr.set(a, i));
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
        const info = fields(await this.ask(a, "CLUSTER", "INFO"));
        const myself = view.split("\n").find((l) => l.includes("myself"));
        const slots = myself ? parseSlotTokens(myself.trim().split(" ").slice(8)).length : 0;
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
        info = fields(await this.ask(a, "CLUSTER", "INFO"));
      } catch (e) {
        unreachable.push(a);
        continue;
      }
      const lines = view.trim().split("\n").map((l) => l.trim().split(" "));
      const me = lines.find((f) => f[2].includes("myself"))!;
      const node = this.parseLine(me, info);
      node.knows = new Set(lines.map((f) => f[0]));
      node.sees = lines.filter((f) => /fail|handshake|noaddr/.test(f[2])).map((f) => ({ id: f[0], flags: f[2] }));
      members.set(node.id, node);
      for (const f of lines) {
        const addr = f[1].split("@")[0];
        if (!seen.has(addr) && !unreachable.includes(addr) && !f[2].includes("myself") && !/noaddr|handshake/.test(f[2])) toVisit.push(addr);
      }
    }
    // Planned outsiders that members already know (a MEET in flight) are members-to-be, not outsiders.
    return { members: [...members.values()], outsiders, unreachable: unreachable.filter((u) => !this.memberAt([...members.values()], u)) };
  }

  private memberAt(members: LiveNode[], planned: string): LiveNode | undefined {
    const ip = this.plannedIps.get(planned);
    const { host, port } = parseAddr(planned);
    return members.find((m) => m.addr === planned || m.addr === ip || (m.hostname && `${m.hostname}:${port}` === `${host}:${port}`));
  }

  private parseLine(f: string[], info: Record<string, string>): LiveNode {
    const [addrPart, hostname] = f[1].split(",");
    const addr = addrPart.split("@")[0];
    const migrating = new Map<number, string>();
    const importing = new Map<number, string>();
    for (const t of f.slice(8)) {
      const m = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(t);
      if (m) (m[2] === ">" ? migrating : importing).set(Number(m[1]), m[3]);
    }
    const node: LiveNode = {
      id: f[0], addr, hostname: hostname || undefined, name: addr, flags: f[2].split(","),
      role: f[2].includes("slave") ? "replica" : "master", masterId: f[3] === "-" ? undefined : f[3],
      slots: parseSlotTokens(f.slice(8)), migrating, importing, knows: new Set(), sees: [], info,
    };
    const i = this.o.nodes.findIndex((p) => {
      const { host, port } = parseAddr(p);
      return p === addr || this.plannedIps.get(p) === addr || (hostname && `${hostname}:${port}` === `${host}:${port}`);
    });
    node.name = i >= 0 ? this.name(i) : hostname ? `${hostname}:${parseAddr(addr).port}` : addr;
    return node;
  }

  private plannedMember(s: Survey, i: number): LiveNode | undefined {
    return this.memberAt(s.members, this.o.nodes[i]);
  }

  /** The planner's input: members by name (planned names where planned). */
  private state(s: Survey): NodeState[] {
    const byId = new Map(s.members.map((m) => [m.id, m]));
    return s.members.map((m) => ({ name: m.name, role: m.role, master: m.masterId ? byId.get(m.masterId)?.name : undefined, slots: m.slots }));
  }

  private decide(s: Survey): ScalingDecision {
    const names = this.o.nodes.map((_, i) => this.name(i));
    return decideScaling(this.state(s), names, this.o.masters, this.o.replicasPerMaster);
  }

  /** What is wrong with the cluster for a scale step to start (empty: healthy). */
  healthProblems(s: Survey, phase: Phase): string[] {
    const p: string[] = [];
    const ids = new Set(s.members.map((m) => m.id));
    for (const u of s.unreachable) {
      // In phase "in", planned nodes that do not exist yet (pods created after this step) are expected.
      if (phase !== "in") p.push(`${u} does not answer`);
    }
    for (const m of s.members) {
      if (m.info.cluster_state !== "ok") p.push(`${m.name}: cluster_state:${m.info.cluster_state}`);
      for (const x of m.sees) p.push(`${m.name} sees ${x.id.slice(0, 8)} flagged ${x.flags}`);
      for (const k of m.knows) if (!ids.has(k)) p.push(`${m.name} knows ${k.slice(0, 8)}, which no member answers for`);
      if (m.role === "replica" && m.info.cluster_state === "ok") {
        const masterKnown = m.masterId && ids.has(m.masterId);
        if (!masterKnown) p.push(`${m.name} replicates ${m.masterId}, which is not a member`);
      }
    }
    const owners = new Array<number>(SLOT_COUNT).fill(0);
    for (const m of s.members) if (m.role === "master") for (const x of m.slots) owners[x]++;
    const missing = owners.filter((c) => c === 0).length;
    const twice = owners.filter((c) => c > 1).length;
    if (missing) p.push(`${missing} slots are served by no member`);
    if (twice) p.push(`${twice} slots are claimed by two members`);
    // Open slots are finished by this step only when both sides are members that answer.
    for (const m of s.members) {
      for (const [slot, other] of [...m.migrating, ...m.importing]) {
        if (!ids.has(other)) p.push(`slot ${slot} is open on ${m.name} towards ${other.slice(0, 8)}, which is not a member: fix by hand (docs/runbooks.md)`);
      }
    }
    // Every member must belong to the one cluster: a planned node that knows other nodes but is unknown to the cluster
    // (a former member back with its old nodes.conf, or another cluster) is never merged in.
    const core = s.members.find((m) => m.slots.length && this.o.nodes.some((p) => this.memberAt([m], p)));
    if (core) {
      for (const m of s.members) {
        if (!core.knows.has(m.id) && !s.members.some((x) => x.id !== m.id && core.knows.has(x.id) && x.knows.has(m.id))) {
          p.push(`${m.name} knows ${m.knows.size} nodes but no member knows it (a former member with its old nodes.conf, or another cluster): delete its data volume (docs/runbooks.md, Scale out) or fix by hand`);
        }
      }
    }
    for (const o of s.outsiders) {
      if (o.keys > 0 || o.slots > 0) p.push(`${o.planned} is not a member but holds ${o.keys} keys / ${o.slots} slots: refusing to add a node with data`);
    }
    return p;
  }

  private async refreshUntilHealthy(phase: Phase, first: Survey): Promise<Survey> {
    const until = Date.now() + (this.o.settleMs ?? 15_000);
    for (let i = 0; ; i++) {
      const s = i === 0 ? first : await this.survey();
      const p = this.healthProblems(s, phase);
      if (!p.length) return s;
      if (Date.now() >= until || i > 200) throw new ScaleRefused(`the cluster is not healthy, nothing was changed:\n  ${p.join("\n  ")}`);
      await sleep(500);
    }
  }

  private checkTime(what: string) {
    if (Date.now() > this.deadline) throw new Error(`timed out (${this.o.timeoutMs ?? 1_800_000} ms) while ${what}`);
  }

  async run(): Promise<ScaleResult> {
    const phase = this.o.phase ?? "all";
    let plan: string[] = [];
    try {
      const first = await this.survey();
      // Phase in runs before new pods exist (first deploy: none answers yet); later phases need every planned node.
      if (phase !== "in" && !first.members.length && first.unreachable.length) {
        throw new ScaleRefused(`no planned node answers (${first.unreachable.join(", ")}): check the address, password, TLS settings; nothing was changed`);
      }
      if (!first.members.some((m) => m.slots.length)) {
        return this.result(0, "the cluster is not formed yet: nothing to scale (the bootstrap forms it)", plan);
      }
      // Phase in only removes (forget, fail over, drain): with nothing to remove it changes nothing and judges nothing,
      // so a cluster the bootstrap must diagnose (partial, foreign) reaches the bootstrap's refusal unchanged.
      if (phase === "in") {
        const pre = this.decide(first);
        if (!pre.remove.length && !pre.drain.length && !pre.failovers.length) {
          return this.result(0, "phase in: no node to remove or drain", describeDecision(pre));
        }
      }
      const s = await this.refreshUntilHealthy(phase, first);
      const d = this.decide(s);
      plan = describeDecision(d);
      if (d.problems.length) throw new ScaleRefused(`the planned topology cannot be reached, nothing was changed:\n  ${d.problems.join("\n  ")}`);
      const open = s.members.reduce((n, m) => n + m.migrating.size + m.importing.size, 0);
      this.log(`plan (${phase}${open ? `, ${open} open slot states to finish first` : ""}):`);
      for (const l of plan) this.log(`  ${l}`);
      if (this.o.dryRun) return this.result(0, "dry run: nothing changed", plan);

      await this.finishOpenSlots(await this.survey());
      if (phase !== "in") await this.join();
      if (phase !== "out") {
        await this.forget("replicas");
        await this.failovers();
        await this.moveSlots(true);
        await this.attach(true);
        await this.forget("all");
      }
      if (phase !== "in") {
        await this.moveSlots(false);
        await this.attach(false);
      }
      const left = await this.remaining(phase);
      if (left.length) return this.result(3, `not finished; left:\n  ${left.join("\n  ")}`, plan, left);
      return this.result(0, `done: ${this.o.masters} masters x ${this.o.replicasPerMaster} replicas${phase === "all" ? "" : ` (phase ${phase})`}`, plan);
    } catch (e) {
      if (e instanceof ScaleRefused) return this.result(2, e.message, plan);
      let left: string[] = [];
      try {
        left = await this.remaining(phase);
      } catch {
        left = ["(the cluster could not be surveyed)"];
      }
      return this.result(3, `failed: ${(e as Error).message}; re-run the scale step to finish. Left:\n  ${left.join("\n  ")}`, plan, left);
    } finally {
      this.close();
    }
  }

  private result(code: ScaleResult["code"], message: string, plan: string[], left?: string[]): ScaleResult {
    const r: ScaleResult = { code, message, plan, slotsMoved: this.slotsMoved, keysMoved: this.keysMoved, ms: Date.now() - this.started, left };
    this.log(`${message} (${this.slotsMoved} slots, ${this.keysMoved} keys moved in ${(r.ms / 1000).toFixed(1)} s)`);
    return r;
  }

  /** What a re-run would still do (empty: the cluster is as planned for this phase). */
  async remaining(phase: Phase): Promise<string[]> {
    const s = await this.survey();
    const d = this.decide(s);
    const left = s.members
      .filter((m) => m.migrating.size + m.importing.size)
      .map((m) => `${m.migrating.size + m.importing.size} open slot(s) on ${m.name}: ${formatRanges([...m.migrating.keys(), ...m.importing.keys()])}`);
    const existing = new Set(s.members.map((m) => m.name));
    if (phase !== "out") {
      if (d.remove.length) left.push(`forget ${d.remove.join(", ")}`);
      for (const f of d.failovers) left.push(`fail over ${f.from} to ${f.to}`);
      const drains = d.moves.filter((m) => d.drain.includes(m.from) && existing.has(m.to));
      if (drains.length) left.push(`${drains.reduce((n, m) => n + m.slots.length, 0)} slots to move off ${[...new Set(drains.map((m) => m.from))].join(", ")}`);
    }
    if (phase !== "in") {
      if (d.join.length) left.push(`join ${d.join.join(", ")}`);
      if (d.moves.length) left.push(`${d.moves.reduce((n, m) => n + m.slots.length, 0)} slots to move`);
      if (d.attach.length) left.push(`attach ${d.attach.map((a) => `${a.replica} -> ${a.master}`).join(", ")}`);
      if (!d.join.length && !d.attach.length) {
        for (const m of s.members) {
          if (m.role === "replica" && m.info && (await this.linkStatus(m.addr)) !== "up") left.push(`${m.name}: master link not up`);
        }
      }
    }
    return left;
  }

  private async linkStatus(addr: string): Promise<string> {
    try {
      return fields(String(await this.conn(addr).info("replication"))).master_link_status ?? "none";
    } catch {
      return "unreachable";
    }
  }

  // --- join ---------------------------------------------------------------------------------------------------
  private async join(): Promise<void> {
    const s = await this.survey();
    const d = this.decide(s);
    if (!d.join.length) return;
    const seed = s.members.find((m) => m.role === "master" && m.slots.length)!;
    for (const name of d.join) {
      const i = this.o.nodes.findIndex((_, j) => this.name(j) === name);
      const ip = this.plannedIps.get(this.o.nodes[i]);
      if (!ip) throw new Error(`cannot resolve ${this.o.nodes[i]} for CLUSTER MEET`);
      const { host, port } = parseAddr(ip);
      await this.conn(seed.addr).call("CLUSTER", "MEET", host, String(port));
      this.log(`CLUSTER MEET ${name} (${ip}) via ${seed.name}`);
    }
    // Every node must know every other before slots move to the new ones.
    await this.waitFor("every node to know every other", async () => {
      const t = await this.survey();
      const ids = new Set(t.members.map((m) => m.id));
      // A node that just joined answers CLUSTERDOWN (and refuses RESTORE-ASKING) until it sees the slots covered.
      return t.outsiders.length === 0 && t.members.every((m) => m.knows.size === ids.size && !m.sees.length && m.info.cluster_state === "ok");
    });
  }

  // --- forget -------------------------------------------------------------------------------------------------
  private async forget(which: "replicas" | "all"): Promise<void> {
    const s = await this.survey();
    const d = this.decide(s);
    const gone = s.members.filter((m) => d.remove.includes(m.name) && (which === "all" || m.role === "replica"));
    if (!gone.length) return;
    for (const g of gone) {
      if (which === "all" && g.slots.length) throw new Error(`${g.name} still serves ${g.slots.length} slots; not forgetting it`);
      if (s.members.some((m) => m.masterId === g.id && !d.remove.includes(m.name))) throw new Error(`kept replicas still follow ${g.name}; not forgetting it`);
    }
    const goneIds = new Set(gone.map((g) => g.id));
    // Within FORGET's 60 s ban every node must drop it, or gossip brings it back: one quick pass over all nodes.
    for (const m of s.members) {
      if (goneIds.has(m.id)) continue;
      for (const g of gone) {
        try {
          await this.conn(m.addr).call("CLUSTER", "FORGET", g.id);
        } catch (e) {
          if (!/Unknown node/i.test((e as Error).message)) throw new Error(`CLUSTER FORGET ${g.name} on ${m.name}: ${(e as Error).message}`);
        }
      }
    }
    this.log(`forgotten on every node: ${gone.map((g) => g.name).join(", ")} (they can be stopped now)`);
  }

  // --- failover -----------------------------------------------------------------------------------------------
  private async failovers(): Promise<void> {
    const s = await this.survey();
    const d = this.decide(s);
    for (const f of d.failovers) {
      const heir = s.members.find((m) => m.name === f.to)!;
      const old = s.members.find((m) => m.name === f.from)!;
      const timeout = Math.max(10_000, 4 * (this.o.nodeTimeoutMs ?? 5000));
      for (let attempt = 1; ; attempt++) {
        this.log(`CLUSTER FAILOVER on ${heir.name} (takes over from ${old.name}, attempt ${attempt})`);
        await this.conn(heir.addr).call("CLUSTER", "FAILOVER");
        // The OK only means "started": a manual failover can time out silently. Check the roles everywhere.
        const ok = await this.waitFor(`${heir.name} to be master everywhere`, async () => {
          const t = await this.survey();
          const h = t.members.find((m) => m.id === heir.id);
          const o = t.members.find((m) => m.id === old.id);
          return !!h && h.role === "master" && h.slots.length > 0 && (!o || o.role === "replica");
        }, timeout, false);
        if (ok) break;
        if (attempt >= 3) throw new Error(`${heir.name} did not take over from ${old.name} after 3 manual failovers`);
        await sleep(2 * (this.o.nodeTimeoutMs ?? 5000));
      }
    }
  }

  // --- slots --------------------------------------------------------------------------------------------------
  private async finishOpenSlots(s: Survey): Promise<void> {
    const byId = new Map(s.members.map((m) => [m.id, m]));
    const pairs = new Map<number, { src?: LiveNode; dst?: LiveNode }>();
    for (const m of s.members) {
      for (const [slot, dst] of m.migrating) pairs.set(slot, { ...pairs.get(slot), src: m, dst: pairs.get(slot)?.dst ?? byId.get(dst) });
      for (const [slot, src] of m.importing) pairs.set(slot, { ...pairs.get(slot), dst: m, src: pairs.get(slot)?.src ?? byId.get(src) });
    }
    if (!pairs.size) return;
    this.log(`finishing ${pairs.size} open slot(s) left by an interrupted run: keys to the importing side, then SETSLOT NODE`);
    for (const [slot, { src, dst }] of pairs) {
      if (!src || !dst) throw new Error(`slot ${slot}: open towards a node that is not a member`);
      await this.moveKeys(src, dst, [slot]);
      await this.closeSlot(s, slot, dst, src);
      this.slotsMoved++;
    }
  }

  private async moveSlots(drainsOnly: boolean): Promise<void> {
    const s = await this.survey();
    const d = this.decide(s);
    const members = new Map(s.members.map((m) => [m.name, m]));
    // Phase in: the drained masters' slots go to the final masters that exist now (new ones join in phase out).
    let moves = drainsOnly
      ? planSlotMoves(ownersOf(s), d.finalMasters.filter((f) => members.has(f))).filter((m) => d.drain.includes(m.from))
      : d.moves.filter((m) => members.has(m.to));
    const total = moves.reduce((n, m) => n + m.slots.length, 0);
    if (!total) return;
    const t0 = Date.now();
    let done = 0;
    let lastLog = 0;
    const group = Math.max(1, this.o.slotGroup ?? 32);
    for (const mv of moves) {
      const src = members.get(mv.from)!;
      const dst = members.get(mv.to)!;
      this.log(`moving ${mv.slots.length} slots ${src.name} -> ${dst.name}`);
      for (let i = 0; i < mv.slots.length; i += group) {
        this.checkTime("moving slots");
        const slots = mv.slots.slice(i, i + group);
        await this.openSlots(src, dst, slots);
        await this.moveKeys(src, dst, slots);
        await this.o.onSlotMoved?.(this.slotsMoved + slots.length);
        await this.closeSlots(s, slots, dst, src);
        this.slotsMoved += slots.length;
        done += slots.length;
        if (Date.now() - lastLog > 2000 || done === total) {
          lastLog = Date.now();
          const el = (Date.now() - t0) / 1000;
          const eta = done ? (el / done) * (total - done) : 0;
          this.log(`progress: ${done}/${total} slots, ${this.keysMoved} keys moved, ${el.toFixed(1)} s elapsed, ~${eta.toFixed(0)} s left`);
        }
      }
    }
    await this.waitFor("every node to agree on the slot owners", async () => {
      const t = await this.survey();
      return this.slotViewsAgree(t);
    });
  }

  private async slotViewsAgree(t: Survey): Promise<boolean> {
    // Each node's CLUSTER NODES must show the same owner for every slot as the owners' own lines.
    const owner = new Map<number, string>();
    for (const m of t.members) for (const x of m.slots) if (m.role === "master") owner.set(x, m.id);
    for (const m of t.members) {
      const view = await this.nodesView(m.addr);
      for (const l of view.trim().split("\n")) {
        const f = l.trim().split(" ");
        for (const x of parseSlotTokens(f.slice(8))) if (owner.get(x) !== f[0]) return false;
      }
    }
    return true;
  }

  private async openSlots(src: LiveNode, dst: LiveNode, slots: number[]): Promise<void> {
    const p1 = this.conn(dst.addr).pipeline();
    for (const x of slots) p1.call("CLUSTER", "SETSLOT", String(x), "IMPORTING", src.id);
    for (const [, [err]] of (await p1.exec())!.entries()) if (err && !/already the owner/i.test(err.message)) throw new Error(`SETSLOT IMPORTING on ${dst.name}: ${err.message}`);
    const p2 = this.conn(src.addr).pipeline();
    for (const x of slots) p2.call("CLUSTER", "SETSLOT", String(x), "MIGRATING", dst.id);
    for (const [, [err]] of (await p2.exec())!.entries()) if (err) throw new Error(`SETSLOT MIGRATING on ${src.name}: ${err.message}`);
  }

  /** Moves every key of `slots` from src to dst: GETKEYSINSLOT for the group in one pipeline, MIGRATE in batches. */
  private async moveKeys(src: LiveNode, dst: LiveNode, slots: number[]): Promise<void> {
    const batch = Math.max(1, this.o.batchKeys ?? 100);
    const { host, port } = parseAddr(dst.addr);
    const auth = this.o.password ? (this.o.username ? ["AUTH2", this.o.username, this.o.password] : ["AUTH", this.o.password]) : [];
    let pending = [...slots];
    for (let round = 0; pending.length && round < 1_000_000; round++) {
      this.checkTime(`moving the keys of slots ${formatRanges(pending)}`);
      const p = this.conn(src.addr).pipeline();
      for (const x of pending) p.callBuffer("CLUSTER", "GETKEYSINSLOT", String(x), String(batch));
      const res = (await p.exec())!;
      // MIGRATE takes keys of one slot: one MIGRATE per slot, all of them in one pipeline.
      const perSlot: { slot: number; keys: Buffer[] }[] = [];
      res.forEach(([err, k], i) => {
        if (err) throw new Error(`GETKEYSINSLOT ${pending[i]} on ${src.name}: ${err.message}`);
        if ((k as Buffer[]).length) perSlot.push({ slot: pending[i], keys: k as Buffer[] });
      });
      pending = perSlot.map((x) => x.slot);
      if (!perSlot.length) break;
      const migrate = (keys: Buffer[], replace: boolean) =>
        ["MIGRATE", host, String(port), "", "0", "10000", ...(replace ? ["REPLACE"] : []), ...auth, "KEYS", ...keys] as (string | Buffer)[];
      const mp = this.conn(src.addr).pipeline();
      for (const x of perSlot) mp.call(...(migrate(x.keys, false) as [string, ...(string | Buffer)[]]));
      const out = (await mp.exec())!;
      for (const [i, [err]] of out.entries()) {
        if (!err) {
          this.keysMoved += perSlot[i].keys.length;
          continue;
        }
        const x = perSlot[i];
        // The same key on both sides: only a MIGRATE cut short leaves that (the source's copy is the current one).
        if (/BUSYKEY/.test(err.message)) {
          this.log(`slot ${x.slot}: a key exists on both ${src.name} and ${dst.name}; migrating the source's copy with REPLACE`);
          await this.conn(src.addr).call(...(migrate(x.keys, true) as [string, ...(string | Buffer)[]]));
        } else if (!/IOERR|timeout|LOADING|TRYAGAIN|CLUSTERDOWN/i.test(err.message) || round > 50) {
          throw new Error(`MIGRATE slot ${x.slot} ${src.name} -> ${dst.name}: ${err.message}`);
        } else {
          await sleep(200); // transient: the next round reads the slot's keys again
        }
      }
      if (this.o.pauseMs) await sleep(this.o.pauseMs);
    }
  }

  /** The importing side first (it bumps its epoch and owns the slots), then the source, then every other master. */
  private async closeSlot(s: Survey, slot: number, dst: LiveNode, src: LiveNode): Promise<void> {
    await this.closeSlots(s, [slot], dst, src);
  }

  private async closeSlots(s: Survey, slots: number[], dst: LiveNode, src: LiveNode): Promise<void> {
    for (const n of [dst, src]) {
      const p = this.conn(n.addr).pipeline();
      for (const x of slots) p.call("CLUSTER", "SETSLOT", String(x), "NODE", dst.id);
      for (const [, [err]] of (await p.exec())!.entries()) {
        // A master that gave away its last slot follows the new owner by itself (cluster-allow-replica-migration):
        // it no longer takes SETSLOT, and needs none.
        if (err && !(n === src && /only with masters/i.test(err.message))) throw new Error(`SETSLOT NODE ${dst.name} on ${n.name}: ${err.message}`);
      }
    }
    for (const m of s.members) {
      if (m.role !== "master" || m.id === src.id || m.id === dst.id) continue;
      const p = this.conn(m.addr).pipeline();
      for (const x of slots) p.call("CLUSTER", "SETSLOT", String(x), "NODE", dst.id);
      await p.exec().catch(() => undefined); // gossip tells it as well
    }
  }

  // --- replicas -----------------------------------------------------------------------------------------------
  private async attach(inPhase: boolean): Promise<void> {
    const s = await this.survey();
    const d = this.decide(s);
    const byName = new Map(s.members.map((m) => [m.name, m]));
    for (const a of d.attach) {
      const r = byName.get(a.replica);
      const m = byName.get(a.master);
      if (!r || !m) continue; // a node that does not exist yet (phase in)
      if (inPhase) {
        // Phase in re-points only what blocks a FORGET or a demotion: demoted masters and replicas of leaving/drained
        // masters. Balancing the kept replicas waits for phase out (new nodes may take those places).
        const cur = s.members.find((y) => y.id === r.masterId)?.name;
        if (!d.demote.includes(r.name) && !(cur && (d.drain.includes(cur) || d.remove.includes(cur)))) continue;
      }
      if (r.slots.length) throw new Error(`${r.name} still serves ${r.slots.length} slots; not making it a replica`);
      for (let attempt = 1; ; attempt++) {
        try {
          await this.conn(r.addr).call("CLUSTER", "REPLICATE", m.id);
          break;
        } catch (e) {
          // Right after a MEET the new node may not know the master's id yet (gossip).
          if (attempt >= 30 || !/Unknown node/i.test((e as Error).message)) throw new Error(`CLUSTER REPLICATE ${m.name} on ${r.name}: ${(e as Error).message}`);
          await sleep(500);
        }
      }
      this.log(`${r.name} now replicates ${m.name}`);
      await this.waitFor(`${r.name} to sync from ${m.name}`, async () => (await this.linkStatus(r.addr)) === "up");
    }
  }

  private async waitFor(what: string, cond: () => Promise<boolean>, ms = 60_000, throwOnTimeout = true): Promise<boolean> {
    const until = Math.min(Date.now() + ms, this.deadline);
    for (let i = 0; i < 100_000; i++) {
      try {
        if (await cond()) return true;
      } catch {
        /* a node restarting: try again */
      }
      if (Date.now() > until) break;
      await sleep(250);
    }
    if (throwOnTimeout) throw new Error(`timed out waiting for ${what}`);
    return false;
  }
}

/** Environment the shell scripts understand (docs: /work contract), for the CLI. */
export function connectionFromEnv(env: NodeJS.ProcessEnv): Pick<ScaleOptions, "password" | "username" | "tls"> {
  let password = env.REDISCLI_AUTH || undefined;
  if (!password && env.REDIS_PASSWORD_FILE) password = readFileSync(env.REDIS_PASSWORD_FILE, "utf8").trim();
  return { password, username: env.REDIS_USER || undefined, tls: tlsFromEnv(env) };
}
