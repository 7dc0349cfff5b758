#!/bin/sh
# One-step set-up used before `npm test` and `npm run demo` on a fresh machine:
# Debian packages (redis, prometheus, exporter, linters, docker.io, debootstrap), the npm packages from package-lock.json,
# and the rootfs of the Docker tests' stand-in images.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-system-deps.sh
# npm ci writes node_modules/.package-lock.json; reinstall only when the lock file is newer.
if [ ! -f node_modules/.package-lock.json ] || [ -n "$(find package-lock.json -newer node_modules/.package-lock.json)" ]; then
  echo "setup: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
# Stand-in images of the Docker tests (debootstrap from apt's Debian mirror, cached under /var/cache/redis-cluster-test):
# built here once, so a cold cache does not count against a test's time bound.
node --import tsx testbed/docker/images.ts
