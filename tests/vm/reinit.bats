#!/usr/bin/env bats
# The reinit tier on a kernel with our series (kernel/patches): FUSE_DEV_IOC_REINIT and
# FUSE_DEV_IOC_BM_REVAL, driven by the daemon and directly.  Runs in the VM (kernel/vm test).
# On Debian's stock kernel (kernel/vm test --stock) the series' tests skip and the last one checks
# what the daemon does there instead.

load ../bats/helpers

TOOL=$BATS_TEST_DIRNAME/../../build/tests/unit/reinit-tool

setup_file() {
	export RUN_TAG=reinit$$
	export CG=lxcfs-test-$RUN_TAG
	cg_make "$CG" $((256 * 1024 * 1024)) 0
	# 3: both ioctls. ENOTTY (fuse's answer to an ioctl it does not know) is expected only where
	# the harness says the kernel is Debian's own; on any other kernel it is a failure.
	SERIES=$("$TOOL" features || true)
	case "$SERIES" in
	3) SERIES=yes ;;
	ENOTTY)
		[ "${LXCFS_VM_VARIANT:-}" = stock ] ||
			{ echo "this kernel lacks FUSE_DEV_IOC_REINIT/BM_REVAL (ENOTTY) and is not kernel/vm --stock" >&2; return 1; }
		SERIES=no
		;;
	*) echo "FUSE_DEV_IOC_REINIT_FEATURES: $SERIES (expected 3, or ENOTTY on the stock kernel)" >&2; return 1 ;;
	esac
	export SERIES
}

needs_series() {
	[ "$SERIES" = yes ] || skip "Debian's stock kernel: no FUSE_DEV_IOC_REINIT/BM_REVAL (ENOTTY), the series is ours"
}

teardown_file() {
	cg_remove "$CG"
}

setup() {
	test_paths
	export HIDE=$BATS_RUN_TMPDIR/hide-$RUN_TAG
	rm -f "$HIDE"
}

teardown() {
	local p
	for p in $(cat "$BATS_RUN_TMPDIR/strays-$RUN_TAG" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
	rm -f "$BATS_RUN_TMPDIR/strays-$RUN_TAG"
	container_stop c-$RUN_TAG
	daemon_stop "$MNT" "$PIDF"
	rm -f "$HIDE"
}

keeper_up() { # [VAR=value...]: helpers' keeper_start, and a container reading from it
	keeper_start "$@"
	container_start c-$RUN_TAG "$CG" "$MNT"
	KEEPER=$(cat "$PIDF.started")
	FUSEFD=$(ls -l /proc/$KEEPER/fd | awk '$NF == "/dev/fuse" { print $9; exit }')
	[ -n "$FUSEFD" ]
}

memtotal() { field_kb "$(in_container c-$RUN_TAG cat /proc/meminfo)" MemTotal; }

@test "the status says reinit=yes; probing the features disturbs nothing" {
	needs_series
	keeper_up
	[[ "$(status_field "$PIDF" recovery)" == *"reinit=yes"* ]]
	for i in 1 2 3 4 5; do
		[ "$("$TOOL" features)" = 3 ]
		[ "$(memtotal)" = 262144 ]
	done
	[ "$(status_field "$PIDF" generation)" = 1 ]
}

@test "a worker replaced through REINIT + BM_REVAL: right values, old opens EIO, new opens work" {
	needs_series
	keeper_up
	local d=$BATS_RUN_TMPDIR/open-$RUN_TAG
	rm -rf "$d"
	mkdir -p "$d"
	nsenter -t "$(container_init c-$RUN_TAG)" -p -m -- sh -c '
		exec 3</proc/meminfo
		touch "$1/opened"
		while [ ! -e "$1/go" ]; do sleep 0.05; done
		timeout 10 cat <&3 >"$1/out" 2>"$1/err"; echo $? >"$1/rc"' sh "$d" &
	wait_until 5 test -e "$d/opened"
	local w
	w=$(status_field "$PIDF" worker_pid)
	run "$LXCFS_BIN" --reinit -p "$PIDF" "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "generation 2 "*"replaced generation 1 through reinit" ]]
	wait_worker "$PIDF" "$w"
	grep -q "reinit requested (lxcfs --reinit, pid [0-9]*)" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
	grep -q "reinitialized the connection and revalidated every bind mount" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
	# the container's bind mounts (files and the cpu directory) were revalidated
	[ "$(memtotal)" = 262144 ]
	run in_container c-$RUN_TAG cat /sys/devices/system/cpu/online
	[ "$output" = 0 ]
	run in_container c-$RUN_TAG cat /proc/cpuinfo
	[ "$(grep -c '^processor' <<<"$output")" = 1 ]
	# a file opened before the reinit fails with EIO, by design
	touch "$d/go"
	wait_until 5 test -e "$d/rc"
	[ "$(cat "$d/rc")" != 0 ]
	grep -q "Input/output error" "$d/err"
	[ "$(status_field "$PIDF" generation)" = 2 ]
}

@test "a worker that dies inside a reinit: the next one reinitializes again, the binds come back" {
	needs_series
	local once=$BATS_RUN_TMPDIR/crash-once-$RUN_TAG
	echo reinit >"$once"
	keeper_up LXCFS_FAULT_CRASH_ONCE="$once"
	local w
	w=$(status_field "$PIDF" worker_pid)
	# the first reinit worker resets the connection and dies before BM_REVAL and READY; the
	# command waits for the outcome, which its successor brings
	run "$LXCFS_BIN" --reinit -p "$PIDF"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "generation 3 "*"replaced generation 1 through reinit" ]]
	wait_log "during a reinit; the next worker reinitializes again" 10
	in_log "fault hook: the worker crashes at reinit"
	[ ! -e "$once" ]
	wait_worker "$PIDF" "$w"
	[ "$(status_field "$PIDF" generation)" = 3 ]
	[ "$(status_field "$PIDF" restarts)" = 1 ]
	[ "$(grep -c "reinitialized the connection and revalidated every bind mount" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log")" = 1 ]
	[ "$(memtotal)" = 262144 ]
	run in_container c-$RUN_TAG cat /sys/devices/system/cpu/online
	[ "$output" = 0 ]
}

