#!/usr/bin/env bats
# -l: per-container load averages, computed as the kernel computes the host's, that keep going
# when the worker is replaced.  Runs on this host (cgroup v1) and in the VM (v2), with the
# kernel pass where the kernel has BTF (the BPF cgroup iterator from 6.7, the task iterator
# before), and on the host again with LXCFS_LOADAVG_COUNTER=task (the task iterator) and =scan
# (the /proc scan every other kernel gets).

load helpers

setup_file() {
	export RUN_TAG=la$$
	suite_paths
	export CG1=lxcfs-test-$RUN_TAG-busy CG2=lxcfs-test-$RUN_TAG-idle CG3=lxcfs-test-$RUN_TAG-mix
	cg_make "$CG1" $((256 * 1024 * 1024)) 0-1 2>/dev/null || cg_make "$CG1" $((256 * 1024 * 1024)) 0
	cg_make "$CG2" $((256 * 1024 * 1024)) 0
	keeper_start -l
	container_start busy-$RUN_TAG "$CG1" "$MNT"
	container_start idle-$RUN_TAG "$CG2" "$MNT"
}

teardown_file() {
	stop_loops
	stop_dstate
	container_stop busy-$RUN_TAG
	container_stop idle-$RUN_TAG
	container_stop mix-$RUN_TAG
	daemon_stop "$MNT" "$PIDF"
	cg_remove "$CG1"
	cg_remove "$CG2"
	cg_remove "$CG3/sub"
	cg_remove "$CG3"
	container_stop again-$RUN_TAG
	cg_remove "lxcfs-test-$RUN_TAG-again"
	local r d
	for r in /sys/fs/cgroup/cpu $(awk '$3 == "cgroup2" { print $2 }' /proc/self/mounts); do
		for d in "$r/lxcfs-test-$RUN_TAG-three/sub" "$r/lxcfs-test-$RUN_TAG-three"; do
			[ ! -d "$d" ] || WAIT_STEP=0.1 wait_until 2 rmdir "$d" || true
		done
	done
}

# cg_child PARENT/CHILD: a cgroup below a test cgroup, in every hierarchy.
cg_child() {
	local root
	for root in $(cg_roots); do
		mkdir -p "$root/$1"
		if ! cgroup_v2 && [ -f "$root/$1/cpuset.mems" ]; then
			cat "$root/${1%/*}/cpuset.mems" >"$root/$1/cpuset.mems"
			cat "$root/${1%/*}/cpuset.cpus" >"$root/$1/cpuset.cpus"
		fi
	done
}

# in_cgroup CGROUP CMD...: runs CMD in the background in that cgroup (every hierarchy); its pid
# goes to $BATS_RUN_TMPDIR/FILE named by $BG_LIST.
in_cgroup() {
	local cg=$1 root
	shift
	(
		for root in $(cg_roots); do echo $BASHPID >"$root/$cg/cgroup.procs"; done
		exec "$@"
	) </dev/null >/dev/null 2>&1 &
	echo $! >>"$BATS_RUN_TMPDIR/$BG_LIST-$RUN_TAG"
	disown
}

# A task in D state (tests/tools/dstate: a vfork parent) and its sleeping child.
# in_d_state PID: PID sleeps uninterruptibly.
in_d_state() { [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = D ]; }

stop_dstate() {
	local p c
	for p in $(cat "$BATS_RUN_TMPDIR/dstate-$RUN_TAG" 2>/dev/null); do
		for c in $(cat "/proc/$p/task/$p/children" 2>/dev/null); do kill -KILL "$c" 2>/dev/null || true; done
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -f "$BATS_RUN_TMPDIR/dstate-$RUN_TAG"
}

# tree_tasks CGROUP: how many tasks the cgroup and those below it hold.
tree_tasks() {
	local root list=tasks
	root=$(cg_roots | head -1)
	cgroup_v2 && list=cgroup.threads
	find "$root/$1" -name "$list" -exec cat {} + | wc -l
}

# start_loops CGROUP N: N busy loops (niced) in the cgroup; their pids in $BATS_RUN_TMPDIR.
start_loops() {
	local cg=$1 n=$2 i
	for i in $(seq 1 "$n"); do
		BG_LIST=loops in_cgroup "$cg" nice -n 19 sh -c 'while :; do :; done'
	done
}

