#!/bin/sh
# probe.sh alive|ready — Kubernetes startup/liveness and readiness checks of one node.
#   alive: the server answers at all. LOADING (AOF/RDB being read), BUSY (long script) and MASTERDOWN count as
#          alive: restarting a node that is loading its data would only start the load again.
#   ready: answers PONG and either sees cluster_state:ok or has never joined a cluster (a new, empty node must be
#          ready for the first deploy to go on to the bootstrap Job). A formed node whose view is not ok is not
#          ready, so a rolling update waits for the cluster to heal before it restarts the next pod. Right after a
#          restart a node still says ok while it has no link to any peer (until cluster-node-timeout): it must
#          also be linked to at least one peer, and see every master holding slots linked and neither failing
#          (fail?/fail) nor without an address (noaddr): else part of the slots is not served although
#          cluster_state may still say ok.
#   A node answering MISCONF (disk full or unwritable: writes refused, reads served) is alive: a restart cannot
#          free the disk, it would only turn a degraded node into a crash loop. It is not ready.
# Env: REDIS_HOST / REDIS_PORT [127.0.0.1 / 6379]; REDISCLI_AUTH, else REDIS_PASSWORD_FILE (never argv);
#      REDIS_TLS_CA_FILE [/ REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE]: TLS, redis-cli adds --tls --cacert [--cert --key];
#      PROBE_CALL_TIMEOUT seconds one redis-cli call may take [2] (a frozen node never answers; keep it below the
#      probe's timeoutSeconds so the script reports instead of being killed).
set -eu
case $0 in */*) lib_dir=${0%/*} ;; *) lib_dir=. ;; esac
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$lib_dir/lib.sh"
log_name=probe

self=${REDIS_HOST:-127.0.0.1}:${REDIS_PORT:-6379}
load_password || true # unreadable: the calls go without it, and the node refuses them
set_call_timeout "${PROBE_CALL_TIMEOUT:-2}" 2 || true

pong=$(cli "$self" ping) || true
case ${1:-} in
  alive)
    case $pong in PONG | LOADING* | BUSY* | MASTERDOWN* | MISCONF*) exit 0 ;; esac
    echo "not answering: $pong"
    exit 1
    ;;
  ready)
    [ "$pong" = PONG ] || { echo "ping: $pong"; exit 1; }
    info=$(cli "$self" cluster info)
    state=$(field "$info" cluster_state)
    if [ "$state" = ok ]; then
      nodes=$(cli "$self" cluster nodes)
      # A node's own cluster_state stays ok while a master holding slots is unreachable (link down, for the first
      # cluster-node-timeout after a restart not even fail?) or known only without an address (noaddr: never marked
      # failing by this node): its slots are not served. Not ready then.
      lost=$(printf '%s\n' "$nodes" | awk '$3 ~ /master/ && NF > 8 && ($3 ~ /noaddr|fail/ || $8 != "connected") { printf " %s(%s,%s)", substr($1, 1, 8), $3, $8 }')
      if [ -n "$lost" ]; then
        echo "cluster_state:ok but a master holding slots is unreachable or has no address:$lost"
        exit 1
      fi
      printf '%s\n' "$nodes" | awk '$3 !~ /myself/ && $8 == "connected" { ok = 1 } END { exit !ok }' && exit 0
      echo "cluster_state:ok but no link to any peer yet"
      exit 1
    fi
    if [ "$(field "$info" cluster_known_nodes)" = 1 ] && [ "$(field "$info" cluster_slots_assigned)" = 0 ]; then exit 0; fi
    echo "cluster_state:$state"
    exit 1
    ;;
  *)
    echo "usage: probe.sh alive|ready" >&2
    exit 2
    ;;
esac
