# Incus's per-instance lxcfs (instances.lxcfs.per_instance), reproduced for the tests and for
# bench/instances.  What Incus does (internal/server/instance/drivers/driver_lxc.go, startCommon
# and onStop; shared/subprocess/proc.go):
# - at each container start: mkdir $INCUS_DIR/devices/NAME/lxcfs (0711) and
#   $INCUS_DIR/run/NAME/lxcfs (0700), then runs, in a new session with its output discarded,
#     lxcfs -f -p RUN/NAME/lxcfs.pid --runtime-dir RUN/NAME/lxcfs $LXCFS_OPTS DEVICES/NAME/lxcfs
#   and does not wait for the mount: the container's start goes on at once;
# - the container's config gets lxc.hook.version = 1 and, for /var/lib/lxcfs (and
#   /var/lib/incus-lxcfs) if it exists, lxc.hook.pre-mount = mount -o bind DEVICES/NAME/lxcfs
#   /var/lib/lxcfs/ : in the container's mount namespace the system lxcfs path is covered by the
#   instance's mount, and the lxcfs include (common.conf.d) mount hook binds from there;
# - nothing watches the process (a goroutine only reaps it): a dead lxcfs stays dead until the
#   container starts again;
# - at the container's stop: SIGKILL to the pid it started, then a lazy unmount of the mountpoint.
#
# Here: $INCUS_DIR is a private directory, $INCUS_SYS stands in for /var/lib/lxcfs (the host's is
# another daemon's), the lxcfs include names it with --mount=, and the daemon's output goes to
# RUN/NAME/lxcfs.log (Incus discards it; we read it to see what happened).  Names are this run's.
#
# Needs: INCUS_DIR, INCUS_SYS, INCUS_LXCFS (the binary), INCUS_HOOKS (where incus_hooks copies
# the build's LXC hooks).

# (lxc_limits: the config lines of a container's limits)
. "$(dirname "${BASH_SOURCE[0]}")/lxcct.bash"

