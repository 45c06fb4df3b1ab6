#!/usr/bin/env bats
# The core daemon on this host: a real mount, real cgroups, and "containers" (own pid+mount
# namespaces in limited cgroups, the lxcfs files bound over their /proc as LXC's hook does).

load helpers

setup_file() {
	export RUN_TAG=core$$
	suite_paths
	cg_pair
	export CG3=lxcfs-test-$RUN_TAG-nolimit
	cg_make "$CG3" max 0-1 2>/dev/null || cg_make "$CG3" -1 0-1
	daemon_start "$MNT" "$PIDF"
	container_start c1-$RUN_TAG "$CG1" "$MNT"
	container_start c2-$RUN_TAG "$CG2" "$MNT"
	container_start c3-$RUN_TAG "$CG3" "$MNT"
}

# The tests that start daemons of their own stop them here too, should they fail first.
teardown() {
	local t
	umount "$BATS_RUN_TMPDIR/mnt-held-$RUN_TAG/proc" 2>/dev/null || true # the mount made over ours
	for t in race held; do
		daemon_stop "$BATS_RUN_TMPDIR/mnt-$t-$RUN_TAG" "$BATS_RUN_TMPDIR/$t-$RUN_TAG.pid"
	done
}

teardown_file() {
	local loop
	loop=$(cat "$BATS_RUN_TMPDIR/loopdev-$RUN_TAG" 2>/dev/null) && losetup -d "$loop" 2>/dev/null || true
	container_stop c1-$RUN_TAG
	container_stop c2-$RUN_TAG
	container_stop c3-$RUN_TAG
	daemon_stop "$MNT" "$PIDF"
	cg_pair_remove
	cg_remove "$CG3"
}

@test "mounted as lxcfs with upstream's options, on a read-only superblock (no GETATTR per read)" {
	run grep " $MNT fuse.lxcfs " /proc/self/mounts
	[ "$status" -eq 0 ]
	[ "$output" = "lxcfs $MNT fuse.lxcfs ro,nosuid,nodev,relatime,user_id=0,group_id=0,allow_other 0 0" ]
}

# Requests of opcodes matching $3 (an extended regex) the daemon on mountpoint $1 (started with
# -d, logging to $2) gets for 5 cats after a first.
requests_per_5_cats() {
	timeout 5 cat "$1/proc/uptime" >/dev/null
	local n0 n1
	n0=$(grep -Ec "opcode: ($3) " "$2" || true)
	for _ in 1 2 3 4 5; do timeout 5 cat "$1/proc/uptime" >/dev/null; done
	n1=$(grep -Ec "opcode: ($3) " "$2" || true)
	echo $((n1 - n0))
}

@test "a cat costs no GETATTR (a read-only superblock keeps the attributes valid); with -o rw each costs one" {
	local m=$BATS_TEST_TMPDIR/m p=$BATS_TEST_TMPDIR/m.pid log=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log n
	daemon_start "$m" "$p" -d
	n=$(requests_per_5_cats "$m" "$log" GETATTR)
	daemon_stop "$m" "$p"
	echo "read-only superblock: $n GETATTR for 5 cats" >&2
	[ "$n" -le 1 ] # (one if the 1 s attribute timeout ran out in between, on a slow machine)
	# read-write: each cat's fstat needs fresh attributes, from a GETATTR, or from the LOOKUP of
	# its open where the 1 s entry timeout ran out (a slow machine, TCG)
	daemon_start "$m" "$p" -d -o rw
	n=$(requests_per_5_cats "$m" "$log" "GETATTR|LOOKUP")
	daemon_stop "$m" "$p"
	echo "read-write: $n GETATTR or LOOKUP for 5 cats" >&2
	[ "$n" -ge 5 ]
}

@test "the tree holds upstream's files, pressure only where the host has PSI" {
	run ls "$MNT/proc"
	for f in cpuinfo diskstats loadavg meminfo slabinfo stat swaps uptime; do
		[[ " $(echo $output) " == *" $f "* ]]
	done
	if [ -e /proc/pressure/cpu ]; then
		[ "$(ls "$MNT/proc/pressure" | tr '\n' ' ')" = "cpu io memory " ]
	else
		[ ! -e "$MNT/proc/pressure" ]
	fi
	[ -f "$MNT/sys/devices/system/cpu/online" ]
	[ -d "$MNT/sys/devices/system/cpu/cpu0" ]
	[ "$(stat -c %a "$MNT/proc/meminfo")" = 444 ]
}

