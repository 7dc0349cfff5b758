#!/bin/sh
# refresh-peers.sh — entrypoint hook (REDIS_ENTRYPOINT_HOOK): before redis-server starts, make the addresses in
# nodes.conf current. Pod IPs change on every restart but nodes.conf keeps the old ones; a node that restarts
# alone announces its new address itself, but after a FULL restart every peer address in every nodes.conf is stale
# and no node can reach another. Each node announces its stable DNS name (cluster-announce-hostname), and Redis
# keeps it in nodes.conf (`ip:port@cport,hostname[,aux=val]*`), so the file itself says whom to look up:
#   own line   ("myself") -> REDIS_ANNOUNCE_IP (the pod IP)
#   peer lines             -> the current address of the peer's hostname
# A peer whose name does not resolve never keeps its old address: in Kubernetes a late pod's old IP is routinely
# handed to another pod (possibly another shard, or another Redis), and a replica that PSYNCs there full-resyncs and
# drops its data (issue 15). Redis 7.0 has two ways to hold a peer without an address (cluster.c):
#   - `noaddr` flag (written `:port@cport` + noaddr): no bus link, no gossip about it, replication off
#     (clusterCron only replicates from a master with an address), restored only by that node's own PING
#     (nodeUpdateAddressIfNeeded, which also points replication at it). But a noaddr node is never PFAIL/FAIL:
#     a master that stays absent would never be detected nor failed over, and cluster_state would stay ok.
#   - 255.255.255.255: the kernel refuses TCP to a broadcast address (ENETUNREACH, no packet sent), so the connect
#     fails at once, failure detection runs (PFAIL -> FAIL, failover, cluster_state), and the peer's own PING or
#     other nodes' gossip (for a PFAIL peer) bring the real address back. Gossip does not re-point replication though.
# So: this node's own master -> noaddr (replication starts only from the master's own PING, never a stale address);
# every other unresolved peer -> 255.255.255.255 (detected as failing, healed by gossip). A resolved peer loses a
# stale noaddr flag. Nodes without a hostname (never announced one) cannot be looked up and are left as they are.
# The wait: pods of a full restart get their IPs (DNS records) seconds apart, so the hook retries missing names, but
# an absent pod must not hold every other pod back: the wait ends when every name resolved, or once at least one
# resolved and no new one for REDIS_PEER_RESOLVE_SETTLE seconds, and never lasts beyond REDIS_PEER_RESOLVE_TIMEOUT
# (nothing resolving at all -> the full timeout: DNS may not be ready yet, or this pod is the first).
#
# Sourced by entrypoint.sh (or run with sh). It never fails the start: on any problem it logs and leaves
# nodes.conf as it was (written atomically, so never half-rewritten).
# `set -e` does not apply inside `( ... ) || ...` (POSIX: the subshell runs in an `||` context), so every step
# whose failure matters ends in `|| exit 1` explicitly.

