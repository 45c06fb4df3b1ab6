# LXC busybox containers that take lxcfs the way the distribution's containers do (LXC's
# common.conf.d include, the file the installed lxcfs package ships), and checking readers in
# them: for the suites that install packages (package.bats, tests/vm/systemd.bats).  They set
# LXCPATH (their own lxcpath), MNT (the package's mountpoint), A and B (two containers' names).

# The config lines limiting a container to MEM bytes and the cpus CPUS, for the cgroup version
# this host runs (incus.bash's containers use them too).
lxc_limits() {
	if [ -d /sys/fs/cgroup/memory ]; then
		echo "lxc.cgroup.memory.limit_in_bytes = $1"
		echo "lxc.cgroup.cpuset.cpus = $2"
	else
		echo "lxc.cgroup2.memory.max = $1"
		echo "lxc.cgroup2.cpuset.cpus = $2"
	fi
}

# lxc_make NAME MEM CPUS [INCLUDE]: a busybox container (no network, unconfined) limited to MEM
# and CPUS that takes lxcfs through INCLUDE: by default LXC's common.conf.d file, the one the
# installed package ships (Debian's hooks under Debian's package, ours under ours).
lxc_make() {
	local name=$1 conf=$LXCPATH/$1/config
	lxc-create -P "$LXCPATH" -n "$name" -t busybox >"$BATS_RUN_TMPDIR/$name.create.log" 2>&1
	sed -i -e '/^lxc\.net\.0\./d' -e '/^lxc\.apparmor\./d' "$conf"
	{
		echo "lxc.net.0.type = empty"
		echo "lxc.apparmor.profile = unconfined"
		lxc_limits "$2" "$3"
		echo "lxc.include = ${4:-/usr/share/lxc/config/common.conf.d/00-lxcfs.conf}"
	} >>"$conf"
}

# lxc_destroy_all: every container under LXCPATH stopped and destroyed, as far as they go.
lxc_destroy_all() {
	local c n
	for c in "$LXCPATH"/*/config; do
		[ -f "$c" ] || continue
		n=${c%/config}
		n=${n##*/}
		timeout 30 lxc-stop -P "$LXCPATH" -n "$n" -k >/dev/null 2>&1 || true
		timeout 30 lxc-destroy -P "$LXCPATH" -n "$n" >/dev/null 2>&1 || true
	done
}

lxc_up() {
	: >"$BATS_RUN_TMPDIR/$1.lxc.log" # this start's and its stop's lines only
	timeout 60 lxc-start -P "$LXCPATH" -n "$1" -l INFO -o "$BATS_RUN_TMPDIR/$1.lxc.log" 3>&-
	timeout 30 lxc-wait -P "$LXCPATH" -n "$1" -s RUNNING
}

lxc_down() {
	[ "$(lxc-info -P "$LXCPATH" -n "$1" -s -H 2>/dev/null)" = STOPPED ] && return 0
	timeout 60 lxc-stop -P "$LXCPATH" -n "$1" -k
}

in_lxc() {
	local name=$1
	shift
	timeout $((TMO + 5)) lxc-attach -P "$LXCPATH" -n "$name" -- timeout "$TMO" "$@"
}

lxc_init_pid() { lxc-info -P "$LXCPATH" -n "$1" -p -H; }

# The devices (maj:min) of the lxcfs mounts in the mount namespace of pid $1.
lxcfs_devs_of() { awk '$0 ~ / - fuse\.lxcfs / { print $3 }' "/proc/$1/mountinfo" | sort -u; }
lxc_lxcfs_devs() { lxcfs_devs_of "$(lxc_init_pid "$1")"; }

# The devices of the lxcfs mounts a container's reads reach: the top mount at each path (a
# replacement before Linux 6.5 is stacked over the old mount, which stays below).
lxc_top_devs() {
	awk '{ top[$5] = ($0 ~ / - fuse\.lxcfs /) ? $3 : "" }
		END { for (m in top) if (top[m] != "") print top[m] }' "/proc/$(lxc_init_pid "$1")/mountinfo" | sort -u
}

# CMD in the namespaces of pid $1 (a container's init), bounded.
ns_read() {
	local pid=$1
	shift
	nsenter -t "$pid" -m -p -- timeout "$TMO" "$@"
}

# The device of the mount at the mountpoint here.
mnt_dev() { awk -v m="$MNT" '$5 == m && $0 ~ / - fuse\.lxcfs / { d = $3 } END { print d }' /proc/self/mountinfo; }

# While Debian's lxcfs 5.0.3 serves, reads are checked for failing only: that daemon answers a
# container with another one's MemTotal now and then when two containers read at once (3 to 4%
# of the reads of a loop of meminfo alone, from the first second on, before any package
# operation), which is no failure of this package.  The same files as READER_LOOP.
READ_LOOP='
	stop=$1 out=$2 ok=0 bad=0
	fail() { bad=$((bad + 1)); echo "$1" >>"$out.err"; }
	while [ ! -e "$stop" ]; do
		for f in meminfo cpuinfo stat uptime; do
			c=$(timeout 10 cat /proc/$f) || { fail "$f: read failed"; continue; }
			[ -n "$c" ] || fail "$f: empty"
			ok=$((ok + 1))
		done
	done
	echo "$ok $bad" >"$out"'

# N reader loops in the container until its /stop appears: helpers' READER_LOOP, or the loop
# named by $LOOP.
lxc_readers() {
	local name=$1 mem=$2 n=$3 i root=$LXCPATH/$1/rootfs
	mkdir -p "$root/readers"
	rm -f "$root/readers"/* "$root/stop"
	for i in $(seq 1 "$n"); do
		lxc-attach -P "$LXCPATH" -n "$name" -- sh -c "${LOOP:-$READER_LOOP}" sh /stop "/readers/$i" "$mem" 3>&- &
	done
}

# Stops them; prints "reads failures" summed over them, and each failure's text on stderr.
lxc_readers_stop() { readers_collect "$LXCPATH/$1/rootfs/stop" "$LXCPATH/$1/rootfs/readers" "$2"; }

# $READERS loops (default 2) in each of A and B.
both_readers() {
	lxc_readers "$A" 262144 "${READERS:-2}"
	lxc_readers "$B" 131072 "${READERS:-2}"
	sleep 1
}

# Stops both containers' readers; fails unless none failed and each container read more than $1.
both_readers_ok() {
	local a b
	a=$(lxc_readers_stop "$A" "${READERS:-2}")
	b=$(lxc_readers_stop "$B" "${READERS:-2}")
	echo "reads, failures: A: $a  B: $b" >&2
	echo "# reads, failures: A: $a  B: $b" >&3
	[ "${a#* }" = 0 ]
	[ "${b#* }" = 0 ]
	[ "${a% *}" -gt "$1" ]
	[ "${b% *}" -gt "$1" ]
}

# The container's meminfo MemTotal (kB).
lxc_memtotal() { field_kb "$(in_lxc "$1" cat /proc/meminfo)" MemTotal; }