@test "stray readers of the connection at a reinit (a stuck old worker, one stopped): ended first, the INIT is ours" {
	needs_series
	keeper_up
	local out=$BATS_RUN_TMPDIR/reader-$RUN_TAG w rd rd2 i log=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log
	w=$(status_field "$PIDF" worker_pid)
	# two processes with a copy of the connection's fd that read it and answer nothing; the
	# second is stopped in its read, as a SIGSTOPped old worker would be
	# (fd 3 closed: bats waits for whoever holds it; teardown ends them if the test failed)
	"$TOOL" reader "$KEEPER" "$FUSEFD" >"$out.1" 2>&1 3>&- &
	rd=$!
	"$TOOL" reader "$KEEPER" "$FUSEFD" >"$out.2" 2>&1 3>&- &
	rd2=$!
	echo "$rd $rd2" >"$BATS_RUN_TMPDIR/strays-$RUN_TAG"
	wait_until 5 grep -q reading "$out.1" || true # (as it was: the reinit below proceeds anyway)
	wait_until 5 grep -q reading "$out.2" || true
	sleep 0.3
	kill -STOP "$rd2"
	"$LXCFS_BIN" --reinit -p "$PIDF"
	wait_worker "$PIDF" "$w"
	grep "connection" "$log" >&2
	grep -q "pid $rd (reinit-tool) reads the connection: ended before the reset" "$log"
	grep -q "pid $rd2 (reinit-tool) reads the connection: ended before the reset" "$log"
	ended "$rd"
	ended "$rd2"
	# neither took the new INIT (opcode 26): the new worker answered it and serves
	refute grep -q "opcode 26" "$out.1" "$out.2"
	grep -q "reinitialized the connection" "$log"
	[ "$(memtotal)" = 262144 ]
	[[ "$(status_field "$PIDF" last_upgrade)" == *"through reinit" ]]
	# the keeper, which holds the connection and reads nothing, was spared
	kill -0 "$KEEPER"
}

