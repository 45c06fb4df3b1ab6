#!/usr/bin/env bats
# Upstream lxcfs's interface: its options and signals do here what they do there, or are refused
# with a message that names what to use instead (doc/upstream-interface.md has the table).

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
	test_paths
}

teardown() {
	container_stop c-$RUN_TAG
	daemon_stop "$MNT" "$PIDF"
}

log() { cat "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"; }

# upgrades_are PID N: the log tells of N in-place upgrades of PID.
upgrades_are() { [ "$(grep -c "upgraded in place (pid $1)" <(log))" = "$2" ]; }

# mem_becomes KB: until the container's MemTotal is KB (2 s at most: a switch reaches the
# worker through the keeper's control socket); fails saying what it saw.
mem_becomes() {
	WAIT_STEP=0.02 wait_until 2 memtotal_is c-$RUN_TAG "$1" ||
		{ echo "MemTotal in the container: $(memtotal c-$RUN_TAG), want $1" >&2; return 1; }
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
	keeper_start
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
	keeper_start
	container_start c-$RUN_TAG "$CG" "$MNT"
	local w
	w=$(status_field "$PIDF" worker_pid)
	kill -USR2 "$w"
	wait_log "SIGUSR2 from pid" 2
	grep -q "SIGUSR2 from pid [0-9]* ignored: the keeper (pid $(cat "$PIDF")) switches" <(log)
	[ "$(memtotal c-$RUN_TAG)" = 65536 ]
	kill -0 "$w"
}

