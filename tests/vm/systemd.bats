#!/usr/bin/env bats
# lxcfs under a real systemd: Debian's systemd as PID 1 of the guest (`kernel/vm test --systemd`,
# on a throwaway overlay of the host's root), our package installed with dpkg over a running
# Debian lxcfs as a user would, its unit driven with systemctl while two LXC busybox containers
# (the package's LXC hooks, limits set by LXC) read their files throughout.  Every path says how
# many reads failed; those that promise none assert none.
#
# The tests run in order and each leaves the service as the next expects it (a VM is booted for
# the suite); the packages come from the test command ($LXCFS_DEB, $LXCFS_DEB_NEXT).

load ../bats/helpers
load ../bats/debian
load ../bats/lxcct

MNT=/var/lib/lxcfs
UNIT=lxcfs.service
# one checking reader per container: the guest runs under TCG, where more starve systemd
export READERS=1

setup_file() {
	if [ "$(cat /proc/1/comm)" != systemd ] || ! systemd-detect-virt --vm -q; then
		# it installs and removes the machine's packages: only ever in a throwaway guest
		skip_file "needs systemd as PID 1 in a VM (kernel/vm test --systemd tests/vm/systemd.bats)"
		return 0
	fi
	[ -n "${LXCFS_DEB:-}" ] && [ -n "${LXCFS_DEB_NEXT:-}" ] || {
		echo "LXCFS_DEB and LXCFS_DEB_NEXT must name our two packages (scripts/test builds them)" >&2
		return 1
	}
	[ "$(installed_version)" = "$DEBIAN_VERSION" ] || {
		echo "Debian's lxcfs $DEBIAN_VERSION must be installed (found '$(installed_version)')" >&2
		return 1
	}
	# man-db's trigger takes minutes under TCG at every package operation: not what is tested
	rm -f /var/lib/man-db/auto-update
	export RUN_TAG=sd$$
	export LXCPATH=$BATS_RUN_TMPDIR/lxc-$RUN_TAG
	export A=lxcfst-$RUN_TAG-a B=lxcfst-$RUN_TAG-b
	mkdir -p "$LXCPATH"
	lxc_make "$A" $((256 * 1024 * 1024)) 0
	lxc_make "$B" $((128 * 1024 * 1024)) 1
	echo "# systemd $(systemctl --version | awk 'NR == 1 { print $2 }'), kernel $(uname -r)" >&3
}

teardown_file() {
	! file_skipped || return 0
	local n
	for n in "$A" "$B"; do
		timeout 60 lxc-stop -P "$LXCPATH" -n "$n" -k >/dev/null 2>&1 || true
	done
}

setup() {
	skip_if_file_skipped
}

teardown() {
	! file_skipped || return 0
	# readers a failed test left running
	touch "$LXCPATH/$A/rootfs/stop" "$LXCPATH/$B/rootfs/stop" 2>/dev/null || true
	if [ -n "${BATS_TEST_COMPLETED:-}" ]; then return 0; fi
	echo "--- systemctl status" >&2
	systemctl status --no-pager "$UNIT" >&2 || true
	echo "--- journal (the unit's, then everything's last lines)" >&2
	journalctl -u "$UNIT" --no-pager -n 40 | grep -v ' rebound to ' >&2 || true
	journalctl -b --no-pager -o short-precise -n 80 | grep -v ' rebound to ' >&2 || true
	echo "--- dpkg" >&2
	tail -n 20 "$BATS_RUN_TMPDIR/dpkg.log" >&2 2>/dev/null || true
}

# lxcfs_mounts_said WHEN PID...: the lxcfs mounts of this namespace and of each PID's, with the
# namespace's inode and the pid's command (said when a test fails).
lxcfs_mounts_said() {
	local when=$1 p
	shift
	for p in self "$@"; do
		echo "--- lxcfs mounts $when: pid $p ($(cat "/proc/$p/comm" 2>&1), $(readlink "/proc/$p/ns/mnt" 2>&1))"
		grep ' - fuse\.lxcfs ' "/proc/$p/mountinfo" 2>&1 || true
	done
}

