#!/usr/bin/env bats
# The rebind tier on this host: namespaced "containers" whose lxcfs binds died with the daemon
# are healed at the next start, and only what is ours to heal is touched.

load helpers

setup_file() {
	export RUN_TAG=rb$$
	cg_pair
}

teardown_file() {
	cg_pair_remove
}

setup() {
	test_paths
	export OTHER=$BATS_RUN_TMPDIR/other-$RUN_TAG-$BATS_TEST_NUMBER
	export OPIDF=$BATS_RUN_TMPDIR/other-$RUN_TAG-$BATS_TEST_NUMBER.pid
	export LOG=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log
}

teardown() {
	local n
	for n in a b c d; do container_stop $n-$RUN_TAG; done
	[ -z "${STOPPED:-}" ] || kill -CONT "$STOPPED" 2>/dev/null || true
	daemon_stop "$MNT" "$PIDF"
	daemon_stop "$OTHER" "$OPIDF"
	[ -z "${SHARED:-}" ] || umount -l "$SHARED" 2>/dev/null || true
	[ -z "${CHROOTED:-}" ] || kill -KILL $CHROOTED 2>/dev/null || true
	[ -z "${KEPT:-}" ] || { umount "$KEPT/ns" 2>/dev/null; umount -l "$KEPT" 2>/dev/null; } || true
}

# shared_mountpoints: MNT and OTHER under a shared mount (SHARED), as a systemd host's are (its
# root is shared; this test host's is private): a bind of their mounts joins their peer group.
shared_mountpoints() {
	SHARED=$BATS_TEST_TMPDIR/shared
	mkdir -p "$SHARED"
	mount --bind "$SHARED" "$SHARED"
	mount --make-shared "$SHARED"
	MNT=$SHARED/mnt OTHER=$SHARED/other
}

# meminfo_total NAME: MemTotal in the container's /proc/meminfo, or nothing.
meminfo_total() { field_kb "$(in_container "$1" cat /proc/meminfo 2>/dev/null)" MemTotal; }

# kill_all PIDFILE: keeper, worker and standby at once, as a crash of everything would.  A
# standby left alive may take the connection over at the worker's death (its lifeline) before it
# sees the keeper gone: the mount then lives on, and there is nothing to heal.
kill_all() {
	local keeper worker standby
	keeper=$(cat "$1")
	worker=$(status_field "$1" worker_pid)
	standby=$(status_field "$1" standby_pid)
	kill -KILL "$keeper" "$worker" $([ "${standby:-0}" = 0 ] || echo "$standby")
	wait_until 30 gone "$keeper"
	wait_until 30 ended "$worker" # (a zombie of PID 1 once the keeper is gone: reaped late)
	[ "${standby:-0}" = 0 ] || wait_until 30 ended "$standby"
}

# ours_dead_other_stopped: two instances at MNT and OTHER, container a reading ours and b the
# other's; then ours killed (keeper and worker) and the other's worker stopped (SIGSTOP: its
# mounts hang rather than fail), its pid in STOPPED.
ours_dead_other_stopped() {
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	daemon_start "$OTHER" "$OPIDF" --restart-on-crash
	container_start a-$RUN_TAG "$CG1" "$MNT"
	container_start b-$RUN_TAG "$CG2" "$OTHER"
	kill_all "$PIDF"
	export STOPPED
	STOPPED=$(status_field "$OPIDF" worker_pid)
	kill -STOP "$STOPPED"
}

dev_at() { # MNT: MAJ:MIN of the lxcfs mount on top there (from our mountinfo: no stat of it)
	awk -v m="$1" '{ for (i = 7; i <= NF && $i != "-"; i++) ; if ($5 == m && $(i + 1) == "fuse.lxcfs") d = $3 }
		END { print d }' /proc/self/mountinfo
}

mounts_of() { # NAME: the container's mountinfo, ids and all
	cat "/proc/$(container_init "$1")/mountinfo"
}

wait_rebind() {
	wait_until 30 grep -q "rebind: .* healed in\|rebind: no dead" "$LOG" && return 0
	cat "$LOG" >&2
	return 1
}

