/**
 * Container securityContext meeting the "restricted" Pod Security Standard: non-root as `uid` (user and group),
 * read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp.
 */
export function restrictedContainerSecurityContext(uid: number) {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** Pod securityContext of the Redis pods and script Jobs: non-root as `uid`, volumes group-owned by it. */
export function restrictedPodSecurityContext(uid: number) {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    fsGroupChangePolicy: "OnRootMismatch",
    seccompProfile: { type: "RuntimeDefault" },
  };
}
