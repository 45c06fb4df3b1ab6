#!/usr/bin/env bats
# Real LXC containers (lxc-create -t busybox), started as LXD/Incus start theirs: our include
# file and hooks bind the lxcfs files into them.  Everything is private to this run: an lxcpath,
# container names (LXC names their cgroups after them), a mountpoint, a pidfile and a copy of
# the hooks.

load helpers
load lxcct

setup_file() {
	export RUN_TAG=lxc$$
	export LXCPATH=$BATS_RUN_TMPDIR/lxc-$RUN_TAG
	suite_paths
	# the mountpoint under a shared mount, as on a systemd host (this one's root is private)
	export SHARED=$BATS_RUN_TMPDIR/shared-$RUN_TAG
	mkdir -p "$SHARED"
	mount --bind "$SHARED" "$SHARED"
	mount --make-shared "$SHARED"
	export MNT=$SHARED/mnt
	export HOOKS=$BATS_RUN_TMPDIR/hooks-$RUN_TAG
	export A=lxcfst-$RUN_TAG-a B=lxcfst-$RUN_TAG-b
	mkdir -p "$LXCPATH" "$HOOKS"
	local build=${LXCFS_BIN%/*}
	cp "$build/lxc.mount.hook" "$build/lxc.poststop.hook" "$HOOKS/"
	chmod 755 "$HOOKS"/*.hook
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	lxc_make_ours "$A" $((256 * 1024 * 1024)) 0 "$MNT"
	lxc_make_ours "$B" $((128 * 1024 * 1024)) 1 "$MNT"
	mkdir -p "$LXCPATH/$A/rootfs/var/lib/lxcfs" # nesting: the hook binds the whole tree there
	lxc_up "$A"
	lxc_up "$B"
}

teardown_file() {
	lxc_destroy_all
	daemon_stop "$MNT" "$PIDF"
	umount -l "$SHARED" 2>/dev/null || true
	[ -z "${UPID:-}" ] || kill -KILL "$UPID" 2>/dev/null || true
	daemon_stop "$BATS_RUN_TMPDIR/mnt-$RUN_TAG-up" "$BATS_RUN_TMPDIR/$RUN_TAG-up.pid"
	# the worker a replacement left, if no start adopted it (a failed test)
	local w
	w=$(cat "$BATS_RUN_TMPDIR/replace-$RUN_TAG.worker" 2>/dev/null) || true
	[ -z "$w" ] || ! grep -q "^lxcfs-worker" "/proc/$w/cmdline" 2>/dev/null || kill -KILL "$w"
	rm -rf "$LXCPATH" "$HOOKS"
}

# lxc_make_ours NAME MEM_BYTES CPUS MNT: lxcct's container with our include file, its hook told
# where lxcfs is mounted.
lxc_make_ours() {
	local name=$1 mnt=$4
	sed -e "s|^lxc.hook.mount = .*/lxc.mount.hook|lxc.hook.mount = $HOOKS/lxc.mount.hook --mount=$mnt|" \
		-e "s|^lxc.hook.post-stop = .*/lxc.poststop.hook|lxc.hook.post-stop = $HOOKS/lxc.poststop.hook|" \
		"${LXCFS_BIN%/*}/lxcfs.conf" >"$HOOKS/$name.conf"
	lxc_make "$name" "$2" "$3" "$HOOKS/$name.conf"
}

# check_values NAME MEMTOTAL_KB CPU: every virtualized file shows that container's values.
check_values() {
	local name=$1 mem=$2 cpu=$3
	run in_lxc "$name" cat /proc/meminfo
	[ "$status" -eq 0 ]
	[ "$(field_kb "$output" MemTotal)" = "$mem" ]
	run in_lxc "$name" cat /proc/cpuinfo
	[ "$(grep -c '^processor' <<<"$output")" = 1 ]
	run in_lxc "$name" cat /proc/stat
	[ "$(grep -c '^cpu[0-9]' <<<"$output")" = 1 ]
	run in_lxc "$name" cat /proc/uptime
	local up=${output%%.*}
	[[ "$output" =~ ^[0-9]+\.[0-9][0-9]\ [0-9]+\.[0-9][0-9]$ ]]
	[ "$up" -lt "$(cut -d. -f1 /proc/uptime)" ] # the container's, not the host's
	run in_lxc "$name" cat /proc/swaps
	[[ "${lines[0]}" == Filename* ]]
	run in_lxc "$name" cat /sys/devices/system/cpu/online
	[ "$output" = "$cpu" ]
}

# lxcfs_groups MOUNTINFO...: the peer groups (shared:N) of the lxcfs mounts there, sorted.
lxcfs_groups() { awk '/ - fuse\.lxcfs / { for (i = 7; $i != "-"; i++) if ($i ~ /^shared:/) print $i }' "$@" | sort -u; }

lxcfs_mounts_in() { grep -c ' - fuse.lxcfs ' "/proc/$(lxc-info -P "$LXCPATH" -n "$1" -p -H)/mountinfo"; }

@test "two LXC containers see their own memory, cpus, stat, uptime, swaps and online" {
	check_values "$A" 262144 0
	check_values "$B" 131072 1
	run in_lxc "$A" cat /proc/self/mounts
	grep -q '^lxcfs /proc/meminfo fuse.lxcfs ' <<<"$output"
	grep -q '^lxcfs /sys/devices/system/cpu fuse.lxcfs ' <<<"$output"
	# nesting: the whole tree at the container's /var/lib/lxcfs, answering for the container
	run in_lxc "$A" cat /var/lib/lxcfs/proc/meminfo
	[ "$(field_kb "$output" MemTotal)" = 262144 ]
	# the binds are the container's own: what it mounts over them shows nowhere else
	printf 'MemTotal:       4242 kB\n' >"$LXCPATH/$A/rootfs/fake-meminfo"
	in_lxc "$A" mount -o bind /fake-meminfo /proc/meminfo
	[ "$(field_kb "$(in_lxc "$A" cat /proc/meminfo)" MemTotal)" = 4242 ]
	[ "$(field_kb "$(in_lxc "$A" cat /var/lib/lxcfs/proc/meminfo)" MemTotal)" = 262144 ]
	[ "$(field_kb "$(in_lxc "$B" cat /proc/meminfo)" MemTotal)" = 131072 ]
	[ "$(field_kb "$(timeout "$TMO" cat "$MNT/proc/meminfo")" MemTotal)" != 4242 ]
	in_lxc "$A" umount /proc/meminfo
	[ "$(field_kb "$(in_lxc "$A" cat /proc/meminfo)" MemTotal)" = 262144 ]
	run in_lxc "$B" ls /var/lib/lxcfs/proc
	[ "$status" -ne 0 ] # B has no /var/lib/lxcfs: nothing bound
}

@test "20 SIGKILLs of the worker while both containers read: no failed read" {
	both_readers
	kill_workers 20
	both_readers_ok 100
}

@test "upgrades (SIGUSR1) while both containers read: no failed read" {
	both_readers
	local i w g
	for i in $(seq 1 5); do
		w=$(status_field "$PIDF" worker_pid)
		g=$(status_field "$PIDF" generation)
		kill -USR1 "$(cat "$PIDF")"
		wait_worker "$PIDF" "$w"
		[ "$(status_field "$PIDF" generation)" -gt "$g" ]
		sleep 0.2
	done
	both_readers_ok 20
	[[ "$(status_field "$PIDF" last_upgrade)" == generation* ]]
}

@test "keeper and worker killed together: the next start rebinds the containers' dead mounts" {
	local before_a before_b keeper worker mark
	before_a=$(lxcfs_mounts_in "$A")
	before_b=$(lxcfs_mounts_in "$B")
	keeper=$(cat "$PIDF")
	worker=$(status_field "$PIDF" worker_pid)
	kill -KILL "$keeper" "$worker"
	wait_until 30 gone "$keeper"
	wait_until 30 ended "$worker" # (a zombie of PID 1 once the keeper is gone: reaped late)
	run in_lxc "$A" cat /proc/meminfo
	[ "$status" -ne 0 ]
	[[ "$output" == *"not connected"* ]]

	mark=$(log_mark)
	daemon_start "$MNT" "$PIDF" --restart-on-crash
	wait_log_after "$mark" "dead mount(s) healed"
	check_values "$A" 262144 0
	check_values "$B" 131072 1
	run in_lxc "$A" cat /var/lib/lxcfs/proc/meminfo
	[ "$(field_kb "$output" MemTotal)" = 262144 ]
	# replaced, not stacked: the same number of lxcfs mounts in each container
	[ "$(lxcfs_mounts_in "$A")" = "$before_a" ]
	[ "$(lxcfs_mounts_in "$B")" = "$before_b" ]
	# and the fresh binds are the container's own, in no peer group with the host's mount nor
	# with the other container's
	[ -z "$(comm -12 <(lxcfs_groups "/proc/$(lxc_init_pid "$A")/mountinfo") \
		<(lxcfs_groups "/proc/$(lxc_init_pid "$B")/mountinfo" /proc/self/mountinfo | sort -u))" ]
	grep -q "$(ns_said "$(lxc_init_pid "$A")")[0-9]* mount(s) rebound to .*/proc/meminfo" \
		"$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
	# from the kernel's list, a namespace is named by what it shows at "/": the container's rootfs
	! lists_namespaces || grep -q "rebind: mount namespace $(mntns_of "$(lxc_init_pid "$A")") (root [^)]*/$A/rootfs): " \
		"$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log"
	[ "$(grep "$RUN_TAG" "$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log" | grep -c "left alone\|cannot be healed\|still fails")" = 0 ]

	# a container started afterwards works too
	local c=lxcfst-$RUN_TAG-c
	lxc_make_ours "$c" $((64 * 1024 * 1024)) 1 "$MNT"
	lxc_up "$c"
	check_values "$c" 65536 1
	lxc_down "$c"
}

@test "containers started under Debian's lxcfs are healed when ours replaces it" {
	[ -x /usr/bin/lxcfs ] # installed by the test command
	local mnt=$BATS_RUN_TMPDIR/mnt-$RUN_TAG-up pidf=$BATS_RUN_TMPDIR/$RUN_TAG-up.pid u=lxcfst-$RUN_TAG-u
	upstream_start "$mnt" "$pidf" "$BATS_RUN_TMPDIR/upstream-$RUN_TAG.log"
	export UPID=$UPSTREAM
	lxc_make_ours "$u" $((192 * 1024 * 1024)) 0 "$mnt"
	lxc_up "$u"
	run in_lxc "$u" cat /proc/meminfo
	[ "$(field_kb "$output" MemTotal)" = 196608 ] # upstream serves it
	kill -KILL "$UPID"
	wait_until 30 gone "$UPID"
	run in_lxc "$u" cat /proc/meminfo
	[ "$status" -ne 0 ]

	daemon_start "$mnt" "$pidf" --restart-on-crash
	wait_log "$mnt held a dead lxcfs mount"
	wait_log "$(ns_said "$(lxc_init_pid "$u")")[0-9]* mount(s) rebound to .*/proc/meminfo"
	check_values "$u" 196608 0
	lxc_down "$u"
	daemon_stop "$mnt" "$pidf"
}

# dev_in_lxc NAME PATH: the device (MAJ:MIN) of the mount at PATH inside the container.
dev_in_lxc() {
	awk -v p="$2" '$5 == p { d = $3 } END { print d }' "/proc/$(lxc-info -P "$LXCPATH" -n "$1" -p -H)/mountinfo"
}

@test "--replace: a live Debian lxcfs is taken over while containers read, with no failed read; --release gives the kernel's files back" {
	[ -x /usr/bin/lxcfs ] # installed by the test command
	local mnt=$BATS_RUN_TMPDIR/mnt-$RUN_TAG-up pidf=$BATS_RUN_TMPDIR/$RUN_TAG-up.pid u=lxcfst-$RUN_TAG-r
	local rt=$BATS_RUN_TMPDIR/rt-$RUN_TAG log=$BATS_RUN_TMPDIR/replace-$RUN_TAG.log old ours a_dev r
	mkdir -p "$rt"
	upstream_start "$mnt" "$pidf" "$BATS_RUN_TMPDIR/upstream-$RUN_TAG.log"
	export UPID=$UPSTREAM
	lxc_make_ours "$u" $((192 * 1024 * 1024)) 0 "$mnt"
	lxc_up "$u"
	old=$(dev_in_lxc "$u" /proc/meminfo)
	a_dev=$(dev_in_lxc "$A" /proc/meminfo)
	[ "$old" = "$(stat -c '%Hd:%Ld' "$mnt")" ] # Debian's serves it
	lxc_readers "$u" 196608 2
	both_readers
	sleep 1

	run "$LXCFS_BIN" --replace -p "$pidf" --runtime-dir "$rt" "$mnt"
	echo "$output" >"$log"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	grep -o "started worker [0-9]*" "$log" | awk '{ print $3 }' >"$BATS_RUN_TMPDIR/replace-$RUN_TAG.worker"
	! kill -0 "$UPID" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$UPID/stat")" = Z ]
	ours=$(stat -c '%Hd:%Ld' "$mnt")
	[ "$ours" != "$old" ]
	[ "$(dev_in_lxc "$u" /proc/meminfo)" = "$ours" ]
	[ "$(dev_in_lxc "$u" /sys/devices/system/cpu)" = "$ours" ]
	[ "$(dev_in_lxc "$A" /proc/meminfo)" = "$a_dev" ] # the other instance's container: untouched
	grep -q "$(ns_said "$(lxc_init_pid "$u")")[0-9]* mount(s) moved to .*/proc/meminfo" "$log"
	[ -e "/run/lxcfs-claims/$ours" ]
	sleep 1
	# the next start adopts the worker the replacement left
	daemon_start "$mnt" "$pidf" --restart-on-crash
	wait_log "resuming $mnt from worker"
	sleep 1
	r=$(lxc_readers_stop "$u" 2)
	echo "replaced container: $r" >&2
	[ "${r#* }" = 0 ]
	[ "${r% *}" -gt 40 ]
	both_readers_ok 40
	check_values "$u" 196608 0
	# nothing more to replace: it is ours
	run "$LXCFS_BIN" --replace -p "$pidf" --runtime-dir "$rt" "$mnt"
	[ "$status" -eq 3 ]
	[[ "$output" == *"ours already"* ]]

	# --release: the container reads the kernel's files again, and nothing hangs once we stop
	run "$LXCFS_BIN" --release "$mnt"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[[ "$output" == *"released in 1 namespace"* ]]
	daemon_stop "$mnt" "$pidf"
	run in_lxc "$u" cat /proc/meminfo
	[ "$status" -eq 0 ]
	[ "$(field_kb "$output" MemTotal)" = "$(field_kb "$(cat /proc/meminfo)" MemTotal)" ]
	[ "$(lxcfs_mounts_in "$u")" = 0 ]
	check_values "$A" 262144 0 # the other instance still serves its own
	lxc_down "$u"
}

@test "isolation: a container reads only its own values, even from a nested pid namespace; the daemon is out of its reach" {
	local keeper i
	keeper=$(cat "$PIDF")
	# a process in a new pid namespace inside A is still A
	run in_lxc "$A" unshare -p -f cat /proc/meminfo
	[ "$status" -eq 0 ]
	[ "$(field_kb "$output" MemTotal)" = 262144 ]
	# readers in both, concurrently: every read of each shows its own limit
	both_readers
	sleep 1.5
	both_readers_ok 10
	# no process of the daemon is visible, its status and pid files do not exist there
	run in_lxc "$A" sh -c 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\0" " "'
	[[ "$output" != *lxcfs* ]]
	local p
	for p in "${PIDF%.pid}.status" "$PIDF"; do
		run in_lxc "$A" ls "$p"
		[ "$status" -ne 0 ] # each of them, not just one
	done
	# the keeper's host pid, if the container has a process of that number (pids wrap at
	# 32768 here, and the container's own count runs into the thousands), is not the keeper
	run in_lxc "$A" sh -c "tr '\\0' ' ' </proc/$keeper/cmdline; ls -l /proc/$keeper/fd"
	[[ "$output" != *lxcfs* ]]
	[[ "$output" != */dev/fuse* ]]
	[ "$(stat -c %a "${PIDF%.pid}.status")" = 600 ]
	# /dev/fuse is not there to open a connection of its own
	run in_lxc "$A" ls /dev/fuse
	[ "$status" -ne 0 ]
}

@test "stop/start cycles leave no mounts and no processes behind" {
	local mounts children i
	mounts=$(grep -c ' - fuse.lxcfs ' /proc/self/mountinfo)
	children=$(ps --ppid "$(cat "$PIDF")" -o pid= | wc -l)
	for i in 1 2 3; do
		lxc_down "$B"
		[ "$(lxc-info -P "$LXCPATH" -n "$B" -s -H)" = STOPPED ]
		lxc_up "$B"
		check_values "$B" 131072 1
	done
	[ "$(grep -c ' - fuse.lxcfs ' /proc/self/mountinfo)" = "$mounts" ]
	refute grep -q "$LXCPATH/$B/rootfs" /proc/self/mountinfo
	[ "$(ps --ppid "$(cat "$PIDF")" -o pid= | wc -l)" = "$children" ]
	[ -z "$(ps --ppid "$(cat "$PIDF")" -o stat= | grep Z)" ]
	# only the container's own processes in its cgroup, none left from earlier runs
	local init
	init=$(lxc-info -P "$LXCPATH" -n "$B" -p -H)
	for p in $(cat "/sys/fs/cgroup/memory/lxc.payload.$B/cgroup.procs" 2>/dev/null ||
		cat "/sys/fs/cgroup/lxc.payload.$B/cgroup.procs"); do
		local start
		start=$(awk '{print $22}' "/proc/$p/stat" 2>/dev/null) || continue # (one that just ended)
		[ -z "$start" ] || [ "$start" -ge "$(awk '{print $22}' "/proc/$init/stat")" ]
	done
}
