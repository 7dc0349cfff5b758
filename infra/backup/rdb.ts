// The RDB file's header (its format version) and which format versions a Redis version can load: a restore refuses
// an RDB newer than the target's Redis before it touches anything.

/** The format version from an RDB's first 9 bytes ("REDIS0010" -> 10); throws when the bytes are no RDB header. */
export function rdbVersionOf(header: Buffer): number {
  const m = /^REDIS(\d{4})$/.exec(header.subarray(0, 9).toString("latin1"));
  if (!m) throw new Error(`not an RDB file: it starts with ${JSON.stringify(header.subarray(0, 9).toString("latin1"))}, not REDIS<4 digits>`);
  return Number(m[1]);
}

/** Newest RDB format each Redis release line writes and loads (rdb.h RDB_VERSION). */
const RDB_VERSION_BY_RELEASE: [major: number, minor: number, rdb: number][] = [
  [3, 2, 7], [4, 0, 8], [5, 0, 9], [6, 0, 9], [6, 2, 9], [7, 0, 10], [7, 2, 11], [7, 4, 12], [8, 0, 12],
];

/** The newest RDB format `redisVersion` ("7.0.15") loads; a release newer than the table loads at least the newest known. */
export function maxRdbVersion(redisVersion: string): number {
  const m = /^(\d+)\.(\d+)/.exec(redisVersion);
  if (!m) throw new Error(`cannot read a Redis version from ${JSON.stringify(redisVersion)}`);
  const [maj, min] = [Number(m[1]), Number(m[2])];
  let best = 0;
  for (const [a, b, rdb] of RDB_VERSION_BY_RELEASE) if (a < maj || (a === maj && b <= min)) best = rdb;
  if (!best) throw new Error(`Redis ${redisVersion} is older than 3.2, which this restore does not support`);
  return best;
}
