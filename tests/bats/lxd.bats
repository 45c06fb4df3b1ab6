#!/usr/bin/env bats
# Real LXD (Debian 12's lxd 5.0) with our daemon where LXD's containers expect lxcfs:
# /var/lib/lxcfs.  LXD itself has no lxcfs code; LXC's common.conf.d/00-lxcfs.conf (from
# Debian's lxcfs package) runs /usr/share/lxcfs/lxc.mount.hook, which binds /var/lib/lxcfs's
# files into every container.  The suite runs an LXD daemon of its own (its own LXD_DIR: its
# database, storage pool, image and containers), unprivileged containers made from a busybox
# image built here, and checks from inside them what they read while our daemon's worker is
# killed, upgraded, the whole daemon is lost and started again, and our package is installed
# over Debian's lxcfs serving them.
#
# /var/lib/lxcfs is the machine's: the suite holds /run/lxcfs-devlock (helpers' devlock_take)
# and skips when anything is mounted there already.  It runs once, in the plain pass.

load helpers
load debian

LXCFS_BIN_NEXT=${LXCFS_BIN_NEXT:-$BATS_TEST_DIRNAME/../../build-next/lxcfs}
MNT=/var/lib/lxcfs
IMAGE=lxcfst-busybox

setup_file() {
	# what LXD adds to lxc.bats is the distribution's set-up; the sanitizers have nothing to add
	[ -z "${LXCFS_SANITIZED:-}" ] || { skip_file "LXD is tested in the plain pass"; return 0; }
	command -v lxd >/dev/null && [ -x /usr/bin/lxc ] ||
		{ skip_file "Debian's lxd is not installed (scripts/test installs it: apt-get install lxd)"; return 0; }
	export RUN_TAG=lxd$$
	devlock_take
	export LOCKED=1
	# (the lxcfs package, like the mountpoint, is looked at under the lock: others change it)
	[ -f /usr/share/lxcfs/lxc.mount.hook ] && [ -f /usr/share/lxc/config/common.conf.d/00-lxcfs.conf ] ||
		{ skip_file "no LXC lxcfs hook (the lxcfs package's) to bind $MNT into LXD's containers"; return 0; }
	if grep -q " $MNT " /proc/self/mounts; then
		skip_file "$MNT already has a mount ($(awk -v m="$MNT" '$2 == m { print $3 }' /proc/self/mounts |
			tr '\n' ' ')) that this suite did not start"
		return 0
	fi
	export OWN_MNT=1
	local t0=$SECONDS
	export A=lxcfst-$RUN_TAG-a B=lxcfst-$RUN_TAG-b
	# LXD's directory: reachable (0711 on the way) by the containers' mapped root.
	W=$(mktemp -d /tmp/lxcfst-lxd.XXXXXX)
	export W
	chmod 711 "$W"
	export LXD_DIR=$W/lxd LXD_CONF=$W/client
	export RUNDIR=$BATS_RUN_TMPDIR/run-$RUN_TAG PIDF=$BATS_RUN_TMPDIR/run-$RUN_TAG/lxcfs.pid
	export BIN=$BATS_RUN_TMPDIR/bin-$RUN_TAG
	mkdir -p "$LXD_DIR" "$RUNDIR" "$BIN"
	chmod 711 "$LXD_DIR"
	# the daemon runs from a directory of its own, so upgrades can swap its binaries
	cp "$LXCFS_BIN" "$(dirname "$LXCFS_BIN")/lxcfs-worker" "$BIN/"
	echo "# lxd: $(lxd --version), LXD_DIR $LXD_DIR" >&3

	lxcfs_start
	lxd_start
	lxd init --preseed <<-EOF
		config: {}
		networks: []
		storage_pools:
		- name: lxcfst
		  driver: dir
		profiles:
		- name: default
		  devices:
		    root:
		      path: /
		      pool: lxcfst
		      type: disk
	EOF
	make_image "$W/image"
	lxc image import "$W/image/busybox.tar.gz" --alias "$IMAGE" >/dev/null
	lxd_up "$A" limits.memory=256MB limits.cpu=1
	lxd_up "$B" limits.memory=128MiB limits.cpu=2
	echo "# setup (our daemon, LXD, the image, two containers): $((SECONDS - t0)) s" >&3
}

