#!/usr/bin/env bash
# Runs every coverage-guided fuzz target of the project for FUZZTIME each and
# prints, per target, the executions per second and the new corpus entries.
#
#   fuzz/fuzz-long.sh 30m        # all targets at once, each under nice -n 19 with one worker
#   FUZZSERIAL=1 fuzz/fuzz-long.sh 5s   # one after another (make fuzz: CI's short run)
#   FUZZTARGETS='^FuzzCore$' FUZZNICE=0 fuzz/fuzz-long.sh 30m   # one target at normal priority
#
# With /usr/bin/time present, each row also has the CPU seconds (user+system) of
# the target's go test process and its children (the test binary, its fuzzing
# worker; the test binary's build too, cached after the first run) and the
# executions per CPU second: on a shared machine the wall-clock rate says more
# about the load than about the target.
#
# Minimization is capped (-fuzzminimizetime): by default the fuzzer spends up to
# 60 s shrinking every new input, which for FuzzImportLog was most of its time.
# A cap in time has a cost of its own: when a minimization runs out of time, the
# coordinator's deadline (set before the worker's) fires first, and it kills the
# worker and starts a new one, losing the minimization's executions from the
# count (internal/fuzz: workerClient.minimize; golang/go#52569 is this abort's
# error). FuzzCore's minimizations of a few-hundred-byte input took the whole 5 s
# and restarted its worker every ~10 s; a cap in executions (Nx) has no
# deadline, so FuzzCore's is 10000x (about a second): 12,350 against 4,540
# executions per CPU second, run side by side (BENCHMARKS.md, FuzzCore rate).
# The other targets got caps in executions too, each about a few seconds of its
# own rate: FuzzDecode, FuzzHTTP, FuzzDecodeReplay and FuzzImportLog, 60 s each,
# four at once (load 15-16), did 4,974 / 2,732 / 6,560 / 372 executions per CPU
# second with these caps against 1,369 / 1,172 / 3,659 / 205 with 5 s.
# New inputs go to the Go build cache's fuzz corpus; a crasher is written to
# <package>/testdata/fuzz/<Target>/ — commit it with the fix.
set -uo pipefail
FUZZTIME=${1:-10s}
PARALLEL=${FUZZPARALLEL:-1}
MINIMIZE=${FUZZMINIMIZETIME:-5s} # for the targets that name none below
# FUZZMINIMIZEALL, when set, replaces every target's cap.
ALLMIN=${FUZZMINIMIZEALL:-}
# FUZZTIME=ci (make fuzz-ci) runs each target for its own count of executions
# (the last column below, a few seconds at CI's rate, past its baseline corpus),
# not for a time: a
# -fuzztime given as a duration is a context deadline, and Go's coordinator can
# fail a target that found nothing with "context deadline exceeded" when the
# deadline fires as it cancels its workers (the parent context's error is read
# before the child's is set; seen in CI on FuzzDecodeBinary and
# FuzzDecodeMetadata, 5 s runs, no crasher written). A count has no deadline.
NICE=${FUZZNICE:-19}
cd "$(dirname "$0")/.."

# package target -fuzzminimizetime ci-executions
TARGETS=(
	"./fuzz/corefuzz/ FuzzCore 10000x 20000x"
	"./fuzz/ FuzzDecode 2000x 150x"
	"./fuzz/ FuzzHTTP 200x 5000x"
	"./fsm/ FuzzDecodeSnapshot 10000x 50000x"
	"./history/ FuzzDecodeReplay 1000x 150x"
	"./history/ FuzzFastEventAgrees 10000x 40000x"
	"./history/ FuzzDecodeBinary 10000x 10000x"
	"./flinklog/ FuzzImportLog 100x 100x"
	"./driver/checkpointstorage/ FuzzDecodeMetadata 10000x 50000x"
)

