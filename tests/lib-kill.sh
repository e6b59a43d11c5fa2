# lib-kill.sh: sourced by tests/lib.sh and the demo.

# gone PID: wait until PID has left the process table (reaped), up to 5 s.
gone() {
	i=0
	while [ -e "/proc/$1" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ ! -e "/proc/$1" ]
}

# kill_tree PID: kill a restored tree by its root's pid.  In a pid namespace
# of its own (the default) the namespace goes with its init, crstep's
# reaper (the root's parent); then wait until PID is reaped.
kill_tree() {
	[ -n "${1-}" ] || return 1
	parent=$(awk '{ print $4 }' "/proc/$1/stat" 2>/dev/null)
	if [ -n "$parent" ] && [ "$(cat "/proc/$parent/comm" 2>/dev/null)" = crstep-reaper ]; then
		kill -KILL "$parent" 2>/dev/null
	fi
	kill -KILL "$1" 2>/dev/null
	gone "$1"
}