(
  set -eu
  # Sourced, $0 is entrypoint.sh's and REDIS_ENTRYPOINT_HOOK names this file; run with sh, $0 does.
  rp_file=${REDIS_ENTRYPOINT_HOOK:-$0}
  case $rp_file in */*) rp_lib=${rp_file%/*} ;; *) rp_lib=. ;; esac
  # shellcheck source-path=SCRIPTDIR source=lib.sh
  . "$rp_lib/lib.sh" || exit 1
  log_name=refresh-peers
  rp_dir=${REDIS_DATA_DIR:-/data}
  rp_conf="$rp_dir/${REDIS_NODES_CONF:-nodes.conf}"
  rp_wait=${REDIS_PEER_RESOLVE_TIMEOUT:-30}
  rp_settle=${REDIS_PEER_RESOLVE_SETTLE:-5}
  is_count "$rp_wait" || fail 1 "REDIS_PEER_RESOLVE_TIMEOUT must be whole seconds, got '$rp_wait'"
  is_count "$rp_settle" || fail 1 "REDIS_PEER_RESOLVE_SETTLE must be whole seconds, got '$rp_settle'"
  if [ ! -s "$rp_conf" ]; then
    log "no $rp_conf yet: new node, nothing to refresh"
    exit 0
  fi

  # A peer is looked up by its pod DNS name: the first label of the name it announced, under the pods' domain. That
  # is REDIS_PEER_DOMAIN (set with externalAccess: the announced <pod>.<domain> resolves to a load balancer, which has
  # no bus port), else the domain of this node's own announced name. So a peer still announcing an older name
  # (externalAccess turned on or off, or its domain changed, mid-roll) is found at its pod IP all the same.
  rp_domain=${REDIS_PEER_DOMAIN:-}
  case ${REDIS_ANNOUNCE_HOSTNAME:-} in *.*) [ -n "$rp_domain" ] || rp_domain=${REDIS_ANNOUNCE_HOSTNAME#*.} ;; esac

  rp_resolve() { # announced name -> first address of its pod name, or nothing
    [ -z "$rp_domain" ] || set -- "${1%%.*}.$rp_domain"
    if [ -n "${REDIS_HOSTS_FILE:-}" ]; then
      [ -r "$REDIS_HOSTS_FILE" ] || return 0
      awk -v n="$1" '$1 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i == n) { print $1; exit } }' "$REDIS_HOSTS_FILE"
    else
      getent hosts "$1" 2>/dev/null | awk '{ print $1; exit }' || true
    fi
  }

  rp_report() { # logs each line the rewrite below wrote on stderr
    while IFS= read -r rp_line; do log "$rp_line"; done < "$rp_tmp.todo" || true
  }

  rp_tmp=$(mktemp "$rp_dir/.refresh-peers.XXXXXX") || exit 1
  [ -n "$rp_tmp" ] && [ -f "$rp_tmp" ] || fail 1 "mktemp gave no file"
  trap 'rm -f "$rp_tmp" "$rp_tmp.map" "$rp_tmp.todo" "$rp_tmp.todo2"' EXIT
  # "id hostname self" for every node line; hostname "-" when the node never announced one.
  awk '$1 != "vars" && NF >= 8 {
         n = split($2, a, ","); h = (n >= 2 && a[2] != "" && a[2] !~ /=/) ? a[2] : "-"
         print $1, h, ($3 ~ /myself/ ? 1 : 0)
       }' "$rp_conf" > "$rp_tmp.todo" || exit 1

  : > "$rp_tmp.map" || exit 1
  if [ -n "${REDIS_ANNOUNCE_IP:-}" ]; then
    awk -v ip="$REDIS_ANNOUNCE_IP" '$3 == 1 { print $1, ip }' "$rp_tmp.todo" >> "$rp_tmp.map" || exit 1
  fi
  # Resolve peers; retry the missing ones (see the wait above).
  deadline_in "$rp_wait"
  rp_start=$now
  rp_progress=$now
  rp_any=0
  while :; do
    rp_missing=""
    while read -r rp_id rp_host rp_self; do
      [ "$rp_self" = 0 ] || continue
      if [ "$rp_host" = - ]; then
        log "node ${rp_id%"${rp_id#????????}"} has no hostname in nodes.conf: keeping its address"
        continue
      fi
      grep -q "^$rp_id " "$rp_tmp.map" && continue
      rp_ip=$(rp_resolve "$rp_host")
      if [ -n "$rp_ip" ]; then
        printf '%s %s\n' "$rp_id" "$rp_ip" >> "$rp_tmp.map" || exit 1
        rp_any=1
        now
        rp_progress=$now
      else
        rp_missing="$rp_missing $rp_host"
      fi
    done < "$rp_tmp.todo"
    { awk '$2 == "-" { next } { print }' "$rp_tmp.todo" > "$rp_tmp.todo2" && mv "$rp_tmp.todo2" "$rp_tmp.todo"; } || exit 1
    [ -n "$rp_missing" ] || break
    if expired || { [ "$rp_any" = 1 ] && [ $((now - rp_progress)) -ge "$rp_settle" ]; }; then
      log "not resolvable after $((now - rp_start)) s:$rp_missing — their old addresses are dropped (IPs get reused); each comes back by its own PING or gossip once it starts"
      break
    fi
    sleep 1
  done
  # Every hostname-bearing peer that did not resolve gets a placeholder (see the header).
  while read -r rp_id rp_host rp_self; do
    [ "$rp_self" = 0 ] && [ "$rp_host" != - ] || continue
    grep -q "^$rp_id " "$rp_tmp.map" || printf '%s -\n' "$rp_id" >> "$rp_tmp.map" || exit 1
  done < "$rp_tmp.todo"

  # Rewrite only the address part of mapped lines; ports, hostname and aux fields stay. IPv6 works too:
  # the port is what follows the last ':' before '@'. "-" = unresolved: noaddr if it is this node's master,
  # else 255.255.255.255. A resolved peer loses a noaddr flag (an address is known again).
  awk -v map="$rp_tmp.map" '
    BEGIN { while ((getline l < map) > 0) { split(l, f, " "); ip[f[1]] = f[2] } }
    $1 != "vars" && $3 ~ /myself/ && $3 ~ /slave/ { mymaster = $4 }
    { line[NR] = $0 }
    END {
      for (i = 1; i <= NR; i++) {
        $0 = line[i]
        if ($1 != "vars" && ($1 in ip) && index($2, "@") > 0) {
          addr = $2; rest = ""
          c = index(addr, ","); if (c > 0) { rest = substr(addr, c); addr = substr(addr, 1, c - 1) }
          at = index(addr, "@"); hp = substr(addr, 1, at - 1); bus = substr(addr, at)
          port = hp; sub(/.*:/, "", port); old = substr(hp, 1, length(hp) - length(port) - 1)
          new = ip[$1]; noaddr = 0
          if (new == "-") { if ($1 == mymaster) { new = ""; noaddr = 1 } else new = "255.255.255.255" }
          flags = "," $3 ","; had = index(flags, ",noaddr,") > 0
          if (noaddr && !had) $3 = $3 ",noaddr"
          if (!noaddr && had) { sub(/,noaddr,/, ",", flags); $3 = substr(flags, 2, length(flags) - 2) }
          if (old != new || noaddr != had) {
            changed++
            printf "%s %s -> %s\n", substr($1, 1, 8), (old == "" ? "(none)" : old), (noaddr ? "noaddr (its own PING restores it)" : new) > "/dev/stderr"
          }
          $2 = new ":" port bus rest
        }
        print
      }
      printf "%d address(es) changed\n", changed + 0 > "/dev/stderr"
    }' "$rp_conf" > "$rp_tmp" 2> "$rp_tmp.todo" || {
    rp_report
    fail 1 "rewrite failed: leaving $rp_conf unchanged"
  }
  rp_report
  # Same number of lines or nothing: never replace nodes.conf with a truncated file.
  rp_new=$(wc -l < "$rp_tmp") || exit 1
  rp_old=$(wc -l < "$rp_conf") || exit 1
  for rp_n in "$rp_new" "$rp_old"; do
    case $rp_n in '' | *[!0-9\ ]*) fail 1 "cannot count lines ('$rp_n'): leaving $rp_conf unchanged" ;; esac
  done
  if [ "$rp_new" -ne "$rp_old" ] || [ "$rp_new" -eq 0 ]; then
    fail 1 "rewrite produced $rp_new lines for $rp_old: leaving $rp_conf unchanged"
  fi
  chmod 600 "$rp_tmp" 2>/dev/null || true
  mv "$rp_tmp" "$rp_conf" || exit 1
) || printf 'refresh-peers: failed (exit %s); starting with nodes.conf as it was\n' "$?" >&2