prop() { systemctl show -P "$1" "$UNIT"; }
prop_is() { [ "$(prop "$1")" = "$2" ]; }
keeper() { prop MainPID; }
worker() { lxcfs_status_worker; }
worker_is() { [ "$(worker)" = "$1" ]; }
new_keeper() { local k; k=$(keeper); [ "$k" != "$1" ] && [ "$k" != 0 ]; } # OLD: a keeper, not OLD
lxcfs_status_worker() { lxcfs --status 2>/dev/null | sed -n 's/^worker_pid: //p'; }

unit_serving() { [ "$(prop ActiveState)" = active ] && lxcfs --status >/dev/null 2>&1 && TMO=5 answers "$MNT"; }

# Until the unit is active, its keeper serves (the status answers) and the mount answers; at
# most $1 seconds (TCG is slow).
wait_serving() {
	WAIT_STEP=0.2 wait_until "${1:-60}" unit_serving && return 0
	echo "lxcfs.service is not serving: $(prop ActiveState)/$(prop SubState)" >&2
	return 1
}

own_memtotals() { [ "$(lxc_memtotal "$A")" = 262144 ] && [ "$(lxc_memtotal "$B")" = 131072 ]; }

# Until both containers read their own MemTotal again, at most $1 seconds.
wait_containers() {
	WAIT_STEP=0.2 wait_until "${1:-60}" own_memtotals && return 0
	echo "the containers do not read their own files" >&2
	return 1
}

# The fds in systemd's store for the unit.
stored() { prop NFileDescriptorStore; }

# Readers in both containers, then the results: "A_reads A_failed B_reads B_failed" on stdout,
# reported on the TAP stream.
readers_result() {
	local a b
	a=$(lxc_readers_stop "$A" "$READERS")
	b=$(lxc_readers_stop "$B" "$READERS")
	echo "# $1: reads, failed: A $a, B $b" >&3
	echo "$a $b"
}

# Fails unless no read failed and each container read more than $2 times.
no_failed_read() {
	local ar af br bf
	read -r ar af br bf < <(readers_result "$1")
	[ "$af" = 0 ] && [ "$bf" = 0 ] && [ "$ar" -gt "$2" ] && [ "$br" -gt "$2" ]
}

@test "install over Debian's lxcfs running under systemd, two LXC containers reading: taken over live, no failed read" {
	local old
	systemctl start "$UNIT"
	old=$(keeper)
	[ "$(cat "/proc/$old/comm")" = lxcfs ]
	lxc_up "$A"
	lxc_up "$B"
	[ "$(lxc_memtotal "$A")" = 262144 ]
	[ "$(lxc_top_devs "$A")" = "$(mnt_dev)" ]
	# Debian's daemon answers another container's MemTotal now and then: only failures count
	LOOP=$READ_LOOP both_readers
	install_ours "$LXCFS_DEB"
	wait_serving 60
	sleep 1
	no_failed_read "dpkg -i over Debian's lxcfs" 5
	refute kill -0 "$old" 2>/dev/null
	[ "$(lxc_top_devs "$A")" = "$(mnt_dev)" ]
	[ "$(lxc_top_devs "$B")" = "$(mnt_dev)" ]
	wait_containers 30
}

@test "the unit under systemd: active after READY=1 with our status text, keeper and worker in its cgroup, both fds in the store" {
	[ "$(prop Type)" = notify ]
	[ "$(prop ActiveState)/$(prop SubState)" = active/running ]
	[[ "$(prop StatusText)" == "serving $MNT (generation "* ]]
	[ "$(keeper)" = "$(cat /run/lxcfs.pid)" ]
	local cg w
	w=$(worker)
	cg=$(prop ControlGroup)
	grep -qx "0::$cg" "/proc/$(keeper)/cgroup"
	grep -qx "0::$cg" "/proc/$w/cgroup"
	# systemctl status lists both
	run systemctl status --no-pager "$UNIT"
	[[ "$output" == *"lxcfs --restart-on-crash $MNT"* ]]
	[[ "$output" == *"lxcfs-worker"* ]]
	[ "$(stored)" -ge 2 ]
}

