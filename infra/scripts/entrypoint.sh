#!/bin/sh
# entrypoint.sh — starts one Redis Cluster node from the shared, secret-free redis.conf.
# Runs unchanged in the Docker container, the Kubernetes pod and the local harness: each
# passes only its addresses, ports and paths through the environment.
#
# Env (defaults in brackets):
#   REDIS_CONF_TEMPLATE  shared redis.conf, included first        [/etc/redis-cluster/redis.conf]
#   REDIS_RUN_DIR        writable dir for the runtime config       [/tmp/redis-cluster]
#   REDIS_DATA_DIR       data dir: nodes.conf, AOF, RDB            [/data]
#   REDIS_PORT           client port (bus port = +10000)           [6379]
#   REDIS_BIND           listen addresses                          [* -::*]
#   REDIS_ANNOUNCE_IP    address announced to peers and clients    [unset: Redis picks]
#   REDIS_ANNOUNCE_PORT / REDIS_ANNOUNCE_BUS_PORT                  [unset]
#   REDIS_ANNOUNCE_HOSTNAME, REDIS_PREFERRED_ENDPOINT_TYPE         [unset]
#   REDIS_PASSWORD_FILE, else REDIS_PASSWORD, else REDISCLI_AUTH   [unset: no auth]
#   REDIS_ENTRYPOINT_HOOK  script sourced before redis-server starts (e.g. refresh peer addresses; refresh-peers.sh
#                        also reads REDIS_PEER_DOMAIN, the pods' DNS domain when they announce external names)
#   REDIS_DISK_ERROR_DELAY seconds to wait before starting when the data dir cannot be written [10]
#   REDIS_TLS_CERT_FILE / REDIS_TLS_KEY_FILE / REDIS_TLS_CA_FILE  the node's certificate, key and CA, used when
#                        redis.conf has a tls-port (tls.enabled): the node listens on REDIS_PORT with TLS only
#                        [/etc/redis-cluster/tls/tls.crt, tls.key, ca.crt]
#   REDIS_ACL_FILE       ACL users (infra/plan/acl.ts, a Secret/upload): the node loads it from its data dir
#                        (users.acl, `aclfile`), keeping for each user the password hashes it saved there last
#                        (a rotation in progress: rotate.sh removes old ones and saves); no requirepass then
#                        [unset: requirepass with the password]
#   REDIS_MASTERUSER / REDIS_MASTERAUTH_FILE  user and password file a replica authenticates to its master with
#                        (with REDIS_ACL_FILE; without it masterauth is the password)
# The password goes into a mode-600 file, never onto redis-server's command line.
set -eu

template=${REDIS_CONF_TEMPLATE:-/etc/redis-cluster/redis.conf}
run_dir=${REDIS_RUN_DIR:-/tmp/redis-cluster}
data_dir=${REDIS_DATA_DIR:-/data}
port=${REDIS_PORT:-6379}

log() { printf 'entrypoint: %s\n' "$*" >&2; }

[ -r "$template" ] || { log "cannot read $template (REDIS_CONF_TEMPLATE)"; exit 1; }
case $port in '' | *[!0-9]*) log "REDIS_PORT must be a number, got '$port'"; exit 1 ;; esac

password=""
if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
  [ -r "$REDIS_PASSWORD_FILE" ] || { log "cannot read the password file $REDIS_PASSWORD_FILE (REDIS_PASSWORD_FILE)"; exit 1; }
  password=$(cat "$REDIS_PASSWORD_FILE")
  # An empty Secret must not silently start a node without authentication.
  [ -n "$password" ] || { log "the password file $REDIS_PASSWORD_FILE (REDIS_PASSWORD_FILE) is empty: refusing to start without a password; put the password in it (the Secret's key)"; exit 1; }
elif [ -n "${REDIS_PASSWORD:-}" ]; then
  password=$REDIS_PASSWORD
elif [ -n "${REDISCLI_AUTH:-}" ]; then
  password=$REDISCLI_AUTH
fi
case $password in
  *[!A-Za-z0-9!#%+,./:=@^_~-]*) log "the password has characters redis.conf cannot take unquoted (allowed: A-Z a-z 0-9 !#%+,-./:=@^_~)"; exit 1 ;;
esac

umask 077
mkdir -p "$run_dir" "$data_dir"
# A full or read-only data volume: redis-server (AOF on) exits at once, and a restart policy would restart it in a hot
# loop. Say why, and wait before starting (it may still start: without AOF a node serves reads on a full disk).
probe_file="$data_dir/.entrypoint-write-test"
if ! { dd if=/dev/zero of="$probe_file" bs=4096 count=16 2>/dev/null && sync "$probe_file" 2>/dev/null; }; then
  delay=${REDIS_DISK_ERROR_DELAY:-10}
  case $delay in '' | *[!0-9]*) delay=10 ;; esac
  log "cannot write 64 KiB to $data_dir (disk full or read-only?): free space on the data volume; starting in ${delay}s"
  rm -f "$probe_file"
  sleep "$delay"
