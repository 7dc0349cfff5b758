// The shape of a load run, as its connections counted it: how many connections, how many requests in flight on each,
// how many commands each socket write carried. Two runs compare only in the same shape: one write of 8 coalesced
// commands costs the client and the server far less than 8 writes of one.

export interface LoadShape {
  connections: number;
  /** Commands per request (the pipeline asked for). */
  pipeline: number;
  /** Requests in flight on a connection when one was sent (itself included), averaged over the requests. */
  inFlightPerConnection: number;
  maxInFlightPerConnection: number;
  /** Socket writes, and the commands they carried. */
  writes: number;
  commands: number;
  commandsPerWrite: number;
  /** One request in flight per connection and one write per request: redis-benchmark's `-c connections -P pipeline`. */
  redisBenchmarkShape: boolean;
}

/** A number for a label: whole when it is, else one decimal. */
const n1 = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

/** "50 conns × 1 request × 16 cmds/write" or "batched (≈8.3 per write): 6 conns × ≈8.3 requests × 1 cmd". */
export function shapeLabel(s: LoadShape): string {
  if (s.redisBenchmarkShape) return `${s.connections} conns × 1 request × ${n1(s.commandsPerWrite)} cmds/write (redis-benchmark -c ${s.connections} -P ${s.pipeline})`;
  return `batched (≈${n1(s.commandsPerWrite)} per write): ${s.connections} conns × ≈${n1(s.inFlightPerConnection)} requests of ${s.pipeline} in flight`;
}