@test "a container sees its memory limit, its cpu, its uptime" {
	local c=c1-$RUN_TAG
	run in_container "$c" cat /proc/meminfo
	[ "$status" -eq 0 ]
	[ "$(field_kb "$output" MemTotal)" = 262144 ]
	local free=$(field_kb "$output" MemFree)
	[ "$free" -gt 0 ]
	[ "$free" -le 262144 ]
	run in_container "$c" cat /proc/cpuinfo
	[ "$(grep -c '^processor' <<<"$output")" = 1 ]
	[ "$(grep '^processor' <<<"$output")" = "$(printf 'processor\t: 0')" ]
	run in_container "$c" cat /sys/devices/system/cpu/online
	[ "$output" = 0 ]
	run in_container "$c" cat /proc/stat
	[ "$(grep -c '^cpu[0-9]' <<<"$output")" = 1 ]
	grep -q '^cpu0 ' <<<"$output"
	grep -q '^cpu  ' <<<"$output"
	grep -q '^ctxt ' <<<"$output"
	run in_container "$c" cat /proc/uptime
	local up=${output%%.*}
	[ "$up" -ge 0 ]
	[ "$up" -lt 60 ]
	[ "$(awk '{print $1}' /proc/uptime | cut -d. -f1)" -gt "$up" ] || [ "$(cut -d. -f1 /proc/uptime)" -lt 60 ]
}

@test "swaps and swap lines match the limits (the host's swap bounds them)" {
	local c=c1-$RUN_TAG host_swap
	host_swap=$(awk '/^SwapTotal:/ {print $2}' /proc/meminfo)
	run in_container "$c" cat /proc/swaps
	[ "${lines[0]}" = "$(printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority')" ]
	run in_container "$c" cat /proc/meminfo
	local total=$(field_kb "$output" SwapTotal)
	[ "$total" -le "$host_swap" ]
	if [ "$host_swap" = 0 ]; then
		run in_container "$c" cat /proc/swaps
		[ "${#lines[@]}" -eq 1 ]
	fi
}

@test "two containers with different limits each see their own, read in turns" {
	local i
	for i in 1 2 3 4 5; do
		[ "$(memtotal c1-$RUN_TAG)" = 262144 ]
		[ "$(memtotal c2-$RUN_TAG)" = 131072 ]
		run in_container c2-$RUN_TAG cat /sys/devices/system/cpu/online
		[ "$output" = 1 ]
		run in_container c1-$RUN_TAG cat /sys/devices/system/cpu/online
		[ "$output" = 0 ]
	done
	run in_container c2-$RUN_TAG cat /proc/stat
	[ "$(grep -c '^cpu[0-9]' <<<"$output")" = 1 ]
	grep -q '^cpu1 ' <<<"$output"
}

# A file opened in one container and read in another (the fd passed over a unix socket) shows the
# reader's values: a render made for the opener, at its OPEN (fs/early.h), is the opener's.
@test "a file opened in one container and read at once in another shows the reader's values" {
	local sock=$BATS_TEST_TMPDIR/fdpass.sock out=$BATS_TEST_TMPDIR/fdpass.out recv
	in_container c2-$RUN_TAG python3 "$BATS_TEST_DIRNAME/../tools/fdpass.py" recv "$sock" 20 >"$out" 2>"$out.err" 3>&- &
	recv=$!
	wait_until 10 test -S "$sock"
	in_container c1-$RUN_TAG python3 "$BATS_TEST_DIRNAME/../tools/fdpass.py" send "$sock" /proc/meminfo 20
	wait "$recv"
	[ "$(grep -c . "$out")" = 20 ]
	[ "$(grep -c '^MemTotal: *131072 kB$' "$out")" = 20 ]
	# and the opener itself sees its own
	[ "$(memtotal c1-$RUN_TAG)" = 262144 ]
}

@test "a container without a memory limit sees the host's total" {
	run in_container c3-$RUN_TAG cat /proc/meminfo
	[ "$(field_kb "$output" MemTotal)" = "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" ]
	run in_container c3-$RUN_TAG cat /proc/cpuinfo
	[ "$(grep -c '^processor' <<<"$output")" = "$(grep -c '^processor' /proc/cpuinfo)" ]
}

