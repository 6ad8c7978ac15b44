# shellcheck shell=bash
# Booting QEMU with the initramfs and reading the guest's result.

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
		# no_timer_check: under TCG on a busy host the boot's check of the IO-APIC timer can
		# time out and panic ("timer doesn't work through Interrupt-remapped IO-APIC").
		-append "console=ttyS0 intel_iommu=on quiet panic=-1 no_timer_check ${WD_RIG_APPEND:-}"
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
