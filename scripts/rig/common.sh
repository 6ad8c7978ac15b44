# shellcheck shell=bash
# The rig's settings and small helpers, sourced by scripts/rig.sh (which sets REPO).

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
	apt-get:apt apt-cache:apt dpkg:dpkg dpkg-query:dpkg dpkg-deb:dpkg
	bash:bash sh:dash env:coreutils timeout:coreutils mktemp:coreutils sha256sum:coreutils
	stat:coreutils sort:coreutils mknod:coreutils tee:coreutils cut:coreutils tr:coreutils paste:coreutils
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