fi
rm -f "$probe_file"
# TLS is on when the shared redis.conf says so (tls-port): REDIS_PORT becomes the TLS port and the plaintext port stays 0.
tls_on=""
if grep -q '^tls-port ' "$template"; then
  tls_on=1
  tls_cert=${REDIS_TLS_CERT_FILE:-/etc/redis-cluster/tls/tls.crt}
  tls_key=${REDIS_TLS_KEY_FILE:-/etc/redis-cluster/tls/tls.key}
  tls_ca=${REDIS_TLS_CA_FILE:-/etc/redis-cluster/tls/ca.crt}
  for f in "$tls_cert" "$tls_key" "$tls_ca"; do
    [ -r "$f" ] || { log "TLS is on (tls-port in $template) but $f cannot be read: mount the TLS Secret/upload or set REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE, REDIS_TLS_CA_FILE"; exit 1; }
  done
fi
acl_file=""
if [ -n "${REDIS_ACL_FILE:-}" ]; then
  [ -r "$REDIS_ACL_FILE" ] || { log "cannot read the ACL file $REDIS_ACL_FILE (REDIS_ACL_FILE): mount the ACL Secret/upload"; exit 1; }
  acl_file="$data_dir/users.acl"
  saved="$acl_file"
  [ -r "$saved" ] || saved=/dev/null
  # Rules from the delivered file; each user's password hashes: delivered plus those the node saved last.
  awk -v saved_file="$saved" '
    BEGIN { while ((getline l < saved_file) > 0) { n = split(l, f, " "); if (f[1] == "user") for (i = 3; i <= n; i++) if (f[i] ~ /^#/) saved[f[2]] = saved[f[2]] " " f[i] } }
    $1 == "user" { line = $0; n = split(saved[$2], h, " ")
                   for (j = 1; j <= n; j++) if (index(" " line " ", " " h[j] " ") == 0) line = line " " h[j]
                   print line }' "$REDIS_ACL_FILE" > "$acl_file.tmp"
  mv "$acl_file.tmp" "$acl_file"
fi
masterauth=""
if [ -n "${REDIS_MASTERAUTH_FILE:-}" ]; then
  [ -r "$REDIS_MASTERAUTH_FILE" ] || { log "cannot read $REDIS_MASTERAUTH_FILE (REDIS_MASTERAUTH_FILE)"; exit 1; }
  masterauth=$(cat "$REDIS_MASTERAUTH_FILE")
  case $masterauth in
    '' | *[!A-Za-z0-9!#%+,./:=@^_~-]*) log "the masterauth password in $REDIS_MASTERAUTH_FILE is empty or has characters redis.conf cannot take unquoted"; exit 1 ;;
  esac
fi
conf="$run_dir/redis.conf"
{
  printf 'include %s\n' "$template"
  if [ -n "$tls_on" ]; then
    printf 'port 0\ntls-port %s\n' "$port"
    printf 'tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\n' "$tls_cert" "$tls_key" "$tls_ca"
  else
    printf 'port %s\n' "$port"
  fi
  printf 'bind %s\n' "${REDIS_BIND:-* -::*}"
  printf 'dir %s\n' "$data_dir"
  [ -z "${REDIS_ANNOUNCE_IP:-}" ] || printf 'cluster-announce-ip %s\n' "$REDIS_ANNOUNCE_IP"
  [ -z "${REDIS_ANNOUNCE_PORT:-}" ] || printf 'cluster-announce-port %s\n' "$REDIS_ANNOUNCE_PORT"
  [ -z "${REDIS_ANNOUNCE_BUS_PORT:-}" ] || printf 'cluster-announce-bus-port %s\n' "$REDIS_ANNOUNCE_BUS_PORT"
  [ -z "${REDIS_ANNOUNCE_HOSTNAME:-}" ] || printf 'cluster-announce-hostname %s\n' "$REDIS_ANNOUNCE_HOSTNAME"
  [ -z "${REDIS_PREFERRED_ENDPOINT_TYPE:-}" ] || printf 'cluster-preferred-endpoint-type %s\n' "$REDIS_PREFERRED_ENDPOINT_TYPE"
  if [ -n "$acl_file" ]; then
    printf 'aclfile %s\n' "$acl_file"
    [ -z "${REDIS_MASTERUSER:-}" ] || printf 'masteruser %s\n' "$REDIS_MASTERUSER"
    [ -z "$masterauth" ] || printf 'masterauth "%s"\n' "$masterauth"
  elif [ -n "$password" ]; then
    printf 'requirepass "%s"\nmasterauth "%s"\n' "$password" "$password"
  fi
} > "$conf.tmp"
mv "$conf.tmp" "$conf"

if [ -n "${REDIS_ENTRYPOINT_HOOK:-}" ]; then
  # shellcheck disable=SC1090 # the hook path is chosen by the platform
  . "$REDIS_ENTRYPOINT_HOOK"
fi

log "starting redis-server on port $port (data in $data_dir)"
exec redis-server "$conf"
