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

log() { printf 'tls-reload: %s\n' "$*" >&2; }
[ -n "${REDIS_NODES:-}" ] || { log "REDIS_NODES is empty"; exit 1; }
[ -n "${REDIS_TLS_CA_FILE:-}" ] || { log "REDIS_TLS_CA_FILE is empty: the nodes speak TLS only"; exit 1; }
if [ -z "${REDISCLI_AUTH:-}" ] && [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
  REDISCLI_AUTH=$(cat "$REDIS_PASSWORD_FILE")
  export REDISCLI_AUTH
fi
call_timeout=${RELOAD_CALL_TIMEOUT:-5}
case $call_timeout in '' | *[!0-9]* | 0) call_timeout=5 ;; esac

cli() { hp=$1; shift; timeout -k 1 "$call_timeout" redis-cli ${REDIS_USER:+--user "$REDIS_USER"} --tls --cacert "$REDIS_TLS_CA_FILE" ${REDIS_TLS_CERT_FILE:+--cert "$REDIS_TLS_CERT_FILE" --key "$REDIS_TLS_KEY_FILE"} -h "${hp%:*}" -p "${hp##*:}" "$@" 2>&1 || true; }
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
