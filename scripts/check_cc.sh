#!/usr/bin/env bash
# Makes sure gcc can build the host-native device emulator (scripts/emu/wd_emu.c), which the
# unit tests run the queue against (part of npm test). gcc and the C library's headers come
# from Debian's gcc and libc6-dev packages: installed here when missing, as root.
set -euo pipefail

have_cc() {
	printf '#include <linux/types.h>\n#include <sys/eventfd.h>\nint main(void){return 0;}\n' |
		"${CC:-gcc}" -x c -o /dev/null - >/dev/null 2>&1
}

if ! have_cc; then
	if [[ -n "${CC:-}" ]] || [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
		echo "check_cc: ${CC:-gcc} cannot build C programs: install the Debian packages gcc and libc6-dev (apt-get install gcc libc6-dev), or set CC" >&2
		exit 1
	fi
	echo "check_cc: installing gcc and libc6-dev (Debian packages)" >&2
	apt() { DEBIAN_FRONTEND=noninteractive flock /tmp/apt.lock apt-get -qq -o DPkg::Lock::Timeout=600 "$@" >/dev/null; }
	apt install -y --no-install-recommends gcc libc6-dev || { apt update && apt install -y --no-install-recommends gcc libc6-dev; } || {
		echo "check_cc: could not install gcc and libc6-dev with apt-get (see above)" >&2
		exit 1
	}
	have_cc || { echo "check_cc: gcc was installed but still cannot build a C program" >&2; exit 1; }
fi
echo "check_cc: ${CC:-gcc} builds C programs (the device emulator of the unit tests)"