@test "lxcfs --reinit without a keeper, or on a kernel without the series: refused, saying why" {
	run "$LXCFS_BIN" --reinit -p "$PIDF"
	[ "$status" -eq 3 ]
	[[ "$output" == *"not running with --restart-on-crash"* ]]
	keeper_start
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

# bin_install SRC_LXCFS: the binaries of SRC's build into $BIN, the way a package upgrade puts
# them: new files, renamed in.
bin_install() { install_bins "$1" "$BIN"; }

standalone_start() { # [options...]: from a directory of its own, so upgrades can swap its binaries
	export BIN=$BATS_RUN_TMPDIR/bin-$RUN_TAG-$BATS_TEST_NUMBER
	mkdir -p "$BIN"
	bin_install "$LXCFS_BIN"
	LXCFS_BIN="$BIN/lxcfs" daemon_start "$MNT" "$PIDF" "$@"
}

LXCFS_BIN_NEXT=${LXCFS_BIN_NEXT:-$BATS_TEST_DIRNAME/../../build-next/lxcfs}
LXCFS_BIN_SV2=${LXCFS_BIN_SV2:-$BATS_TEST_DIRNAME/../../build-sv2/lxcfs}

@test "SIGUSR1 without a keeper: 10 upgrades in place under readers, same pid, the new binary runs, no failed read" {
	[ -x "$LXCFS_BIN_NEXT" ] || { echo "missing $LXCFS_BIN_NEXT (meson setup build-next -Dversion_suffix=next)"; false; }
	standalone_start -l
	container_start c-$RUN_TAG "$CG" "$MNT"
	local pid v1 v2 i src want fds0 fds
	pid=$(cat "$PIDF")
	v1=$("$LXCFS_BIN" --version)
	v2=$("$LXCFS_BIN_NEXT" --version)
	[ "$v1" != "$v2" ]
	kill -USR2 "$pid" # the switch goes along too
	mem_becomes "$HOST_MEM"
	kill -USR2 "$pid"
	mem_becomes 65536
	fds0=$(ls /proc/"$pid"/fd | wc -l)
	start_readers c-$RUN_TAG 65536 2
	sleep 0.3
	for i in $(seq 1 10); do
		if [ $((i % 2)) = 1 ]; then src=$LXCFS_BIN_NEXT want=$v2; else src=$LXCFS_BIN want=$v1; fi
		bin_install "$src"
		kill -USR1 "$pid"
		WAIT_STEP=0.02 wait_until 5 upgrades_are "$pid" "$i"
		grep "upgraded in place" <(log) | tail -1 | grep -q "lxcfs $want upgraded in place (pid $pid): generation $((i + 1)) serving"
		# the same process runs the file now on disk, not a deleted one
		[ "$(readlink "/proc/$pid/exe")" = "$BIN/lxcfs-worker" ]
		[ "$(cat "$PIDF")" = "$pid" ]
		sleep 0.2
	done
	read -r reads failures < <(stop_readers 2)
	echo "reads=$reads failures=$failures"
	[ "$failures" -eq 0 ]
	[ "$reads" -gt 40 ]
	# nothing leaks into the next image: the fds stay as they were
	fds=$(ls /proc/"$pid"/fd | wc -l)
	echo "fds: $fds0 before, $fds after"
	[ "$fds" -le $((fds0 + 2)) ]
	[ "$(memtotal c-$RUN_TAG)" = 65536 ]
	timeout "$TMO" cat "$MNT/proc/loadavg" >/dev/null
	refute grep -q "virtualization off" <(log | sed -n '/upgrading in place/,$p')
}

# The bridge from protocol version 0 (src/reinit/legacy.c): the binary before the typed protocol
# (LXCFS_BIN_PREV: scripts/test builds it from commit 400956e) re-executes this one with its fds
# by position on the command line.
@test "SIGUSR1 without a keeper, from the binary of protocol version 0: same pid, this binary runs, no failed read" {
	[ -n "${LXCFS_BIN_PREV:-}" ] || skip "LXCFS_BIN_PREV unset (scripts/test builds it from 400956e)"
	LXCFS_BIN=$LXCFS_BIN_PREV standalone_start
	container_start c-$RUN_TAG "$CG" "$MNT"
	local pid want
	pid=$(cat "$PIDF")
	want=$("$LXCFS_BIN" --version)
	start_readers c-$RUN_TAG 65536 2
	sleep 0.3
	bin_install "$LXCFS_BIN"
	kill -USR1 "$pid"
	wait_until 5 upgrades_are "$pid" 1
	grep "upgraded in place" <(log) | tail -1 | grep -q "lxcfs $want upgraded in place (pid $pid): generation 2 serving"
	[ "$(readlink "/proc/$pid/exe")" = "$BIN/lxcfs-worker" ]
	kill -USR1 "$pid" # and this protocol after it
	wait_until 5 upgrades_are "$pid" 2
	read -r reads failures < <(stop_readers 2)
	echo "reads=$reads failures=$failures"
	[ "$failures" -eq 0 ]
	[ "$reads" -gt 10 ]
	[ "$(memtotal c-$RUN_TAG)" = 65536 ]
}

@test "SIGUSR1 without a keeper: a binary that cannot take the state over is refused, the daemon serves on" {
	[ -x "$LXCFS_BIN_SV2" ] || { echo "missing $LXCFS_BIN_SV2 (meson setup build-sv2 -Dstate_version=2)"; false; }
	standalone_start
	container_start c-$RUN_TAG "$CG" "$MNT"
	local pid
	pid=$(cat "$PIDF")
	bin_install "$LXCFS_BIN_SV2"
	kill -USR1 "$pid"
	wait_log "upgrade refused by the binary on disk" 5
	grep -q "upgrade refused by the binary on disk .*another format version.*keeps serving" <(log)
	refute grep -q "upgrading in place" <(log)
	[ "$(memtotal c-$RUN_TAG)" = 65536 ]
	[ "$(readlink "/proc/$pid/exe")" = "$BIN/lxcfs-worker (deleted)" ]
	# a good binary afterwards upgrades
	bin_install "$LXCFS_BIN"
	kill -USR1 "$pid"
	wait_log "upgraded in place (pid $pid)" 5
	[ "$(memtotal c-$RUN_TAG)" = 65536 ]
}

@test "SIGHUP to a daemon without a keeper unmounts and exits, as upstream's; the keeper takes it as a status request" {
	daemon_start "$MNT" "$PIDF"
	local pid
	pid=$(cat "$PIDF")
	kill -HUP "$pid"
	wait_until 5 gone "$pid"
	refute grep -q " $MNT fuse.lxcfs " /proc/self/mounts
	grep -q "SIGHUP: unmounting and exiting" <(log)
	keeper_start
	kill -HUP "$(cat "$PIDF")"
	sleep 0.2
	kill -0 "$(cat "$PIDF")"
	timeout "$TMO" cat "$MNT/proc/uptime" >/dev/null
}

PSI_WAIT=$BATS_TEST_DIRNAME/../../build/tests/unit/psi-wait
TRIGGER="some 150000 2000000" # 150 ms of stall in a 2 s window

# hogs N: N busy loops in the container's cgroup (its cpuset is one cpu: they stall each other),
# 40 s at most.  (nsenter enters namespaces, not cgroups: each joins the cgroup first.)
hogs() {
	local root
	for _ in $(seq 1 "$1"); do
		(
			if cgroup_v2; then
				echo $BASHPID >/sys/fs/cgroup/$CG/cgroup.procs
			else
				for root in $(cg_roots); do echo $BASHPID >"$root/$CG/cgroup.procs"; done
			fi
			exec nsenter -t "$(container_init c-$RUN_TAG)" -p -m -- timeout 40 sh -c 'while :; do :; done'
		) 3>&- &
	done
}

# psi_reader OUT N: psi-wait in the container on its /proc/pressure/cpu, in the background,
# until N events (each poll waits 8 s at most); its lines go to OUT.
psi_reader() {
	nsenter -t "$(container_init c-$RUN_TAG)" -p -m -- timeout 60 "$PSI_WAIT" /proc/pressure/cpu "$TRIGGER" 8000 "$2" \
		>"$1" 2>&1 3>&- &
}

needs_psi() {
	[ -x "$PSI_WAIT" ] || { echo "missing $PSI_WAIT (ninja -C build)"; false; }
	[ -e /proc/pressure/cpu ] || skip "this kernel has no PSI"
}

# psi_polled START OUT N: the daemon started by START (keeper_start or standalone_start) with
# --enable-psi-poll, the container, two hogs in it, and psi_reader OUT N once it saw its first
# event; then 0.3 s: it polls again, and the next event is a window away.
psi_polled() {
	"$1" --enable-psi-poll
	container_start c-$RUN_TAG "$CG" "$MNT"
	hogs 2
	psi_reader "$2" "$3"
	wait_line "$2" "^event 1$" 20
	sleep 0.3
}

wait_line() { # FILE PATTERN [SECONDS]: until a line of FILE matches
	wait_until "${3:-10}" grep -q "$2" "$1" && return 0
	echo "no '$2' in $1:" >&2
	cat "$1" >&2
	return 1
}

@test "--enable-psi-poll: a container's reader arms a trigger and is woken by its cgroup's pressure (the host's on v1)" {
	needs_psi
	# without the option the files take no writes: the superblock is read-only (no GETATTR per
	# read, options.c); with -o rw the daemon refuses them itself, as before
	daemon_start "$MNT" "$PIDF"
	run timeout "$TMO" "$PSI_WAIT" "$MNT/proc/pressure/cpu" "$TRIGGER" 100 1
	[ "$output" = "open: EROFS" ]
	daemon_stop "$MNT" "$PIDF"
	daemon_start "$MNT" "$PIDF" -o rw
	run timeout "$TMO" "$PSI_WAIT" "$MNT/proc/pressure/cpu" "$TRIGGER" 100 1
	[ "$output" = "open: EACCES" ]
	daemon_stop "$MNT" "$PIDF"

	daemon_start "$MNT" "$PIDF" --enable-psi-poll
	[ "$(stat -c %a "$MNT/proc/pressure/cpu")" = 666 ]
	[ "$(stat -c %a "$MNT/proc/meminfo")" = 444 ]
	container_start c-$RUN_TAG "$CG" "$MNT"
	# upstream's checks: a trigger the kernel would refuse is refused
	run in_container c-$RUN_TAG "$PSI_WAIT" /proc/pressure/cpu "bogus" 100 1
	[ "$output" = "write: EINVAL" ]
	run in_container c-$RUN_TAG "$PSI_WAIT" /proc/pressure/cpu "some 0 2000000" 100 1
	[ "$output" = "write: EINVAL" ]
	run in_container c-$RUN_TAG "$PSI_WAIT" /proc/pressure/cpu "full 100 20000000" 100 1
	[ "$output" = "write: EINVAL" ]
	if cgroup_v2; then
		# an idle container's trigger sees no event: it is armed on its own cgroup's file
		run in_container c-$RUN_TAG "$PSI_WAIT" /proc/pressure/cpu "$TRIGGER" 3000 1
		[ "$output" = "$(printf 'armed\ntimeout after 0 events')" ]
	fi
	hogs 2
	local out=$BATS_RUN_TMPDIR/psi-$RUN_TAG
	psi_reader "$out" 2
	wait_line "$out" "^events 2 in" 20
	# read as a file, it still shows the pressure
	run in_container c-$RUN_TAG cat /proc/pressure/cpu
	[[ "$output" == "some avg10="* ]]
}

@test "--enable-psi-poll: a reader blocked in poll() is woken again after a worker kill and an upgrade" {
	needs_psi
	local out=$BATS_RUN_TMPDIR/psi-$RUN_TAG w
	psi_polled keeper_start "$out" 4
	w=$(status_field "$PIDF" worker_pid)
	kill -KILL "$w"
	wait_worker "$PIDF" "$w"
	wait_line "$out" "^event 2$" 20
	grep -q "psi: woke 1 reader(s) waiting on triggers armed before this worker" <(log)
	sleep 0.3
	w=$(status_field "$PIDF" worker_pid)
	kill -USR1 "$(cat "$PIDF")"
	wait_worker "$PIDF" "$w"
	wait_line "$out" "^events 4 in" 20
}

@test "--enable-psi-poll without a keeper: a reader blocked in poll() is woken again after an upgrade in place" {
	needs_psi
	local out=$BATS_RUN_TMPDIR/psi-$RUN_TAG
	psi_polled standalone_start "$out" 3
	kill -USR1 "$(cat "$PIDF")"
	wait_line "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log" "upgraded in place" 10
	wait_line "$out" "^events 3 in" 20
	grep -q "psi: woke 1 reader(s)" <(log)
}