@test "a container under a parent with a lower limit sees the parent's (v1: memory.stat's own figure, v2: the walk)" {
	local c=c4-$RUN_TAG parent=lxcfs-test-$RUN_TAG-parent
	cg_make "$parent" $((96 << 20)) 0-1
	if cgroup_v2; then
		echo "+memory +cpuset +cpu +io" >/sys/fs/cgroup/$parent/cgroup.subtree_control
		mkdir /sys/fs/cgroup/$parent/child
		echo 0-1 >/sys/fs/cgroup/$parent/child/cpuset.cpus
	else
		cg_make "$parent/child" -1 0-1
		echo 1 >/sys/fs/cgroup/memory/$parent/memory.use_hierarchy 2>/dev/null || true
	fi
	container_start "$c" "$parent/child" "$MNT"
	run in_container "$c" cat /proc/meminfo
	container_stop "$c"
	cg_remove "$parent/child"
	cg_remove "$parent"
	[ "$status" -eq 0 ]
	[ "$(field_kb "$output" MemTotal)" = 98304 ]
}

@test "the host sees host values" {
	run timeout "$TMO" cat "$MNT/proc/meminfo"
	[ "$(field_kb "$output" MemTotal)" = "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" ]
	run timeout "$TMO" cat "$MNT/proc/cpuinfo"
	[ "$(grep -c '^processor' <<<"$output")" = "$(grep -c '^processor' /proc/cpuinfo)" ]
	run timeout "$TMO" cat "$MNT/sys/devices/system/cpu/online"
	[ "$output" = "$(cat /sys/devices/system/cpu/online)" ]
	run timeout "$TMO" cat "$MNT/proc/uptime"
	[ "${output%%.*}" -ge "$(cut -d. -f1 /proc/uptime)" ] || [ "${output%%.*}" -ge $(($(cut -d. -f1 /proc/uptime) - 1)) ]
	[ "$(timeout "$TMO" cat "$MNT/sys/devices/system/cpu/kernel_max")" = "$(cat /sys/devices/system/cpu/kernel_max)" ]
}

@test "sendfile readers (busybox cat, cp) get whole files of their own, even concurrently" {
	command -v busybox >/dev/null || skip "busybox not installed"
	local host_len c_len
	host_len=$(timeout "$TMO" cat "$MNT/proc/cpuinfo" | wc -c)
	c_len=$(in_container c1-$RUN_TAG cat /proc/cpuinfo | wc -c)
	[ "$c_len" -lt "$host_len" ]
	# the kernel's page cache is shared by all readers of an inode: nothing per-container may
	# go there, whatever the order or overlap of readers
	(for i in $(seq 1 60); do in_container c1-$RUN_TAG busybox cat /proc/cpuinfo | wc -c; done) >"$BATS_RUN_TMPDIR/c-$RUN_TAG" &
	local a=$!
	(for i in $(seq 1 60); do timeout "$TMO" busybox cat "$MNT/proc/cpuinfo" | wc -c; done) >"$BATS_RUN_TMPDIR/h-$RUN_TAG" &
	local b=$!
	wait $a $b
	[ "$(sort -u "$BATS_RUN_TMPDIR/c-$RUN_TAG")" = "$c_len" ]
	[ "$(sort -u "$BATS_RUN_TMPDIR/h-$RUN_TAG")" = "$host_len" ]
	[ "$(timeout "$TMO" busybox cat "$MNT/proc/slabinfo" | wc -l)" -gt 10 ]
	timeout "$TMO" cp "$MNT/proc/meminfo" "$BATS_RUN_TMPDIR/mi-$RUN_TAG"
	grep -q '^MemTotal:' "$BATS_RUN_TMPDIR/mi-$RUN_TAG"
}

