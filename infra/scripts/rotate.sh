#!/bin/sh
# rotate.sh add|remove — applies the ACL file (infra/plan/acl.ts) to every live node, so passwords change without
# a failed client request. A rotation is: `add`, then clients and nodes switch, then `remove`.
#   add     each user gets the file's rules and password hashes, and keeps the hashes it has live (old and new
#           passwords both work); replicas get the new masteruser/masterauth (CONFIG SET); ACL SAVE, so a node
#           restarted now still knows both (entrypoint.sh merges). A node that does not answer is skipped: it
#           loads the file when it starts. New users are created.
#   remove  each user gets exactly the file's rules and hashes (old passwords refused from now on); users that are
#           not in the file are deleted (ACL DELUSER; `default` never); ACL SAVE. Every node must answer.
# Idempotent: running either step again changes nothing more. Never touches data.
# Env: REDIS_NODES          "host:port host:port ..." (required)
#      ROTATE_ACL_FILE      the ACL file to apply (required)
#      REDIS_USER           user to authenticate as (admin)
#      REDISCLI_AUTH, else REDIS_PASSWORD_FILE   its password (never on argv)
#      REDIS_PREVIOUS_PASSWORD_FILE  its previous password: tried on a node that refuses the current one (the
#                           admin password itself is being rotated and this node has not got it yet)
#      REDIS_MASTERUSER / REDIS_MASTERAUTH_FILE  replication user and password file, set live on every node
#      ROTATE_CALL_TIMEOUT  seconds one redis-cli call may take [5]
#      REDIS_TLS_CA_FILE [/ REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE]  TLS: redis-cli adds --tls --cacert [--cert --key]
# Exit: 0 applied everywhere it had to, 1 usage or authentication error, 2 a node refused a rule or did not answer.
set -eu
case $0 in */*) lib_dir=${0%/*} ;; *) lib_dir=. ;; esac
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$lib_dir/lib.sh"

mode=${1:-}
case $mode in add | remove) ;; *) echo "usage: rotate.sh add|remove" >&2; exit 1 ;; esac
log_name="rotate $mode"
[ -n "${REDIS_NODES:-}" ] || fail 1 "REDIS_NODES is empty"
[ -r "${ROTATE_ACL_FILE:-}" ] || fail 1 "cannot read ROTATE_ACL_FILE '${ROTATE_ACL_FILE:-}'"
load_password || exit 1
current_auth=${REDISCLI_AUTH:-}
previous_auth=""
if [ -n "${REDIS_PREVIOUS_PASSWORD_FILE:-}" ] && [ -r "$REDIS_PREVIOUS_PASSWORD_FILE" ]; then
  previous_auth=$(cat "$REDIS_PREVIOUS_PASSWORD_FILE")
fi
masterauth=""
if [ -n "${REDIS_MASTERAUTH_FILE:-}" ]; then
  masterauth=$(cat "$REDIS_MASTERAUTH_FILE")
  case $masterauth in '' | *[!A-Za-z0-9!#%+,./:=@^_~-]*) fail 1 "the password in REDIS_MASTERAUTH_FILE is empty or has unsupported characters" ;; esac
fi
set_call_timeout "${ROTATE_CALL_TIMEOUT:-5}" 5 || true

# The commands that bring one node to the file: $1 = its `ACL LIST` (live users), $2 = add|remove.
commands() {
  printf '%s\n' "$1" | awk -v mode="$2" -v file="$ROTATE_ACL_FILE" '
    { if ($1 == "user") { live[$2] = 1; for (i = 3; i <= NF; i++) if ($i ~ /^#/) hashes[$2] = hashes[$2] " " $i } }
    END {
      while ((getline line < file) > 0) {
        n = split(line, f, " ")
        if (f[1] != "user") continue
        wanted[f[2]] = 1
        out = "ACL SETUSER " f[2] " reset"
        for (i = 3; i <= n; i++) out = out " " f[i]
        if (mode == "add") {
          m = split(hashes[f[2]], h, " ")
          for (j = 1; j <= m; j++) if (index(" " line " ", " " h[j] " ") == 0) out = out " " h[j]
        }
        print out
      }
      if (mode == "remove") for (u in live) if (!(u in wanted) && u != "default") print "ACL DELUSER " u
    }'
  if [ -n "${REDIS_MASTERUSER:-}" ]; then printf 'CONFIG SET masteruser %s\n' "$REDIS_MASTERUSER"; fi
  if [ -n "$masterauth" ]; then printf 'CONFIG SET masterauth %s\n' "$masterauth"; fi
  echo "ACL SAVE"
}

REDISCLI_AUTH=$current_auth
export REDISCLI_AUTH
# add: which nodes answer at all, asked of all of them at once. On a first deploy none exists yet, and one by one each
# would cost its whole call timeout. Any reply, even a refusal, means the node is live.
answered=""
if [ "$mode" = add ]; then
  answered=$(for hp in $REDIS_NODES; do (r=$(cli "$hp" ping) || true; case $r in PONG | *WRONGPASS* | *NOAUTH* | *"invalid username-password"* | *NOPERM*) echo "$hp" ;; esac) & done; wait)
fi

failed=0
applied=0
for hp in $REDIS_NODES; do
  if [ "$mode" = add ] && ! printf '%s\n' "$answered" | grep -q -x -F "$hp"; then
    log "$hp does not answer: skipped; it loads the ACL file when it starts"
    continue
  fi
  REDISCLI_AUTH=$current_auth
  export REDISCLI_AUTH
  out=$(cli "$hp" ping) || true
  case $out in
    *WRONGPASS* | *NOAUTH* | *"invalid username-password"*)
      if [ -n "$previous_auth" ]; then
        REDISCLI_AUTH=$previous_auth
        out=$(cli "$hp" ping) || true
      fi ;;
  esac
  case $out in
    PONG) ;;
    *WRONGPASS* | *NOAUTH* | *"invalid username-password"* | *NOPERM*)
      log "$hp refused ${REDIS_USER:-default} with the current and previous password ($out)"; exit 1 ;;
    *)
      if [ "$mode" = add ]; then
        log "$hp does not answer ($out): skipped; it loads the ACL file when it starts"
        continue
      fi
      log "$hp does not answer ($out): the old passwords stay valid there; run again once it is up"
      failed=1
      continue ;;
  esac
  live=$(cli "$hp" acl list)
  # The commands go on stdin (they carry password hashes and masterauth: never on argv), one reply per command:
  # anything but OK (or the DELUSER count) is a refused rule.
  replies=$(commands "$live" "$mode" | cli "$hp")
  bad=$(printf '%s\n' "$replies" | grep -v -x -e OK -e '[0-9]*' -e '(integer) [0-9]*' || true)
  if [ -n "$bad" ]; then
    log "$hp refused: $bad"
    failed=1
    continue
  fi
  applied=$((applied + 1))
done
log "applied on $applied node(s)"
[ "$failed" -eq 0 ] || exit 2
