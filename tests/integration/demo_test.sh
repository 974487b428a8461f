#!/usr/bin/env bash
# Runs the scenario of scripts/demo against built binaries and checks what a
# reader of the demo is told: v1 calls reach only v1 instances, v3 fails with
# the "no instance ... matches version" message, the route document's rules
# and sticky split, explain, a drain without failed calls, lanes, v2 failing
# once its instance is stopped; the demo exits 0 and leaves no process and no
# temp dir behind.
#
# Usage: demo_test.sh <scripts/demo> <dir with vlb_example_server/_client>
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 <demo script> <bin dir>" >&2; exit 2; }
demo=$1 bin_dir=$2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vlb-demo-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=$tmp/demo.out
mkdir "$tmp/t"

errors=0
check() {  # check <description> <command>...
  if "${@:2}"; then
    printf 'ok:   %s\n' "$1"
  else
    printf 'FAIL: %s\n' "$1"
    errors=$((errors + 1))
  fi
}

# Every process the demo starts inherits this variable, which is how we find
# leftovers afterwards (no process group or session tricks needed).
tag="VLB_DEMO_TEST_TAG=$$-$RANDOM"
rc=0
env -u VLB_ETCD_ENDPOINTS "$tag" TMPDIR="$tmp/t" \
  bash "$demo" --no-build --bin-dir "$bin_dir" >"$out" 2>&1 || rc=$?
cat "$out"
echo "--- demo exited with $rc"

# section <client flags>: the result lines of the first client run with
# exactly these flags.
section() {
  awk -v cmd="  \$ vlb_example_client $*" '
    $0 == cmd { on = 1; next }
    on && /^      / { sub(/^      /, ""); print; next }
    on { exit }' "$out"
}

leftovers() {
  local env_file pid found=()
  for env_file in /proc/[0-9]*/environ; do
    pid=${env_file#/proc/}
    pid=${pid%/environ}
    grep -qzxF "$tag" "$env_file" 2>/dev/null && found+=("$pid")
  done
  [ ${#found[@]} -eq 0 ] && return 0
  echo "left running: ${found[*]}"
  for pid in "${found[@]}"; do
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null; echo
    kill -KILL "$pid" 2>/dev/null || true
  done
  return 1
}

only_lines() {  # only_lines <regex> <text>: non-empty, every line matches
  [ -n "$2" ] && ! grep -qvE "$1" <<<"$2"
}

v1=$(section --version=v1 --calls=4)
v2=$(section --version=v2 --calls=2)
v3=$(section --version=v3)
v2_after=$(section --version=v2)

gateway=$(section --version=v1 --calls=3)
laned=$(section --version=v1 --lane=feature-x --calls=2)
unlaned=$(section --version=v1 --calls=2)
lane_fallback=$(section --version=v2 --lane=feature-x --calls=1)
# "uid-3 -> v1 (app-v1-b)": the user and the version side.
sides=$(grep -E '^      uid-[0-9]+ -> ' "$out" | awk '{ print $1, $3 }')
first_sides=$(head -n 20 <<<"$sides")
second_sides=$(tail -n 20 <<<"$sides")

check "demo exits 0" [ "$rc" -eq 0 ]
check "the caller rule sends gateway 2.x's v1 calls to v2" \
  only_lines '^OK app-v2-a v2: call-[0-9]+$' "$gateway"
check "the sticky split names a side for 20 users, twice" \
  [ "$(grep -c . <<<"$sides")" -eq 40 ]
check "sides are v1 or the v2 canary, both taken" \
  only_lines '^uid-[0-9]+ v[12]$' "$sides"
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
# 10% of 20 users; the hash is fixed, so the count is too (2 for uid-1..20).
check "the canary gets some users, not most" \
  between "$(grep -c ' v2$' <<<"$first_sides")" 1 6
check "every user lands on the same side both times" \
  [ "$first_sides" = "$second_sides" ]
check "v1 calls answered only by v1 instances" \
  only_lines '^OK app-v1-[ab] v1: call-[0-9]+$' "$v1"
check "all 4 v1 calls answered" [ "$(grep -c '^OK ' <<<"$v1")" -eq 4 ]
check "v2 calls answered only by the v2 instance" \
  only_lines '^OK app-v2-a v2: call-[0-9]+$' "$v2"
check "v3 fails with UNAVAILABLE naming the missing version" \
  grep -qF 'ERR UNAVAILABLE no instance of hwholiday.srv.app matches version "v3"' <<<"$v3"
check "v2 fails after its instance stopped" \
  grep -qF 'ERR UNAVAILABLE no instance of hwholiday.srv.app matches version "v2"' <<<"$v2_after"
check "the drain under load fails no call" \
  grep -qxF '      failed calls: 0' "$out"
check "after the drain only app-v1-b serves" \
  grep -qE '^      calls [0-9]+-40, after it: +app-v1-b x[0-9]+$' "$out"
check "explain names the sticky canary rule" \
  grep -qE '^      RULE      canary \(sticky bucket [0-9]+\)$' "$out"
check "explain says why the drained instance gets no calls" \
  grep -qE '^      app-v1-a .* drained; undrained instances serve the call$' "$out"
check "lane calls reach the laned instance" \
  only_lines '^OK app-v1-x v1: call-[0-9]+$' "$laned"
check "calls without a lane never reach it" \
  only_lines '^OK app-v1-[ab] v1: call-[0-9]+$' "$unlaned"
check "a lane without a matching instance falls back to the baseline" \
  only_lines '^OK app-v2-a v2: call-1$' "$lane_fallback"
check "no process of the demo left running" leftovers
check "no temp dir left behind" [ -z "$(ls -A "$tmp/t")" ]

[ $errors -eq 0 ] || { echo "$errors check(s) failed"; exit 1; }
echo "all checks passed"