# incus_hooks BUILD_DIR: our LXC hooks, copied to $INCUS_HOOKS (executable).
incus_hooks() {
	mkdir -p "$INCUS_HOOKS"
	cp "$1/lxc.mount.hook" "$1/lxc.poststop.hook" "$INCUS_HOOKS/"
	chmod 755 "$INCUS_HOOKS"/*.hook
}

incus_mnt() { echo "$INCUS_DIR/devices/$1/lxcfs"; }
incus_run() { echo "$INCUS_DIR/run/$1"; }
incus_pidfile() { echo "$INCUS_DIR/run/$1/lxcfs.pid"; }

# incus_lxcfs_start NAME [LXCFS_OPTS...]: as startCommon does; returns at once.
incus_lxcfs_start() {
	local name=$1 run
	shift
	run=$(incus_run "$name")
	mkdir -p "$INCUS_DIR/devices/$name" "$run"
	mkdir -p -m 0711 "$(incus_mnt "$name")" 2>/dev/null || true # a dead mount there: ENOTCONN
	mkdir -p -m 0700 "$run/lxcfs"
	local rt=(--runtime-dir "$run/lxcfs")
	[ -z "${INCUS_NO_RUNTIME_DIR:-}" ] || rt=() # an lxcfs without the option (upstream's before 7.0)
	setsid "$INCUS_LXCFS" -f -p "$run/lxcfs.pid" "${rt[@]}" "$@" "$(incus_mnt "$name")" \
		</dev/null >>"$run/lxcfs.log" 2>&1 3>&- &
	echo $! >"$run/lxcfs.started" # Incus's lxcfs.yaml: the pid it started, for the stop
	disown $! # no job notice when it is killed
}

# incus_lxcfs_wait NAME: until its mount serves (Incus does not wait; the checks here do).
incus_lxcfs_wait() {
	local mnt
	mnt=$(incus_mnt "$1")
	TMO=5 wait_until 10 lxcfs_serves "$mnt" && return 0
	echo "lxcfs of $1 did not come up" >&2
	cat "$(incus_run "$1")/lxcfs.log" >&2
	return 1
}

# incus_lxcfs_stop NAME: as onStop does: SIGKILL to the pid it started, lazy unmount.
incus_lxcfs_stop() {
	local run pid
	run=$(incus_run "$1")
	pid=$(cat "$run/lxcfs.started" 2>/dev/null) || true
	[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
	umount -l "$(incus_mnt "$1")" 2>/dev/null || true
}

# incus_lxcfs_pids NAME: the daemon's processes now: the pidfile's (keeper or standalone) and
# the keeper's worker, if any.
incus_lxcfs_pids() {
	local pidf w
	pidf=$(incus_pidfile "$1")
	cat "$pidf" 2>/dev/null || true
	w=$(awk '$1 == "worker_pid:" { print $2 }' "${pidf%.pid}.status" 2>/dev/null) || true
	[ -z "$w" ] || [ "$w" = 0 ] || echo "$w"
}

# incus_lxc_config NAME MEM_BYTES CPUS: the lines Incus's config adds for lxcfs, with limits, for
# a busybox container (no network, unconfined), appended to its config.
incus_lxc_config() {
	local name=$1 mem=$2 cpus=$3
	{
		echo "lxc.net.0.type = empty"
		echo "lxc.apparmor.profile = unconfined"
		echo "lxc.hook.version = 1"
		lxc_limits "$mem" "$cpus"
		echo "lxc.hook.pre-mount = mount -o bind $(incus_mnt "$name") $INCUS_SYS/"
		echo "lxc.hook.mount = $INCUS_HOOKS/lxc.mount.hook --mount=$INCUS_SYS"
		echo "lxc.hook.post-stop = $INCUS_HOOKS/lxc.poststop.hook"
	}
}

# incus_lxc_create LXCPATH NAME...: busybox containers (one made by the template, the others
# copied from it: the template takes seconds), network and AppArmor lines dropped.
incus_lxc_create() {
	local lxcpath=$1 first=$2 n
	shift
	lxc-create -P "$lxcpath" -n "$first" -t busybox >"$lxcpath/$first.create.log" 2>&1
	sed -i -e '/^lxc\.net\.0\./d' -e '/^lxc\.apparmor\./d' "$lxcpath/$first/config"
	cp "$lxcpath/$first/config" "$lxcpath/$first/config.base"
	shift
	for n in "$@"; do
		lxc-copy -P "$lxcpath" -n "$first" -N "$n" >"$lxcpath/$n.create.log" 2>&1
		cp "$lxcpath/$n/config" "$lxcpath/$n/config.base"
	done
}

# incus_lxc_setup LXCPATH NAME MEM_BYTES CPUS [SHARED]: the container's config for this
# instance; SHARED: a host directory bound at the container's /shared (for INCUS_READER).
incus_lxc_setup() {
	local conf=$1/$2/config
	{
		cat "$conf.base"
		incus_lxc_config "$2" "$3" "$4"
		[ -z "${5:-}" ] || echo "lxc.mount.entry = $5 shared none bind,create=dir 0 0"
	} >"$conf"
}

# The checking reader loop of the tests and the bench (busybox sh, in a container with the
# host's directory D at /shared): "sh /shared/reader.sh NAME MEMTOTAL_KB PAUSE_S" reads meminfo
# (its own MemTotal), uptime and the cpu view until D/stop exists.  Each failed read goes to
# D/NAME.err with the phase (the number in D/phase, see incus_phase) before and after it, so
# the host can tell whose window it fell in; the count of good reads to D/NAME.ok at the end.
INCUS_READER='name=$1 mem=$2 pause=$3 d=/shared ok=0
fail() { echo "$p1 $p2 $1" >>"$d/$name.err"; }
while [ ! -e "$d/stop" ]; do
	read -r p1 <"$d/phase"
	m=$(timeout 10 cat /proc/meminfo)
	r=$?
	read -r p2 <"$d/phase"
	if [ "$r" != 0 ]; then fail "meminfo: read failed"
	else
		set -- $m
		if [ "$2" = "$mem" ]; then ok=$((ok + 1)); else fail "meminfo: MemTotal $2"; fi
	fi
	for f in /proc/uptime /sys/devices/system/cpu/online; do
		read -r p1 <"$d/phase"
		timeout 10 cat "$f" >/dev/null
		r=$?
		read -r p2 <"$d/phase"
		if [ "$r" = 0 ]; then ok=$((ok + 1)); else fail "$f: read failed"; fi
	done
	[ "$pause" = 0 ] || sleep "$pause"
done
echo "$ok" >"$d/$name.ok"'

# incus_phase D N: the phase the readers tag their failures with (written whole, at once).
incus_phase() { echo "$2" >"$1/phase.new" && mv "$1/phase.new" "$1/phase"; }

# mount_dev_in PID PATH: the device (MAJ:MIN) of the mount at PATH in the mount namespace of PID.
mount_dev_in() {
	awk -v p="$2" '$5 == p { d = $3 } END { print d }' "/proc/$1/mountinfo"
}

# lxcfs_mounts_of PID: the lxcfs mounts in PID's mount namespace: id, device, root, mountpoint.
lxcfs_mounts_of() {
	awk '/ - fuse\.lxcfs / { print $1, $3, $4, $5 }' "/proc/$1/mountinfo"
}
