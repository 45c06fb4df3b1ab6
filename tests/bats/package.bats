#!/usr/bin/env bats
# The Debian package (debian/): installed over Debian's lxcfs 5.0.3, started the way an admin or
# the init script does, upgraded to a newer version of itself under LXC containers that read
# all along, removed and purged; Debian's lxcfs is put back after every test, also when it fails.
#
# The packages: $LXCFS_DEB and $LXCFS_DEB_NEXT (a higher version of the same tree), else built by
# scripts/build-deb (DEB_BUILD_OPTIONS=nocheck) into the run's temporary directory.
# The package, /usr/bin/lxcfs and /var/lib/lxcfs are the machine's: the suite holds
# /run/lxcfs-devlock throughout (taken here unless a caller, e.g. `flock /run/lxcfs-devlock bats
# ...`, holds it already).  Containers, their lxcpath and cgroups are this run's own.

load helpers
load debian
load lxcct

MNT=/var/lib/lxcfs

# --- packages ----------------------------------------------------------------------------------

# Finds or builds our two packages and Debian's.
packages_ready() {
	local out=$BATS_RUN_TMPDIR/debs v
	if [ -z "${LXCFS_DEB:-}" ]; then
		mkdir -p "$out"
		LXCFS_DEB=$(DEB_BUILD_OPTIONS=nocheck "$BATS_TEST_DIRNAME/../../scripts/build-deb" "$out/v1" | tail -n 1)
	fi
	v=$(dpkg-deb -f "$LXCFS_DEB" Version)
	if [ -z "${LXCFS_DEB_NEXT:-}" ]; then
		LXCFS_DEB_NEXT=$(DEB_BUILD_OPTIONS=nocheck "$BATS_TEST_DIRNAME/../../scripts/build-deb" \
			--version "$v+next1" "$out/next" | tail -n 1)
	fi
	dpkg --compare-versions "$(dpkg-deb -f "$LXCFS_DEB_NEXT" Version)" gt "$v"
	dpkg --compare-versions "$v" gt "$DEBIAN_VERSION"
	debian_deb_aside
	export LXCFS_DEB LXCFS_DEB_NEXT DEBIAN_DEB
}

