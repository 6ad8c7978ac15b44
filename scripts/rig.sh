#!/usr/bin/env bash
# Kernel test rig: boots Debian's own kernel in QEMU (TCG) with QEMU's edu PCI device
# behind an emulated Intel IOMMU, binds edu to vfio-pci, loads the project's test kernel
# module, and runs a command as root inside the guest on the host's own root file system
# (shared read-only over 9p). Run with --help for usage; the comments beside the QEMU
# options and in the guest's init script say why each one is there.
set -euo pipefail
# The pieces are in scripts/rig/: common.sh (settings, helpers), host.sh (packages,
# preflight), kernel.sh, kmod.sh (module build), initramfs.sh, guest_init.sh (the guest's
# PID 1) and boot.sh (QEMU).
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: bash scripts/rig.sh COMMAND [ARGS]

Boot a Linux kernel in QEMU with an edu device bound to vfio-pci and the project's
test module loaded, then run something inside it as root, from the repository root.

Commands:
  test [FILTER...]      run the kernel tier in the guest: every test file under
                        tests/kernel (or those whose path contains a FILTER), then
                        a per-file count; a file that ran no test fails the run
  run [--] CMD [ARGS]   run any command in the guest
  setup                 only prepare the host (packages, kernel, module build)
  preflight             only check that every host program the rig uses is present
  --help                show this text

The exit status is the guest command's. A problem with the rig itself (packages,
kernel download, module build, boot, timeout) prints a line starting with
"kernel rig:" and exits non-zero.

Environment (host side):
  WD_RIG_KVER=VERSION   kernel version (default: what linux-image-amd64 depends on)
  WD_RIG_TIMEOUT=SECS   hard limit for the whole guest run (default 1200)
  WD_KMOD_SRC=DIR       Kbuild module source to build and load (default scripts/rig/kmod;
                        nothing is built when it has no Makefile; empty: no module)
  WD_RIG_OUT=DIR        host directory shared writable into the guest at the same
                        path (for results such as benchmark output)
  WD_RIG_APPEND=ARGS    extra kernel command line (e.g. loglevel=7 to see more)
  WD_RIG_KEEP=1         keep the per-run directory (initramfs, console log)

Environment inside the guest:
  WD_RIG=1, WD_EDU_BDF (edu's PCI address), WD_KMOD_KO (built .ko or empty),
  WD_KMOD_DIR (all built .ko files), WD_RIG_OUT (when given), HOME=/tmp/home,
  TMPDIR=/tmp; /tmp, /run, /var/tmp and /dev/shm are tmpfs, the rest is read-only.
EOF
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
RIG_DIR="$REPO/scripts/rig"
# shellcheck source=scripts/rig/common.sh
. "$RIG_DIR/common.sh"
# shellcheck source=scripts/rig/host.sh
. "$RIG_DIR/host.sh"
# shellcheck source=scripts/rig/kernel.sh
. "$RIG_DIR/kernel.sh"
# shellcheck source=scripts/rig/kmod.sh
. "$RIG_DIR/kmod.sh"
# shellcheck source=scripts/rig/initramfs.sh
. "$RIG_DIR/initramfs.sh"
# shellcheck source=scripts/rig/boot.sh
. "$RIG_DIR/boot.sh"

main() {
	local cmd=${1:-}
	local args=()
	case $cmd in
	-h | --help | help) usage; return 0 ;;
	test)
		shift
		# run_tier.ts runs bun test on the files matching the filters (all of tests/kernel
		# by default) and then reports every file's counts, failing a file that ran none.
		# Everything is slower under TCG: a per-test limit of minutes, not bun's 5 s.
		args=(bun tests/run_tier.ts tests/kernel "$@" -- --timeout 180000)
		;;
	run)
		shift
		[[ ${1:-} != -- ]] || shift
		(($#)) || { usage >&2; die "run needs a command"; }
		args=("$@")
		;;
	setup) shift ;;
	preflight)
		preflight
		log "preflight: every host program is present"
		return 0
		;;
	*) usage >&2; die "unknown command '${cmd}'" ;;
	esac

	START_US=$(now_us)
	TIMEOUT=${WD_RIG_TIMEOUT:-1200}
	[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "WD_RIG_TIMEOUT '$TIMEOUT' is not a number of seconds"
	OUT=""
	if [[ -n ${WD_RIG_OUT:-} ]]; then
		mkdir -p "$WD_RIG_OUT"
		OUT=$(cd "$WD_RIG_OUT" && pwd -P)
	fi

	resolve_kver
	install_packages qemu-system-x86 busybox-static cpio xz-utils gcc make libc6-dev
	preflight
	fetch_kernel
	# Headers after the kernel: a wrong WD_RIG_KVER then fails on the kernel, saying so.
	if has_kmod; then install_packages "linux-headers-$KVER"; fi

	RUN=$(mktemp -d "${TMPDIR:-/tmp}/wd-rig.XXXXXX")
	trap cleanup EXIT
	trap 'log "interrupted"; exit 130' INT
	trap 'log "terminated"; exit 143' TERM
	build_kmod
	[[ $cmd != setup ]] || { log "host ready: kernel $KVER in ${KDIR#"$REPO"/}"; return 0; }
	build_initramfs "${args[@]}"
	boot
}

main "$@"
