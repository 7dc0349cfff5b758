import type { ClusterSpec } from "../../config/schema";

/** Timings of the Redis pods derived from the node timeout. */
export function podTimings(spec: ClusterSpec) {
  // preStop: enough for a coordinated failover plus the roles to settle; never longer than needed to stop.
  const prestopSeconds = Math.max(10, Math.ceil((2 * spec.nodeTimeoutMs) / 1000) + 5);
  const startupPeriodSeconds = 5;
  return {
    prestopSeconds,
    // After preStop, SIGTERM: Redis fsyncs the AOF and writes an RDB snapshot before it exits.
    terminationGracePeriodSeconds: prestopSeconds + 60,
    // Startup covers the peer-name wait of the entrypoint hook plus the time to listen; loading answers LOADING (alive).
    startupPeriodSeconds,
    startupFailureThreshold: Math.ceil((spec.kubernetes.peerResolveTimeoutSeconds + 120) / startupPeriodSeconds),
    // How long Pulumi waits for the StatefulSet (and the client Service's endpoints). A roll replaces one pod at a
    // time, each readiness-gated: stop (grace period), start (startup window: peer names, AOF loading), plus 60 s to
    // schedule, attach the volume and pull. The provider's default (10 min) is shorter than a six-pod roll.
    rolloutTimeout: `${Math.ceil(
      (spec.masters * (1 + spec.replicasPerMaster) * (prestopSeconds + 60 + spec.kubernetes.peerResolveTimeoutSeconds + 120 + 60)) / 60,
    )}m`,
  };
}

export type PodTimings = ReturnType<typeof podTimings>;