@test "journalctl -u lxcfs: our lines, each at its priority" {
	# a worker killed is logged as a warning by the keeper, its replacement as info
	local w
	w=$(worker)
	kill -KILL "$w"
	wait_serving 60
	[ "$(worker)" != "$w" ]
	sleep 1
	run journalctl -u "$UNIT" --no-pager -o cat -p warning
	echo "$output" | tail -n 5 >&2
	[[ "$output" == *"lxcfs-keeper["*"]: warning: "* ]]
	refute grep -q ': info: ' <<<"$output"
	# the marks are taken off: no "<4>" in the text
	refute grep -q '^<[0-9]>' <<<"$output"
	run journalctl -u "$UNIT" --no-pager -o cat -p info
	grep -q 'lxcfs-worker\[[0-9]*\]: info: .*serving' <<<"$output"
}

@test "systemctl restart under readers: the connection comes back from systemd's store, no failed read" {
	local k dev
	k=$(keeper)
	dev=$(mnt_dev)
	both_readers
	systemctl restart "$UNIT"
	wait_serving 60
	sleep 1
	no_failed_read "systemctl restart" 3
	[ "$(keeper)" != "$k" ]
	[ "$(mnt_dev)" = "$dev" ]
	journalctl -u "$UNIT" --no-pager -o cat | grep -q "from systemd's fd store"
	[ "$(stored)" -ge 2 ]
}

@test "systemctl reload under readers: the keeper upgrades in place, no failed read" {
	local k w
	k=$(keeper)
	w=$(worker)
	both_readers
	systemctl reload "$UNIT"
	WAIT_STEP=0.2 wait_until 60 refute worker_is "$w" || true # wait_serving and the checks say
	wait_serving 60
	sleep 1
	no_failed_read "systemctl reload" 3
	[ "$(keeper)" = "$k" ]
	[ "$(worker)" != "$w" ]
}

@test "kill -9 of keeper and worker together: systemd restarts the unit from its store, no failed read" {
	local k w dev n
	k=$(keeper)
	w=$(worker)
	dev=$(mnt_dev)
	n=$(prop NRestarts)
	both_readers
	kill -KILL "$k" "$w"
	WAIT_STEP=0.2 wait_until 60 new_keeper "$k" || true # wait_serving and the checks say
	wait_serving 60
	sleep 1
	no_failed_read "kill -9 keeper and worker" 3
	[ "$(prop NRestarts)" -gt "$n" ]
	[ "$(mnt_dev)" = "$dev" ]
}

@test "systemctl daemon-reload: the service and its store untouched, no failed read" {
	local k w s
	k=$(keeper)
	w=$(worker)
	s=$(stored)
	both_readers
	systemctl daemon-reload
	sleep 2
	no_failed_read "daemon-reload" 3
	[ "$(keeper)" = "$k" ]
	[ "$(worker)" = "$w" ]
	[ "$(stored)" = "$s" ]
}

@test "two systemctl restarts within a second: no failed read" {
	local dev
	dev=$(mnt_dev)
	both_readers
	systemctl restart "$UNIT"
	systemctl restart "$UNIT"
	wait_serving 60
	sleep 1
	no_failed_read "two restarts" 3
	[ "$(mnt_dev)" = "$dev" ]
}

@test "systemctl stop then start: the store goes with the stop; the start mounts afresh and rebinds both containers" {
	local dev ar af br bf
	dev=$(mnt_dev)
	both_readers
	systemctl stop "$UNIT"
	[ "$(stored)" = 0 ]
	sleep 2
	# (before Linux 6.5 our mount is stacked over Debian's, replaced in the first test: both
	# are dead now, and the start must detach both, not fail and leave it to Restart=)
	systemctl start "$UNIT"
	wait_serving 60
	wait_containers 60
	read -r ar af br bf < <(readers_result "stop, 2 s, start (failures expected while stopped)")
	[ "$(mnt_dev)" != "$dev" ]
	[ "$(lxc_top_devs "$A")" = "$(mnt_dev)" ]
	[ "$(lxc_top_devs "$B")" = "$(mnt_dev)" ]
	# and no read fails once it serves
	both_readers
	sleep 2
	no_failed_read "after the start" 3
}

