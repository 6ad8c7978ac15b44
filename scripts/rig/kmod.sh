# shellcheck shell=bash
# The project's kernel modules (scripts/rig/kmod by default), built out of tree in the cache.

KMOD_SRC=${WD_KMOD_SRC-$REPO/scripts/rig/kmod}
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
	# scripts/rig/kmod builds in kmod-build; another WD_KMOD_SRC gets its own dir, so runs
	# with different sources do not keep rebuilding over each other.
	local build="$CACHE/kmod-build" fd hash line name
	if [[ $KMOD_SRC != "$REPO/scripts/rig/kmod" ]]; then
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
