#!/bin/sh
# Installs the Debian packages the tests and the local demo run for real.
# Idempotent: does nothing when every binary is already on PATH.
set -eu

need=""
command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
command -v redis-cli >/dev/null 2>&1 || need="$need redis-tools"
command -v promtool >/dev/null 2>&1 || need="$need prometheus"
command -v prometheus-redis-exporter >/dev/null 2>&1 || need="$need prometheus-redis-exporter"
command -v shellcheck >/dev/null 2>&1 || need="$need shellcheck"
command -v yamllint >/dev/null 2>&1 || need="$need yamllint"

[ -z "$need" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "install-system-deps: missing:$need — run as root: apt-get install -y$need" >&2
  exit 1
fi
echo "install-system-deps: installing$need" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # word splitting of the package list is intended
$sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends $need >/dev/null