# everything_killed_healed: two containers, everything killed, the next start heals both in place.
everything_killed_healed() {
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	container_start a-$RUN_TAG "$CG1" "$MNT"
	container_start b-$RUN_TAG "$CG2" "$MNT"
	local before_a before_b
	before_a=$(mounts_of a-$RUN_TAG | grep -c fuse.lxcfs)
	before_b=$(mounts_of b-$RUN_TAG | grep -c fuse.lxcfs)
	kill_all "$PIDF"
	run in_container a-$RUN_TAG cat /proc/meminfo
	[ "$status" -ne 0 ]
	: >"$LOG"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_rebind
	grep -q "$MNT held a dead lxcfs mount" "$LOG"
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
	[ "$(memtotal b-$RUN_TAG)" = 131072 ]
	run in_container b-$RUN_TAG cat /sys/devices/system/cpu/online
	[ "$output" = 1 ]
	# the copy of the whole tree the namespaces inherited at $MNT is healed too
	run in_container a-$RUN_TAG cat "$MNT/proc/uptime"
	[ "$status" -eq 0 ]
	[ "$(mounts_of a-$RUN_TAG | grep -c fuse.lxcfs)" = "$before_a" ]
	[ "$(mounts_of b-$RUN_TAG | grep -c fuse.lxcfs)" = "$before_b" ]
	# one line per namespace, naming it and the mounts healed
	grep -q "$(ns_said "$(container_init a-$RUN_TAG)")[0-9]* mount(s) rebound to $MNT: .*/proc/meminfo" "$LOG"
	# a file opened after the heal is served by the new daemon
	grep -q "generation 1 serving" "$LOG"
	[ "$(grep " $MNT fuse.lxcfs " /proc/self/mounts | wc -l)" = 1 ]
}

@test "everything killed: the next start replaces the dead mount and heals every container's binds in place" {
	everything_killed_healed
	# the namespaces come from the kernel's list where it has one, else from a walk of /proc
	if lists_namespaces; then
		grep -q "rebind: .* healed in .*; [0-9]* mount namespaces listed in" "$LOG"
	else
		grep -q "rebind: .* healed in .*; [0-9]* processes walked in" "$LOG"
	fi
}

@test "everything killed, namespaces found by a walk of /proc (kernels before 6.13): the same heal, each named by its process and cgroup" {
	export LXCFS_FAULT_REBIND_WALK_PROC=1
	everything_killed_healed
	grep -q "rebind: .* healed in .*; [0-9]* processes walked in" "$LOG"
	# the process is the container's init, not the unshare that made it (a lower pid, in the
	# same mount namespace and cgroup)
	grep -q "rebind: mount namespace $(mntns_of "$(container_init a-$RUN_TAG)") (pid $(container_init a-$RUN_TAG), cgroup .*$CG1): [0-9]* mount(s) rebound to $MNT: .*/proc/meminfo" "$LOG"
}

