#!/bin/sh
# tls-reload.sh — every live node loads its TLS certificate, key and CA again from the files it is configured with,
# so renewed certificates are presented without a restart: Redis 7 re-reads them on CONFIG SET, even with the same
# paths; open connections go on, new ones (clients, bus, replication) get the new certificate. The paths come from
# the node itself (CONFIG GET), so one call fits containers, pods and the local harness alike. A node that does not
# answer is skipped: it loads the files when it starts. Idempotent; never touches data.
# Env: REDIS_NODES          "host:port host:port ..." (required)
#      REDIS_USER           user to authenticate as (ACL: admin; needs CONFIG)
#      REDISCLI_AUTH, else REDIS_PASSWORD_FILE   its password (never on argv)
#      REDIS_TLS_CA_FILE [/ REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE]  this client's TLS (required: TLS is on)
#      RELOAD_CALL_TIMEOUT  seconds one redis-cli call may take [5]
# Exit: 0 every node that answered reloaded, 1 usage, 2 a node answered but refused (its error is printed).
set -eu
case $0 in */*) lib_dir=${0%/*} ;; *) lib_dir=. ;; esac
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$lib_dir/lib.sh"
log_name=tls-reload

[ -n "${REDIS_NODES:-}" ] || fail 1 "REDIS_NODES is empty"
[ -n "${REDIS_TLS_CA_FILE:-}" ] || fail 1 "REDIS_TLS_CA_FILE is empty: the nodes speak TLS only"
load_password || exit 1
set_call_timeout "${RELOAD_CALL_TIMEOUT:-5}" 5 || true

# The value of one CONFIG GET reply (name line, value line).
value() { printf '%s\n' "$1" | sed -n 2p; }

failed=0
reloaded=0
for hp in $REDIS_NODES; do
  cert=$(cli "$hp" config get tls-cert-file)
  case $cert in
    tls-cert-file*) ;;
    *"Could not connect"* | *"Connection refused"* | *"No route"* | '') log "$hp does not answer: skipped; it loads the files when it starts"; continue ;;
    *) log "$hp refused CONFIG GET: $cert"; failed=1; continue ;;
  esac
  key=$(value "$(cli "$hp" config get tls-key-file)")
  ca=$(value "$(cli "$hp" config get tls-ca-cert-file)")
  out=$(cli "$hp" config set tls-cert-file "$(value "$cert")" tls-key-file "$key" tls-ca-cert-file "$ca")
  if [ "$out" = OK ]; then
    reloaded=$((reloaded + 1))
  else
    log "$hp refused the reload: $out"
    failed=1
  fi
done
log "reloaded on $reloaded node(s)"
[ "$failed" -eq 0 ] || exit 2