# The version lxcfs --version prints for a package version: without the epoch.
bin_version() { local v=${1#*:}; echo "$v"; }

# --- the suite -----------------------------------------------------------------------------------

setup_file() {
	# (the packaging, tested once: the sanitizer pass has nothing to add, its build is not packaged)
	[ -z "${LXCFS_SANITIZED:-}" ] || { skip_file "the package is tested in the plain pass"; return 0; }
	export RUN_TAG=pkg$$
	export LXCPATH=$BATS_RUN_TMPDIR/lxc-$RUN_TAG
	export A=lxcfst-$RUN_TAG-a B=lxcfst-$RUN_TAG-b
	packages_ready # built before the lock is taken: a build touches nothing of the machine's
	devlock_take
	case "$(installed_version)" in 1:*) restore_debian ;; esac # ours, left by a run that was killed
	[ "$(installed_version)" = "$DEBIAN_VERSION" ] || {
		echo "Debian's lxcfs $DEBIAN_VERSION must be installed before this suite (found '$(installed_version)')" >&2
		return 1
	}
	if mounted || [ -n "$(lxcfs_pids)" ]; then
		echo "an lxcfs of the system's package runs or is mounted at $MNT: this suite would disturb it" >&2
		return 1
	fi
	mkdir -p "$LXCPATH"
	lxc_make "$A" $((256 * 1024 * 1024)) 0
	lxc_make "$B" $((128 * 1024 * 1024)) 1
}

teardown_file() {
	! file_skipped || return 0
	lxc_destroy_all
	rm -rf "$LXCPATH"
	restore_debian || echo "teardown: Debian's lxcfs could not be restored; see $BATS_RUN_TMPDIR/dpkg.log" >&2
	devlock_release
}

setup() {
	skip_if_file_skipped
}

teardown() {
	! file_skipped || return 0
	local rc=0
	lxc_down "$A" >/dev/null 2>&1 || true
	lxc_down "$B" >/dev/null 2>&1 || true
	restore_debian || rc=1
	# a container whose config included a file its removal took stops only now
	lxc_down "$A" >/dev/null 2>&1 || rc=1
	lxc_down "$B" >/dev/null 2>&1 || rc=1
	if [ "$rc" != 0 ]; then
		echo "teardown failed; dpkg's output:" >&2
		tail -n 30 "$BATS_RUN_TMPDIR/dpkg.log" >&2
	fi
	return "$rc"
}

# The keeper, started as an admin would (policy-rc.d keeps the postinst from it here).
start_service() {
	/etc/init.d/lxcfs start
	lxcfs --status >/dev/null
	timeout 5 cat "$MNT/proc/uptime" >/dev/null
}

policy_forbids_start() {
	[ -x /usr/sbin/policy-rc.d ] && { /usr/sbin/policy-rc.d lxcfs start >/dev/null 2>&1; [ $? = 101 ]; }
}

@test "fresh install over Debian's lxcfs with nothing running: our files, our version, nothing started" {
	local v
	v=$(dpkg-deb -f "$LXCFS_DEB" Version)
	install_ours "$LXCFS_DEB"
	[ "$(dpkg-query -W -f '${Status}' lxcfs)" = "install ok installed" ]
	[ "$(lxcfs --version)" = "$(bin_version "$v")" ]
	[ -x /usr/libexec/lxcfs/lxcfs-worker ]
	[ ! -e /usr/lib/x86_64-linux-gnu/lxcfs/liblxcfs.so ] # Debian's library went with its package
	# the unit: our keeper, never unmounting
	grep -qx 'ExecStart=/usr/bin/lxcfs --restart-on-crash /var/lib/lxcfs' /lib/systemd/system/lxcfs.service
	grep -qx 'Type=notify' /lib/systemd/system/lxcfs.service
	refute grep -q '^ExecStopPost' /lib/systemd/system/lxcfs.service
	# the hooks, under our names and Debian's post-stop name
	grep -q 'LXC mount hook of lxcfs' /usr/share/lxcfs/lxc.mount.hook
	grep -q 'LXC post-stop hook of lxcfs' /usr/share/lxcfs/lxc.reboot.hook
	[ "$(readlink -f /usr/share/lxcfs/lxc.reboot.hook)" = /usr/share/lxcfs/lxc.poststop.hook ]
	grep -qx 'lxc.hook.mount = /usr/share/lxcfs/lxc.mount.hook' /usr/share/lxc/config/common.conf.d/00-lxcfs.conf
	grep -qx 'lxc.hook.post-stop = /usr/share/lxcfs/lxc.poststop.hook' /usr/share/lxc/config/common.conf.d/00-lxcfs.conf
	# the init script and the man page are ours
	grep -q 'lxcfs-service.sh' /etc/init.d/lxcfs
	zgrep -q 'restart\\-on\\-crash' /usr/share/man/man1/lxcfs.1.gz
	[ -d "$MNT" ]
	# every file the package lists is there, and dpkg finds nothing half-installed
	dpkg -L lxcfs | while read -r f; do [ -e "$f" ] || [ -L "$f" ] || { echo "missing: $f" >&2; exit 1; }; done
	[ -z "$(dpkg --audit 2>&1)" ]
	if policy_forbids_start; then
		refute mounted
		[ -z "$(lxcfs_pids)" ]
	fi
}

@test "init script: detached keeper with the log, status, reload upgrades in place, stop unmounts" {
	install_ours "$LXCFS_DEB"
	start_service
	local keeper w
	keeper=$(cat /run/lxcfs.pid)
	[ "$(readlink "/proc/$keeper/exe")" = /usr/bin/lxcfs ]
	# detached: another session than ours, no terminal, stdin /dev/null, output to the log, none
	# of our pipes or sockets (bats' fd 3: a daemon holding it would hang bats, or apt)
	[ "$(awk '{ print $6 }' "/proc/$keeper/stat")" != "$(awk '{ print $6 }' /proc/$$/stat)" ]
	[ "$(awk '{ print $7 }' "/proc/$keeper/stat")" = 0 ]
	[ "$(readlink "/proc/$keeper/fd/0")" = /dev/null ]
	[ "$(readlink "/proc/$keeper/fd/1")" = /var/log/lxcfs.log ]
	[ "$(readlink "/proc/$keeper/fd/2")" = /var/log/lxcfs.log ]
	local ours f
	ours=$(for f in /proc/$$/fd/*; do readlink "$f"; done | grep -E '^(pipe|socket):' || echo none)
	for f in /proc/"$keeper"/fd/*; do
		refute grep -qxF -- "$(readlink "$f")" <<<"$ours"
	done
	w=$(lxcfs --status | sed -n 's/^worker_pid: //p')
	if sh -c 'echo -1000 >/proc/self/oom_score_adj' 2>/dev/null; then # some sandboxes refuse (EIO)
		[ "$(cat "/proc/$keeper/oom_score_adj")" = -1000 ]
		[ "$(cat "/proc/$w/oom_score_adj")" = -1000 ]
	fi
	grep -q 'serving' /var/log/lxcfs.log
	run /etc/init.d/lxcfs status
	[ "$status" -eq 0 ]
	# start again: already running, the same keeper
	/etc/init.d/lxcfs start
	[ "$(cat /run/lxcfs.pid)" = "$keeper" ]
	/etc/init.d/lxcfs reload
	[ "$(cat /run/lxcfs.pid)" = "$keeper" ]
	[ "$(lxcfs --status | sed -n 's/^worker_pid: //p')" != "$w" ]
	[[ "$(lxcfs --status | sed -n 's/^last_upgrade: //p')" == generation* ]]
	/etc/init.d/lxcfs stop
	refute mounted
	[ -z "$(lxcfs_pids)" ]
	run /etc/init.d/lxcfs status
	[ "$status" -ne 0 ]
}

@test "remove and purge with nothing running: programs gone, the conffile until purge, nothing mounted" {
	install_ours "$LXCFS_DEB"
	pkg -r --force-depends lxcfs # Debian's LXD depends on lxcfs
	[ "$(dpkg-query -W -f '${db:Status-Abbrev}' lxcfs)" = "rc " ]
	[ ! -e /usr/bin/lxcfs ]
	[ ! -e /usr/libexec/lxcfs ]
	[ ! -e /lib/systemd/system/lxcfs.service ]
	[ ! -e /usr/share/lxcfs ]
	[ ! -e /usr/share/lxc/config/common.conf.d/00-lxcfs.conf ]
	[ -f /etc/init.d/lxcfs ] # the conffile stays, disabled
	[ ! -x /etc/init.d/lxcfs ]
	/etc/init.d/lxcfs start 2>/dev/null || true          # (were it run: it exits, programs gone)
	refute mounted
	[ -z "$(lxcfs_pids)" ]
	echo old >>/var/log/lxcfs.log
	pkg -P --force-depends lxcfs
	[ "$(dpkg-query -W -f '${db:Status-Status}' lxcfs)" = not-installed ]
	[ ! -e /etc/init.d/lxcfs ]
	[ -z "$(ls /etc/rc?.d | grep lxcfs)" ]
	[ ! -e /var/log/lxcfs.log ]
}

@test "upgrade to a newer version of ours and back, live under two LXC containers reading: no failed read" {
	local v1 v2 keeper g
	v1=$(dpkg-deb -f "$LXCFS_DEB" Version)
	v2=$(dpkg-deb -f "$LXCFS_DEB_NEXT" Version)
	install_ours "$LXCFS_DEB"
	start_service
	keeper=$(cat /run/lxcfs.pid)
	lxc_up "$A"
	lxc_up "$B"
	[ "$(lxc_memtotal "$A")" = 262144 ]
	[ "$(lxc_memtotal "$B")" = 131072 ]
	both_readers
	install_ours "$LXCFS_DEB_NEXT"
	# the same keeper process, now running the files dpkg put on disk, and a worker of them
	[ "$(cat /run/lxcfs.pid)" = "$keeper" ]
	[ "$(readlink "/proc/$keeper/exe")" = /usr/bin/lxcfs ]
	[ "$(lxcfs --status | sed -n 's/^keeper_version: //p')" = "$(bin_version "$v2")" ]
	[ "$(lxcfs --status | sed -n 's/^worker_version: //p')" = "$(bin_version "$v2")" ]
	[ "$(readlink "/proc/$(lxcfs --status | sed -n 's/^worker_pid: //p')/exe")" = /usr/libexec/lxcfs/lxcfs-worker ]
	g=$(lxcfs --status | sed -n 's/^generation: //p')
	sleep 1
	install_ours "$LXCFS_DEB" # a downgrade within our versions is the same live path
	[ "$(cat /run/lxcfs.pid)" = "$keeper" ]
	[ "$(lxcfs --status | sed -n 's/^worker_version: //p')" = "$(bin_version "$v1")" ]
	[ "$(lxcfs --status | sed -n 's/^generation: //p')" -gt "$g" ]
	sleep 1
	both_readers_ok 50
	[ "$(lxc_memtotal "$A")" = 262144 ]
	grep -q 'upgraded in place' "$BATS_RUN_TMPDIR/dpkg.log"
}

@test "remove with the daemon serving two LXC containers: nothing hangs, nothing stays mounted; the containers read the kernel's files" {
	local a b
	install_ours "$LXCFS_DEB"
	start_service
	lxc_up "$A"
	lxc_up "$B"
	[ "$(lxc_memtotal "$A")" = 262144 ]
	# LXC's tools cannot read the containers' configs once 00-lxcfs.conf is gone: nsenter then
	a=$(lxc_init_pid "$A")
	b=$(lxc_init_pid "$B")
	[ "$(lxcfs_devs_of "$a")" = "$(mnt_dev)" ]
	PKG_TIMEOUT=120 pkg -r --force-depends lxcfs # a removal that hangs fails here
	refute mounted
	[ -z "$(lxcfs_pids)" ]
	# every read in the containers ends (the kernel's file, or at worst ENOTCONN at once)
	run ns_read "$a" cat /proc/meminfo
	[ "$status" -ne 124 ]
	[ "$status" -ne 137 ]
	run ns_read "$b" cat /proc/uptime
	[ "$status" -ne 124 ]
	[ "$status" -ne 137 ]
	if ! lxcfs_help_has release "$LXCFS_DEB"; then
		skip "this lxcfs has no --release: the containers' reads fail (ENOTCONN) instead of showing the kernel's files"
	fi
	[ -z "$(lxcfs_devs_of "$a")" ]
	[ -z "$(lxcfs_devs_of "$b")" ]
	run ns_read "$a" cat /proc/meminfo
	[ "$status" -eq 0 ]
	[ "$(field_kb "$output" MemTotal)" = "$(field_kb "$(cat /proc/meminfo)" MemTotal)" ]
	run ns_read "$b" cat /sys/devices/system/cpu/online
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat /sys/devices/system/cpu/online)" ]
}

# Debian's daemon, started by Debian's init script, serving containers A and B that use Debian's
# hooks.  The script's last step (oom_score_adj -1000) fails in some sandboxes, with the daemon
# started.
start_debian_daemon() {
	/etc/init.d/lxcfs start >/dev/null 2>&1 || true
	TMO=5 WAIT_STEP=0.1 wait_until 5 answers "$MNT" || true # the next line says
	[ "$(cat "/proc/$(cat /run/lxcfs.pid)/comm")" = lxcfs ]
	lxc_up "$A"
	lxc_up "$B"
	[ "$(lxc_memtotal "$A")" = 262144 ]
	[ "$(lxc_lxcfs_devs "$A")" = "$(mnt_dev)" ]
}

@test "install over a running Debian lxcfs, without --replace: it is left serving, no failed read" {
	if lxcfs_help_has replace "$LXCFS_DEB"; then
		skip "this lxcfs has --replace: the next test takes the daemon over"
	fi
	local old dev
	start_debian_daemon
	old=$(cat /run/lxcfs.pid)
	dev=$(mnt_dev)
	LOOP=$READ_LOOP both_readers
	install_ours "$LXCFS_DEB"
	sleep 1
	both_readers_ok 20
	kill -0 "$old"
	[ "$(mnt_dev)" = "$dev" ]
	refute lxcfs --status
	grep -q "lxcfs pid $old, not this package's, serves $MNT: left running" "$BATS_RUN_TMPDIR/dpkg.log"
}

@test "install over a running Debian lxcfs serving two LXC containers: taken over live, no failed read" {
	if ! lxcfs_help_has replace "$LXCFS_DEB"; then
		skip "this lxcfs has no --replace: the postinst leaves Debian's daemon running (no live takeover)"
	fi
	local old
	start_debian_daemon
	old=$(cat /run/lxcfs.pid)
	LOOP=$READ_LOOP both_readers
	apt_install_ours "$LXCFS_DEB"
	sleep 1
	both_readers_ok 20
	# ours serves, Debian's daemon is gone, the containers' mounts are of our mount
	lxcfs --status >/dev/null
	refute kill -0 "$old" 2>/dev/null
	[ "$(lxc_lxcfs_devs "$A")" = "$(mnt_dev)" ]
	[ "$(lxc_lxcfs_devs "$B")" = "$(mnt_dev)" ]
	# and every value is right again
	both_readers
	sleep 2
	both_readers_ok 20
	# a container started under Debian's package stops through its post-stop hook's old name,
	# which is ours now
	lxc_down "$A"
	grep -q 'Executing script "/usr/share/lxcfs/lxc.reboot.hook"' "$BATS_RUN_TMPDIR/$A.lxc.log"
	refute grep -Eq 'Script exited|Failed to run lxc.hook' "$BATS_RUN_TMPDIR/$A.lxc.log"
	lxc_up "$A"
	[ "$(lxc_memtotal "$A")" = 262144 ]
}
