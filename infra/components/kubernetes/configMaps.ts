import { createHash } from "node:crypto";
import type * as k8s from "@pulumi/kubernetes";
import type { ClusterPlan } from "../../plan/plan";
import { scriptFiles } from "../../plan/scripts";
import type { ObjectMeta } from "./metadata";

/**
 * The pods' files. entrypoint.sh is the plan's (self-contained: the Docker nodes run it too); the Kubernetes hooks
 * (entrypoint hook, preStop, probe) come with whatever they source.
 */
export function podFiles(plan: Pick<ClusterPlan, "redisConf" | "entrypointScript">): Record<string, string> {
  return { "redis.conf": plan.redisConf, "entrypoint.sh": plan.entrypointScript, ...scriptFiles("refreshPeers", "prestop", "probe") };
}

/** The Jobs' own scripts: bootstrap.sh (the plan's copy, which Docker runs too) and, with ACL users, rotate.sh. */
export function bootstrapFiles(plan: Pick<ClusterPlan, "bootstrapScript">, withRotate: boolean): Record<string, string> {
  return { ...scriptFiles("bootstrap", ...(withRotate ? (["rotate"] as const) : [])), "bootstrap.sh": plan.bootstrapScript };
}

/** Checksum of the pods' files, annotated on the pod template. */
export function configChecksum(files: Record<string, string>): string {
  return createHash("sha256").update(JSON.stringify(files)).digest("hex");
}

/**
 * Auto-named: a change is a new ConfigMap next to the old one (never a delete-then-create window in which a restarting
 * pod cannot mount it), and its new name rolls the pods (one at a time, readiness-gated) or re-runs the Job.
 */
export function configMapArgs(meta: ObjectMeta, component: string, data: Record<string, string>): k8s.core.v1.ConfigMapArgs {
  return { metadata: meta.auto(component), data };
}
