import { BUS_PORT_OFFSET, CONTAINER_PATHS, REDIS_PORT } from "../../plan/plan";

/** Where the pod gets its files. The ConfigMap holds everything but the password, which comes from the Secret. */
export const POD_PATHS = {
  ...CONTAINER_PATHS,
  refreshPeers: `${CONTAINER_PATHS.dir}/refresh-peers.sh`,
  prestop: `${CONTAINER_PATHS.dir}/prestop.sh`,
  probe: `${CONTAINER_PATHS.dir}/probe.sh`,
  secretDir: "/etc/redis-cluster-secret",
  passwordFile: "/etc/redis-cluster-secret/password",
  tmp: "/tmp",
} as const;

export const BUS_PORT = REDIS_PORT + BUS_PORT_OFFSET;
