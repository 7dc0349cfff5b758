# shellcheck shell=sh
# lib.sh — what the scripts beside it share: logging, redis-cli calls, INFO fields, the password, deadlines.
# Sourced (never run) by every script here but entrypoint.sh, from the script's own folder (a ConfigMap volume, a
# container's upload directory, infra/scripts), so it ships with each of them (infra/plan/scripts.ts, scriptFiles).
# Defines functions and the variables they document; changes no shell option. Variables it uses internally start with
# lib_, so a caller's names are safe.
#
# Environment read by the redis-cli calls:
#   REDIS_USER                   user to authenticate as [unset: default]
#   REDISCLI_AUTH                its password, read by redis-cli itself (never on argv; see load_password)
#   REDIS_TLS_CA_FILE [/ REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE]  TLS: redis-cli adds --tls --cacert [--cert --key]

lib_cr=$(printf '\r')
lib_nl='
'

# log MESSAGE... — prints "HH:MM:SS <log_name>: MESSAGE" on stderr (log_name: the caller's tag, else its $0).
log() { printf '%s %s: %s\n' "$(date -u +%H:%M:%S)" "${log_name:-${0##*/}}" "$*" >&2; }

# fail CODE MESSAGE... — logs "ERROR: MESSAGE" and exits the shell (or subshell) with CODE.
fail() { lib_code=$1; shift; log "ERROR: $*"; exit "$lib_code"; }

# is_count VALUE — exit status 0 when VALUE is a whole number (digits only, not empty), else 1.
is_count() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }

# load_password — when REDISCLI_AUTH is empty and REDIS_PASSWORD_FILE is set, exports REDISCLI_AUTH with that file's
# content (a mounted Secret or upload; redis-cli reads the variable, so the password is never on a command line).
# When the file cannot be read: logs that, leaves REDISCLI_AUTH as it was, exit status 1. Else exit status 0.
load_password() {
  [ -z "${REDISCLI_AUTH:-}" ] && [ -n "${REDIS_PASSWORD_FILE:-}" ] || return 0
  if [ -r "$REDIS_PASSWORD_FILE" ] && lib_pw=$(cat "$REDIS_PASSWORD_FILE"); then
    REDISCLI_AUTH=$lib_pw
    export REDISCLI_AUTH
    return 0
  fi
  log "cannot read the password file '$REDIS_PASSWORD_FILE' (REDIS_PASSWORD_FILE)"
  return 1
}

# now — sets now: whole seconds since boot, read without starting a process (some callers poll, or run every few
# seconds in every pod, and each exec costs CPU in a small container). Monotonic, unlike the wall clock; `date` only
# where /proc is not readable.
now() { if read -r now _ 2>/dev/null </proc/uptime; then now=${now%.*}; else now=$(date +%s); fi; }

# deadline_in SECONDS — sets deadline (and now): SECONDS from now. From then on no cli call runs past it.
deadline_in() { now; deadline=$((now + $1)); }

# expired — exit status 0 once the deadline has passed, else 1; sets now.
expired() { now; [ "$now" -ge "$deadline" ]; }

# remaining — sets rem: the seconds left before the deadline, at least 1 (and now).
remaining() { now; rem=$((deadline - now)); [ "$rem" -ge 1 ] || rem=1; }

# set_call_timeout VALUE DEFAULT — sets call_timeout, the seconds one cli call may take, to VALUE when it is a whole
# number >= 1. Otherwise sets DEFAULT and returns 1, so that a caller may refuse the setting instead.
set_call_timeout() {
  call_timeout=$1
  if ! is_count "$1" || [ "$1" -eq 0 ]; then call_timeout=$2; return 1; fi
}

# redis_cli SECONDS ARG... — runs redis-cli ARG... with REDIS_USER and the TLS options (see the top), killed after
# SECONDS (redis-cli has no read timeout: a frozen node accepts the connection and never answers). stdin is passed on.
# Output: its stdout and stderr together, as they come. Exit status: redis-cli's (124 or 137 when it was killed).
redis_cli() {
  lib_secs=$1
  shift
  timeout -k 1 "$lib_secs" redis-cli ${REDIS_USER:+--user "$REDIS_USER"} ${REDIS_TLS_CA_FILE:+--tls --cacert "$REDIS_TLS_CA_FILE"} ${REDIS_TLS_CERT_FILE:+--cert "$REDIS_TLS_CERT_FILE" --key "$REDIS_TLS_KEY_FILE"} "$@" 2>&1
}

# cli HOST:PORT [COMMAND ARG...] — one redis-cli call to one node (IPv6 hosts too: the port follows the last ':'),
# bounded by call_timeout [5] and, once deadline_in was called, by the deadline (at least 1 s). Without a COMMAND it
# sends the commands on stdin, one per line, on one connection (how secrets stay off argv). Output: the reply and any
# error as redis-cli prints them (INFO keeps its \r\n line ends: read it with field); nothing when the call timed out.
# Exit status: always 0 — callers judge the reply.
cli() {
  lib_hp=$1
  shift
  lib_secs=${call_timeout:-5}
  if [ -n "${deadline:-}" ]; then
    remaining
    [ "$rem" -ge "$lib_secs" ] || lib_secs=$rem
  fi
  redis_cli "$lib_secs" -h "${lib_hp%:*}" -p "${lib_hp##*:}" "$@" || true
}

# field REPLY NAME — prints the value of the `NAME:value` line in the INFO (or CLUSTER INFO) reply REPLY, without its
# \r and without starting a process; prints nothing when there is no such line. Exit status 0.
field() {
  lib_f=$lib_nl$1
  case $lib_f in
    *"$lib_nl$2:"*) lib_f=${lib_f#*"$lib_nl$2:"} && lib_f=${lib_f%%"$lib_nl"*} && printf '%s\n' "${lib_f%"$lib_cr"}" ;;
  esac
}