@test "a start that fails (a bad option): the error at its priority in the journal; the next good start heals the containers" {
	local d=/run/systemd/system/$UNIT.d ar af br bf
	mkdir -p "$d"
	printf '[Service]\nExecStart=\nExecStart=/usr/bin/lxcfs --restart-on-crash --no-such-option %s\n' "$MNT" >"$d/bad.conf"
	systemctl daemon-reload
	both_readers
	run systemctl restart "$UNIT"
	[ "$status" -ne 0 ]
	# Restart=on-failure tries again until the start limit: then the unit has failed
	WAIT_STEP=0.5 wait_until 60 prop_is ActiveState failed
	run journalctl -u "$UNIT" --no-pager -o cat -p err
	[[ "$output" == *"no-such-option"* ]]
	rm -rf "$d"
	systemctl daemon-reload
	systemctl reset-failed "$UNIT"
	systemctl start "$UNIT"
	wait_serving 60
	wait_containers 60
	read -r ar af br bf < <(readers_result "failed start, then a good one (failures expected in between)")
	[ "$(lxc_top_devs "$A")" = "$(mnt_dev)" ]
}

@test "LXD's unit requires ours: starting lxd.service with lxcfs stopped starts lxcfs first, READY before LXD starts" {
	systemctl show -P Requires lxd.service | grep -qw "$UNIT"
	systemctl show -P After lxd.service | grep -qw "$UNIT"
	systemctl stop "$UNIT"
	[ "$(prop ActiveState)" = inactive ]
	# LXD itself may not come up in this small guest: the order is what is checked
	timeout 600 systemctl start lxd.service || true
	[ "$(prop ActiveState)" = active ]
	local ready lxd
	ready=$(prop ActiveEnterTimestampMonotonic)
	lxd=$(systemctl show -P InactiveExitTimestampMonotonic lxd.service)
	echo "# lxcfs READY at ${ready} us, lxd.service left inactive at ${lxd} us; lxd: $(systemctl show -P ActiveState lxd.service)" >&3
	[ "$ready" -gt 0 ]
	[ "$lxd" -gt "$ready" ]
	systemctl stop lxd.service lxd.socket || true
	wait_serving 60
	wait_containers 60
}

@test "dpkg upgrades ours to a newer version under readers: in place, no failed read" {
	local k v2
	v2=$(dpkg-deb -f "$LXCFS_DEB_NEXT" Version)
	k=$(keeper)
	both_readers
	install_ours "$LXCFS_DEB_NEXT"
	wait_serving 60
	sleep 1
	no_failed_read "dpkg upgrade" 3
	[ "$(keeper)" = "$k" ]
	[ "$(lxcfs --status | sed -n 's/^worker_version: //p')" = "${v2#*:}" ]
	[ "$(prop ActiveState)" = active ]
}

@test "remove under readers: nothing hangs, the unit is stopped, the containers read the kernel's files; purge" {
	local a b
	a=$(lxc_init_pid "$A")
	b=$(lxc_init_pid "$B")
	lxcfs_mounts_said "before the removal" "$a" "$b" >"$BATS_RUN_TMPDIR/release.before"
	PKG_TIMEOUT=300 pkg -r --force-depends lxcfs
	[ "$(systemctl show -P ActiveState "$UNIT")" != active ]
	refute mounted
	[ -z "$(lxcfs_pids)" ]
	run ns_read "$a" cat /proc/meminfo
	if [ "$status" -ne 0 ]; then # what --release saw, and what it left
		echo "--- A's read: $output" >&2
		cat "$BATS_RUN_TMPDIR/release.before" >&2
		lxcfs_mounts_said "after the removal" "$a" "$b" >&2
	fi
	[ "$status" -eq 0 ]
	[ "$(field_kb "$output" MemTotal)" = "$(field_kb "$(cat /proc/meminfo)" MemTotal)" ]
	# nothing of lxcfs is left in either container, not even a dead layer beneath
	[ -z "$(grep ' - fuse\.lxcfs ' "/proc/$a/mountinfo" "/proc/$b/mountinfo")" ]
	grep -h "released in" "$BATS_RUN_TMPDIR/dpkg.log" | sed 's/^/# /' >&3 || true
	pkg -P --force-depends lxcfs
	[ "$(dpkg-query -W -f '${db:Status-Status}' lxcfs)" = not-installed ]
	[ ! -e /lib/systemd/system/lxcfs.service ]
}
