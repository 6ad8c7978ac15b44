# shellcheck shell=bash
# The project's kernel modules (scripts/rig/kmod by default), built out of tree in the cache.

KMOD_SRC=${WD_KMOD_SRC-$REPO/scripts/rig/kmod}
KMOD_NAMES=() # built modules, in Kbuild's order

has_kmod() { [[ -n $KMOD_SRC && (-f $KMOD_SRC/Makefile || -f $KMOD_SRC/Kbuild) ]]; }

# Kernel source files a module build may list but the project does not hold: UACCE's
# framework, which no Debian 12 kernel builds (CONFIG_UACCE is not set). When the Kbuild
# makefile names one's object (uacce.o) and the source directory lacks the file, the rig
# takes it from Debian's linux-source package of the guest kernel and copies it beside
# the module sources. Kernel code is never committed: it lives only in the cache.
KSRC_FILES=(drivers/misc/uacce/uacce.c)
KSRC_DIR="" # the extracted tree in the cache, once fetch_ksrc ran

# The kernel sources the build needs (KSRC_FILES it names and lacks), or nothing.
needed_ksrc() {
	local f name mk
	for mk in "$KMOD_SRC/Makefile" "$KMOD_SRC/Kbuild"; do
		[[ -f $mk ]] || continue
		for f in "${KSRC_FILES[@]}"; do
			name=${f##*/}
			[[ ! -f $KMOD_SRC/$name ]] || continue
			grep -Eq "(^|[[:space:]=])${name%.c}\.o([[:space:]]|$)" "$mk" && echo "$f"
		done
	done | sort -u
}

# Debian's linux-source-<major.minor> of the guest kernel's version (the one its headers
# package has), downloaded once, and only the KSRC_FILES taken out of its inner tarball.
# The package (about 140 MB) is deleted after the extraction; the files stay in the cache.
fetch_ksrc() {
	local mm ver pkg fd tmp f members=() inner
	mm=$(printf '%s' "$KVER" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
	[[ -n $mm ]] || die "cannot tell the kernel series of '$KVER' (want major.minor)"
	pkg="linux-source-$mm"
	ver=$(dpkg-query -W -f='${Version}' "linux-headers-$KVER" 2>/dev/null || true)
	KSRC_DIR="$CACHE/ksrc-$mm-${ver:-candidate}"
	[[ ! -f $KSRC_DIR/.complete ]] || return 0
	mkdir -p "$CACHE"
	exec {fd}>"$CACHE/.ksrc.lock"
	flock "$fd"
	if [[ ! -f $KSRC_DIR/.complete ]]; then
		log "downloading $pkg${ver:+ $ver} for ${KSRC_FILES[*]} (about 140 MB, once)"
		rm -rf "$CACHE"/.ksrc-tmp.* # left by an interrupted fill; we hold the lock
		tmp=$(mktemp -d "$CACHE/.ksrc-tmp.XXXXXX")
		if ! (cd "$tmp" && { [[ -n $ver ]] && apt_run download "$pkg=$ver" >&2 || apt_run download "$pkg" >&2; }); then
			rm -rf "$tmp"
			die "cannot fetch the kernel sources: apt-get download $pkg failed"
		fi
		inner="./usr/src/$pkg.tar.xz"
		for f in "${KSRC_FILES[@]}"; do members+=("$pkg/$f"); done
		mkdir -p "$tmp/src"
		# --occurrence stops reading once every file was found (about 7 s instead of 13):
		# the writers before it then die of SIGPIPE, so judge by the files, not the pipe.
		(
			set +o pipefail
			dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -xOf - "$inner" |
				tar -xJf - --occurrence=1 -C "$tmp/src" --strip-components=1 "${members[@]}"
		) 2>"$tmp/extract.log" || true
		for f in "${KSRC_FILES[@]}"; do
			if [[ ! -s $tmp/src/$f ]]; then
				cat "$tmp/extract.log" >&2
				rm -rf "$tmp"
				die "cannot extract $f from $pkg ($inner)"
			fi
		done
		rm -rf "$KSRC_DIR"
		mv "$tmp/src" "$KSRC_DIR"
		touch "$KSRC_DIR/.complete"
		rm -rf "$tmp"
	fi
	exec {fd}>&-
}

# Build the module out of tree in the cache (never in the source tree), reusing the last
# build when neither the sources nor the kernel changed. Copies the .ko files into $RUN.
build_kmod() {
	if ! has_kmod; then
		[[ -z ${WD_KMOD_SRC:-} ]] || die "WD_KMOD_SRC '$KMOD_SRC' has no Makefile or Kbuild"
		log "no kernel module to build (${KMOD_SRC:-WD_KMOD_SRC is empty}): booting without one"
		return 0
	fi
	# scripts/rig/kmod builds in kmod-build; another WD_KMOD_SRC gets its own dir, so runs
	# with different sources do not keep rebuilding over each other.
	local build="$CACHE/kmod-build" fd hash line name
	if [[ $KMOD_SRC != "$REPO/scripts/rig/kmod" ]]; then
		build="$CACHE/kmod-build-$(printf '%s' "$KMOD_SRC" | sha256sum | cut -c1-8)"
	fi
	local excl=(--exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c'
		--exclude='.*.cmd' --exclude=Module.symvers --exclude=modules.order --exclude=.tmp_versions)
	mkdir -p "$CACHE"
	local ksrc=() f
	mapfile -t ksrc < <(needed_ksrc)
	((${#ksrc[@]} == 0)) || fetch_ksrc
	exec {fd}>"$CACHE/.kmod.lock"
	flock "$fd"
	hash=$({
		echo "$KVER"
		tar -C "$KMOD_SRC" "${excl[@]}" --sort=name --mtime=@0 --owner=0 --group=0 -cf - .
		for f in "${ksrc[@]}"; do echo "$f" && cat "$KSRC_DIR/$f"; done
	} | sha256sum | cut -d' ' -f1)
	if [[ ! -f $build/.rig-stamp || $(<"$build/.rig-stamp") != "$hash" ]]; then
		log "building the kernel module in ${KMOD_SRC#"$REPO"/}"
		rm -rf "$build"
		mkdir -p "$build"
		tar -C "$KMOD_SRC" "${excl[@]}" -cf - . | tar -C "$build" -xf -
		for f in "${ksrc[@]}"; do
			[[ -f $KSRC_DIR/$f ]] || die "the kernel sources in $KSRC_DIR lack $f"
			cp "$KSRC_DIR/$f" "$build/"
		done
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
