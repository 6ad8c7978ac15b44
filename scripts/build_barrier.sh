#!/bin/sh
# Compiles the optional C barrier (c/wd_barrier.c) into a shared object that
# src/sys/barrier.ts loads through koffi:
#
#   .cache/wd_barrier/linux-<arch>/libwd_barrier.so     (<arch> as Node names it: x64, arm64, ...)
#
#   bash scripts/build_barrier.sh [OUT_DIR]
#
# CC picks the compiler (default cc). Without a C compiler it says so and exits 0:
# the library then uses its pure-JavaScript doorbell (see src/sys/barrier.ts for
# what that guarantees on each architecture). Prints the path of the .so.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cc=${CC:-cc}

case $(uname -m) in
x86_64 | amd64) arch=x64 ;;
aarch64 | arm64) arch=arm64 ;;
i?86) arch=ia32 ;;
armv*) arch=arm ;;
ppc64le | ppc64) arch=ppc64 ;;
*) arch=$(uname -m) ;;
esac
out=${1:-$root/.cache/wd_barrier/linux-$arch}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "build_barrier: no C compiler (\"$cc\"): not built; doorbells use Atomics.store (see src/sys/barrier.ts)" >&2
	exit 0
fi

mkdir -p "$out"
# Build beside the target and rename, so a process loading the old one never sees half a file.
"$cc" -O2 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden \
	-o "$out/libwd_barrier.so.tmp.$$" "$root/c/wd_barrier.c"
mv -f "$out/libwd_barrier.so.tmp.$$" "$out/libwd_barrier.so"
echo "$out/libwd_barrier.so"
