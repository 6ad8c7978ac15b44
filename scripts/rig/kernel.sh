# shellcheck shell=bash
# The guest kernel: which version, fetched once from Debian's archive into the cache.

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
