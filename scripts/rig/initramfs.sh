# shellcheck shell=bash
# The guest's initramfs: busybox, the kernel modules it needs, the built modules, the init
# script (guest_init.sh) and this run's settings and command.

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
	declare -A seen=()
	# A built module may depend on another of the same build (uacce_dummy on uacce): that
	# one is present (it goes to extra/ below), so only the kernel's own are looked up.
	for ko in "${KMOD_NAMES[@]}"; do seen[${ko//-/_}]=1; done
	for ko in "${KMOD_NAMES[@]}"; do
		for dep in $(ko_depends "$RUN/kmod/$ko.ko"); do todo+=("$dep"); done
	done
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

	cp "$RIG_DIR/guest_init.sh" "$root/init"
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