@test "later offsets of an open come from the render at offset 0" {
	# Read one byte, wait, read the rest: the uptime must be the one of the first read.
	run in_container c1-$RUN_TAG sh -c 'exec 3</proc/uptime; head -c 2 <&3 >/dev/null; sleep 1.5; cat <&3; cat /proc/uptime'
	[ "$status" -eq 0 ]
	local stale=${lines[0]%% *} fresh=${lines[1]%% *}
	# lines[0] is the tail of the first render (its first 2 bytes were consumed)
	[ -n "$fresh" ]
	awk -v s="${lines[0]}" -v f="$fresh" 'BEGIN { exit !(length(s) > 0 && f + 0 >= 1.4) }'
	# small reads reassemble exactly one render
	run in_container c1-$RUN_TAG sh -c 'dd if=/proc/cpuinfo bs=7 2>/dev/null | grep -c ^processor'
	[ "$output" = 1 ]
}

@test "nothing can be written, created or changed" {
	run timeout "$TMO" sh -c "echo x > '$MNT/proc/meminfo'"
	[ "$status" -ne 0 ]
	run timeout "$TMO" mkdir "$MNT/proc/x"
	[ "$status" -ne 0 ]
	run timeout "$TMO" touch "$MNT/proc/newfile"
	[ "$status" -ne 0 ]
	run timeout "$TMO" chmod 777 "$MNT/proc/meminfo"
	[ "$status" -ne 0 ]
	run timeout "$TMO" sh -c "echo 0 > '$MNT/sys/devices/system/cpu/cpu1/online'"
	[ "$status" -ne 0 ]
	[ "$(cat /sys/devices/system/cpu/cpu1/online 2>/dev/null || echo 1)" = 1 ]
}

@test "symlinks of the host cpu tree do not lead out of the mount" {
	local link
	link=$(find "$MNT/sys/devices/system/cpu/cpu0" -maxdepth 1 -type l -name subsystem)
	[ -n "$link" ]
	[ "$(readlink "$link")" = "$(readlink /sys/devices/system/cpu/cpu0/subsystem)" ]
	# ../../../../bus/cpu from inside the mount lands outside our tree: nothing there
	run timeout "$TMO" ls "$link/"
	[ "$status" -ne 0 ]
	run timeout "$TMO" cat "$MNT/proc/../../etc/hostname"
	[ "$output" != "$(cat /etc/hostname)" ] || [ "$MNT/proc/../../etc/hostname" -ef /etc/hostname ]
}

@test "a second instance on the same pidfile refuses to start and leaves the first alone" {
	run timeout 10 "$LXCFS_BIN" -p "$PIDF" "$BATS_RUN_TMPDIR/mnt2-$RUN_TAG"
	[ "$status" -eq 1 ]
	[[ "$output" == *"already running"* ]]
	[ "$(cat "$PIDF")" = "$(cat "$PIDF.started")" ]
	refute grep -q " $BATS_RUN_TMPDIR/mnt2-$RUN_TAG " /proc/self/mounts
	[ "$(field_kb "$(timeout "$TMO" cat "$MNT/proc/meminfo")" MemTotal)" -gt 0 ]
}

@test "the cpu tree: a container sees its own cpus' directories, present, possible and offline; the host all" {
	local i
	for i in 1 2 3; do # in turns: what one container looked up is never what the other sees
		run in_container c1-$RUN_TAG ls /sys/devices/system/cpu
		[ "$(grep '^cpu[0-9]' <<<"$output" | tr '\n' ' ')" = "cpu0 " ]
		run in_container c2-$RUN_TAG ls /sys/devices/system/cpu
		[ "$(grep '^cpu[0-9]' <<<"$output" | tr '\n' ' ')" = "cpu1 " ]
		run in_container c1-$RUN_TAG ls /sys/devices/system/cpu/cpu0
		[ "$status" -eq 0 ]
		run in_container c2-$RUN_TAG ls /sys/devices/system/cpu/cpu0
		[ "$status" -ne 0 ]
		run in_container c2-$RUN_TAG ls /sys/devices/system/cpu/cpu1
		[ "$status" -eq 0 ]
		run in_container c1-$RUN_TAG ls /sys/devices/system/cpu/cpu1
		[ "$status" -ne 0 ]
	done
	run in_container c2-$RUN_TAG cat /sys/devices/system/cpu/present /sys/devices/system/cpu/possible /sys/devices/system/cpu/offline
	[ "$output" = "$(printf '1\n1\n')" ]
	run in_container c2-$RUN_TAG ls /sys/devices/system/cpu/cpufreq
	[ "$status" -eq 0 ] || [ ! -e /sys/devices/system/cpu/cpufreq ]
	[ "$(ls "$MNT/sys/devices/system/cpu" | grep -c '^cpu[0-9]')" = "$(ls /sys/devices/system/cpu | grep -c '^cpu[0-9]')" ]
	[ "$(timeout "$TMO" cat "$MNT/sys/devices/system/cpu/present")" = "$(cat /sys/devices/system/cpu/present)" ]
	[ "$(timeout "$TMO" cat "$MNT/sys/devices/system/cpu/possible")" = "$(cat /sys/devices/system/cpu/possible)" ]
}

