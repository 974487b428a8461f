#!/usr/bin/env bash
# Installs a configured and built vlb build tree into a temporary prefix, then
# configures, builds and runs the consumer project beside this script against
# it (find_package(vlb) with -DCMAKE_PREFIX_PATH=<prefix>).
#
# Usage: tests/package/run.sh <vlb build dir>
# scripts/test runs it once, after the normal (non-sanitizer) build.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 <vlb build dir>" >&2; exit 2; }
[ -f "$1/CMakeCache.txt" ] || { echo "package: $1 is not a configured CMake build dir" >&2; exit 2; }
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/vlb-package.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

fail() { echo "package: FAILED: $*" >&2; exit 1; }
quiet() {  # quiet <log> <command...>: show the output only when it fails
  local log=$1; shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
}

echo "package: installing $build into a temporary prefix"
quiet "$tmp/install.log" cmake --install "$build" --prefix "$prefix" || fail "cmake --install"

# The package must be relocatable and hold only the public API.
config=$(find "$prefix" -name vlbConfig.cmake | head -n 1)
[ -n "$config" ] || fail "no vlbConfig.cmake installed"
if grep -rlF -e "$repo" -e "$build" "$(dirname "$config")" >"$tmp/abs.txt"; then
  fail "installed CMake files name the source or build tree: $(tr '\n' ' ' <"$tmp/abs.txt")"
fi
extra=$(cd "$prefix/include" && find . -mindepth 1 -maxdepth 1 ! -name vlb)
[ -z "$extra" ] || fail "headers outside include/vlb installed: $extra"
[ -f "$prefix/include/vlb/registrar.h" ] || fail "include/vlb/registrar.h not installed"
if grep -q '^VLB_BUILD_TOOLS:BOOL=ON' "$build/CMakeCache.txt"; then
  [ -x "$prefix/bin/vlbctl" ] || fail "bin/vlbctl not installed"
  "$prefix/bin/vlbctl" --help >/dev/null || fail "the installed vlbctl --help exited with $?"
fi

gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
echo "package: building the consumer against it"
quiet "$tmp/configure.log" cmake -S "$here" -B "$tmp/consumer" "${gen[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$prefix" \
  -DVLB_EXPECTED_PREFIX="$prefix" || fail "configuring the consumer"
quiet "$tmp/build.log" cmake --build "$tmp/consumer" -j 2 || fail "building the consumer"
"$tmp/consumer/vlb_consumer" || fail "the consumer exited with $?"
echo "package: 1 passed, 0 failed"
