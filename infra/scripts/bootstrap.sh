#!/bin/sh
# bootstrap.sh — forms the Redis Cluster once; on every later run it only verifies.
#   all nodes empty            -> redis-cli --cluster create, wait for cluster_state:ok everywhere
#   formed as planned          -> change nothing, exit 0
#   a create of ours cut short -> finish it (no node holds a key, the planned number of masters own all 16384 slots
#     (ALL nodes empty)           exactly once, the others are masters without slots or replicas of those): CLUSTER MEET
#                                 the missing nodes, CLUSTER REPLICATE the slotless masters, wait for ok. No data, nothing lost.
#   anything else (partial,
#   foreign data, wrong size)  -> diagnose, change nothing, exit 2
# It never runs CLUSTER RESET, FLUSHALL or any other repair: that is an operator's decision (docs/runbooks.md).
#
# Env: REDIS_NODES        "host:port host:port ..." (hostnames are resolved to IPs for CLUSTER MEET)
#      REDIS_MASTERS      planned masters
#      REDIS_REPLICAS     planned replicas per master
#      BOOTSTRAP_TIMEOUT  seconds for the whole run [300]
#      BOOTSTRAP_SETTLE   seconds a formed cluster may take to show the planned roles [20]
#      BOOTSTRAP_CALL_TIMEOUT  seconds one redis-cli call may take [5]; a frozen node must not hang the run
#      REDISCLI_AUTH      password, read by redis-cli itself (never on argv);
#      REDIS_PASSWORD_FILE  or a file holding it (a mounted Secret), used when REDISCLI_AUTH is empty
#      REDIS_SCALE_STEP   1 when the scale step (infra/scale) runs next, as in `pulumi up`: a healthy cluster whose shape
#                         differs from the plan (new empty nodes, masters/replicas to move) is left to it, exit 0
#      REDIS_TLS_CA_FILE [/ REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE]  TLS: every redis-cli call (and --cluster create) adds --tls --cacert [--cert --key]
# Exit: 0 formed or already formed, 1 usage/auth error, 2 refused (nothing changed), 3 timed out.
set -eu
case $0 in */*) lib_dir=${0%/*} ;; *) lib_dir=. ;; esac
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$lib_dir/lib.sh"
log_name=bootstrap

nodes=${REDIS_NODES:-}
masters=${REDIS_MASTERS:-}
replicas=${REDIS_REPLICAS:-}
timeout=${BOOTSTRAP_TIMEOUT:-300}
[ -n "$nodes" ] || fail 1 "REDIS_NODES is empty"
for v in "REDIS_MASTERS=$masters" "REDIS_REPLICAS=$replicas" "BOOTSTRAP_TIMEOUT=$timeout"; do
  is_count "${v#*=}" || fail 1 "${v%%=*} must be a whole number, got '${v#*=}'"
done
total=0
for n in $nodes; do total=$((total + 1)); done
[ "$total" -eq $((masters * (1 + replicas))) ] ||
  fail 1 "REDIS_NODES has $total nodes but $masters masters x (1 + $replicas replicas) needs $((masters * (1 + replicas)))"
deadline_in "$timeout"
load_password || exit 1
set_call_timeout "${BOOTSTRAP_CALL_TIMEOUT:-5}" 5 ||
  fail 1 "BOOTSTRAP_CALL_TIMEOUT must be a whole number >= 1, got '${BOOTSTRAP_CALL_TIMEOUT:-}'"

resolve() { # host:port -> ip:port; CLUSTER MEET needs addresses, not names
  h=${1%:*}
  case $h in
    *[!0-9.]*)
      ip=$(getent hosts "$h" 2>/dev/null | awk '{ print $1; exit }') || ip=""
      [ -n "$ip" ] || return 1
      printf '%s:%s\n' "$ip" "${1##*:}" ;;
    *) printf '%s\n' "$1" ;;
  esac
}

# 1. Wait until every node answers PING.
for n in $nodes; do
  while :; do
    out=$(cli "$n" ping) || true
    case $out in
      PONG) break ;;
      *NOAUTH* | *WRONGPASS* | *"invalid password"*) fail 1 "$n refused authentication ($out): check REDISCLI_AUTH" ;;
    esac
    expired && fail 3 "$n did not answer PING within ${timeout}s (last: $out)"
    sleep 1
  done
done
log "all $total nodes answer"

# 2. Classify every node. empty: knows only itself, no slots, no keys. member: knows all planned nodes.
classify() {
  empty=0 member=0 odd="" empties="" formed="" formed_known="" nokeys=1
  for n in $nodes; do
    info=$(cli "$n" cluster info)
    keys=$(cli "$n" dbsize)
    [ "$keys" = 0 ] || nokeys=0
    known=$(field "$info" cluster_known_nodes)
    assigned=$(field "$info" cluster_slots_assigned)
    if [ "$known" = 1 ] && [ "$assigned" = 0 ] && [ "$keys" = 0 ]; then
      empty=$((empty + 1)) empties="$empties $n"
    elif [ "$known" = "$total" ]; then
      member=$((member + 1))
    else
      # A healthy cluster smaller than the plan: a scale-out whose new nodes are still empty.
      if [ "$(field "$info" cluster_state)" = ok ] && [ "$(field "$info" cluster_slots_ok)" = 16384 ]; then
        formed="$formed $n" formed_known="$formed_known $known"
      fi
      odd="$odd
  $n: cluster_known_nodes=$known (planned $total) cluster_slots_assigned=$assigned keys=$keys state=$(field "$info" cluster_state)"
    fi
  done
}

healthy() { # every node: state ok, all slots ok, knows every planned node
  for n in $nodes; do
    info=$(cli "$n" cluster info)
    [ "$(field "$info" cluster_state)" = ok ] && [ "$(field "$info" cluster_slots_ok)" = 16384 ] &&
      [ "$(field "$info" cluster_known_nodes)" = "$total" ] || return 1
  done
}

wait_healthy() {
  until healthy; do
    expired && fail 3 "cluster did not reach cluster_state:ok with 16384 slots on all $total nodes within ${timeout}s"
    sleep 1
  done
}

wait_replica_links() { # a replica that never synced cannot take over: wait for every link
  for n in $nodes; do
    while :; do
      repl=$(cli "$n" info replication)
      [ "$(field "$repl" role)" = slave ] || break
      [ "$(field "$repl" master_link_status)" = up ] && break
      expired && fail 3 "replica $n: master link not up within ${timeout}s"
      sleep 1
    done
  done
}

topology_problem() { # prints what differs from the plan: M masters with slots, each with R replicas
  first=${nodes%% *}
  cn=$(cli "$first" cluster nodes)
  bad=$(printf '%s\n' "$cn" | awk '$3 ~ /fail/ { print "  " $2 " flags=" $3 }')
  if [ -n "$bad" ]; then printf 'nodes flagged failing:\n%s\n' "$bad"; return; fi
  got_masters=$(printf '%s\n' "$cn" | awk '$3 ~ /master/ && NF > 8 { c++ } END { print c + 0 }')
  if [ "$got_masters" != "$masters" ]; then
    echo "cluster has $got_masters masters with slots, planned $masters (the scale step moves slots: docs/runbooks.md, Scale out / Scale in)"
    return
  fi
  printf '%s\n' "$cn" | awk -v r="$replicas" '
    $3 ~ /master/ && NF > 8 { m[$1] = $2 }
    $3 ~ /slave/ { c[$4]++; n++ }
    END {
      for (id in m) if (c[id] + 0 != r) print "master " m[id] " has " c[id] + 0 " replicas, planned " r
      for (id in c) if (!(id in m)) print c[id] " replicas follow " id ", which serves no slots"
    }'
  printf '%s\n' "$cn" | awk '$3 ~ /master/ && NF == 8 { e = e " " $2 } END { if (e != "") print "masters without slots (neither serving nor replicating):" e }'
}

check_topology() { # roles gossip to every node within a few seconds: wait up to $1 seconds for the plan to show
  now
  settle_until=$((now + $1))
  while :; do
    problem=$(topology_problem)
    [ -z "$problem" ] && return 0
    if expired || [ "$now" -ge "$settle_until" ]; then fail 2 "$problem"; fi
    sleep 1
  done
}


# A create of ours cut short (killed between ADDSLOTS, MEET and REPLICATE): all nodes empty of keys, exactly the
# planned masters own every slot once, every other node is a slotless master or already a replica. Finishing it moves
# no data and resets nothing; anything else stays refused below.
slot_owners() { # "addr slot-range..." for each node that owns slots; fails on migrating/importing slots
  for n in $nodes; do
    own=$(cli "$n" cluster nodes | awk '$3 ~ /myself/ { for (i = 9; i <= NF; i++) printf " %s", $i }')
    case $own in *"["*) return 1 ;; esac
    [ -z "$own" ] || echo "$n$own"
  done
}
unfinished_create() {
  [ "$nokeys" = 1 ] || return 1
  [ "$empty" -lt "$total" ] || return 1
  # A node that lost its data comes back empty under a new id; its old id stays behind flagged fail/noaddr. That is
  # a cluster that was in use, not a create of ours (finishing it would MEET the new node and wait forever for the
  # planned node count, which the old id exceeds).
  for n in $nodes; do
    cli "$n" cluster nodes | awk '$3 ~ /fail|noaddr/ { f = 1 } END { exit !f }' && return 1
  done
  owners=$(slot_owners) || return 1
  [ "$(printf '%s\n' "$owners" | grep -c .)" = "$masters" ] || return 1
  # every slot owned exactly once
  printf '%s\n' "$owners" | awk '{ for (i = 2; i <= NF; i++) { n = split($i, r, "-"); a = r[1]; b = (n > 1) ? r[2] : r[1]; for (s = a; s <= b; s++) c[s]++ } }
    END { for (s = 0; s < 16384; s++) if (c[s] != 1) exit 1 }' || return 1
  # and something is left to do: a node that does not know all others, or a master without slots
  [ "$member" -eq "$total" ] || return 0
  for n in $nodes; do
    case $(cli "$n" cluster nodes | awk '$3 ~ /myself/ { print $3, NF }') in *master*" 8") return 0 ;; esac
  done
  return 1
}

# role_of — "ID master" or "ID slave MASTER-ID" for each line of a CLUSTER NODES view on stdin ("myself" lines too).
role_of() { awk '{ if ($3 ~ /slave/) print $1, "slave", $4; else print $1, "master" }'; }

# roles_unknown — the nodes whose role, as each says of itself, the first node does not see yet ("" once it sees all).
roles_unknown() {
  first_roles=$(cli "$first" cluster nodes | role_of)
  for n in $nodes; do
    self_role=$(cli "$n" cluster nodes | awk '$3 ~ /myself/' | role_of)
    printf '%s\n' "$first_roles" | grep -qxF "${self_role:-?}" || printf ' %s (says: %s)' "$n" "${self_role:-no answer}"
  done
}

# wait_roles_known — until the first node sees every node's role as the node says it (gossip caught up).
wait_roles_known() {
  unknown=$(roles_unknown)
  [ -n "$unknown" ] || return 0
  log "waiting for the first node $first to see these nodes' roles:$unknown"
  until [ -z "$unknown" ]; do
    expired && fail 3 "the first node $first did not learn these nodes' roles within ${timeout}s:$unknown"
    sleep 0.5
    unknown=$(roles_unknown)
  done
}

finish_create() {
  first=${nodes%% *}
  log "unfinished create found (no keys anywhere, $masters masters own all slots): finishing it"
  view=$(cli "$first" cluster nodes)
  for n in $nodes; do
    a=$(resolve "$n") || fail 3 "cannot resolve ${n%:*}"
    if ! printf '%s\n' "$view" | awk -v a="$a" '{ split($2, x, "@"); if (x[1] == a) f = 1 } END { exit !f }'; then
      out=$(cli "$first" cluster meet "${a%:*}" "${a##*:}")
      [ "$out" = OK ] || fail 2 "CLUSTER MEET $a answered: $out"
    fi
  done
  for n in $nodes; do
    until [ "$(field "$(cli "$n" cluster info)" cluster_known_nodes)" = "$total" ]; do
      expired && fail 3 "$n did not learn all $total nodes within ${timeout}s"
      sleep 1
    done
  done
  for n in $nodes; do
    # Count every replica before choosing: also one the killed run made just before it died, which the first node may
    # not have heard of yet (a second replica for its master would then leave another shard without one, until
    # Redis's replica migration moves one of them).
    wait_roles_known
    me=$(cli "$n" cluster nodes | awk '$3 ~ /myself/ { print $1, $3, NF }')
    case $me in *master*" 8") ;; *) continue ;; esac
    # the slot owner with the fewest replicas, as the first node sees them
    target=$(cli "$first" cluster nodes | awk -v r="$replicas" '
      $3 ~ /master/ && NF > 8 { m[$1] = 1 } $3 ~ /slave/ { c[$4]++ }
      END { best = ""; for (id in m) if (c[id] + 0 < r && (best == "" || c[id] + 0 < c[best] + 0)) best = id; print best }')
    [ -n "$target" ] || fail 2 "no master left needing a replica for $n"
    # the new replica must know its master's id first (gossip); retry within the deadline
    until out=$(cli "$n" cluster replicate "$target") && [ "$out" = OK ]; do
      expired && fail 3 "CLUSTER REPLICATE $target on $n answered: $out"
      sleep 1
    done
    log "$n now replicates $target"
  done
  wait_roles_known
  wait_healthy
  check_topology "$timeout"
  wait_replica_links
  log "cluster formed: cluster_state:ok, 16384 slots, $masters masters x $replicas replicas"
  exit 0
}
classify
if unfinished_create; then finish_create; fi
if [ "$empty" -eq "$total" ]; then
  addrs=""
  for n in $nodes; do
    a=$(resolve "$n") || fail 3 "cannot resolve ${n%:*}"
    addrs="$addrs $a"
  done
  log "all nodes empty: creating $masters masters x $replicas replicas"
  remaining
  # shellcheck disable=SC2086 # one argument per node address
  out=$(redis_cli "$rem" --cluster create $addrs --cluster-replicas "$replicas" --cluster-yes) ||
    fail 2 "redis-cli --cluster create failed:
$out"
  wait_healthy
  check_topology "$timeout"
  wait_replica_links
  log "cluster formed: cluster_state:ok, 16384 slots, $masters masters x $replicas replicas"
  exit 0
fi

if [ -z "$odd" ] && [ "$member" -eq "$total" ]; then
  wait_healthy # a node that just restarted may need a moment to be seen as up again
  if [ "${REDIS_SCALE_STEP:-}" = 1 ]; then
    problem=$(topology_problem)
    case $problem in
      '' | "nodes flagged failing"*) ;;
      *) log "cluster healthy; its shape differs from the plan ($problem): the scale step brings it there next. Nothing was changed."
         exit 0 ;;
    esac
  fi
  check_topology "${BOOTSTRAP_SETTLE:-20}"
  wait_replica_links
  log "cluster already formed as planned: nothing to do"
  exit 0
fi

# Scale-out: every non-empty node belongs to one healthy cluster of exactly those nodes, the rest are empty.
# Adding nodes moves slots (data), so it is an operator's step: print the exact commands and leave the cluster as it is.
grown=0 same=1
for n in $formed; do grown=$((grown + 1)); done
for k in $formed_known; do [ "$k" = "$grown" ] || same=0; done
if [ "$grown" -gt 0 ] && [ "$empty" -gt 0 ] && [ $((grown + empty)) -eq "$total" ] && [ "$same" = 1 ]; then
  seed=${formed# }
  seed=${seed%% *}
  have=$(cli "$seed" cluster nodes | awk '$3 ~ /master/ && NF > 8 { c++ } END { print c + 0 }')
  new_masters=$((masters - have))
  [ "$new_masters" -ge 0 ] || fail 2 "the cluster has $have masters but $masters are planned: run the scale step's phase in first (docs/runbooks.md, Scale in)"
  if [ "${REDIS_SCALE_STEP:-}" = 1 ]; then
    log "cluster healthy with $grown nodes; $empty planned nodes are new and empty: the scale step joins them and moves slots next. Nothing was changed."
    exit 0
  fi
  log "cluster healthy with $grown nodes; $empty planned nodes are new and empty. Nothing was changed."
  log "to add them run the scale step (npm run scale -- --nodes ... --masters $masters --replicas $replicas; docs/runbooks.md, Scale out)"
  log "or by hand (data moves between nodes; run with REDISCLI_AUTH set), in this order, and after each add-node"
  log "wait until every node lists the new one (cluster_known_nodes in CLUSTER INFO) before the next step, and after"
  log "the rebalance until redis-cli --cluster check $seed finds no [ERR] (every node agrees on the slots' new owners):"
  i=0
  for n in $empties; do
    a=$(resolve "$n") || a=$n
    if [ "$i" -lt "$new_masters" ]; then
      log "  redis-cli --cluster add-node $a $seed"
    else
      log "  redis-cli --cluster add-node $a $seed --cluster-slave"
    fi
    i=$((i + 1))
    [ "$i" -eq "$new_masters" ] && log "  redis-cli --cluster rebalance $seed --cluster-use-empty-masters"
  done
  log "then verify: redis-cli --cluster check $seed (see docs/runbooks.md, Scale out)"
  exit 0
fi

fail 2 "refusing to touch a partial or foreign cluster ($empty empty, $member full members of $total planned):$odd
Nothing was changed. Inspect with: redis-cli --cluster check <host:port>; repair by hand (docs/runbooks.md)."
