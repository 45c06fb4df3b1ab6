#!/usr/bin/env bats
# Upstream lxcfs's interface: its options and signals do here what they do there, or are refused
# with a message that names what to use instead (docs/upstream-interface.md has the table).

load helpers

setup_file() {
	export RUN_TAG=iface$$
	export CG=lxcfs-test-$RUN_TAG
	cg_make "$CG" $((64 * 1024 * 1024)) 0
	export HOST_MEM
	HOST_MEM=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
}

teardown_file() {
	cg_remove "$CG"
}

setup() {
	: >"$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
	export MNT=$BATS_RUN_TMPDIR/mnt-$RUN_TAG-$BATS_TEST_NUMBER
	export PIDF=$BATS_RUN_TMPDIR/$RUN_TAG-$BATS_TEST_NUMBER.pid
}

teardown() {
	container_stop c-$RUN_TAG
	daemon_stop "$MNT" "$PIDF"
}

log() { cat "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"; }

# mem_becomes KB: until the container's MemTotal is KB (2 s at most: a switch reaches the
# worker through the keeper's control socket); fails saying what it saw.
mem_becomes() {
	local m
	for _ in $(seq 1 100); do
		m=$(memtotal c-$RUN_TAG)
		[ "$m" = "$1" ] && return 0
		sleep 0.02
	done
	echo "MemTotal in the container: $m, want $1" >&2
	return 1
}

@test "SIGUSR2 (standalone): the container sees the host's MemTotal and cpus, the next SIGUSR2 its own again" {
	daemon_start "$MNT" "$PIDF"
	container_start c-$RUN_TAG "$CG" "$MNT"
	local pid
	pid=$(cat "$PIDF")
	mem_becomes 65536
	[ "$(in_container c-$RUN_TAG cat /sys/devices/system/cpu/online)" = 0 ]
	kill -USR2 "$pid"
	mem_becomes "$HOST_MEM"
	[ "$(in_container c-$RUN_TAG cat /sys/devices/system/cpu/online)" = "$(cat /sys/devices/system/cpu/online)" ]
	[ "$(in_container c-$RUN_TAG cat /proc/cpuinfo | grep -c ^processor)" = "$(grep -c ^processor /proc/cpuinfo)" ]
	grep -q "virtualization off (SIGUSR2)" <(log)
	kill -USR2 "$pid"
	mem_becomes 65536
	[ "$(in_container c-$RUN_TAG cat /sys/devices/system/cpu/online)" = 0 ]
	grep -q "virtualization on (SIGUSR2)" <(log)
	kill -0 "$pid"
}

@test "SIGUSR2 (keeper): the switch holds across a worker kill and an upgrade, and back" {
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_worker "$PIDF" none
	container_start c-$RUN_TAG "$CG" "$MNT"
	local keeper w
	keeper=$(cat "$PIDF")
	mem_becomes 65536
	[ "$(status_field "$PIDF" virtualization)" = on ]
	kill -USR2 "$keeper"
	mem_becomes "$HOST_MEM"
	[ "$(status_field "$PIDF" virtualization)" = off ]
	grep -q "SIGUSR2 from pid [0-9]*: virtualization off" <(log)
	# a new worker starts with the keeper's setting
	w=$(status_field "$PIDF" worker_pid)
	kill -KILL "$w"
	wait_worker "$PIDF" "$w"
	[ "$(memtotal c-$RUN_TAG)" = "$HOST_MEM" ]
	# and so does the worker of an upgrade, under a re-executed keeper
	w=$(status_field "$PIDF" worker_pid)
	kill -USR1 "$keeper"
	wait_worker "$PIDF" "$w"
	[ "$(memtotal c-$RUN_TAG)" = "$HOST_MEM" ]
	[ "$(status_field "$PIDF" virtualization)" = off ]
	kill -USR2 "$keeper"
	mem_becomes 65536
	w=$(status_field "$PIDF" worker_pid)
	kill -KILL "$w"
	wait_worker "$PIDF" "$w"
	[ "$(memtotal c-$RUN_TAG)" = 65536 ]
	[ "$(status_field "$PIDF" virtualization)" = on ]
	[ "$(status_field "$PIDF" keeper_pid)" = "$keeper" ]
}

@test "SIGUSR2 straight to a keeper's worker is not taken: the keeper holds the switch" {
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_worker "$PIDF" none
	container_start c-$RUN_TAG "$CG" "$MNT"
	local w
	w=$(status_field "$PIDF" worker_pid)
	kill -USR2 "$w"
	for _ in $(seq 1 100); do grep -q "SIGUSR2 from pid" <(log) && break; sleep 0.02; done
	grep -q "SIGUSR2 from pid [0-9]* ignored: the keeper (pid $(cat "$PIDF")) switches" <(log)
	[ "$(memtotal c-$RUN_TAG)" = 65536 ]
	kill -0 "$w"
}

@test "lxcfs --reinit without a keeper, or on a kernel without the series: refused, saying why" {
	run "$LXCFS_BIN" --reinit -p "$PIDF"
	[ "$status" -eq 3 ]
	[[ "$output" == *"not running with --restart-on-crash"* ]]
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_worker "$PIDF" none
	run "$LXCFS_BIN" --reinit -p "$PIDF" "$BATS_RUN_TMPDIR"
	[ "$status" -eq 2 ]
	[[ "$output" == *"serves $MNT, not $BATS_RUN_TMPDIR"* ]]
	if [[ "$(status_field "$PIDF" recovery)" == *"reinit=yes"* ]]; then
		skip "this kernel has FUSE_DEV_IOC_REINIT: tests/vm/reinit.bats drives lxcfs --reinit"
	fi
	local w
	w=$(status_field "$PIDF" worker_pid)
	run "$LXCFS_BIN" --reinit -p "$PIDF" "$MNT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"this kernel has no FUSE_DEV_IOC_REINIT"*"SIGUSR1 to the keeper"* ]]
	[ "$(status_field "$PIDF" worker_pid)" = "$w" ]
}

@test "upstream's options: -n prints the help, --disable-zswap serves, --enable-cgroup refused naming cgroup namespaces" {
	run "$LXCFS_BIN" -n
	[ "$status" -eq 0 ]
	[[ "$output" == *"-h, --help"* ]]
	run "$LXCFS_BIN" --enable-cgroup -p "$PIDF" "$MNT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--enable-cgroup"*"cgroup namespaces"* ]]
	refute grep -q " $MNT fuse.lxcfs " /proc/self/mounts
	run "$LXCFS_BIN" --enable-pidfd --help
	[ "$status" -eq 0 ]
	daemon_start "$MNT" "$PIDF" --disable-zswap -u
	container_start c-$RUN_TAG "$CG" "$MNT"
	run in_container c-$RUN_TAG cat /proc/meminfo
	[ "$(field_kb "$output" MemTotal)" = 65536 ]
	[ "$(field_kb "$output" SwapTotal)" = 0 ]
	if grep -q '^Zswap:' /proc/meminfo; then
		[ "$(field_kb "$output" Zswap)" = 0 ]
		[ "$(field_kb "$output" Zswapped)" = 0 ]
	fi
}