# Each target's log stays in FUZZLOGDIR (default: a new temporary directory, printed).
logs=${FUZZLOGDIR:-$(mktemp -d)}
mkdir -p "$logs"
echo "fuzz logs: $logs"
pids=()
status=0
timed=()
[ -x /usr/bin/time ] && timed=(/usr/bin/time -f '%U %S' -o "$logs/TARGET.cpu")
# seeds pkg target: how many inputs the baseline runs before fuzzing begins (the
# committed corpus, the build cache's, and a margin for the f.Add seeds); a count
# of executions includes them.
seeds() {
	local n=50 d
	for d in "$1/testdata/fuzz/$2" "$(go env GOCACHE)/fuzz/$(go list "$1")/$2"; do
		[ -d "$d" ] && n=$((n + $(find "$d" -type f | wc -l)))
	done
	echo "$n"
}
run() { # pkg target minimize ci-executions
	local fuzztime=$FUZZTIME
	[ "$fuzztime" = ci ] && fuzztime=$(($(seeds "$1" "$2") + ${4%x}))x
	nice -n "$NICE" "${timed[@]/TARGET/$2}" go test -run='^$' -fuzz="^$2\$" -fuzztime="$fuzztime" \
		-fuzzminimizetime="${ALLMIN:-${3:-$MINIMIZE}}" -parallel "$PARALLEL" "$1" >"$logs/$2.log" 2>&1
}
selected=()
for t in "${TARGETS[@]}"; do
	set -- $t
	# FUZZTARGETS: a regular expression choosing targets by name (default: all).
	[[ "$2" =~ ${FUZZTARGETS:-.} ]] && selected+=("$t")
done
for t in "${selected[@]}"; do
	set -- $t
	if [ -n "${FUZZSERIAL:-}" ]; then
		run "$@" || { status=1; cat "$logs/$2.log"; }
	else
		run "$@" & pids+=("$!")
		# Start the next once this one is fuzzing: concurrent builds of one
		# package's fuzz binary have failed before the first execution.
		for _ in $(seq 120); do
			grep -q '^fuzz: elapsed' "$logs/$2.log" 2>/dev/null && break
			kill -0 "$!" 2>/dev/null || break
			sleep 1
		done
	fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done

printf '%-22s %10s %12s %10s %8s %8s %12s  %s\n' target seconds execs execs/s new cpu-s execs/cpu-s result
for t in "${selected[@]}"; do
	set -- $t
	log="$logs/$2.log"
	result=ok
	grep -q '^--- FAIL\|^FAIL' "$log" && result=FAIL
	# The last progress line: "fuzz: elapsed: 31s, execs: 123 (4/sec), new interesting: 5 (total: 9)".
	# Only baseline lines (a large cached corpus, a short FUZZTIME): it ran without new
	# executions. No line at all: it never fuzzed.
	last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -1)
	if [ -z "$last" ]; then
		grep -q '^fuzz: elapsed: ' "$log" || result=FAIL
		last="$(grep -E '^fuzz: elapsed: ' "$log" | tail -1 | sed -E 's/(elapsed: [0-9hms]+),.*/\1/'), execs: 0 (0/sec), new interesting: 0 (total: 0)"
	fi
	secs=$(sed -E 's/.*elapsed: ([0-9hms]+),.*/\1/' <<<"$last" | awk -F'[hms]' '{
		s=$0; t=0; if (s ~ /h/) { split(s,a,"h"); t+=a[1]*3600; s=a[2] } if (s ~ /m/) { split(s,a,"m"); t+=a[1]*60; s=a[2] } sub("s","",s); t+=s; print t }')
	execs=$(sed -E 's/.*execs: ([0-9]+) .*/\1/' <<<"$last")
	new=$(sed -E 's/.*new interesting: ([0-9]+) .*/\1/' <<<"$last")
	rate=$(awk -v e="${execs:-0}" -v s="${secs:-0}" 'BEGIN { if (s > 0) printf "%d", e / s; else print 0 }')
	cpu=$(tail -n 1 "$logs/$2.cpu" 2>/dev/null | awk '{ printf "%.1f", $1 + $2 }')
	cpurate=$(awk -v e="${execs:-0}" -v c="${cpu:-0}" 'BEGIN { if (c > 0) printf "%d", e / c; else print "?" }')
	printf '%-22s %10s %12s %10s %8s %8s %12s  %s\n' "$2" "${secs:-?}" "${execs:-?}" "$rate" "${new:-?}" "${cpu:-?}" "$cpurate" "$result"
	if [ "$result" = FAIL ]; then status=1; tail -40 "$log"; fi
done
exit $status
