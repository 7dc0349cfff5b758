// Redis memory sizes as redis.conf accepts them ("512mb", "1gb", "100000", "0").
// Units follow redis.conf: k/m/g are powers of 1000, kb/mb/gb powers of 1024.
const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 ** 2,
  mb: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1024 ** 3,
};

/** Bytes for a redis.conf memory value, or undefined when redis-server would reject it. */
export function parseRedisMemory(value: string): number | undefined {
  // No whitespace anywhere: redis.conf splits "1 gb" into two words and the server refuses to start.
  const m = /^(\d+)([a-z]*)$/i.exec(value);
  if (!m) return undefined;
  const unit = UNITS[m[2].toLowerCase()];
  return unit === undefined ? undefined : Number(m[1]) * unit;
}

/** Bytes for a Kubernetes quantity ("512Mi", "2Gi", "1G", "1500M"); undefined when unparseable. */
export function parseKubernetesQuantity(value: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T)?\s*$/.exec(value);
  if (!m) return undefined;
  const mult: Record<string, number> = {
    "": 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12,
  };
  return Math.round(Number(m[1]) * mult[m[2] ?? ""]);
}