@test "REINIT cycles under readers (200, LXCFS_REINIT_CYCLES for more): no kernel complaint, no hung task, no leaked mount" {
	needs_series
	keeper_up
	local before cbefore i cycles=${LXCFS_REINIT_CYCLES:-200} t0=$SECONDS
	before=$(wc -l </proc/self/mountinfo)
	cbefore=$(in_container c-$RUN_TAG cat /proc/self/mountinfo | wc -l)
	start_readers c-$RUN_TAG 262144 2
	for i in $(seq 1 "$cycles"); do
		"$TOOL" reinit "$KEEPER" "$FUSEFD" >/dev/null
		"$TOOL" bmreval "$KEEPER" "$FUSEFD" >/dev/null
	done
	read -r reads failures < <(stop_readers 2)
	echo "# cycles=$cycles seconds=$((SECONDS - t0)) reads=$reads failures=$failures (in-flight reads at a reinit fail, by design)" >&3
	[ "$reads" -gt 0 ]
	# after the storm, everything reads right
	[ "$(memtotal)" = 262144 ]
	run in_container c-$RUN_TAG cat /sys/devices/system/cpu/online
	[ "$output" = 0 ]
	[ "$(wc -l </proc/self/mountinfo)" = "$before" ]
	[ "$(in_container c-$RUN_TAG cat /proc/self/mountinfo | wc -l)" = "$cbefore" ]
	# (the debug kernel's boot says "RCU lockdep checking is enabled": not a report)
	[ -z "$(dmesg | grep -E "blocked for more than|hung_task|BUG:|WARNING:|lockdep is turned off|circular locking" | tee /dev/stderr)" ]
	[ "$(ps -eo stat= | grep -c '^D')" = 0 ]
}

@test "REINIT without CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE: EPERM" {
	needs_series
	keeper_up
	run "$TOOL" reinit-nocap "$KEEPER" "$FUSEFD"
	[ "$output" = EPERM ]
	[ "$(memtotal)" = 262144 ]
	[ "$(status_field "$PIDF" generation)" = 1 ]
}

@test "two concurrent REINITs: one gets EBUSY, nothing else fails" {
	needs_series
	keeper_up
	local i busy=0
	for i in $(seq 1 30); do
		run "$TOOL" race "$KEEPER" "$FUSEFD" 8
		[ "$status" -eq 0 ] # only ok or EBUSY
		[[ "$output" =~ busy\ ([0-9]+) ]]
		busy=$((busy + BASH_REMATCH[1]))
		[ "$busy" -gt 0 ] && break
	done
	[ "$busy" -gt 0 ]
	"$TOOL" bmreval "$KEEPER" "$FUSEFD"
	[ "$(memtotal)" = 262144 ]
}

@test "BM_REVAL with a bound path gone: an error, the other binds revalidated, nothing leaked" {
	needs_series
	keeper_up LXCFS_FAULT_HIDE_FILE="$HIDE"
	local before
	before=$(in_container c-$RUN_TAG cat /proc/self/mountinfo | wc -l)
	echo swaps >"$HIDE"
	"$TOOL" reinit "$KEEPER" "$FUSEFD"
	run "$TOOL" bmreval "$KEEPER" "$FUSEFD"
	[ "$status" -ne 0 ]
	[ "$output" = ENOENT ]
	[ "$(memtotal)" = 262144 ]
	run in_container c-$RUN_TAG cat /sys/devices/system/cpu/online
	[ "$output" = 0 ]
	run in_container c-$RUN_TAG cat /proc/swaps
	[ "$status" -ne 0 ]
	# once the path is back, a second BM_REVAL heals that bind too
	rm -f "$HIDE"
	"$TOOL" bmreval "$KEEPER" "$FUSEFD"
	run in_container c-$RUN_TAG cat /proc/swaps
	[ "$status" -eq 0 ]
	[ "$(in_container c-$RUN_TAG cat /proc/self/mountinfo | wc -l)" = "$before" ]
	if [ -w /sys/kernel/debug/kmemleak ]; then
		echo scan >/sys/kernel/debug/kmemleak
		echo scan >/sys/kernel/debug/kmemleak
		refute grep -q "unreferenced object" /sys/kernel/debug/kmemleak
	fi
}

@test "Debian's stock kernel: the status says reinit=no, --reinit is refused and changes nothing" {
	[ "$SERIES" = no ] || skip "this kernel has the series (the stock-kernel test runs on kernel/vm --stock)"
	keeper_up
	[[ "$(status_field "$PIDF" recovery)" == *"reinit=no"* ]]
	local w
	w=$(status_field "$PIDF" worker_pid)
	run "$LXCFS_BIN" --reinit -p "$PIDF" "$MNT"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"this kernel has no FUSE_DEV_IOC_REINIT"*"nothing changed"* ]]
	# the ioctl itself, on the live connection: unknown to this kernel
	run "$TOOL" reinit "$KEEPER" "$FUSEFD"
	[ "$status" -eq 1 ]
	[ "$output" = ENOTTY ]
	[ "$(status_field "$PIDF" worker_pid)" = "$w" ]
	[ "$(status_field "$PIDF" generation)" = 1 ]
	[ "$(memtotal)" = 262144 ]
}