stop_loops() {
	local p
	for p in $(cat "$BATS_RUN_TMPDIR/loops-$RUN_TAG" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
	rm -f "$BATS_RUN_TMPDIR/loops-$RUN_TAG"
}

# avg1 NAME: the container's 1-minute average, in hundredths.
avg1() {
	local l
	l=$(in_container "$1" cat /proc/loadavg) || return 1
	echo "$l" >&2
	awk '{ split($1, a, "."); print a[1] * 100 + a[2] }' <<<"$l"
}

@test "-l: the kernel's format; busy loops give a load near their count, an idle container none, the host its own" {
	# two busy loops in the container's cgroup, started before its first read
	start_loops "$CG1" 2
	sleep 0.5
	run in_container busy-$RUN_TAG cat /proc/loadavg
	[[ "$output" =~ ^[0-9]+\.[0-9]{2}\ [0-9]+\.[0-9]{2}\ [0-9]+\.[0-9]{2}\ [0-9]+/[0-9]+\ [0-9]+$ ]]
	local a
	a=$(avg1 busy-$RUN_TAG)
	[ "$a" -ge 100 ]
	[ "$a" -le 250 ]
	# running/total counts the cgroup's tasks: its init, sleep and the two loops
	local rt
	rt=$(awk '{ print $4 }' <<<"$output")
	[ "${rt#*/}" -ge 4 ]
	[ "${rt#*/}" -le 6 ]
	[ "${rt%/*}" -le 2 ]
	[ "$(avg1 idle-$RUN_TAG)" -le 50 ]
	run timeout "$TMO" cat "$MNT/proc/loadavg"
	[[ "$output" =~ ^[0-9]+\.[0-9]{2}\ .*/[0-9]+\ [0-9]+$ ]]
	[ "${output##* }" -gt 10 ] # the host's last pid, not a container's
}

@test "-l: the averages decay as the kernel's and go on across a worker restart, as /proc/stat does" {
	# (the decay and what survives a restart are the same whichever way tasks are counted: the
	# counter's re-passes, in CI's budget, leave out these 17 s)
	[ -z "${LXCFS_LOADAVG_COUNTER:-}" ] || skip "run with the default counter"
	local before after w
	# stop the loops; two 5 s ticks later the 1-minute average has decayed, not dropped
	stop_loops
	sleep 11
	before=$(avg1 busy-$RUN_TAG)
	[ "$before" -lt 200 ]
	[ "$before" -gt 60 ]
	local stat_before stat_after i
	stat_before=$(in_container busy-$RUN_TAG cat /proc/stat | awk '/^cpu / { print $2, $4, $5 }')
	w=$(status_field "$PIDF" worker_pid)
	kill -KILL "$w"
	wait_worker "$PIDF" "$w"
	after=$(avg1 busy-$RUN_TAG)
	# nor does /proc/stat jump back: user, system and idle only grow
	stat_after=$(in_container busy-$RUN_TAG cat /proc/stat | awk '/^cpu / { print $2, $4, $5 }')
	echo "stat: $stat_before -> $stat_after" >&2
	read -r -a b <<<"$stat_before"
	read -r -a a <<<"$stat_after"
	for i in 0 1 2; do [ "${a[$i]}" -ge "${b[$i]}" ]; done
	# the new worker continues the history: neither restarted at the present count (0) nor lost
	[ "$after" -le "$before" ]
	[ "$after" -ge $((before * 7 / 10)) ]
	sleep 6
	[ "$(avg1 busy-$RUN_TAG)" -lt "$after" ]
}

@test "-l: R and D tasks make the load, those of nested cgroups too; running counts R only" {
	cg_make "$CG3" $((256 * 1024 * 1024)) 0
	cg_child "$CG3/sub"
	container_start mix-$RUN_TAG "$CG3" "$MNT"
	sleep 1
	# tracked from here, while its init and sleep are idle: 0.00
	[ "$(avg1 mix-$RUN_TAG)" -le 10 ]
	# then one loop in a cgroup below the container's, one task in D in the container's own
	start_loops "$CG3/sub" 1
	BG_LIST=dstate in_cgroup "$CG3" "${LXCFS_BIN%/*}/tests/unit/dstate" 120
	WAIT_STEP=0.1 wait_until 5 in_d_state "$(cat "$BATS_RUN_TMPDIR/dstate-$RUN_TAG")" || true # the counts say
	# 3 to 5 samples of 2 tasks (the engine: the kernel pass where it loads) climb to 0.44..0.68;
	# with either task missed, to 0.22..0.34
	sleep 21
	run in_container mix-$RUN_TAG cat /proc/loadavg
	echo "$output; the tree holds $(tree_tasks "$CG3") tasks" >&2
	local a rt
	a=$(awk '{ split($1, a, "."); print a[1] * 100 + a[2] }' <<<"$output")
	[ "$a" -ge 40 ]
	[ "$a" -le 80 ]
	rt=$(awk '{ print $4 }' <<<"$output")
	[ "${rt%/*}" -eq 1 ] # the loop; the D task is not running
	# init, its sleep, the loop, the D task and its child: the tree's tasks
	[ "${rt#*/}" -eq "$(tree_tasks "$CG3")" ]
	stop_dstate
	stop_loops
}

# loops_counted NAME: NAME's loadavg counts 2 or more running tasks; rt is its running/total,
# appended to seen when it changed.
loops_counted() {
	rt=$(in_container "$1" cat /proc/loadavg | awk '{ print $4 }')
	[ "$rt" != "${seen##* }" ] && seen+=" $rt"
	[ "${rt%/*}" -ge 2 ]
}

@test "-l: a container's cgroup removed and made again under its name: the new one's tasks count" {
	local cg=lxcfs-test-$RUN_TAG-again root ino1 ino2 before rt seen
	root=$(cg_roots | head -1)
	cg_make "$cg" $((256 * 1024 * 1024)) 0
	container_start again-$RUN_TAG "$cg" "$MNT"
	[ "$(avg1 again-$RUN_TAG)" -le 10 ] # tracked from here
	sleep 6 # a kernel pass has counted it
	before=$(in_container again-$RUN_TAG cat /proc/loadavg | awk '{ print $4 }')
	ino1=$(stat -c %i "$root/$cg")
	# The cgroup goes (its tasks moved out first: empty, it would rightly count 0/0) and another
	# comes under the same name, with two loops first (no right count of it lacks them); then
	# the container is started again in it.
	local p r
	for r in $(cg_roots); do
		for p in $(cat "$r/$cg/cgroup.procs"); do echo "$p" >"$r/cgroup.procs"; done
		rmdir "$r/$cg"
	done
	refute test -d "$root/$cg"
	cg_make "$cg" $((256 * 1024 * 1024)) 0
	start_loops "$cg" 2
	ino2=$(stat -c %i "$root/$cg")
	[ "$ino1" != "$ino2" ] # a new cgroup, not the old one kept
	container_stop again-$RUN_TAG
	container_start again-$RUN_TAG "$cg" "$MNT"
	# A pass that ran while the old cgroup stood empty, or the new one before its loops, rightly
	# counted 0/0 then; the next pass (each 5 s) must count the new cgroup's tasks, not stay on
	# the old cgroup or an empty one.
	seen=$before
	WAIT_STEP=0.1 wait_until 15 loops_counted again-$RUN_TAG || true # said below
	echo "counts seen: $seen" >&2
	[ "${rt%/*}" -ge 2 ] # the loops (and the new init, if that pass caught it setting up)
	sleep 6
	run in_container again-$RUN_TAG cat /proc/loadavg
	echo "$output; the tree holds $(tree_tasks "$cg") tasks" >&2
	rt=$(awk '{ print $4 }' <<<"$output")
	[ "${rt%/*}" -eq 2 ]
	[ "${rt#*/}" -eq "$(tree_tasks "$cg")" ]
	stop_loops
	container_stop again-$RUN_TAG
	cg_remove "$cg"
}

@test "-l: the cgroup iterator, the task iterator and the /proc scan count the same trees, v1 and v2" {
	# (the tool counts all three ways whatever the daemon uses: once is enough)
	[ -z "${LXCFS_LOADAVG_COUNTER:-}" ] || skip "run with the default counter"
	local tool=${LXCFS_BIN%/*}/tests/unit/taskcount roots=() r x p want
	if [ -d /sys/fs/cgroup/cpu ] && ! cgroup_v2; then roots+=(/sys/fs/cgroup/cpu); fi
	roots+=("$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)") # this host's is hybrid
	for r in "${roots[@]}"; do
		x=$r/lxcfs-test-$RUN_TAG-three
		mkdir -p "$x/sub"
		# two loops in the cgroup, one below it: in this hierarchy only
		for p in "$x" "$x" "$x/sub"; do
			(echo $BASHPID >"$p/cgroup.procs" && exec nice -n 19 sh -c 'while :; do :; done') </dev/null >/dev/null 2>&1 &
			echo $! >>"$BATS_RUN_TMPDIR/loops-$RUN_TAG"
			disown
		done
		sleep 0.3
		local top sub m dirs
		top="3 3 3 $(cat "$x/cgroup.procs" "$x/sub/cgroup.procs" | sort -n | tail -1)"
		sub="1 1 1 $(cat "$x/sub/cgroup.procs")"
		# the tree alone (its sub-cgroup counted through it), then both
		for dirs in "$x" "$x $x/sub"; do
			want=$top
			[ "$dirs" = "$x" ] || want=$(printf '%s\n%s' "$top" "$sub")
			for m in scan task cgroup; do
				run "$tool" $m $dirs
				echo "$m $dirs: $output (want $want)" >&2
				if [ $m = cgroup ] && ! grep -q ' bpf_iter_css_task_new$' /proc/kallsyms; then
					[ "$status" -eq 3 ] # not before 6.7
					continue
				fi
				[ "$status" -eq 0 ]
				[ "$output" = "$want" ]
			done
		done
		stop_loops
		for p in $(cat "$x/cgroup.procs" "$x/sub/cgroup.procs"); do
			wait_until 30 gone "$p"
		done
		rmdir "$x/sub" "$x"
	done
}

# After the others: a kernel pass that failed during any of them shows here.
@test "-l: the daemon says how it counts: in the kernel where there is BTF, else by scanning /proc" {
	local log=$BATS_RUN_TMPDIR/lxcfs-$RUN_TAG.log
	# the engine thread chooses once the worker serves (loading the program takes a while)
	WAIT_STEP=0.1 wait_until 30 grep -q "load averages:" "$log" || true # said below
	grep "load averages:" "$log" >&2
	if [ "${LXCFS_LOADAVG_COUNTER:-}" = scan ]; then
		grep -q 'load averages: scanning /proc (\$LXCFS_LOADAVG_COUNTER=scan)' "$log"
	elif [ -r /sys/kernel/btf/vmlinux ]; then
		# the cgroup iterator wherever the kernel has the css_task kfuncs (6.7)
		local want="BPF task iterator"
		if [ "${LXCFS_LOADAVG_COUNTER:-}" != task ] && grep -q ' bpf_iter_css_task_new$' /proc/kallsyms; then
			want="BPF cgroup iterator"
		fi
		# every worker (test 2 replaced one) counts that way, and no pass since failed
		grep -q "load averages: counting tasks in the kernel ($want" "$log"
		[ "$(grep -c "load averages:" "$log")" = "$(grep -c "load averages: counting tasks in the kernel ($want" "$log")" ]
		refute grep -q "the kernel pass failed" "$log"
		# a container's first read counts it from /proc once: no task's stat file stays open
		# (the kernel counts it from then on)
		local cg=lxcfs-test-$RUN_TAG-first w
		cg_make "$cg" $((64 * 1024 * 1024)) 0
		container_start first-$RUN_TAG "$cg" "$MNT"
		in_container first-$RUN_TAG cat /proc/loadavg >/dev/null
		w=$(status_field "$PIDF" worker_pid)
		local kept
		kept=$(find "/proc/$w/fd" -lname '/proc/[0-9]*/stat' | wc -l)
		container_stop first-$RUN_TAG
		cg_remove "$cg"
		echo "task stat files kept open: $kept" >&2
		[ "$kept" = 0 ]
	else
		grep -q "load averages: scanning /proc per thread: " "$log"
	fi
}

@test "without -l the loadavg is the host's" {
	local mnt=$BATS_RUN_TMPDIR/mnt-$RUN_TAG-nol pidf=$BATS_RUN_TMPDIR/$RUN_TAG-nol.pid
	daemon_start "$mnt" "$pidf"
	container_start nol-$RUN_TAG "$CG1" "$mnt"
	run in_container nol-$RUN_TAG cat /proc/loadavg
	container_stop nol-$RUN_TAG
	daemon_stop "$mnt" "$pidf"
	[ "${output##* }" -gt 10 ] # the host's last pid
}
