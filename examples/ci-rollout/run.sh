#!/usr/bin/env bash
# A rollout from CI, end to end, on this machine's single-node skiff cluster:
#   1. deploy v1 with --wait                        → exit 0, the page says v1
#   2. deploy v2 (its health check fails)           → rolled back, exit non-zero, v1 still serves
#   3. deploy v3 (fixed)                            → exit 0, the page says v3
# The script itself exits 0 only when all three behaved like that, so it doubles as a
# check. Set CI_ROLLOUT_PORT to publish elsewhere than 8081; the stack is left running
# (remove it with `skiff stack rm ci`).
set -uo pipefail
cd "$(dirname "$0")"
port=${CI_ROLLOUT_PORT:-8081}
export CI_ROLLOUT_PORT=$port

fail() { echo "ci-rollout: $*" >&2; exit 1; }
page() { busybox wget -q -O - "http://127.0.0.1:$port/" 2>/dev/null; }
wait_for_page() {
  local want=$1 deadline=$((SECONDS + 60))
  until [ "$(page)" = "$want" ]; do
    [ $SECONDS -lt $deadline ] || fail "the page did not say $want within 60s (it says: $(page || echo nothing))"
    sleep 0.5
  done
}
# What a CI job runs: the exit code is the verdict.
deploy() { APP_TAG=$1 skiff stack deploy -c stack.yaml --wait --timeout "${CI_ROLLOUT_TIMEOUT:-2m}" ci; }

bash ./build-images.sh || fail "building the images failed"
skiff daemon start >/dev/null || fail "the local skiff node did not start"

echo "== deploy v1"
deploy v1 || fail "deploying v1 failed"
wait_for_page v1
echo "v1 serves: $(page)"

echo "== deploy v2 (its /health is missing: the health check fails)"
if deploy v2; then fail "deploying v2 exited 0, but its rollout should have rolled back"; fi
echo "deploy v2 exited non-zero, as a CI job needs it to"
[ "$(page)" = v1 ] || fail "after the rollback the page says '$(page)', not v1"
echo "v1 still serves: $(page)"

echo "== deploy v3 (the fix)"
deploy v3 || fail "deploying v3 failed"
wait_for_page v3
echo "v3 serves: $(page)"
echo
echo "done: http://127.0.0.1:$port/ serves v3. Remove the stack with: skiff stack rm ci"