@test "only ours is touched: a live lxcfs, another instance's dead mount and other filesystems stay as they were" {
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	daemon_start "$OTHER" "$OPIDF" --restart-on-crash
	container_start a-$RUN_TAG "$CG1" "$MNT"
	# c: files from the other instance, a tmpfs, and one file of ours
	local ready=$BATS_RUN_TMPDIR/c-$RUN_TAG.ready
	unshare --pid --mount --fork --mount-proc --propagation private sh -c '
		mount --bind "$1/proc/meminfo" /proc/meminfo
		mount --bind "$1/proc/uptime" /proc/uptime
		mkdir -p /tmp/rbt-'$RUN_TAG' && mount -t tmpfs none /tmp/rbt-'$RUN_TAG'
		mount --bind "$2/proc/stat" /proc/stat
		touch "$3"
		exec sleep infinity' sh "$OTHER" "$MNT" "$ready" &
	local outer=$!
	disown "$outer"
	wait_until 5 test -e "$ready"
	echo "$(cat /proc/$outer/task/$outer/children | awk '{print $1}')" >"$BATS_RUN_TMPDIR/c-$RUN_TAG.pid"
	echo "$outer" >"$BATS_RUN_TMPDIR/c-$RUN_TAG.outer"
	local other_before
	other_before=$(mounts_of c-$RUN_TAG | grep -v " $MNT\| /proc/stat ")

	kill_all "$PIDF"
	: >"$LOG"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_rebind
	# ours healed in both namespaces; the other instance's mounts (live) and the tmpfs untouched
	run in_container c-$RUN_TAG cat /proc/stat
	[ "$status" -eq 0 ]
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
	[ "$(mounts_of c-$RUN_TAG | grep -v " $MNT\| /proc/stat ")" = "$other_before" ]

	# the other instance dies but stays mounted in our namespace: its dead binds are not ours
	kill_all "$OPIDF"
	: >"$LOG"
	run "$LXCFS_BIN" --rebind "$MNT"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[[ "$output" == *"/proc/meminfo"*"left alone: it belongs to the lxcfs mounted at $OTHER"* ]]
	run in_container c-$RUN_TAG cat /proc/uptime
	[ "$status" -ne 0 ] # still the other instance's, dead
	[ "$(mounts_of c-$RUN_TAG | grep -v " $MNT\| /proc/stat ")" = "$other_before" ]

	# once its mountpoint is gone too, its binds are still the other instance's (its claim says
	# so): left by a plain pass and by --orphans; taken only when the operator names the device
	local odev
	odev=$(dev_at "$OTHER")
	[ -n "$odev" ]
	[ "$(cat "/run/lxcfs-claims/$odev")" = "lxcfs-claim 1
$OTHER" ]
	umount -l "$OTHER"
	for opt in "" --orphans; do
		run "$LXCFS_BIN" --rebind $opt "$MNT"
		echo "$output" >&2
		[ "$status" -eq 0 ]
		# one line per namespace and device: c's names its copy of the mountpoint and both
		# binds; a's its copy (4 lines, one per mount, before)
		[[ "$output" == *": 3 dead lxcfs mount(s) at $OTHER, /proc/meminfo, /proc/uptime (device $odev) left alone: /run/lxcfs-claims claims it for the lxcfs of $OTHER"* ]]
		[ "$(grep -c "left alone: /run/lxcfs-claims" <<<"$output")" = 2 ]
		[ "$(mounts_of c-$RUN_TAG | grep -v " $MNT\| /proc/stat ")" = "$other_before" ]
	done
	run "$LXCFS_BIN" --rebind --dead-dev "$odev" "$MNT"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[[ "$output" == *" rebound to $MNT: "*"/proc/uptime"* ]]
	run in_container c-$RUN_TAG cat /proc/meminfo
	[ "$status" -eq 0 ]
	grep -q " /tmp/rbt-$RUN_TAG .* - tmpfs " <(mounts_of c-$RUN_TAG)
}

@test "a mount whose daemon hangs is given up after a bound time, once, and everything else is healed" {
	ours_dead_other_stopped
	# unmounted here, the other instance's binds are still looked at (a dead one left alone is
	# logged)
	umount -l "$OTHER"
	local t0=$SECONDS
	: >"$LOG"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_rebind
	echo "rebind took $((SECONDS - t0)) s" >&2
	[ $((SECONDS - t0)) -lt 15 ] # one timeout (5 s), not one per namespace
	[ "$(grep -c "timed out on a mount of device" "$LOG")" = 1 ]
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
	run in_container b-$RUN_TAG cat "$MNT/proc/uptime" # b's copy of our tree
	[ "$status" -eq 0 ]
	kill -CONT "$STOPPED"
}

@test "another instance mounted here that hangs: asked once, beside the pass; ours healed; its mounts skipped" {
	ours_dead_other_stopped # the other still mounted at $OTHER, here: the start's prober asks it
	local t0=$SECONDS odev
	odev=$(dev_at "$OTHER")
	: >"$LOG"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_rebind
	echo "rebind took $((SECONDS - t0)) s" >&2
	[ $((SECONDS - t0)) -lt 15 ]
	[ "$(grep -c "the lxcfs mounted at $OTHER (device $odev) does not answer; its mounts are skipped" "$LOG")" = 1 ]
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
	kill -CONT "$STOPPED"
	[ "$(memtotal b-$RUN_TAG)" = 131072 ] # untouched: its daemon answers again
}

@test "proven mounts that hang: the child is killed after the bound, the device skipped after it, the next child goes on" {
	# a reads ours, b and d the other instance's; ours killed, the other's worker stopped
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	daemon_start "$OTHER" "$OPIDF" --restart-on-crash
	container_start a-$RUN_TAG "$CG1" "$MNT"
	container_start b-$RUN_TAG "$CG2" "$OTHER"
	container_start d-$RUN_TAG "$CG2" "$OTHER"
	kill_all "$PIDF"
	export STOPPED
	STOPPED=$(status_field "$OPIDF" worker_pid)
	kill -STOP "$STOPPED"
	: >"$LOG"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_rebind
	local odev t0=$SECONDS
	odev=$(dev_at "$OTHER")
	# the operator's word makes the other's mounts proven: healed side by side, by one child
	# here, with a 2 s bound
	run env LXCFS_FAULT_REBIND_BOUND_MS=2000 LXCFS_FAULT_REBIND_RUNNERS=1 \
		timeout 60 "$LXCFS_BIN" --rebind --dead-dev "$odev" "$MNT"
	echo "$output" >&2
	[ $((SECONDS - t0)) -lt 15 ] # one bound, not one per namespace
	[ "$(grep -c "timed out on a mount of device $odev" <<<"$output")" = 1 ]
	# (the namespaces holding its mounts: ours, where it is mounted, a's, b's and d's, and any
	# other made on this host meanwhile)
	[ "$(grep -c "(device $odev) skipped: its daemon did not answer before" <<<"$output")" -ge 22 ]
	[[ "$output" == *"rebind: 0 dead mount(s) healed in "* ]]
	kill -CONT "$STOPPED"
	[ "$(memtotal b-$RUN_TAG)" = 131072 ] # untouched, and its daemon answers again
	[ "$(memtotal d-$RUN_TAG)" = 131072 ]
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
}

# dead_binds NAME: how many of the container's lxcfs binds do not answer (a read of each: a stat
# may be answered from the kernel's cache).
dead_binds() {
	local mp n=0
	for mp in $(awk '{ for (i = 7; i < NF && $i != "-"; i++) ; if ($(i + 1) == "fuse.lxcfs") print $5 }' \
		"/proc/$(container_init "$1")/mountinfo"); do
		in_container "$1" sh -c 'if [ -d "$1" ]; then ls "$1"; else head -c 1 "$1"; fi' sh "$mp" >/dev/null 2>&1 ||
			n=$((n + 1))
	done
	echo "$n"
}

@test "a fresh bind whose root the kernel dropped from its cache (refused: ENOENT) is cloned again and put in; dropped twice, the log says so and the pass ends partial" {
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	container_start a-$RUN_TAG "$CG1" "$MNT"
	kill_all "$PIDF"
	[ "$(dead_binds a-$RUN_TAG)" -ge 10 ]
	# (one runner; the first file bind it clones has its fresh root dropped, by a lookup the
	# worker refuses past the entry's validity: the kernel's own way)
	export LXCFS_FAULT_REBIND_RUNNERS=1 LXCFS_FAULT_REBIND_DROP=1
	export LXCFS_FAULT_HIDE_FILE=$BATS_RUN_TMPDIR/hide-$RUN_TAG
	: >"$LOG"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_rebind
	grep -q "fault hook: [^ ]* was dropped from the kernel's cache of names" "$LOG"
	grep -q "was healed with a second clone of the fresh tree; the first was refused beneath and over (ENOENT: its root had left the kernel's cache of names; on top there: mount [0-9]*, device [0-9]*:[0-9]*, the dead one the scan found)" "$LOG"
	! grep -q "cannot be healed" "$LOG"
	grep -q "rebind: [0-9]* dead mount(s) healed in [0-9]* namespace(s), 0 failed" "$LOG"
	[ "$(dead_binds a-$RUN_TAG)" = 0 ]
	kill_all "$PIDF"
	export LXCFS_FAULT_REBIND_DROP=2
	: >"$LOG"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_rebind
	[ "$(grep -c "fault hook: [^ ]* was dropped from the kernel's cache of names" "$LOG")" = 2 ]
	grep -q "$(ns_said "$(container_init a-$RUN_TAG)")/[^ ]* cannot be healed: No such file or directory with a second clone of the fresh tree; the first was refused beneath and over (ENOENT: its root had left the kernel's cache of names; on top there: mount [0-9]*, device [0-9]*:[0-9]*, the dead one the scan found)" "$LOG"
	grep -q "rebind: [0-9]* dead mount(s) healed in [0-9]* namespace(s), 1 failed" "$LOG"
	wait_until 30 grep -q "the rebind tier exited with status [0-9]*: some dead mounts may be left" "$LOG"
	[ "$(dead_binds a-$RUN_TAG)" = 1 ] # that one, said; the others healed
}

@test "garbage: --rebind from a path that is not a live lxcfs mount refuses and touches nothing" {
	mkdir -p "$MNT"
	run "$LXCFS_BIN" --rebind "$MNT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is not a live lxcfs mount"* ]]
	run "$LXCFS_BIN" --rebind /proc
	[ "$status" -eq 1 ]
	run "$BATS_TEST_DIRNAME/../../build/lxcfs-worker" --rebind "$MNT" --dead-dev nonsense
	[ "$status" -eq 2 ]
}

