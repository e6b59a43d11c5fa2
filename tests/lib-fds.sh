# lib-fds.sh: sourced by tests/lib.sh and by make soak's fd check (tests/soak.py):
# what tests/fds.py needs to compare a restored tree's fds with its images.

# The system python3 when there is one: a version manager's shim can take
# seconds to start on a loaded machine, and check_fds runs often.
FDS_PYTHON=python3
[ -x /usr/bin/python3 ] && FDS_PYTHON=/usr/bin/python3

# fds_moving FX: the fds the fixture's workload moves after the restore.
fds_moving() {
	case $1 in
	*tree*) echo "4+" ;;	# child B writes out.txt; child A's 4 is a pipe (pos 0)
	*fdmix*) echo "3+ 9+ 4+ 5*" ;;	# the log (3 and 9), input.txt read on, rw.txt wraps
	*/fdshare | */fdshare/images) echo "3+ 5+" ;;	# the log, shared.txt (P and C write it on)
	*/inetsk | */inetsk/images) echo "3+ 17? 18?" ;;	# the log; a new connection and its accepted end each tick
	*) echo "3+" ;;		# counter, threads, zombie, shm, signals: fd 3 is their log
	esac
}
