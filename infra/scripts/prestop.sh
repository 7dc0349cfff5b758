#!/bin/sh
# prestop.sh — Kubernetes preStop hook: a master about to stop hands its slots to its most up-to-date replica
# (coordinated CLUSTER FAILOVER: the master pauses writes until the replica has caught up, so nothing is lost),
# then waits, bounded, until it has become a replica. Without it, a rolling update or node drain makes the
# cluster wait cluster-node-timeout for an automatic failover, and writes to that master's slots fail meanwhile.
# Replicas, masters without replicas or slots, and unreachable servers: nothing to do, exit 0.
# It never blocks termination for longer than PRESTOP_TIMEOUT and never uses FORCE/TAKEOVER (those can lose writes).
#
# Env: REDIS_HOST / REDIS_PORT   this node                                   [127.0.0.1 / 6379]
#      PRESTOP_TIMEOUT           seconds for the whole hand-over              [30]
#      PRESTOP_CALL_TIMEOUT      seconds one redis-cli call may take          [3]
#      REDISCLI_AUTH, else REDIS_PASSWORD_FILE   password (never on argv)
#      REDIS_TLS_CA_FILE [/ REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE]  TLS: redis-cli adds --tls --cacert [--cert --key]
set -eu

host=${REDIS_HOST:-127.0.0.1}
port=${REDIS_PORT:-6379}
timeout=${PRESTOP_TIMEOUT:-30}
log() { printf '%s prestop: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
case $timeout in '' | *[!0-9]*) log "PRESTOP_TIMEOUT must be whole seconds, got '$timeout'"; exit 0 ;; esac
if [ -z "${REDISCLI_AUTH:-}" ] && [ -n "${REDIS_PASSWORD_FILE:-}" ] && [ -r "$REDIS_PASSWORD_FILE" ]; then
  REDISCLI_AUTH=$(cat "$REDIS_PASSWORD_FILE")
  export REDISCLI_AUTH
fi
# Seconds since boot, read without starting a process (the hook polls; each exec costs milliseconds in a small
# container). Monotonic, unlike the wall clock; `date` only where /proc is not readable.
now() { if read -r now _ 2>/dev/null </proc/uptime; then now=${now%.*}; else now=$(date +%s); fi; }
now
deadline=$((now + timeout))

call_timeout=${PRESTOP_CALL_TIMEOUT:-3}
case $call_timeout in '' | *[!0-9]* | 0) call_timeout=3 ;; esac
left() { # sets rem: one call takes at most the per-call limit and never runs past the deadline (at least 1 s)
  now
  rem=$((deadline - now))
  [ "$rem" -le "$call_timeout" ] || rem=$call_timeout
  [ "$rem" -ge 1 ] || rem=1
}
# redis-cli has no read timeout: a frozen node (or replica) accepts the connection and never answers. INFO replies
# keep their \r\n line ends: field() drops the \r.
cli() { h=$1 p=$2; shift 2; left; timeout -k 1 "$rem" redis-cli ${REDIS_USER:+--user "$REDIS_USER"} ${REDIS_TLS_CA_FILE:+--tls --cacert "$REDIS_TLS_CA_FILE"} ${REDIS_TLS_CERT_FILE:+--cert "$REDIS_TLS_CERT_FILE" --key "$REDIS_TLS_KEY_FILE"} -h "$h" -p "$p" "$@" 2>&1 || true; }
expired() { now; [ "$now" -ge "$deadline" ]; }
CR=$(printf '\r') NL='
'
# The value of INFO field $2 in the reply $1, without starting a process (each script ships alone, so each has it).
field() { f=$NL$1 && case $f in *"$NL$2:"*) f=${f#*"$NL$2:"} && f=${f%%"$NL"*} && printf '%s\n' "${f%"$CR"}" ;; esac; }

repl=$(cli "$host" "$port" info replication) || true
role=$(field "$repl" role)
if [ "$role" != master ]; then
  log "role '${role:-unknown}': nothing to hand over"
  exit 0
fi
myid=$(cli "$host" "$port" cluster myid)
if ! cli "$host" "$port" cluster nodes | awk -v id="$myid" '$1 == id && NF > 8 { found = 1 } END { exit !found }'; then
  log "master without slots: nothing to hand over"
  exit 0
fi

# Candidates: this master's replicas that are not failing and whose replication link is up; best = highest offset.
best="" best_offset=-1
for addr in $(cli "$host" "$port" cluster replicas "$myid" | awk '$3 !~ /fail|handshake|noaddr/ { split($2, a, "@"); print a[1] }'); do
  if expired; then log "out of time while checking replicas"; exit 0; fi
  rh=${addr%:*} rp=${addr##*:}
  info=$(cli "$rh" "$rp" info replication) || continue
  [ "$(field "$info" master_link_status)" = up ] || continue
  offset=$(field "$info" slave_repl_offset)
  case $offset in '' | *[!0-9]*) continue ;; esac
  if [ "$offset" -gt "$best_offset" ]; then best=$addr best_offset=$offset; fi
done
if [ -z "$best" ]; then
  log "master $myid has no healthy replica: its slots are unavailable until this pod is back"
  exit 0
fi

if expired; then log "out of time before the hand-over: stopping anyway"; exit 0; fi
log "handing over to replica $best (offset $best_offset)"
out=$(cli "${best%:*}" "${best##*:}" cluster failover)
[ "$out" = OK ] || { log "CLUSTER FAILOVER on $best answered: $out"; exit 0; }
# The OK only means "started": check the roles (a manual failover can time out silently).
while :; do
  role=$(field "$(cli "$host" "$port" info replication)" role)
  if [ "$role" = slave ]; then
    log "now a replica of $best: done"
    exit 0
  fi
  if expired; then
    log "still master after ${timeout}s: stopping anyway (automatic failover follows after cluster-node-timeout)"
    exit 0
  fi
  sleep 0.2
done