setup() {
	skip_if_file_skipped
}

teardown_file() {
	local n pid
	if [ -n "${W:-}" ]; then
		touch_stops
		if [ -S "$LXD_DIR/unix.socket" ]; then
			for n in $(timeout 30 lxc list --format csv -c n 2>/dev/null); do
				timeout 60 lxc delete --force "$n" >/dev/null 2>&1 || echo "lxc delete $n failed" >&2
			done
			timeout 30 lxc image delete "$IMAGE" >/dev/null 2>&1 || true
			timeout 30 lxc profile device remove default root >/dev/null 2>&1 || true
			timeout 60 lxc storage delete lxcfst >/dev/null 2>&1 || true
			timeout 60 lxd shutdown --timeout=30 >/dev/null 2>&1 || true
		fi
		pid=$(cat "$W/lxd.started" 2>/dev/null) || true
		if [ -n "$pid" ]; then
			kill -TERM "$pid" 2>/dev/null || true
			timeout 20 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null || true
		fi
		# what LXD mounted under its directory (tmpfs for devlxd and shmounts), deepest first
		for n in $(awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
			umount -l "$n" || true
		done
		if [ -e "$W/package.test" ]; then
			restore_debian || echo "teardown: Debian's lxcfs could not be restored; see $BATS_RUN_TMPDIR/dpkg.log" >&2
			[ ! -e "$W/lxcfs-log.created" ] || rm -f /var/log/lxcfs.log
			[ ! -e "$W/replace-log.created" ] || rm -f /run/lxcfs-replace.log
		fi
	fi
	[ -z "${OWN_MNT:-}" ] || daemon_stop "$MNT" "$PIDF"
	[ -z "${W:-}" ] || rm -rf --one-file-system "$W"
	[ -z "${LOCKED:-}" ] || devlock_release
}

# lxcfs_start: our daemon (from $BIN) at /var/lib/lxcfs, as LXD's hosts would run it.
lxcfs_start() {
	LXCFS_BIN="$BIN/lxcfs" daemon_start "$MNT" "$PIDF" --restart-on-crash -l --runtime-dir "$RUNDIR"
	wait_worker "$PIDF" none
}

# lxd_start: the daemon the way Debian's lxd.service starts it (minus --group: only root talks
# to it here), detached, its log in $W.
lxd_start() {
	(
		ulimit -n 1048576 2>/dev/null || true
		exec setsid lxd --logfile="$W/lxd.log" </dev/null >"$W/lxd.out" 2>&1 3>&-
	) &
	echo $! >"$W/lxd.started"
	timeout 90 lxd waitready --timeout=60 || { cat "$W/lxd.out" >&2; return 1; }
}

# make_image DIR: DIR/busybox.tar.gz, a unified LXD image (metadata.yaml + rootfs/) of the
# host's busybox, the libraries it links and a busybox init with nothing to run.
make_image() {
	local d=$1 r=$1/rootfs l a
	mkdir -p "$r"/{bin,sbin,etc,dev,proc,sys,tmp,root,run,var/lib}
	cp /bin/busybox "$r/bin/"
	for l in $(ldd /bin/busybox | grep -o '/[^ ]*'); do
		mkdir -p "$r${l%/*}"
		cp -L "$l" "$r$l"
	done
	(cd "$r/bin" && for a in $(./busybox --list); do [ "$a" = busybox ] || ln -s busybox "$a"; done)
	ln -s ../bin/busybox "$r/sbin/init"
	echo '::sysinit:/bin/true' >"$r/etc/inittab"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
	echo 'root:x:0:' >"$r/etc/group"
	cat >"$d/metadata.yaml" <<-EOF
		architecture: $(uname -m)
		creation_date: $(date +%s)
		properties:
		  description: busybox for the lxcfs tests
		  os: busybox
	EOF
	tar -C "$d" -czf "$d/busybox.tar.gz" metadata.yaml rootfs
}

# lxd_up NAME KEY=VALUE...: a container of our image with that config, started, answering exec.
lxd_up() {
	local name=$1 kv
	shift
	local args=()
	for kv in "$@"; do args+=(-c "$kv"); done
	timeout 60 lxc init "$IMAGE" "$name" "${args[@]}" >/dev/null
	date +%s >"$W/$name.started"
	timeout 60 lxc start "$name"
	lxd_wait_exec "$name"
}

lxd_wait_exec() {
	WAIT_STEP=0.1 wait_until 60 timeout 10 lxc exec "$1" -- true && return 0
	echo "lxc exec $1 does not work" >&2
	return 1
}

# lxd_restart NAME: stopped (killed) and started again, answering exec.
lxd_restart() {
	timeout 60 lxc stop --force "$1"
	date +%s >"$W/$1.started"
	timeout 60 lxc start "$1"
	lxd_wait_exec "$1"
}

# in_lxd NAME CMD...: CMD inside the container, bounded inside and out.
in_lxd() {
	local name=$1
	shift
	timeout $((TMO + 10)) lxc exec -n "$name" -- timeout "$TMO" "$@"
}

lxd_init_pid() { lxc list --format csv -c p "^$1\$"; }
rootfs() { echo "$LXD_DIR/storage-pools/lxcfst/containers/$1/rootfs"; }

# cpuset NAME: the cpus LXD gave the container (it balances a count of cpus over the host's),
# from the host's side of its cgroup.
cpuset() {
	if cgroup_v2; then
		cat "/sys/fs/cgroup/lxc.payload.$1/cpuset.cpus.effective"
	else
		cat "/sys/fs/cgroup/cpuset/lxc.payload.$1/cpuset.cpus"
	fi
}

# want WHAT GOT EXPECTED: fails, saying what was read, unless GOT is EXPECTED.
want() { [ "$2" = "$3" ] || { echo "$1: read '$2', expected '$3'" >&2; return 1; }; }

# rebound_in NAME LOG: how many mounts of the container's own namespace the rebind lines of LOG
# name (one line per namespace and kind of heal: "rebind: mount namespace INODE (...): N
# mount(s) rebound to ...").
rebound_in() {
	awk -v key="rebind: mount namespace $(mntns_of "$(lxd_init_pid "$1")")" '
		i = index($0, key) {
			rest = substr($0, i + length(key))
			if (substr(rest, 1, 1) != ":" && substr(rest, 1, 1) != " ") next
			split(substr(rest, index(rest, ": ") + 2), w, " ")
			if (w[2] == "mount(s)" && w[3] == "rebound") n += w[1]
		}
		END { print n + 0 }' "$2"
}

# check_values NAME MEMTOTAL_KB CPUS [host]: every file the container reads through our binds
# shows its own values; its load average too unless "host" (a daemon without -l).
check_values() {
	local name=$1 mem=$2 cpus=$3 loadavg=${4:-own} up since
	run in_lxd "$name" cat /proc/meminfo
	want "$name meminfo status" "$status" 0
	want "$name MemTotal" "$(field_kb "$output" MemTotal)" "$mem"
	run in_lxd "$name" cat /proc/cpuinfo
	want "$name cpuinfo status" "$status" 0
	want "$name cpuinfo processors" "$(grep -c '^processor' <<<"$output")" "$cpus"
	run in_lxd "$name" cat /proc/stat
	want "$name stat status" "$status" 0
	want "$name stat cpuN lines" "$(grep -c '^cpu[0-9]' <<<"$output")" "$cpus"
	run in_lxd "$name" cat /sys/devices/system/cpu/online
	want "$name online" "$output" "$(cpuset "$name")"
	# the container's uptime: no longer than since its start here (the host's is hours)
	run in_lxd "$name" cat /proc/uptime
	[[ "$output" =~ ^[0-9]+\.[0-9][0-9]\ [0-9]+\.[0-9][0-9]$ ]] || { echo "$name uptime: '$output'" >&2; false; }
	up=${output%%.*}
	since=$(($(date +%s) - $(cat "$W/$name.started")))
	[ "$up" -le "$((since + 1))" ] || { echo "$name uptime $up s, started $since s ago" >&2; false; }
	[ "$up" -lt "$(cut -d. -f1 /proc/uptime)" ]
	# -l: its own load average; running/total counts its few tasks only
	run in_lxd "$name" cat /proc/loadavg
	[[ "$output" =~ ^[0-9]+\.[0-9][0-9]\ [0-9]+\.[0-9][0-9]\ [0-9]+\.[0-9][0-9]\ [0-9]+/([0-9]+)\ [0-9]+$ ]] ||
		{ echo "$name loadavg: '$output'" >&2; false; }
	if [ "$loadavg" = own ]; then
		[ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[1]}" -le 20 ] ||
			{ echo "$name loadavg: '$output': not its few tasks" >&2; false; }
	fi
	run in_lxd "$name" cat /proc/swaps
	[[ "${lines[0]}" == Filename* ]] || { echo "$name swaps: '$output'" >&2; false; }
}

# logged_since LOG SKIP PART TEXT: LOG's lines after the first SKIP, copied to PART, hold TEXT.
logged_since() {
	tail -n +$(($2 + 1)) "$1" >"$3"
	grep -q "$4" "$3"
}

# lxcfs_binds NAME: "target device" of each lxcfs mount in the container's mount namespace.
lxcfs_binds() {
	awk '$0 ~ / - fuse\.lxcfs / { print $5, $3 }' "/proc/$(lxd_init_pid "$1")/mountinfo"
}

# bind_dev PID PATH: the device of the mount at PATH in PID's mount namespace.
bind_dev() { awk -v p="$2" '$5 == p { d = $3 } END { print d }' "/proc/$1/mountinfo"; }

# our_dev: the device of our mount at /var/lib/lxcfs.
our_dev() { awk -v m="$MNT" '$5 == m && / - fuse\.lxcfs / { print $3 }' /proc/self/mountinfo | tail -1; }

# --- checking readers in the containers (helpers' READER_LOOP) ---

# readers NAME MEMTOTAL_KB CPUS N: N reader loops inside the container, each over its own
# `lxc exec`, until /stop appears in its rootfs.  Their files are written from inside (the
# container's root is not the host's).
readers() {
	local name=$1 mem=$2 cpus=$3 n=$4 i
	in_lxd "$name" sh -c 'rm -rf /readers /stop && mkdir /readers'
	for i in $(seq 1 "$n"); do
		lxc exec -n "$name" -- sh -c "$READER_LOOP" sh /stop "/readers/$i" "$mem" "$cpus" \
			2>>"$W/readers.log" 3>&- &
	done
}

touch_stops() {
	local n
	for n in "${A:-}" "${B:-}"; do
		[ -n "$n" ] && [ -d "$(rootfs "$n")/readers" ] && touch "$(rootfs "$n")/stop"
	done
	return 0
}

# readers_failed NAME: failures so far (one line each in the .err files).
readers_failed() { cat "$(rootfs "$1")"/readers/*.err 2>/dev/null | wc -l; }

# readers_stop NAME N: stops them; prints "reads failures"; the failures, counted by kind, on
# stderr.
readers_stop() { readers_collect "$(rootfs "$1")/stop" "$(rootfs "$1")/readers" "$2"; }

# Two loops in each container.
both_readers() {
	readers "$A" 250000 1 2
	readers "$B" 131072 2 2
	sleep 1
}

# both_readers_ok PHASE MIN: stops them, prints the counts, fails unless neither container
# had a failed read and each read more than MIN times.
both_readers_ok() {
	local a b
	a=$(readers_stop "$A" 2)
	b=$(readers_stop "$B" 2)
	echo "# $1: A reads ${a% *}, failed ${a#* }; B reads ${b% *}, failed ${b#* }" >&3
	[ "${a#* }" = 0 ]
	[ "${b#* }" = 0 ]
	[ "${a% *}" -gt "$2" ]
	[ "${b% *}" -gt "$2" ]
}

@test "two LXD containers read their limits: memory (LXD's MB are decimal), cpus, online, stat, uptime, loadavg" {
	check_values "$A" 250000 1 # 256MB: 256,000,000 bytes
	check_values "$B" 131072 2 # 128MiB
	# the binds are LXC's hook's, of our mount
	local dev
	dev=$(our_dev)
	[ -n "$dev" ]
	run lxcfs_binds "$A"
	grep -q "^/proc/meminfo $dev\$" <<<"$output"
	grep -q "^/sys/devices/system/cpu $dev\$" <<<"$output"
	[ "$(awk -v d="$dev" '$2 != d' <<<"$output" | wc -l)" = 0 ]
	# unprivileged: the container's root is not the host's
	[ "$(awk '$1 == 0 { print $2 }' "/proc/$(lxd_init_pid "$A")/uid_map")" != 0 ]
	both_readers
	sleep 1
	both_readers_ok "steady" 8
}

@test "15 SIGKILLs of the worker while both containers read: no failed read" {
	both_readers
	kill_workers 15
	both_readers_ok "15 worker kills" 100
	[ "$(status_field "$PIDF" restarts)" -ge 15 ]
}

@test "upgrades (SIGUSR1) to another build and back while both containers read: no failed read" {
	[ -x "$LXCFS_BIN_NEXT" ] || { echo "missing $LXCFS_BIN_NEXT (meson setup build-next -Dversion_suffix=next)"; false; }
	local v1 v2 i keeper
	v1=$("$LXCFS_BIN" --version)
	v2=$("$LXCFS_BIN_NEXT" --version)
	[ "$v1" != "$v2" ]
	keeper=$(cat "$PIDF")
	both_readers
	for i in $(seq 1 6); do
		if [ $((i % 2)) = 1 ]; then
			upgrade_keeper "$PIDF" "$keeper" "$BIN" "$LXCFS_BIN_NEXT" "$v2"
		else
			upgrade_keeper "$PIDF" "$keeper" "$BIN" "$LXCFS_BIN" "$v1"
		fi
		sleep 0.3
	done
	both_readers_ok "6 upgrades" 40
	[[ "$(status_field "$PIDF" last_upgrade)" == generation* ]]
}

@test "total loss (keeper and worker SIGKILLed): reads fail only until the next start, which rebinds both containers in place" {
	local keeper worker before_a before_b fa fb dev_old
	before_a=$(lxcfs_binds "$A" | wc -l)
	before_b=$(lxcfs_binds "$B" | wc -l)
	dev_old=$(our_dev)
	both_readers
	keeper=$(cat "$PIDF")
	worker=$(status_field "$PIDF" worker_pid)
	kill -KILL "$keeper" "$worker"
	wait_until 30 ended "$keeper"
	wait_until 30 ended "$worker"
	sleep 1
	run in_lxd "$A" cat /proc/meminfo
	[ "$status" -ne 0 ]
	[[ "$output" == *"not connected"* ]]

	# what this start logs, apart from the earlier runs' lines
	local log=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log part=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.rebind.log skip
	skip=$(wc -l <"$log")
	lxcfs_start
	wait_until 10 logged_since "$log" "$skip" "$part" "dead mount(s) healed" ||
		{ echo "no rebind after 10 s" >&2; false; }
	grep -v " rebound to " "$part" >&2 # shown if the test fails
	# failures so far: the window between the kill and the rebind; none may come after it
	sleep 0.5
	fa=$(readers_failed "$A")
	fb=$(readers_failed "$B")
	sleep 2
	[ "$(readers_failed "$A")" = "$fa" ]
	[ "$(readers_failed "$B")" = "$fb" ]
	local a b
	a=$(readers_stop "$A" 2)
	b=$(readers_stop "$B" 2)
	echo "# total loss: A reads ${a% *}, failed ${a#* } (all before the rebind); B reads ${b% *}, failed ${b#* } (all before the rebind)" >&3
	[ "${a#* }" -gt 0 ] # the readers did see the loss
	[ "${b#* }" -gt 0 ]
	# only failed reads: never a wrong value
	[ "$(cat "$(rootfs "$A")"/readers/*.err "$(rootfs "$B")"/readers/*.err | grep -vc 'read failed$')" = 0 ]

	# the same containers, not restarted, read our new mount's values
	[ "$(our_dev)" != "$dev_old" ]
	check_values "$A" 250000 1
	check_values "$B" 131072 2
	[ "$(lxcfs_binds "$A" | wc -l)" = "$before_a" ] # replaced, not stacked
	[ "$(lxcfs_binds "$B" | wc -l)" = "$before_b" ]
	[ "$(lxcfs_binds "$A" | awk -v d="$(our_dev)" '$2 != d' | wc -l)" = 0 ]
	grep -q "$(ns_said "$(lxd_init_pid "$A")")[0-9]* mount(s) rebound to .*/proc/meminfo" "$part"
	grep -q "$(ns_said "$(lxd_init_pid "$B")")[0-9]* mount(s) rebound to .*/sys/devices/system/cpu" "$part"
	want "binds rebound in $A" "$(rebound_in "$A" "$part")" "$before_a"
	want "binds rebound in $B" "$(rebound_in "$B" "$part")" "$before_b"
	grep -q "rebind: [0-9]* dead mount(s) healed in [0-9]* namespace(s), 0 failed," "$part"
	# (other users' containers on this machine may hold dead mounts of their own: left alone)
	[ "$(grep -e "$(ns_said "$(lxd_init_pid "$A")")" -e "$(ns_said "$(lxd_init_pid "$B")")" "$part" |
		grep -c "left alone\|cannot be healed\|still fails")" = 0 ]
	both_readers
	sleep 1
	both_readers_ok "after the rebind" 8
}

# dpkg_done_noting_moves: dpkg ended ($W/dpkg.rc); meanwhile, moved_a/moved_b take the failures
# counted when container A's/B's meminfo bind first left Debian's device (debian_dev).
dpkg_done_noting_moves() {
	[ -n "$moved_a" ] || [ "$(bind_dev "$init_a" /proc/meminfo)" = "$debian_dev" ] || moved_a=$(readers_failed "$A")
	[ -n "$moved_b" ] || [ "$(bind_dev "$init_b" /proc/meminfo)" = "$debian_dev" ] || moved_b=$(readers_failed "$B")
	[ -e "$W/dpkg.rc" ]
}

# The package built from debian/ (scripts/build-deb) installed over Debian's lxcfs 5.0 while it
# serves LXD's containers and they read: its postinst takes the mount over live (lxcfs
# --replace) and starts its keeper.  LXCFS_DEB: that .deb.  Teardown puts Debian's back.
@test "our package installed over Debian's lxcfs serving LXD's containers: taken over with no failed read" {
	[ -n "${LXCFS_DEB:-}" ] || skip "LXCFS_DEB (a .deb of this tree, from scripts/build-deb) is not set"
	[ -f "$LXCFS_DEB" ] || { echo "LXCFS_DEB=$LXCFS_DEB: no such file"; false; }
	lxcfs_help_has replace "$LXCFS_DEB" || skip "the package's lxcfs has no --replace: no live takeover"
	want "the installed lxcfs package" "$(installed_version)" "$DEBIAN_VERSION"
	want "a package's daemon at $MNT" "$(lxcfs_pids)" "" # (ours runs from $BIN)
	debian_deb_aside
	touch "$W/package.test" # teardown puts Debian's back
	[ -e /var/log/lxcfs.log ] || touch "$W/lxcfs-log.created"
	[ -e /run/lxcfs-replace.log ] || touch "$W/replace-log.created"

	# Debian's lxcfs serves /var/lib/lxcfs, started as its init script starts it (not the script
	# itself: its oom_score_adj -1000 may be refused, in a container); the containers,
	# restarted, bind its files
	daemon_stop "$MNT" "$PIDF"
	start-stop-daemon --start --quiet --background -m --pidfile /run/lxcfs.pid --name lxcfs \
		--startas /usr/bin/lxcfs -- "$MNT" 3>&-
	local debian_dev ours keeper old
	wait_until 5 answers "$MNT"
	old=$(cat /run/lxcfs.pid)
	[ "$(cat "/proc/$old/comm")" = lxcfs ]
	debian_dev=$(our_dev)
	lxd_restart "$A"
	lxd_restart "$B"
	[ "$(lxcfs_binds "$A" | awk -v d="$debian_dev" '$2 != d' | wc -l)" = 0 ]
	[ "$(lxcfs_binds "$B" | awk -v d="$debian_dev" '$2 != d' | wc -l)" = 0 ]
	want "$A MemTotal from Debian's lxcfs" "$(field_kb "$(in_lxd "$A" cat /proc/meminfo)" MemTotal)" 250000
	want "$B MemTotal from Debian's lxcfs" "$(field_kb "$(in_lxd "$B" cat /proc/meminfo)" MemTotal)" 131072
	both_readers
	local before_a before_b moved_a= moved_b= after_a after_b init_a init_b
	init_a=$(lxd_init_pid "$A")
	init_b=$(lxd_init_pid "$B")
	before_a=$(readers_failed "$A")
	before_b=$(readers_failed "$B")

	# the install, as an administrator runs it; meanwhile, the failures counted when each
	# container's meminfo bind leaves Debian's device
	(
		rc=0
		echo "+ dpkg -i $LXCFS_DEB" >>"$BATS_RUN_TMPDIR/dpkg.log"
		DEBIAN_FRONTEND=noninteractive timeout 300 dpkg -i "$LXCFS_DEB" </dev/null \
			>>"$BATS_RUN_TMPDIR/dpkg.log" 2>&1 || rc=$?
		echo $rc >"$W/dpkg.rc"
	) 3>&- &
	WAIT_STEP=0.02 wait_until 330 dpkg_done_noting_moves # dpkg runs 300 s at most
	after_a=$(readers_failed "$A")
	after_b=$(readers_failed "$B")
	grep '^lxcfs: ' "$BATS_RUN_TMPDIR/dpkg.log" | sed 's/^/# /' >&3 || true
	want "dpkg -i status" "$(cat "$W/dpkg.rc")" 0
	want "the installed lxcfs package" "$(installed_version)" "$(dpkg-deb -f "$LXCFS_DEB" Version)"
	[ -n "$moved_a" ] || { echo "$A's binds never left Debian's lxcfs" >&2; false; }
	[ -n "$moved_b" ] || { echo "$B's binds never left Debian's lxcfs" >&2; false; }

	# ours serves, Debian's is gone, and the containers (never restarted) read from ours
	run /usr/bin/lxcfs --status -p /run/lxcfs.pid
	echo "$output" >&2
	[ "$status" -eq 0 ]
	keeper=$(cat /run/lxcfs.pid)
	grep -q '^lxcfs' "/proc/$keeper/comm"
	ended "$old"
	ours=$(our_dev)
	[ "$ours" != "$debian_dev" ]
	[ "$(lxcfs_binds "$A" | awk -v d="$ours" '$2 != d' | wc -l)" = 0 ]
	[ "$(lxcfs_binds "$B" | awk -v d="$ours" '$2 != d' | wc -l)" = 0 ]
	sleep 1
	# Not one read failed.  Debian's lxcfs itself shows wrong values now and then (a cpu count
	# of 1 in B): counted apart, those until the container's binds moved are Debian's; a read
	# in flight at the move may still end with Debian's answer (one per reader); after the
	# install none may come.
	local a b ioa iob
	a=$(readers_stop "$A" 2)
	b=$(readers_stop "$B" 2)
	ioa=$(cat "$(rootfs "$A")"/readers/*.err 2>/dev/null | grep -c 'read failed$') || true
	iob=$(cat "$(rootfs "$B")"/readers/*.err 2>/dev/null | grep -c 'read failed$') || true
	echo "# package install over Debian's lxcfs: A reads ${a% *}, failed $ioa; B reads ${b% *}, failed $iob" >&3
	echo "#   wrong values before the install (Debian's): A $before_a, B $before_b; during it, until the binds moved: A $((moved_a - before_a)), B $((moved_b - before_b)); after the move: A $((after_a - moved_a)), B $((after_b - moved_b)); after the install: A $((${a#* } - after_a)), B $((${b#* } - after_b))" >&3
	cat "$(rootfs "$A")"/readers/*.err "$(rootfs "$B")"/readers/*.err 2>/dev/null | grep -v 'read failed$' |
		sort | uniq -c | sed 's/^ */#     /' >&3 || true
	want "failed reads in A" "$ioa" 0
	want "failed reads in B" "$iob" 0
	[ "$((after_a - moved_a))" -le 2 ] || { echo "A: $((after_a - moved_a)) wrong values after its binds moved" >&2; false; }
	[ "$((after_b - moved_b))" -le 2 ] || { echo "B: $((after_b - moved_b)) wrong values after its binds moved" >&2; false; }
	want "wrong values in A after the install" "${a#* }" "$after_a"
	want "wrong values in B after the install" "${b#* }" "$after_b"
	[ "${a% *}" -gt 20 ]
	[ "${b% *}" -gt 20 ]
	both_readers
	sleep 1
	both_readers_ok "after the package's takeover" 8
	check_values "$A" 250000 1 host
	check_values "$B" 131072 2 host
}
