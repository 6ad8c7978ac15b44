#!/usr/bin/env bash
# Kernel test rig: boots Debian's own kernel in QEMU (TCG) with QEMU's edu PCI device
# behind an emulated Intel IOMMU, binds edu to vfio-pci, loads the project's test kernel
# module, and runs a command as root inside the guest on the host's own root file system
# (shared read-only over 9p). Run with --help for usage; the comments beside the QEMU
# options and in the guest's init script say why each one is there.
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
  WD_KMOD_SRC=DIR       Kbuild module source to build and load (default tests/kmod;
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
CACHE="$REPO/.cache/rig"
APT_LOCK=/tmp/apt.lock
# Modules the guest needs for 9p and VFIO; their dependencies are added automatically.
GUEST_MODULES=(virtio_pci 9pnet_virtio 9p vfio vfio_iommu_type1 vfio_pci mdev)
# Busybox applets the guest command finds first on its PATH (/run/wd-rig/bin).
GUEST_TOOLS=(insmod rmmod modprobe lsmod dmesg)

# Every program the rig runs on the host, or a guest command runs from the host's root,
# as "program:Debian package". The rig installs the packages it knows a fresh machine
# lacks (install_packages below); the preflight then checks them all before anything is
# built or booted. Inside the guest, busybox brings the module tools (GUEST_TOOLS).
HOST_PROGRAMS=(
	apt-get:apt apt-cache:apt dpkg:dpkg dpkg-query:dpkg
	bash:bash sh:dash env:coreutils timeout:coreutils mktemp:coreutils sha256sum:coreutils
	stat:coreutils mknod:coreutils tee:coreutils cut:coreutils tr:coreutils paste:coreutils
	head:coreutils tail:coreutils sed:sed grep:grep find:findutils tar:tar
	flock:util-linux setpriv:util-linux
	gzip:gzip xz:xz-utils cpio:cpio busybox:busybox-static
	make:make gcc:gcc qemu-system-x86_64:qemu-system-x86 node:nodejs
)

log() { printf 'rig: %s\n' "$*" >&2; }
die() {
	printf 'kernel rig: %s\n' "$*" >&2
	exit 1
}
# Single-quote a value for POSIX sh (the guest's busybox sh and bash both read it).
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
secs() { printf '%d.%d' $(($1 / 1000000)) $(($1 % 1000000 / 100000)); }

# ---------------------------------------------------------------- host packages

APT_UPDATED=0
# apt-get serialised with everyone else on the machine (flock), never interactive.
apt_run() {
	DEBIAN_FRONTEND=noninteractive flock "$APT_LOCK" \
		apt-get -q -o DPkg::Lock::Timeout=600 -o APT::Sandbox::User=root "$@"
}
# Refresh the package lists at most once per run, and only when something is missing.
apt_update_once() {
	((APT_UPDATED == 0)) || return 1
	APT_UPDATED=1
	[[ $EUID -eq 0 ]] || return 1
	log "updating the apt package lists"
	apt_run update >&2
}
has_candidate() { apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [^(]'; }
is_installed() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'; }

install_packages() {
	local p missing=()
	for p in "$@"; do is_installed "$p" || missing+=("$p"); done
	((${#missing[@]})) || return 0
	[[ $EUID -eq 0 ]] ||
		die "missing Debian packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})"
	for p in "${missing[@]}"; do
		has_candidate "$p" || { apt_update_once || true; break; }
	done
	log "installing ${missing[*]}"
	apt_run install -y --no-install-recommends "${missing[@]}" >&2 ||
		{ apt_update_once && apt_run install -y --no-install-recommends "${missing[@]}" >&2; } ||
		die "could not install Debian packages: ${missing[*]} (apt-get failed, see above)"
}

# Stops with one line naming the first missing program and its package.
preflight() {
	local entry prog pkg
	for entry in "${HOST_PROGRAMS[@]}"; do
		prog=${entry%%:*}
		pkg=${entry#*:}
		command -v "$prog" >/dev/null ||
			die "preflight: $prog is missing: install the Debian package $pkg (apt-get install $pkg)"
	done
	# The initramfs has no libc: only the static busybox runs there.
	[[ -x /bin/busybox ]] && is_installed busybox-static ||
		die "preflight: /bin/busybox is missing or not the static one: install the Debian package busybox-static"
	[[ -x $REPO/node_modules/.bin/bun ]] ||
		die "preflight: bun is missing from node_modules: run npm install in $REPO"
}

# The kernel version: WD_RIG_KVER, else the one the linux-image-amd64 metapackage depends on.
resolve_kver() {
	if [[ -n ${WD_RIG_KVER:-} ]]; then
		KVER=$WD_RIG_KVER
	else
		# apt-cache takes over a second; remember its answer until the package lists change.
		local q='s/^ *Depends: linux-image-\([^ ]*\).*$/\1/p' memo="$CACHE/.kver" lists
		lists=$(stat -c '%n %Y %s' /var/lib/apt/lists/*Packages* 2>/dev/null | sha256sum | cut -c1-16)
		KVER=""
		[[ ! -f $memo ]] || KVER=$(sed -n "s/^$lists //p" "$memo")
		if [[ -z $KVER ]]; then
			KVER=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n "$q" | head -n1)
			if [[ -z $KVER ]] && apt_update_once; then
				KVER=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n "$q" | head -n1)
				lists=$(stat -c '%n %Y %s' /var/lib/apt/lists/*Packages* 2>/dev/null | sha256sum | cut -c1-16)
			fi
			[[ -n $KVER ]] ||
				die "cannot tell which kernel linux-image-amd64 depends on (apt-cache depends linux-image-amd64); set WD_RIG_KVER"
			mkdir -p "$CACHE"
			echo "$lists $KVER" >"$memo"
		fi
	fi
	[[ $KVER =~ ^[A-Za-z0-9][A-Za-z0-9.+_-]*$ ]] || die "WD_RIG_KVER '$KVER' is not a kernel version"
}

# The unsigned kernel image package, unpacked once into the shared cache. Several rig
# runs may start at once: the fill happens under a lock, in a temp dir renamed at the end.
fetch_kernel() {
	KDIR="$CACHE/kernel-$KVER"
	if [[ ! -f $KDIR/.complete || ! -f $KDIR/.vmlinux-tried ]]; then
		mkdir -p "$CACHE"
		local fd tmp pkg="linux-image-$KVER-unsigned"
		exec {fd}>"$CACHE/.kernel.lock"
		flock "$fd"
		if [[ ! -f $KDIR/.complete ]]; then
			log "downloading $pkg (about 70 MB, once)"
			rm -rf "$CACHE"/.kernel-tmp.* # left by an interrupted fill; we hold the lock
			tmp=$(mktemp -d "$CACHE/.kernel-tmp.XXXXXX")
			# apt-get download reads the package lists; hold the apt lock so no update races it.
			if ! (cd "$tmp" && apt_run download "$pkg" >&2); then
				local ok=0 old=$KVER
				if apt_update_once; then
					# Stale lists named a kernel the mirror no longer has: ask again.
					if [[ -z ${WD_RIG_KVER:-} ]] && resolve_kver && [[ $KVER != "$old" ]]; then
						rm -rf "$tmp"
						exec {fd}>&-
						fetch_kernel
						return
					fi
					(cd "$tmp" && apt_run download "$pkg" >&2) && ok=1
				fi
				if ((!ok)); then
					rm -rf "$tmp"
					die "cannot fetch the kernel: apt-get download $pkg failed (is WD_RIG_KVER '$KVER' right?)"
				fi
			fi
			dpkg -x "$tmp"/*.deb "$tmp/root" || { rm -rf "$tmp"; die "cannot unpack $pkg"; }
			[[ -f $tmp/root/boot/vmlinuz-$KVER ]] || { rm -rf "$tmp"; die "$pkg has no boot/vmlinuz-$KVER"; }
			rm -rf "$KDIR"
			mv "$tmp/root" "$KDIR"
			touch "$KDIR/.complete"
			rm -rf "$tmp"
		fi
		if [[ ! -f $KDIR/.vmlinux-tried ]]; then
			extract_vmlinux
			touch "$KDIR/.vmlinux-tried"
		fi
		exec {fd}>&-
	fi
	VMLINUZ="$KDIR/boot/vmlinuz-$KVER"
	[[ ! -f $KDIR/vmlinux ]] || VMLINUZ="$KDIR/vmlinux"
}

# Under TCG, decompressing the xz bzImage takes about 5 s of every boot. A kernel built
# with CONFIG_PVH boots straight from its uncompressed ELF image, so unpack that once.
# Best effort: without it the rig boots the bzImage.
extract_vmlinux() {
	local bz="$KDIR/boot/vmlinuz-$KVER" tmp="$KDIR/vmlinux.tmp" off
	grep -q '^CONFIG_PVH=y' "$KDIR/boot/config-$KVER" 2>/dev/null || return 0
	off=$(LC_ALL=C grep -abo -m1 $'\xfd7zXZ' "$bz" | head -n1 | cut -d: -f1 || true)
	[[ -n $off ]] || return 0
	# The xz stream is followed by the rest of the bzImage: stop at the end of the stream.
	if xz -dc --single-stream < <(tail -c +$((off + 1)) "$bz") >"$tmp" 2>/dev/null &&
		[[ $(head -c4 "$tmp") == $'\x7fELF' ]]; then
		mv "$tmp" "$KDIR/vmlinux"
	else
		rm -f "$tmp"
	fi
}

# ---------------------------------------------------------------- module build

KMOD_SRC=${WD_KMOD_SRC-$REPO/tests/kmod}
KMOD_NAMES=() # built modules, in Kbuild's order

has_kmod() { [[ -n $KMOD_SRC && (-f $KMOD_SRC/Makefile || -f $KMOD_SRC/Kbuild) ]]; }

# Build the module out of tree in the cache (never in the source tree), reusing the last
# build when neither the sources nor the kernel changed. Copies the .ko files into $RUN.
build_kmod() {
	if ! has_kmod; then
		[[ -z ${WD_KMOD_SRC:-} ]] || die "WD_KMOD_SRC '$KMOD_SRC' has no Makefile or Kbuild"
		log "no kernel module to build (${KMOD_SRC:-WD_KMOD_SRC is empty}): booting without one"
		return 0
	fi
	# tests/kmod builds in kmod-build; another WD_KMOD_SRC gets its own dir, so runs
	# with different sources do not keep rebuilding over each other.
	local build="$CACHE/kmod-build" fd hash line name
	if [[ $KMOD_SRC != "$REPO/tests/kmod" ]]; then
		build="$CACHE/kmod-build-$(printf '%s' "$KMOD_SRC" | sha256sum | cut -c1-8)"
	fi
	local excl=(--exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c'
		--exclude='.*.cmd' --exclude=Module.symvers --exclude=modules.order --exclude=.tmp_versions)
	mkdir -p "$CACHE"
	exec {fd}>"$CACHE/.kmod.lock"
	flock "$fd"
	hash=$({
		echo "$KVER"
		tar -C "$KMOD_SRC" "${excl[@]}" --sort=name --mtime=@0 --owner=0 --group=0 -cf - .
	} | sha256sum | cut -d' ' -f1)
	if [[ ! -f $build/.rig-stamp || $(<"$build/.rig-stamp") != "$hash" ]]; then
		log "building the kernel module in ${KMOD_SRC#"$REPO"/}"
		rm -rf "$build"
		mkdir -p "$build"
		tar -C "$KMOD_SRC" "${excl[@]}" -cf - . | tar -C "$build" -xf -
		if ! make -j2 -C "/usr/src/linux-headers-$KVER" M="$build" modules >"$build/.rig-build.log" 2>&1; then
			cat "$build/.rig-build.log" >&2
			die "building the kernel module in $KMOD_SRC failed (compiler output above)"
		fi
		# Warnings are worth seeing; a clean build stays quiet.
		if grep -q 'warning:' "$build/.rig-build.log"; then cat "$build/.rig-build.log" >&2; fi
		echo "$hash" >"$build/.rig-stamp"
	fi
	mkdir -p "$RUN/kmod"
	# modules.order names the modules in build order (foo.o or foo.ko per kernel version).
	while read -r line; do
		[[ -n $line ]] || continue
		name=${line##*/}
		name=${name%.o}
		name=${name%.ko}
		[[ -f $build/$name.ko ]] || die "the module build listed $line but made no $name.ko"
		cp "$build/$name.ko" "$RUN/kmod/"
		KMOD_NAMES+=("$name")
	done <"$build/modules.order"
	exec {fd}>&-
	((${#KMOD_NAMES[@]})) || die "building the kernel module in $KMOD_SRC produced no .ko"
	log "kernel module: ${KMOD_NAMES[*]}"
}

# ---------------------------------------------------------------- initramfs

# Module names (dash or underscore) -> paths, and the "depends=" field of a .ko.
declare -A MODPATH=()
index_modules() {
	local f n
	while IFS= read -r -d '' f; do
		n=${f##*/}
		n=${n%.ko}
		MODPATH[${n//-/_}]=$f
	done < <(find "$KDIR/lib/modules/$KVER/kernel" -name '*.ko' -print0)
}
ko_depends() { tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | tr ',' ' '; }

# Busybox, the listed modules with their dependencies, the built modules, the init script
# and this run's settings, as a gzip'd newc cpio. Rebuilt every run: it takes a second.
build_initramfs() {
	local root="$RUN/initramfs" m n dep rel ko todo=()
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,newroot,ctl,rig/kmod}
	cp /bin/busybox "$root/bin/busybox"
	# mknod needs root; without it the init script reopens the console after devtmpfs.
	mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

	index_modules
	todo=("${GUEST_MODULES[@]}")
	for ko in "${KMOD_NAMES[@]}"; do
		for dep in $(ko_depends "$RUN/kmod/$ko.ko"); do todo+=("$dep"); done
	done
	declare -A seen=()
	while ((${#todo[@]})); do
		n=${todo[0]//-/_}
		todo=("${todo[@]:1}")
		[[ -z ${seen[$n]:-} ]] || continue
		seen[$n]=1
		m=${MODPATH[$n]:-}
		[[ -n $m ]] || die "kernel $KVER has no module $n"
		rel=${m#"$KDIR"/}
		mkdir -p "$root/$(dirname "$rel")"
		cp "$m" "$root/$rel"
		for dep in $(ko_depends "$m"); do todo+=("$dep"); done
	done
	if ((${#KMOD_NAMES[@]})); then
		mkdir -p "$root/lib/modules/$KVER/extra"
		cp "$RUN"/kmod/*.ko "$root/lib/modules/$KVER/extra/"
		cp "$RUN"/kmod/*.ko "$root/rig/kmod/"
	fi

	guest_init >"$root/init"
	chmod 755 "$root/init"
	{
		echo "RIG_MODULES=$(shq "${GUEST_MODULES[*]}")"
		echo "RIG_GUEST_TOOLS=$(shq "${GUEST_TOOLS[*]}")"
		echo "RIG_KMODS=$(shq "${KMOD_NAMES[*]}")"
		echo "RIG_OUT=$(shq "${OUT:-}")"
		echo "RIG_SHOW=$(shq "$*")"
		echo "RIG_REPO=$(shq "$REPO")"
	} >"$root/rig/rig.conf"
	guest_command "$@" >"$root/rig/cmd.sh"

	(cd "$root" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$RUN/initrd.gz"
}

# The script bash runs inside the guest's chroot: PATH, directory, then the command.
guest_command() {
	local a
	echo "export PATH=/run/wd-rig/bin:$(shq "$REPO/node_modules/.bin"):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	[[ -z ${OUT:-} ]] || echo "export WD_RIG_OUT=$(shq "$OUT")"
	echo "cd -- $(shq "$REPO") || exit 127"
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(shq "$a")"; done
	echo
}

# PID 1 of the guest (busybox sh). It sets up modules, edu and the chroot, runs
# /rig/cmd.sh, and writes the exit status to the "rigctl" share for the host to read.
# Setup problems are reported, not hidden: the command still runs (so it can show
# details), but the host fails the run.
guest_init() {
	cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
stty -onlcr 2>/dev/null # no \r in the host's log
. /rig/rig.conf # written by build_initramfs
hostname wd-rig
ERRORS=""
fail() {
	echo "rig-init: FAILED: $*"
	ERRORS="$ERRORS$*
"
}
finish() {
	sync
	reboot -f # QEMU runs with -no-reboot, so this ends QEMU
	sleep 10
}
P9=trans=virtio,version=9p2000.L,msize=512000

depmod || fail "depmod"
for m in $RIG_MODULES; do modprobe "$m" || fail "modprobe $m"; done
if ! mount -t 9p -o "$P9" rigctl /ctl; then
	echo "rig-init: cannot mount the result share; stopping"
	finish
fi
if ! mount -t 9p -o "$P9,ro,cache=loose" hostroot /newroot; then
	fail "cannot mount the host root over 9p"
	printf '%s' "$ERRORS" >/ctl/setup-errors
	finish
fi

# edu (1234:11e8) to vfio-pci, as a user of VFIO would do it.
BDF=""
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ]; then
		BDF=${d##*/}
		break
	fi
done
if [ -z "$BDF" ]; then
	fail "no edu device (1234:11e8) on the PCI bus"
else
	D=/sys/bus/pci/devices/$BDF
	[ -e "$D/driver" ] && echo "$BDF" >"$D/driver/unbind"
	echo vfio-pci >"$D/driver_override"
	echo "$BDF" >/sys/bus/pci/drivers_probe
	[ "$(basename "$(readlink "$D/driver")")" = vfio-pci ] || fail "edu $BDF did not bind to vfio-pci"
fi

# The project's module, default parameters.
KO=""
KDIR=""
for k in $RIG_KMODS; do
	[ -n "$KO" ] || KO=/run/wd-rig/kmod/$k.ko
	KDIR=/run/wd-rig/kmod
	if ! modprobe "$k"; then
		dmesg | tail -n 20
		fail "loading the built module $k failed (kernel messages above)"
	fi
done

# The host root is read-only: fresh kernel file systems and tmpfs where things write.
N=/newroot
# A checkout under a directory that gets a tmpfs (CI may clone into /tmp) stays visible.
case "$RIG_REPO/" in
/tmp/* | /run/* | /var/tmp/*) mkdir -p /hold && mount -o bind "$N$RIG_REPO" /hold ;;
esac
mount -t proc proc $N/proc
mount -t sysfs sysfs $N/sys
mount -o bind /dev $N/dev
mkdir -p $N/dev/pts $N/dev/shm
mount -t devpts -o ptmxmode=666 devpts $N/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $N/dev/shm
mount -t tmpfs -o mode=1777 tmpfs $N/tmp
mount -t tmpfs -o mode=755 tmpfs $N/run
[ -d $N/var/tmp ] && mount -t tmpfs -o mode=1777 tmpfs $N/var/tmp
if [ -d /hold ]; then mkdir -p "$N$RIG_REPO" && mount -o bind /hold "$N$RIG_REPO"; fi
mkdir -m 700 $N/tmp/home
mkdir -p $N/run/wd-rig/kmod $N/run/wd-rig/bin
# The guest's own module tools, first on the command's PATH: the host root may have no
# kmod package (a fresh machine has none), and these must match the guest kernel anyway.
cp /bin/busybox $N/run/wd-rig/bin/busybox
for a in $RIG_GUEST_TOOLS; do ln -s busybox "$N/run/wd-rig/bin/$a"; done
cp /rig/cmd.sh $N/run/wd-rig/cmd.sh
cp /rig/kmod/* $N/run/wd-rig/kmod/ 2>/dev/null
if [ -n "$RIG_OUT" ]; then
	mkdir -p "$N$RIG_OUT"
	mount -t 9p -o "$P9" rigout "$N$RIG_OUT" || fail "cannot mount WD_RIG_OUT at $RIG_OUT"
fi
[ -e $N/dev/vfio/vfio ] || fail "no /dev/vfio/vfio"

echo "rig-init: edu ${BDF:-missing} on vfio-pci${RIG_KMODS:+, module $RIG_KMODS loaded}; running: $RIG_SHOW"
read -r T0 _ </proc/uptime
chroot $N /usr/bin/env -i HOME=/tmp/home TMPDIR=/tmp TERM=dumb LANG=C.UTF-8 \
	XDG_CACHE_HOME=/tmp/home/.cache BUN_INSTALL_CACHE_DIR=/tmp/home/.bun-cache \
	WD_RIG=1 WD_EDU_BDF="$BDF" WD_KMOD_KO="$KO" WD_KMOD_DIR="$KDIR" \
	/bin/bash /run/wd-rig/cmd.sh </dev/null
RC=$?
read -r T1 _ </proc/uptime
echo "$(( ${T1%.*}${T1#*.} - ${T0%.*}${T0#*.} ))" >/ctl/command-cs
printf '%s' "$ERRORS" >/ctl/setup-errors
echo "$RC" >/ctl/status
finish
INIT
}

# ---------------------------------------------------------------- boot

# SeaBIOS resets and clears the terminal and turns off line wrap; drop just those
# sequences (and its CRs) so the console reads well in a terminal and in CI logs.
CONSOLE_FILTER='s/\x1bc//g; s/\x1b\[?7l//g; s/\x1b\[2J//g; s/\r$//'

QEMU_PIDFILE=""
cleanup() {
	local pid
	if [[ -n $QEMU_PIDFILE && -s $QEMU_PIDFILE ]]; then
		pid=$(<"$QEMU_PIDFILE")
		# Only our own QEMU: the pid file is this run's, and the process must be QEMU.
		if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == qemu-system-* ]]; then kill "$pid" 2>/dev/null || true; fi
	fi
	if [[ -n ${RUN:-} && -d $RUN ]]; then
		if [[ ${WD_RIG_KEEP:-} == 1 ]]; then log "kept $RUN"; else rm -rf "$RUN"; fi
	fi
}

boot() {
	local ctl="$RUN/ctl" rc qrc t0 t1 total cmd_cs=""
	mkdir -p "$ctl"
	QEMU_PIDFILE="$RUN/qemu.pid"
	# shellcheck disable=SC2054 # QEMU options are comma-separated lists
	local qemu=(qemu-system-x86_64
		-accel tcg -cpu max # KVM fails on this kind of host; Bun needs more than qemu64
		-machine q35,kernel-irqchip=split -m 2048 -smp 2
		-nographic -no-reboot -nic none
		# Interrupt remapping: without it vfio_iommu_type1 refuses VFIO_SET_IOMMU (EPERM).
		-device intel-iommu,intremap=on -device edu
		-kernel "$VMLINUZ" -initrd "$RUN/initrd.gz"
		-append "console=ttyS0 intel_iommu=on quiet panic=-1 ${WD_RIG_APPEND:-}"
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
		-virtfs "local,path=${ctl//,/,,},mount_tag=rigctl,security_model=none"
		-pidfile "$QEMU_PIDFILE")
	[[ -z ${OUT:-} ]] || qemu+=(-virtfs "local,path=${OUT//,/,,},mount_tag=rigout,security_model=none")

	log "booting kernel $KVER (time limit ${TIMEOUT} s)"
	t0=$(now_us)
	# In the background so that a signal to this script runs the cleanup trap at once.
	{
		rc=0
		timeout -k 10 "$TIMEOUT" "${qemu[@]}" </dev/null 2>&1 || rc=$?
		{ echo "$rc" >"$RUN/qemu.rc"; } 2>/dev/null || true # gone if we were interrupted
	} | sed -u "$CONSOLE_FILTER" | tee "$RUN/console.log" &
	wait $! || true
	t1=$(now_us)
	total=$((t1 - t0))
	qrc=$(cat "$RUN/qemu.rc" 2>/dev/null || echo '?')

	[[ -f $ctl/command-cs ]] && cmd_cs=$(<"$ctl/command-cs")
	if [[ -n $cmd_cs ]]; then
		log "times: boot $(secs $((total - cmd_cs * 10000))) s, command $(secs $((cmd_cs * 10000))) s, host setup $(secs $((t0 - START_US))) s, total $(secs $((t1 - START_US))) s"
	else
		log "times: QEMU ran $(secs "$total") s, host setup $(secs $((t0 - START_US))) s"
	fi

	if [[ ! -f $ctl/status ]]; then
		if [[ $qrc == 124 || $qrc == 137 ]]; then
			die "the guest did not finish within $TIMEOUT s (WD_RIG_TIMEOUT); QEMU was killed"
		fi
		[[ ! -s $ctl/setup-errors ]] || die "guest setup failed: $(head -n1 "$ctl/setup-errors")"
		local why
		why=$(grep -m1 -a -o 'Kernel panic.*' "$RUN/console.log" || true)
		die "the guest stopped without writing a result (QEMU exit status $qrc)${why:+: $why}; see the console output above"
	fi
	rc=$(<"$ctl/status")
	if [[ -s $ctl/setup-errors ]]; then
		printf 'kernel rig: guest setup failed: %s\n' "$(paste -sd';' "$ctl/setup-errors")" >&2
		((rc != 0)) || rc=1
	fi
	return "$rc"
}

# ---------------------------------------------------------------- main

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