@test "a namespace with 1,100 dead binds: every one is healed, none dropped for room" {
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	container_start a-$RUN_TAG "$CG1" "$MNT"
	local dir=$BATS_RUN_TMPDIR/many-$RUN_TAG
	mkdir -p "$dir"
	nsenter -t "$(container_init a-$RUN_TAG)" -m -- sh -c '
		for i in $(seq 1 1100); do : >"$1/f$i"; mount --bind "$2/proc/uptime" "$1/f$i" || exit 1; done' \
		sh "$dir" "$MNT"
	[ "$(mounts_of a-$RUN_TAG | grep -c fuse.lxcfs)" -gt 1100 ]
	kill_all "$PIDF"
	: >"$LOG"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_rebind
	local bad
	bad=$(nsenter -t "$(container_init a-$RUN_TAG)" -m -- sh -c '
		n=0; for f in "$1"/f*; do timeout 5 cat "$f" >/dev/null 2>&1 || n=$((n + 1)); done; echo $n' sh "$dir")
	echo "binds still dead: $bad" >&2
	[ "$bad" = 0 ]
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
	grep "healed in" "$LOG" >&2
	# one line for the namespace, naming its first mounts and counting the rest: bounded
	local line
	line=$(grep "$(ns_said "$(container_init a-$RUN_TAG)")[0-9]* mount(s) rebound to $MNT: " "$LOG")
	[ "$(echo "$line" | wc -l)" = 1 ]
	[ "${#line}" -lt 1024 ]
	[[ "$line" == *" $dir/f"*" ($MNT/proc/uptime), "*", and "*" more" ]]
	# too big for a message to the runners (made so by a smaller bound): healed all the same, by
	# a child of its own
	kill_all "$PIDF"
	: >"$LOG"
	LXCFS_FAULT_REBIND_REC_MAX=8192 daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_rebind
	grep -q "$(ns_said "$(container_init a-$RUN_TAG)")11[0-9][0-9] lxcfs mounts, more than a message to the runners holds: healed by a child of its own" "$LOG"
	bad=$(nsenter -t "$(container_init a-$RUN_TAG)" -m -- sh -c '
		n=0; for f in "$1"/f*; do timeout 5 cat "$f" >/dev/null 2>&1 || n=$((n + 1)); done; echo $n' sh "$dir")
	echo "binds still dead after the second loss: $bad" >&2
	[ "$bad" = 0 ]
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
	grep -q "[0-9]* dead mount(s) healed in [0-9]* namespace(s), 0 failed" "$LOG"
}

# own_mounts NAME OTHERMNT: the container's mountinfo without its copy of the other instance's
# whole tree (that copy is the other's to heal).
own_mounts() { mounts_of "$1" | grep -v " $2 "; }

# start_healed MNT PIDFILE: a start, and its rebind pass done (the log is this start's alone).
start_healed() {
	: >"$LOG"
	daemon_start "$1" "$2" --restart-on-crash
	wait_rebind
}

# container_reads NAME: the container's meminfo bind answers.
container_reads() { timeout "$TMO" nsenter -t "$(container_init "$1")" -m -- cat /proc/meminfo >/dev/null 2>&1; }

@test "two instances: kills, stops and restarts of either; each heals only its own containers" {
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	daemon_start "$OTHER" "$OPIDF" --restart-on-crash
	container_start a-$RUN_TAG "$CG1" "$MNT"
	container_start b-$RUN_TAG "$CG2" "$OTHER"
	local a0 b0

	# A killed outright and started again: a healed, b's mounts not touched
	b0=$(own_mounts b-$RUN_TAG "$MNT")
	kill_all "$PIDF"
	start_healed "$MNT" "$PIDF"
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
	[ "$(own_mounts b-$RUN_TAG "$MNT")" = "$b0" ]
	[ "$(memtotal b-$RUN_TAG)" = 131072 ]

	# A stopped (its mountpoint unmounted: a's binds dead, mounted nowhere here), then B killed
	# and started again: B heals b and leaves a to A, whose claim names them
	daemon_stop "$MNT" "$PIDF"
	refute container_reads a-$RUN_TAG
	a0=$(own_mounts a-$RUN_TAG "$OTHER")
	kill_all "$OPIDF"
	start_healed "$OTHER" "$OPIDF"
	[ "$(memtotal b-$RUN_TAG)" = 131072 ]
	refute container_reads a-$RUN_TAG
	[ "$(own_mounts a-$RUN_TAG "$OTHER")" = "$a0" ]
	grep -q "/proc/meminfo.* (device [0-9:]*) left alone: /run/lxcfs-claims claims it for the lxcfs of $MNT" "$LOG"

	# A started again: its claim proves a's dead binds are its own; b untouched
	b0=$(own_mounts b-$RUN_TAG "$MNT")
	start_healed "$MNT" "$PIDF"
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
	[ "$(own_mounts b-$RUN_TAG "$MNT")" = "$b0" ]

	# B stopped, A killed and started again: b's dead binds stay as they are; B's start heals them
	daemon_stop "$OTHER" "$OPIDF"
	refute container_reads b-$RUN_TAG
	b0=$(own_mounts b-$RUN_TAG "$MNT")
	kill_all "$PIDF"
	start_healed "$MNT" "$PIDF"
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
	[ "$(own_mounts b-$RUN_TAG "$MNT")" = "$b0" ]
	start_healed "$OTHER" "$OPIDF"
	[ "$(memtotal b-$RUN_TAG)" = 131072 ]
	[ "$(memtotal a-$RUN_TAG)" = 262144 ]
}

@test "a device number used again by another instance: the newer claim wins, the older owner takes nothing" {
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	local dev
	dev=$(dev_at "$MNT")
	daemon_stop "$MNT" "$PIDF" # no container held it: its device number is free again
	[ "$(cat "/run/lxcfs-claims/$dev")" = "lxcfs-claim 1
$MNT" ]
	daemon_start "$OTHER" "$OPIDF" --restart-on-crash
	# anonymous device numbers go lowest free first: the number is most likely ours again
	[ "$(dev_at "$OTHER")" = "$dev" ] || skip "the kernel gave $OTHER another device number than $dev"
	[ "$(cat "/run/lxcfs-claims/$dev")" = "lxcfs-claim 1
$OTHER" ]
	container_start b-$RUN_TAG "$CG2" "$OTHER"
	daemon_stop "$OTHER" "$OPIDF"
	refute container_reads b-$RUN_TAG
	local b0
	b0=$(mounts_of b-$RUN_TAG | grep -v " $MNT ")
	: >"$LOG"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_rebind
	[ "$(mounts_of b-$RUN_TAG | grep -v " $MNT ")" = "$b0" ]
	refute container_reads b-$RUN_TAG
}

@test "claims that cannot be trusted: a malformed entry is ignored, a directory others may write is refused" {
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	printf 'garbage' >/run/lxcfs-claims/1:2
	printf 'lxcfs-claim 1\nrelative/path\n' >/run/lxcfs-claims/0:9999
	: >"$LOG"
	run "$LXCFS_BIN" --rebind "$MNT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"/run/lxcfs-claims/1:2 is not a claim of ours; ignored"* ]]
	[[ "$output" == *"/run/lxcfs-claims/0:9999 is not a claim of ours; ignored"* ]]
	rm -f /run/lxcfs-claims/1:2 /run/lxcfs-claims/0:9999
	chmod 0777 /run/lxcfs-claims
	run "$LXCFS_BIN" --rebind "$MNT"
	chmod 0700 /run/lxcfs-claims
	[ "$status" -eq 0 ]
	[[ "$output" == *"/run/lxcfs-claims is not root's alone (owner 0, mode 777)"* ]]
	[[ "$output" == *"cannot read the claims"* ]]
}

@test "healed binds are the container's own: on a host whose root is shared, a mount a container makes over its /proc/meminfo shows in no other container nor in the host's tree" {
	shared_mountpoints
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	container_start a-$RUN_TAG "$CG1" "$MNT"
	container_start b-$RUN_TAG "$CG2" "$MNT"
	kill_all "$PIDF"
	: >"$LOG"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_rebind
	[ "$(meminfo_total a-$RUN_TAG)" = 262144 ]
	[ "$(meminfo_total b-$RUN_TAG)" = 131072 ]
	printf 'MemTotal:       4242 kB\n' >"$BATS_TEST_TMPDIR/fake"
	in_container a-$RUN_TAG mount --bind "$BATS_TEST_TMPDIR/fake" /proc/meminfo
	[ "$(meminfo_total a-$RUN_TAG)" = 4242 ]
	[ "$(meminfo_total b-$RUN_TAG)" = 131072 ]
	[ "$(field_kb "$(timeout "$TMO" cat "$MNT/proc/meminfo")" MemTotal)" != 4242 ]
	# the healed bind is in no peer group
	[ -z "$(awk '$5 == "/proc/meminfo" && / - fuse\.lxcfs / && / shared:/' "/proc/$(container_init b-$RUN_TAG)/mountinfo")" ]
}

@test "--release where binds are peers across namespaces (a shared host root, stacks healed by a version before this one): every container reads the kernel's files" {
	local host r
	shared_mountpoints
	daemon_start "$OTHER" "$OPIDF" --restart-on-crash
	# the containers' first binds, of the lxcfs that dies: peers of one another
	CT_PROPAGATION=unchanged container_start a-$RUN_TAG "$CG1" "$OTHER"
	CT_PROPAGATION=unchanged container_start b-$RUN_TAG "$CG2" "$OTHER"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	# ours over them, as a heal before Linux 6.5 stacked them (peers too, before this version)
	for r in a b; do
		in_container $r-$RUN_TAG mount --bind "$MNT/proc/meminfo" /proc/meminfo
		in_container $r-$RUN_TAG mount --bind "$MNT/proc/uptime" /proc/uptime
	done
	# the other dies, its mount left dead (an unmount of it would propagate to ours)
	kill_all "$OPIDF"
	[ "$(meminfo_total a-$RUN_TAG)" = 262144 ]
	[ "$(meminfo_total b-$RUN_TAG)" = 131072 ]
	run "$LXCFS_BIN" --release "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	host=$(field_kb "$(cat /proc/meminfo)" MemTotal)
	for r in a b; do
		[ "$(meminfo_total $r-$RUN_TAG)" = "$host" ]
		in_container $r-$RUN_TAG cat /proc/uptime >/dev/null
		# nothing of ours, nor a dead lxcfs, is on top at the two paths
		[ -z "$(awk '($5 == "/proc/meminfo" || $5 == "/proc/uptime") && / - fuse\.lxcfs /' \
			"/proc/$(container_init $r-$RUN_TAG)/mountinfo")" ]
	done
}

root_is() { [ "$(readlink "/proc/$1/root")" = "$2" ]; } # PID PATH

@test "a namespace whose first process is chrooted (as postfix's daemons are): the walk of /proc reads it through another of its processes, healed all the same" {
	export LXCFS_FAULT_REBIND_WALK_PROC=1 # (the kernel's list sees every namespace whole)
	local root=$BATS_TEST_TMPDIR/chroot ready=$BATS_TEST_TMPDIR/chroot.ready first child d
	mkdir -p "$root/usr"
	for d in bin lib lib64 sbin; do # a merged /usr's links, or the directories
		if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$root/$d"; elif [ -d "/$d" ]; then mkdir "$root/$d"; fi
	done
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	# the namespace's first process (its lowest pid, and its oldest) ends chrooted; its child not
	unshare --mount --propagation private sh -c '
		for f in "$1"/proc/*; do [ -e "/proc/${f##*/}" ] && mount --bind "$f" "/proc/${f##*/}"; done
		for d in usr bin lib lib64 sbin; do [ -L "$2/$d" ] || [ ! -d "$2/$d" ] || mount --rbind "/$d" "$2/$d"; done
		sleep infinity &
		echo $! >"$3.child"
		touch "$3"
		exec chroot "$2" sleep infinity' sh "$MNT" "$root" "$ready" 2>"$ready.err" &
	first=$!
	CHROOTED=$first
	wait_until 5 test -e "$ready" || { cat "$ready.err" >&2; return 1; }
	child=$(cat "$ready.child")
	CHROOTED="$first $child"
	wait_until 5 root_is "$first" "$root"
	root_is "$child" /
	# what the first process sees of its namespace has none of the binds
	refute grep -q fuse.lxcfs "/proc/$first/mountinfo"
	kill_all "$PIDF"
	run timeout "$TMO" nsenter -t "$child" -m cat /proc/meminfo
	[ "$status" -ne 0 ]
	start_healed "$MNT" "$PIDF"
	timeout "$TMO" nsenter -t "$child" -m cat /proc/meminfo >/dev/null
	grep -q "rebind: mount namespace $(mntns_of "$child") (pid $child, cgroup .*): [0-9]* mount(s) rebound to $MNT: .*/proc/meminfo" "$LOG"
}

@test "a mount namespace no process is in (kept by a bind of its nsfs file): healed from the kernel's list" {
	lists_namespaces || skip "a walk of /proc meets a namespace only through its processes ($(uname -r))"
	# the file that keeps it, on a private mount (a bind of an nsfs file must not propagate)
	KEPT=$BATS_TEST_TMPDIR/kept
	mkdir -p "$KEPT"
	mount --bind "$KEPT" "$KEPT"
	mount --make-private "$KEPT"
	touch "$KEPT/ns"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	unshare --mount="$KEPT/ns" --propagation private mount --bind "$MNT/proc/meminfo" /proc/meminfo
	timeout "$TMO" nsenter --mount="$KEPT/ns" cat /proc/meminfo | grep -q MemTotal
	kill_all "$PIDF"
	run timeout "$TMO" nsenter --mount="$KEPT/ns" cat /proc/meminfo
	[ "$status" -ne 0 ]
	: >"$LOG"
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_rebind
	timeout "$TMO" nsenter --mount="$KEPT/ns" cat /proc/meminfo | grep -q MemTotal
	grep -q "rebind: mount namespace $(stat -L -c %i "$KEPT/ns")\( ([^)]*)\)\?: [0-9]* mount(s) rebound to $MNT: .*/proc/meminfo" "$LOG"
}
