#!/bin/sh
# Installs the Debian packages the tests and the local demo run for real (used by .ci/run, npm test, npm run demo):
# redis-server redis-tools prometheus prometheus-redis-exporter prometheus-pushgateway shellcheck yamllint docker.io debootstrap iptables
# openssl restic rclone.
# Idempotent: installs only what is missing, and fails unless every binary is on PATH afterwards.
set -eu

# "binary package" pairs: the binary the project runs, and the Debian package that ships it.
PAIRS="redis-server:redis-server redis-cli:redis-tools promtool:prometheus prometheus:prometheus
prometheus-redis-exporter:prometheus-redis-exporter prometheus-pushgateway:prometheus-pushgateway shellcheck:shellcheck yamllint:yamllint
dockerd:docker.io debootstrap:debootstrap iptables:iptables openssl:openssl restic:restic rclone:rclone"

missing() { # each package once, even when several of its binaries are missing
  out=""
  for pair in $PAIRS; do
    command -v "${pair%%:*}" >/dev/null 2>&1 && continue
    case "$out " in *" ${pair#*:} "*) ;; *) out="$out ${pair#*:}" ;; esac
  done
  printf '%s' "$out"
}

need=$(missing)
[ -z "$need" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "install-system-deps: missing:$need — run as root: apt-get install -y$need" >&2
  exit 1
fi
echo "install-system-deps: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # word splitting of the package list is intended
$sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends $need >/dev/null

still=$(missing)
if [ -n "$still" ]; then
  echo "install-system-deps: still missing after apt-get install:$still" >&2
  exit 1
fi
