# shellcheck shell=bash
# Host packages: what the rig installs with apt, and the preflight of every program it runs.

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
