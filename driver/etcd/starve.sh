#!/usr/bin/env bash
# starve.sh STOP_MS RUN_MS CMD...: runs CMD (typically a compiled test binary of this
# module) in a process group of its own and starves it the way a loaded machine does,
# without taking CPU from anyone else: the whole group (the test process, the embedded
# etcd in it, any child) is SIGSTOPped for a random 1..STOP_MS, then runs for a random
# 1..RUN_MS, until CMD exits. CMD needs its own timeout (-test.timeout). Only the group
# it started is signalled. Prints uptime before and after and CMD's exit code.
#
#   go test -c -o /tmp/etcd.test . && ./starve.sh 700 100 /tmp/etcd.test -test.count=20 -test.timeout=590s -test.v
#
# Not for the soak (driver/etcd/soak): its SIGCONT would end the soak's own leader pauses.
set -u
[ $# -ge 3 ] || { echo "usage: $0 STOP_MS RUN_MS CMD..." >&2; exit 2; }
stopmax=$1 runmax=$2
shift 2
[ "$stopmax" -ge 1 ] && [ "$stopmax" -le 999 ] && [ "$runmax" -ge 1 ] && [ "$runmax" -le 999 ] ||
	{ echo "starve: STOP_MS $stopmax, RUN_MS $runmax: want 1..999 each" >&2; exit 2; }
uptime
setsid "$@" &
pid=$!
sleep 0.2
while kill -0 "$pid" 2>/dev/null; do
	kill -STOP -- -"$pid" 2>/dev/null
	sleep "$(printf '0.%03d' $((1 + RANDOM % stopmax)))"
	kill -CONT -- -"$pid" 2>/dev/null
	sleep "$(printf '0.%03d' $((1 + RANDOM % runmax)))"
done
kill -CONT -- -"$pid" 2>/dev/null
wait "$pid"
rc=$?
uptime
echo "starve: exit $rc"
exit "$rc"
