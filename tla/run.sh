#!/usr/bin/env bash
# Runs TLC on the TLA+ spec of the checkpoint coordinator. Downloads nothing.
#
#   tla/run.sh check [CONFIG...]   model-check MCRegionalCheckpoint with the given
#                                  configurations (default: every MC*.cfg here)
#   tla/run.sh trace [HISTORY...]  validate histories against the spec (default:
#                                  tla/testdata/*.jsonl); each is first normalized
#                                  by tla/normalize with the Go core's effects
#   tla/run.sh parse               parse every module with SANY
#
# Needs java and TLA2TOOLS_JAR=/path/to/tla2tools.jar; trace also needs
# COMMUNITY_MODULES_JAR=/path/to/CommunityModules(-deps).jar (Json, IOUtils) and
# go. Without them it says it skipped and exits 0.
#
# Environment: TLC_WORKERS (check; default 2), TLA_EFFECTS=core|recorded (trace:
# compare with the Go core's effects, or with the effects recorded in the
# history), TLA_MUTANT=name (trace: normalize with a known bug of the core
# switched on, fsm/mutants_on.go; the validation must then fail).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
mode=${1:-}
[ $# -gt 0 ] && shift

skip() {
	echo "tla: SKIPPED ($mode): $1. Nothing was downloaded; see tla/README.md to run TLC."
	exit 0
}

case "$mode" in
check | trace | parse) ;;
*)
	echo "usage: tla/run.sh check [CONFIG...] | trace [HISTORY...] | parse" >&2
	exit 2
	;;
esac

command -v java >/dev/null 2>&1 || skip "no java on PATH"
[ -n "${TLA2TOOLS_JAR:-}" ] || skip "TLA2TOOLS_JAR is not set"
[ -f "$TLA2TOOLS_JAR" ] || skip "TLA2TOOLS_JAR=$TLA2TOOLS_JAR does not exist"
cp="$TLA2TOOLS_JAR"
if [ "$mode" != check ]; then
	[ -n "${COMMUNITY_MODULES_JAR:-}" ] || skip "COMMUNITY_MODULES_JAR is not set (trace validation needs Json and IOUtils)"
	[ -f "$COMMUNITY_MODULES_JAR" ] || skip "COMMUNITY_MODULES_JAR=$COMMUNITY_MODULES_JAR does not exist"
	cp="$cp:$COMMUNITY_MODULES_JAR"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tla.XXXXXX")
trap 'rm -rf "$work"' EXIT
tlc() { java -XX:+UseParallelGC -cp "$cp" tlc2.TLC -noGenerateSpecTE -metadir "$work/states" "$@"; }

passed=0
failed=0

case "$mode" in
parse)
	cd "$here" || exit 2
	for m in RegionalCheckpoint MCRegionalCheckpoint TraceRegionalCheckpoint; do
		if java -cp "$cp" tla2sany.SANY "$m.tla" >"$work/sany.log" 2>&1 && ! grep -q -i 'error' "$work/sany.log"; then
			echo "PASS parse $m"
			passed=$((passed + 1))
		else
			echo "FAIL parse $m"
			cat "$work/sany.log"
			failed=$((failed + 1))
		fi
	done
	;;
check)
	cd "$here" || exit 2
	if [ $# -eq 0 ]; then
		set -- MCRegionalCheckpoint*.cfg
	fi
	for cfg in "$@"; do
		cfg=$(basename "$cfg" .cfg)
		start=$(date +%s)
		tlc -workers "${TLC_WORKERS:-2}" -config "$cfg.cfg" MCRegionalCheckpoint >"$work/$cfg.log" 2>&1
		rc=$?
		secs=$(($(date +%s) - start))
		states=$(grep -o '[0-9,]* distinct states found' "$work/$cfg.log" | tail -1)
		if [ $rc -eq 0 ] && grep -q 'No error has been found' "$work/$cfg.log"; then
			echo "PASS check $cfg: $states, ${secs}s"
			passed=$((passed + 1))
		else
			echo "FAIL check $cfg (exit $rc, ${secs}s):"
			grep -v '^Parsing\|^Semantic\|^Linting\|^Progress' "$work/$cfg.log" | head -200
			failed=$((failed + 1))
		fi
	done
	;;
trace)
	command -v go >/dev/null 2>&1 || skip "no go on PATH (histories are normalized by tla/normalize)"
	if [ $# -eq 0 ]; then
		set -- "$here"/testdata/*.jsonl
	fi
	tags=()
	margs=()
	if [ -n "${TLA_MUTANT:-}" ]; then
		tags=(-tags ckpt_mutants)
		margs=(-mutant "$TLA_MUTANT")
	fi
	(cd "$root" && go build "${tags[@]}" -o "$work/normalize" ./tla/normalize) || exit 2
	for h in "$@"; do
		n="$work/$(basename "$h").ndjson"
		if ! "$work/normalize" -effects "${TLA_EFFECTS:-core}" "${margs[@]}" -o "$n" "$h" 2>"$work/norm.log"; then
			echo "FAIL trace $h: cannot normalize:"
			cat "$work/norm.log"
			failed=$((failed + 1))
			continue
		fi
		start=$(date +%s)
		(cd "$here" && HISTORY="$n" tlc -workers 1 -config TraceRegionalCheckpoint.cfg TraceRegionalCheckpoint) >"$work/trace.log" 2>&1
		rc=$?
		secs=$(($(date +%s) - start))
		states=$(grep -o '[0-9,]* distinct states found' "$work/trace.log" | tail -1)
		if [ $rc -eq 0 ] && grep -q 'No error has been found' "$work/trace.log"; then
			echo "PASS trace $h: $states, ${secs}s"
			passed=$((passed + 1))
		else
			echo "FAIL trace $h (exit $rc):"
			grep -v '^Parsing\|^Semantic\|^Linting\|^Progress' "$work/trace.log" | grep -A40 -m1 'Error' | head -60
			failed=$((failed + 1))
		fi
	done
	;;
esac

echo "tla $mode: $passed passed, $failed failed"
[ $failed -eq 0 ]
