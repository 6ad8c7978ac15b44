#!/bin/busybox sh
# PID 1 of the kernel rig's guest (busybox sh), copied into the initramfs as /init by
# scripts/rig/initramfs.sh. It sets up modules, edu and the chroot, runs
# /rig/cmd.sh, and writes the exit status to the "rigctl" share for the host to read.
# Setup problems are reported, not hidden: the command still runs (so it can show
# details), but the host fails the run.
# shellcheck shell=sh disable=SC1091 # /rig/rig.conf exists only inside the initramfs
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
