import * as pulumi from "@pulumi/pulumi";
import type { LayoutEntry, ScaleTopology, Topology } from "./plan/scaling";

// What the last completed deployment of this stack left in its outputs, read back through a StackReference to the
// stack itself (a read, answered by the engine from the backend: no provider plugin, nothing changes). Two things
// need it: the scale plan at preview (the topology and slot layout the last deployment planned) and the password
// history of the ACL users (what a rotation retired, so the smoke step checks the nodes refuse it). A dynamic
// provider kept both before; it cost a second Node.js process on every preview and loaded the TypeScript compiler
// to serialize itself.

/** The stack outputs read back (infra/index.ts writes them). */
export const LAST_OUTPUTS = {
  topology: "scaleTopology",
  masters: "masters",
  replicasPerMaster: "replicasPerMaster",
  aclPasswords: "aclPasswords",
  aclRetired: "aclRetiredPasswords",
  restoreJob: "restoreJob",
} as const;

export interface LastDeployment {
  /** The topology it planned; absent on a stack's first deployment. */
  topology?: Topology & { layout?: LayoutEntry[] };
  /** Every ACL user's password then (secret output aclPasswords), and what its rotations had retired. */
  aclPasswords?: Record<string, string>;
  aclRetired?: Record<string, string[]>;
  /** Kubernetes, restore.snapshot: the restore Job it completed. */
  restoreJob?: string;
}

/**
 * The name this stack reads itself by: `configured` (lastDeploymentStack: the bare stack name on a legacy DIY
 * backend) when it names this stack, else <organization>/<project>/<stack>. Another stack is refused: its outputs would
 * plan this stack's scaling.
 */
export function selfReference(configured: string | undefined, self = { organization: pulumi.getOrganization(), project: pulumi.getProject(), stack: pulumi.getStack() }): string | { problem: string } {
  const full = `${self.organization}/${self.project}/${self.stack}`;
  if (configured === undefined) return full;
  const parts = configured.split("/");
  // A bare name is resolved by the backend (a legacy DIY backend's only form); a full one must be this very stack.
  const same = parts.length === 1 ? parts[0] === self.stack : parts[0] === self.organization && parts[1] === self.project && parts[2] === self.stack;
  return same
    ? configured
    : { problem: `redis-cluster:lastDeploymentStack is ${JSON.stringify(configured)}, which is not this stack (${full}): remove it, or set it to ${JSON.stringify(self.stack)} (a legacy DIY backend) or ${JSON.stringify(full)}` };
}

/**
 * Reads this stack's last outputs through the StackReference `name` to `reference` (selfReference). `nodesFor` names
 * the nodes of a topology by its counts: a stack last deployed by a version without the scaleTopology output has only
 * masters and replicasPerMaster (its slot layout is then assumed balanced, as the scale step's preview line says).
 */
export async function readLastDeployment(name: string, reference: string, nodesFor: (masters: number, replicasPerMaster: number) => string[]): Promise<LastDeployment> {
  const self = new pulumi.StackReference(name, { name: reference });
  const read = async (output: string): Promise<unknown> => {
    const d = await self.getOutputDetails(output);
    return d.value ?? d.secretValue;
  };
  const [topology, masters, replicasPerMaster, aclPasswords, aclRetired, restoreJob] = await Promise.all(
    [LAST_OUTPUTS.topology, LAST_OUTPUTS.masters, LAST_OUTPUTS.replicasPerMaster, LAST_OUTPUTS.aclPasswords, LAST_OUTPUTS.aclRetired, LAST_OUTPUTS.restoreJob].map(read),
  );
  const out: LastDeployment = {};
  if (isTopology(topology)) out.topology = topology;
  else if (Number.isInteger(masters) && Number.isInteger(replicasPerMaster)) {
    out.topology = { masters: masters as number, replicasPerMaster: replicasPerMaster as number, nodes: nodesFor(masters as number, replicasPerMaster as number) };
  }
  if (isStringMap(aclPasswords)) out.aclPasswords = aclPasswords;
  if (typeof restoreJob === "string") out.restoreJob = restoreJob;
  if (aclRetired && typeof aclRetired === "object") {
    out.aclRetired = Object.fromEntries(Object.entries(aclRetired).filter(([, v]) => Array.isArray(v) && v.every((p) => typeof p === "string"))) as Record<string, string[]>;
  }
  return out;
}

function isTopology(v: unknown): v is ScaleTopology {
  const t = v as ScaleTopology | undefined;
  return !!t && Number.isInteger(t.masters) && Number.isInteger(t.replicasPerMaster) && Array.isArray(t.nodes) && t.nodes.every((n) => typeof n === "string");
}

function isStringMap(v: unknown): v is Record<string, string> {
  return !!v && typeof v === "object" && Object.values(v).every((p) => typeof p === "string");
}
