#!/usr/bin/env bash
# Checks the project's shell scripts with shellcheck (part of npm test). The rig's entry
# point is checked with the files it sources (-x); the guest's init is a busybox sh script.
# The checker comes from Debian's shellcheck package: installed here when missing, as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v shellcheck >/dev/null; then
	if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
		echo "check_shell: shellcheck is missing: install the Debian package shellcheck (apt-get install shellcheck)" >&2
		exit 1
	fi
	echo "check_shell: installing shellcheck (Debian package)" >&2
	apt() { DEBIAN_FRONTEND=noninteractive flock /tmp/apt.lock apt-get -qq -o DPkg::Lock::Timeout=600 "$@" >/dev/null; }
	apt install -y --no-install-recommends shellcheck || { apt update && apt install -y --no-install-recommends shellcheck; } || {
		echo "check_shell: could not install shellcheck with apt-get (see above)" >&2
		exit 1
	}
fi
for f in scripts/rig/*.sh; do bash -n "$f"; done
shellcheck -x scripts/rig.sh scripts/rig/guest_init.sh scripts/build_barrier.sh scripts/check_shell.sh scripts/check_cc.sh .ci/run
echo "check_shell: shellcheck found nothing in the rig, the guest's init, build_barrier.sh, check_shell.sh, check_cc.sh and .ci/run"
