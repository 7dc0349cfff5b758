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
case $0 in */*) lib_dir=${0%/*} ;; *) lib_dir=. ;; esac
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$lib_dir/lib.sh"
log_name=prestop

self=${REDIS_HOST:-127.0.0.1}:${REDIS_PORT:-6379}
timeout=${PRESTOP_TIMEOUT:-30}
is_count "$timeout" || { log "PRESTOP_TIMEOUT must be whole seconds, got '$timeout'"; exit 0; }
load_password || true # unreadable: the calls go without it, and the node refuses them
deadline_in "$timeout"
set_call_timeout "${PRESTOP_CALL_TIMEOUT:-3}" 3 || true

repl=$(cli "$self" info replication) || true
role=$(field "$repl" role)
if [ "$role" != master ]; then
  log "role '${role:-unknown}': nothing to hand over"
  exit 0
fi
myid=$(cli "$self" cluster myid)
if ! cli "$self" cluster nodes | awk -v id="$myid" '$1 == id && NF > 8 { found = 1 } END { exit !found }'; then
  log "master without slots: nothing to hand over"
  exit 0
fi

# Candidates: this master's replicas that are not failing and whose replication link is up; best = highest offset.
best="" best_offset=-1
for addr in $(cli "$self" cluster replicas "$myid" | awk '$3 !~ /fail|handshake|noaddr/ { split($2, a, "@"); print a[1] }'); do
  if expired; then log "out of time while checking replicas"; exit 0; fi
  info=$(cli "$addr" info replication) || continue
  [ "$(field "$info" master_link_status)" = up ] || continue
  offset=$(field "$info" slave_repl_offset)
  is_count "$offset" || continue
  if [ "$offset" -gt "$best_offset" ]; then best=$addr best_offset=$offset; fi
done
if [ -z "$best" ]; then
  log "master $myid has no healthy replica: its slots are unavailable until this pod is back"
  exit 0
fi

if expired; then log "out of time before the hand-over: stopping anyway"; exit 0; fi
log "handing over to replica $best (offset $best_offset)"
out=$(cli "$best" cluster failover)
[ "$out" = OK ] || { log "CLUSTER FAILOVER on $best answered: $out"; exit 0; }
# The OK only means "started": check the roles (a manual failover can time out silently).
while :; do
  role=$(field "$(cli "$self" info replication)" role)
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