@test "--enable-cfs: a quota of half a cpu shows one cpu; without the option, the cpuset's two" {
	local mnt=$BATS_RUN_TMPDIR/mnt-$RUN_TAG-cfs pidf=$BATS_RUN_TMPDIR/$RUN_TAG-cfs.pid cg=lxcfs-test-$RUN_TAG-cfs
	cg_make "$cg" max 0-1 2>/dev/null || cg_make "$cg" -1 0-1
	cg_quota "$cg" 50000 100000
	daemon_start "$mnt" "$pidf" --enable-cfs
	container_start cfs-$RUN_TAG "$cg" "$mnt"
	container_start nocfs-$RUN_TAG "$cg" "$MNT"
	run in_container cfs-$RUN_TAG cat /proc/cpuinfo
	local cfs_cpus=$(grep -c '^processor' <<<"$output")
	run in_container cfs-$RUN_TAG cat /sys/devices/system/cpu/online
	local cfs_online=$output
	run in_container cfs-$RUN_TAG cat /proc/stat
	local cfs_stat=$(grep -c '^cpu[0-9]' <<<"$output")
	run in_container nocfs-$RUN_TAG cat /proc/cpuinfo
	local plain_cpus=$(grep -c '^processor' <<<"$output")
	run in_container nocfs-$RUN_TAG cat /sys/devices/system/cpu/online
	local plain_online=$output
	container_stop cfs-$RUN_TAG
	container_stop nocfs-$RUN_TAG
	daemon_stop "$mnt" "$pidf"
	cg_remove "$cg"
	echo "cfs: $cfs_cpus cpus, online $cfs_online, $cfs_stat stat lines; plain: $plain_cpus, $plain_online" >&2
	[ "$cfs_cpus" = 1 ]
	[ "$cfs_online" = 0 ]
	[ "$cfs_stat" = 1 ]
	[ "$plain_cpus" = 2 ]
	[ "$plain_online" = 0-1 ]
}

@test "known io: a container's diskstats counts its cgroup's reads of a device; another's shows none" {
	local dev img mm name a b
	if [ -b /dev/ram0 ]; then
		dev=/dev/ram0 # the VM's RAM disk
	else
		img=$BATS_RUN_TMPDIR/disk-$RUN_TAG.img
		truncate -s 32M "$img"
		dev=$(losetup -f --show "$img")
		echo "$dev" >"$BATS_RUN_TMPDIR/loopdev-$RUN_TAG" # detached at teardown, once
	fi
	mm=$((0x$(stat -c %t "$dev"))):$((0x$(stat -c %T "$dev")))
	name=${dev#/dev/}
	if ! cgroup_v2; then
		# v1 counts a device's I/O once throttling is active on it (recent kernels turn it on
		# with the first rule): a rule no read reaches
		echo "$mm 1099511627776" >/sys/fs/cgroup/blkio/$CG1/blkio.throttle.read_bps_device
	else
		[ -f /sys/fs/cgroup/$CG1/io.stat ] # the io controller is on for the test cgroups
	fi
	# 100 direct reads of 4 KiB from the first container's cgroup
	(
		for root in $(cg_roots); do echo $BASHPID >"$root/$CG1/cgroup.procs"; done
		exec dd if="$dev" of=/dev/null bs=4k count=100 iflag=direct status=none
	)
	a=$(in_container c1-$RUN_TAG cat /proc/diskstats | awk -v n="$name" '$3 == n')
	b=$(in_container c2-$RUN_TAG cat /proc/diskstats | awk -v n="$name" '$3 == n')
	echo "c1: [$a] c2: [$b]" >&2
	# reads completed and sectors read: exactly the 100 reads, 800 sectors; nothing written
	[ "$(awk '{ print $4 }' <<<"$a")" -eq 100 ]
	[ "$(awk '{ print $6 }' <<<"$a")" -eq 800 ]
	[ "$(awk '{ print $8 }' <<<"$a")" -eq 0 ]
	[ -z "$b" ]
}

@test "pressure: a container's files are its cgroup's on v2 (io stalled by a throttle shows in its own), the host's on v1" {
	local f mine cg i io1 io2 dev=/dev/ram0 # (the VM's RAM disk: v2 runs there)
	[ -e /proc/pressure/io ] || skip "this kernel has no PSI"
	if ! cgroup_v2; then
		# v1 cgroups have no pressure files: the host's
		for f in cpu io memory; do
			run in_container c1-$RUN_TAG cat /proc/pressure/$f
			echo "$f: $status [$output]" >&2
			[ "$status" -eq 0 ]
			[[ "${lines[0]}" =~ ^some\ avg10=[0-9.]+\ avg60=[0-9.]+\ avg300=[0-9.]+\ total=[0-9]+$ ]]
		done
		return
	fi
	# 100 direct reads of 4 KiB from the second container's cgroup, throttled to 200 KiB/s: about
	# two seconds of its tasks waiting on io
	local mm=$((0x$(stat -c %t "$dev"))):$((0x$(stat -c %T "$dev")))
	echo "$mm rbps=204800" >/sys/fs/cgroup/$CG2/io.max
	(
		echo $BASHPID >/sys/fs/cgroup/$CG2/cgroup.procs
		exec dd if="$dev" of=/dev/null bs=4k count=100 iflag=direct status=none
	)
	echo "$mm rbps=max" >/sys/fs/cgroup/$CG2/io.max
	local same
	for f in cpu io memory; do
		# the same text as the cgroup's file, read just before or just after (its averages move
		# every 2 s)
		same=no
		for i in 1 2 3 4 5; do
			cg=$(cat /sys/fs/cgroup/$CG2/$f.pressure)
			mine=$(in_container c2-$RUN_TAG cat /proc/pressure/$f)
			if [ "$mine" = "$cg" ] || [ "$mine" = "$(cat /sys/fs/cgroup/$CG2/$f.pressure)" ]; then
				same=yes
				break
			fi
		done
		echo "$f: [$mine] cgroup: [$cg]" >&2
		[ "$same" = yes ]
	done
	# the stall is the second container's: at least half a second in its io "some" total (us), and
	# not in the first's
	io2=$(in_container c2-$RUN_TAG cat /proc/pressure/io | awk -F'total=' '/^some/ { print $2 }')
	io1=$(in_container c1-$RUN_TAG cat /proc/pressure/io | awk -F'total=' '/^some/ { print $2 }')
	echo "io some total: c1 $io1 c2 $io2 us" >&2
	[ "$io2" -ge 500000 ]
	[ "$io1" -lt $((io2 / 2)) ]
}

# The files LXC's hook binds, less what daemon_start reads to know it serves (proc/uptime).
HOOK_NAMES="proc/cpuinfo proc/diskstats proc/loadavg proc/meminfo proc/slabinfo proc/stat proc/swaps
	sys/devices/system/cpu/online sys/devices/system/cpu/possible sys/devices/system/cpu/present"

# Last: a worker that died after its last reply in an earlier test (an abort of the sanitizers,
# say) would otherwise go unseen until teardown unmounts it.
@test "containers that start together on a new mount bind every file, none refused (this kernel drops a name met by first lookups at once)" {
	local mnt=$BATS_RUN_TMPDIR/mnt-race-$RUN_TAG pidf=$BATS_RUN_TMPDIR/race-$RUN_TAG.pid mode i
	for mode in "" --restart-on-crash; do
		for i in 1 2 3; do
			daemon_start "$mnt" "$pidf" $mode
			# 16 starts at once, each binding every file in turn in a namespace of its own
			run timeout 60 "${LXCFS_BIN%/*}/tests/unit/lookup-race" --bind 16 "$mnt" -- $HOOK_NAMES
			daemon_stop "$mnt" "$pidf"
			echo "${mode:-standalone}, start $i: $output" >&2
			[ "$status" -eq 0 ]
			[[ "$output" == *": 0 of 160 binds refused (ENOENT) (0 names), 0 failed otherwise" ]]
		done
	done
}

# held_names PID MNT: how many of PID's fds are names of the tree at MNT.
held_names() { find "/proc/$1/fd" -lname "$2/*" 2>/dev/null | wc -l; }
holds() { [ "$(held_names "$1" "$2")" = "$3" ]; } # PID MNT N

@test "the names stay held across restarts: after the kernel drops its caches, namespaces binding every file at once are never refused" {
	local mnt=$BATS_RUN_TMPDIR/mnt-held-$RUN_TAG pidf=$BATS_RUN_TMPDIR/held-$RUN_TAG.pid i j w n
	kernel_at_least 616 ||
		skip "before Linux 6.16 the kernel cannot say that a mount is of our connection: nothing is held"
	daemon_start "$mnt" "$pidf" --restart-on-crash
	n=$(held_names "$(status_field "$pidf" worker_pid)" "$mnt")
	echo "names held by the first worker: $n" >&2
	[ "$n" -ge 10 ]
	for i in 1 2 3; do
		w=$(status_field "$pidf" worker_pid)
		kill -KILL "$w"
		wait_worker "$pidf" "$w"
		# the new worker holds them again once it has served a quiet moment (its predecessor's
		# went with it)
		w=$(status_field "$pidf" worker_pid)
		wait_until 5 holds "$w" "$mnt" "$n"
		for j in 1 2 3 4; do
			# Names nobody held are evicted here, as memory pressure would (a cost to the
			# host's caches only); held ones stay, and no bind below is a first lookup.
			# Not held, some bind was refused in 6 of 12 such tries.
			echo 2 >/proc/sys/vm/drop_caches
			run timeout 60 "${LXCFS_BIN%/*}/tests/unit/lookup-race" --bind 16 "$mnt" -- $HOOK_NAMES
			echo "restart $i, try $j: $output" >&2
			[ "$status" -eq 0 ]
			[[ "$output" == *": 0 of 160 binds refused (ENOENT) (0 names), 0 failed otherwise" ]]
		done
	done
	daemon_stop "$mnt" "$pidf"
	[ "$(grep -c " $mnt fuse" /proc/self/mounts)" = 0 ]
}

# The names are opened beneath the mount, never across into one made over it: a worker holding a
# name there would keep that mount busy (its owner could no longer unmount it) and hold a name that
# is not ours.
@test "the names held skip a mount made over ours: a new worker holds nothing in it, and it unmounts" {
	local mnt=$BATS_RUN_TMPDIR/mnt-held-$RUN_TAG pidf=$BATS_RUN_TMPDIR/held-$RUN_TAG.pid w n below
	kernel_at_least 616 ||
		skip "before Linux 6.16 the kernel cannot say that a mount is of our connection: nothing is held"
	daemon_start "$mnt" "$pidf" --restart-on-crash
	w=$(status_field "$pidf" worker_pid)
	n=$(held_names "$w" "$mnt")
	below=$(held_names "$w" "$mnt/proc")
	echo "held: $n, of them below proc: $below" >&2
	[ "$below" -ge 5 ]
	mount -t tmpfs -o size=64k lxcfs-test-over "$mnt/proc"
	touch "$mnt/proc/meminfo" "$mnt/proc/uptime" # names of ours, in the mount made over it
	kill -KILL "$w"
	wait_worker "$pidf" "$w"
	w=$(status_field "$pidf" worker_pid)
	# all but proc and what is below it (the worker serves, so it had its quiet moment)
	wait_until 5 holds "$w" "$mnt" $((n - below - 1))
	[ "$(held_names "$w" "$mnt/proc")" = 0 ]
	[ -z "$(find "/proc/$w/fd" -lname "$mnt/proc" 2>/dev/null)" ]
	umount "$mnt/proc" # not busy
	timeout "$TMO" grep -q "^MemTotal:" "$mnt/proc/meminfo"
}

@test "after the others, the daemon still serves" {
	kill -0 "$(cat "$PIDF")"
	run timeout "$TMO" cat "$MNT/proc/uptime"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[0-9]+\.[0-9]{2}\ [0-9]+\.[0-9]{2}$ ]]
}
