#!/usr/bin/env bash
# Runs SANY and TLC on the TLA+ spec of the checkpoint coordinator. Downloads nothing.
#
#   tla/run.sh ci [EXPECTED]       what `make test` runs: parse, model-check the configurations
#                                  EXPECTED pins, trace-validate every golden, example and tracegen
#                                  walk it names, and compare every count with EXPECTED
#                                  (default tla/expected.txt; tla/expected-large.txt: make tla-check-large)
#   tla/run.sh readme              run ci and ci-large, rewrite tla/README.md's results table
#   tla/run.sh mutants             every spec mutant of tla/mutants/ must be caught by model checking
#   tla/run.sh parse               SANY on every module
#   tla/run.sh check [CONFIG...]   model-check MCRegionalCheckpoint with the given configurations
#   tla/run.sh trace [HISTORY...]  validate histories against the spec (default: tla/testdata/*.jsonl)
#
# Needs java, go, and the jars: TLA2TOOLS_JAR and COMMUNITY_MODULES_JAR (Json, IOUtils), by default
# ../shared/tools/tla/{tla2tools,CommunityModules}.jar beside the repository. Without them it prints
# SKIPPED and exits 0; tla/README.md names where to get them.
#
# Environment: TLC_WORKERS (check; default 2), TLA_JOBS (parallel trace runs; default 2),
# TLA_EFFECTS=core|recorded (trace: compare with the Go core's effects, or with those recorded in
# the history), TLA_RESULTS=FILE (ci: also write the result lines there).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
mode=${1:-}
[ $# -gt 0 ] && shift

TLA2TOOLS_JAR=${TLA2TOOLS_JAR:-$root/../shared/tools/tla/tla2tools.jar}
COMMUNITY_MODULES_JAR=${COMMUNITY_MODULES_JAR:-$root/../shared/tools/tla/CommunityModules.jar}
export TLA2TOOLS_JAR COMMUNITY_MODULES_JAR

skip() {
	echo "tla: SKIPPED ($mode): $1. Nothing was downloaded; tla/README.md says where to get TLC."
	exit 0
}

case "$mode" in
ci | readme | mutants | parse | check | trace | trace-one | check-one) ;;
*)
	echo "usage: tla/run.sh ci [EXPECTED] | readme | mutants | parse | check [CONFIG...] | trace [HISTORY...]" >&2
	exit 2
	;;
esac

command -v java >/dev/null 2>&1 || skip "no java on PATH"
command -v go >/dev/null 2>&1 || skip "no go on PATH (histories are normalized by tla/normalize)"
[ -f "$TLA2TOOLS_JAR" ] || skip "TLA2TOOLS_JAR=$TLA2TOOLS_JAR does not exist"
[ -f "$COMMUNITY_MODULES_JAR" ] || skip "COMMUNITY_MODULES_JAR=$COMMUNITY_MODULES_JAR does not exist"
cp="$TLA2TOOLS_JAR:$COMMUNITY_MODULES_JAR"

# One scratch directory for a whole run (sub-invocations share it through TLA_WORK).
if [ -z "${TLA_WORK:-}" ]; then
	TLA_WORK=$(mktemp -d "${TMPDIR:-/tmp}/tla.XXXXXX")
	export TLA_WORK
	trap 'rm -rf "$TLA_WORK"' EXIT
fi
work=$TLA_WORK

# Trace runs are short: most of their time is the JVM starting, so they use the
# client compiler and a class-data archive made by the first run.
tlc() {
	java -XX:+UseParallelGC -cp "$cp" tlc2.TLC -noGenerateSpecTE -metadir "$work/states.$$" "$@"
}
tlc_small() {
	local cds=()
	if [ -f "$work/tlc.jsa" ]; then
		cds=(-XX:SharedArchiveFile="$work/tlc.jsa" -Xshare:auto)
	fi
	java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "${cds[@]}" -cp "$cp" tlc2.TLC -noGenerateSpecTE \
		-metadir "$work/states.$$.$RANDOM" "$@"
}

build_normalize() {
	[ -x "$work/normalize" ] || (cd "$root" && go build -o "$work/normalize" ./tla/normalize) || exit 2
}

# check_one CONFIG: one result line "check NAME distinct=N depth=D" (or FAIL ...).
check_one() {
	local cfg log start rc secs states depth
	cfg=$(basename "$1" .cfg)
	log="$work/$cfg.check.log"
	start=$(date +%s)
	(cd "$here" && tlc -workers "${TLC_WORKERS:-2}" -config "$cfg.cfg" MCRegionalCheckpoint) >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	states=$(grep -o '[0-9,]* distinct states found' "$log" | tail -1 | tr -d , | cut -d' ' -f1)
	depth=$(grep -o 'depth of the complete state graph search is [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
	if [ $rc -eq 0 ] && grep -q 'No error has been found' "$log"; then
		echo "check $cfg distinct=${states:-0} depth=${depth:-0}"
		echo "  ($cfg: ${secs}s)" >&2
	else
		echo "check $cfg FAIL"
		{
			echo "FAIL check $cfg (exit $rc, ${secs}s):"
			grep -v '^Parsing\|^Semantic\|^Linting\|^Progress\|^Starting\|^Computing' "$log" | head -150
		} >&2
	fi
}

# trace_one HISTORY: "PASS HISTORY" or "FAIL HISTORY" on stdout, details on stderr.
trace_one() {
	local h=$1 n log rc
	n="$work/norm.$(basename "$h").$$.$RANDOM.ndjson"
	log="$n.log"
	"$work/normalize" -effects "${TLA_EFFECTS:-core}" -o "$n" "$h" 2>"$log"
	case $? in
	0) ;;
	3)
		# ids near 2^53 (R14): TLC's integers are 32-bit
		echo "SKIP $h"
		{ echo "SKIP trace $h:"; cat "$log"; } >&2
		rm -f "$n" "$log"
		return
		;;
	*)
		echo "FAIL $h"
		{ echo "FAIL trace $h: cannot normalize:"; cat "$log"; } >&2
		return
		;;
	esac
	(cd "$here" && HISTORY="$n" tlc_small -workers 1 -config TraceRegionalCheckpoint.cfg TraceRegionalCheckpoint) >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && grep -q 'No error has been found' "$log"; then
		echo "PASS $h"
	else
		echo "FAIL $h"
		{
			echo "FAIL trace $h (${TLA_EFFECTS:-core} effects, exit $rc):"
			grep -v '^Parsing\|^Semantic\|^Linting\|^Progress' "$log" | grep -A40 -m1 'Error' | head -60
		} >&2
	fi
	rm -f "$n" "$log"
}

# The first trace run writes the class-data archive the others start from.
make_archive() {
	[ -f "$work/tlc.jsa" ] && return
	local h n
	h="$here/testdata/R25-regionalCompletionSubsumesForced.jsonl"
	n="$work/cds.ndjson"
	"$work/normalize" -o "$n" "$h" 2>/dev/null || return
	(cd "$here" && HISTORY="$n" java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ArchiveClassesAtExit="$work/tlc.jsa" \
		-cp "$cp" tlc2.TLC -noGenerateSpecTE -metadir "$work/states.cds" -workers 1 \
		-config TraceRegionalCheckpoint.cfg TraceRegionalCheckpoint) >/dev/null 2>&1
}

# trace_set NAME HISTORY...: validates them TLA_JOBS at a time, prints
# "trace NAME histories=N failed=F".
trace_set() {
	local name=$1 out pass fail skip
	shift
	build_normalize
	make_archive
	out="$work/trace.$name.out"
	printf '%s\n' "$@" | xargs -P "${TLA_JOBS:-2}" -I{} "$here/run.sh" trace-one {} >"$out"
	pass=$(grep -c '^PASS' "$out")
	fail=$(grep -c '^FAIL' "$out")
	skip=$(grep -c '^SKIP' "$out")
	grep '^FAIL\|^SKIP' "$out" | sed 's/^/  /' >&2
	echo "trace $name histories=$((pass + fail)) failed=$fail skipped=$skip"
}

parse_all() {
	local m failed=0
	for m in RegionalCheckpoint MCRegionalCheckpoint TraceRegionalCheckpoint; do
		if ! (cd "$here" && java -cp "$cp" tla2sany.SANY "$m.tla") >"$work/sany.log" 2>&1 ||
			grep -q -i 'error' "$work/sany.log"; then
			failed=$((failed + 1))
			{ echo "FAIL parse $m:"; cat "$work/sany.log"; } >&2
		fi
	done
	echo "parse modules=3 failed=$failed"
}

# walks NAME PARAMS...: tracegen walks (PARAMS: seed=S n=N events=E [flags=-a,-b]
# [effects=core|recorded]), validated; prints the parameters, the trace result and
# tracegen's coverage counts.
walks() {
	local name=$1 seed=1 n=10 events=60 flags=() f dir cov t effects=core params=""
	shift
	for f in "$@"; do
		case "$f" in
		seed=*) seed=${f#seed=} ;;
		n=*) n=${f#n=} ;;
		events=*) events=${f#events=} ;;
		flags=*) IFS=, read -r -a flags <<<"${f#flags=}" ;;
		effects=*) effects=${f#effects=} ;;
		*) continue ;;
		esac
		params="$params $f"
	done
	dir="$work/walks.$name"
	mkdir -p "$dir"
	if ! cov=$(cd "$root" && go run ./tla/tracegen -seed "$seed" -n "$n" -events "$events" -o "$dir" "${flags[@]}"); then
		echo "walks $name FAIL (tracegen)"
		return
	fi
	t=$(TLA_EFFECTS=$effects trace_set "walks.$name" "$dir"/*.jsonl)
	echo "walks $name${params} ${t#trace walks.$name } $cov"
}

# compare RESULTS EXPECTED: every pinned line must be reproduced: "k=v" exactly,
# "k>=v" at least; a result line that EXPECTED does not pin is an error too.
compare() {
	awk '
	FNR == NR { if ($0 !~ /^#/ && NF) res[$1 " " $2] = $0; next }
	$0 ~ /^#/ || !NF { next }
	{
		key = $1 " " $2; seen[key] = 1
		if (!(key in res)) { print "tla: not run: " $0; bad++; next }
		split(res[key], r, " "); delete got
		for (i = 3; i in r; i++) { split(r[i], kv, "="); got[kv[1]] = kv[2] }
		for (i = 3; i <= NF; i++) {
			if (index($i, ">=")) { split($i, kv, ">="); ok = (kv[1] in got) && got[kv[1]] + 0 >= kv[2] + 0 }
			else { split($i, kv, "="); ok = (kv[1] in got) && got[kv[1]] == kv[2] }
			if (!ok) { print "tla: " key ": expected " $i ", got " (kv[1] in got ? kv[1] "=" got[kv[1]] : "nothing"); bad++ }
		}
	}
	END {
		for (k in res) if (!(k in seen)) { print "tla: result not pinned in the expected file: " res[k]; bad++ }
		exit bad > 0
	}' "$1" "$2"
}

# ci EXPECTED: run what EXPECTED names, in its order; compare.
run_ci() {
	local expected=$1 results="$work/results.$(basename "$1")" start line kind name
	start=$(date +%s)
	: >"$results"
	while read -r kind name rest; do
		case "$kind" in
		parse) parse_all ;;
		check) check_one "$name.cfg" ;;
		trace)
			case "$name" in
			testdata) trace_set testdata "$here"/testdata/*.jsonl ;;
			goldens)
				# shellcheck disable=SC2046
				trace_set goldens $(find "$root/history/testdata/golden" "$root/examples" -name '*.jsonl' -not -path '*/golden/invalid/*' | sort)
				;;
			recorded)
				# every golden and example that records effects, compared with them
				# shellcheck disable=SC2046
				TLA_EFFECTS=recorded trace_set recorded $(grep -l '"effects"' -r "$root/history/testdata/golden" "$root/examples" --include='*.jsonl' | sort)
				;;
			*) echo "trace $name FAIL (unknown set)" ;;
			esac
			;;
		walks) walks "$name" $rest ;;
		mutants) run_mutants ;;
		"" | \#*) : ;;
		*) echo "$kind $name FAIL (unknown line in $expected)" ;;
		esac | tee -a "$results"
	done <"$expected"
	[ -n "${TLA_RESULTS:-}" ] && cp "$results" "$TLA_RESULTS"
	echo "tla ci ($(basename "$expected")): $(($(date +%s) - start))s"
	if compare "$results" "$expected"; then
		echo "tla ci: every count of $(basename "$expected") reproduced"
	else
		echo "tla ci: FAILED (the lines above; a spec change that moves a count updates $(basename "$expected"))"
		return 1
	fi
}

# Mutants: each tla/mutants/NAME.sed edits a copy of RegionalCheckpoint.tla; model
# checking the configuration its "# config: X" line names must then fail with a
# violated invariant, one of those its "# expect: I..." line names (not with a
# parse or evaluation error).
run_mutants() {
	local m name cfg dir caught=0 missed=0 log want
	for m in "$here"/mutants/*.sed; do
		name=$(basename "$m" .sed)
		cfg=$(sed -n 's/^# config: *//p' "$m" | head -1)
		dir="$work/mutant.$name"
		mkdir -p "$dir"
		cp "$here"/*.tla "$here"/*.cfg "$dir"/
		sed -f "$m" "$here/RegionalCheckpoint.tla" >"$dir/RegionalCheckpoint.tla"
		if cmp -s "$here/RegionalCheckpoint.tla" "$dir/RegionalCheckpoint.tla"; then
			echo "  mutant $name: the sed script changes nothing (stale?)" >&2
			missed=$((missed + 1))
			continue
		fi
		log="$dir/tlc.log"
		(cd "$dir" && java -XX:+UseParallelGC -cp "$cp" tlc2.TLC -noGenerateSpecTE -metadir "$dir/states" \
			-workers "${TLC_WORKERS:-2}" -config "$cfg.cfg" MCRegionalCheckpoint) >"$log" 2>&1
		local inv
		inv=$(grep -o 'Invariant [A-Za-z0-9]* is violated' "$log" | head -1 | cut -d' ' -f2)
		want=$(sed -n 's/^# expect: *//p' "$m" | head -1)
		if [ -n "$inv" ] && { [ -z "$want" ] || [[ " $want " == *" $inv "* ]]; }; then
			caught=$((caught + 1))
			echo "  mutant $name: caught by $inv in $cfg" >&2
		else
			missed=$((missed + 1))
			{
				echo "  mutant $name: NOT caught in $cfg:"
				grep -v '^Parsing\|^Semantic\|^Linting\|^Progress' "$log" | tail -20
			} >&2
		fi
	done
	echo "mutants all caught=$caught missed=$missed"
}

# readme RESULTS...: rewrite the table between the results markers of tla/README.md.
write_readme() {
	local table="$work/table.md" rev
	rev=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
	{
		echo "<!-- results:begin (generated by make tla-readme from tla/run.sh ci; do not edit) -->"
		echo "Generated at commit $rev by \`make tla-readme\` (\`tla/run.sh readme\`): the result lines of"
		echo "\`tla/run.sh ci\` on tla/expected.txt (CI) and tla/expected-large.txt (\`make tla-check-large\`)."
		echo
		echo "| step | what | result |"
		echo "|---|---|---|"
		cat "$@" | while read -r kind name rest; do
			case "$kind" in
			check) echo "| check | \`$name.cfg\` | $rest |" ;;
			parse) echo "| parse | SANY, every module | $rest |" ;;
			trace) echo "| trace | $name | $rest |" ;;
			walks) echo "| walks | $name | $rest |" ;;
			mutants) echo "| mutants | tla/mutants/*.sed | $rest |" ;;
			esac
		done
		echo "<!-- results:end -->"
	} >"$table"
	awk -v t="$table" '
	/<!-- results:begin/ { while ((getline l < t) > 0) print l; skip = 1; next }
	/<!-- results:end/ { skip = 0; next }
	!skip' "$here/README.md" >"$work/README.new" && cp "$work/README.new" "$here/README.md"
	echo "tla: tla/README.md results table rewritten"
}

status=0
case "$mode" in
trace-one) trace_one "$1" ;;
check-one) check_one "$1" ;;
parse | check | trace | mutants)
	{
		case "$mode" in
		parse) parse_all ;;
		check)
			[ $# -eq 0 ] && set -- $(awk '$1 == "check" { print $2 }' "$here/expected.txt")
			for c in "$@"; do check_one "$c"; done
			;;
		trace)
			[ $# -eq 0 ] && set -- "$here"/testdata/*.jsonl
			trace_set given "$@"
			;;
		mutants) run_mutants ;;
		esac
	} | tee "$work/out"
	! grep -q 'FAIL\|failed=[1-9]\|missed=[1-9]' "$work/out" || status=1
	;;
ci)
	run_ci "${1:-$here/expected.txt}" || status=1
	;;
readme)
	TLA_RESULTS="$work/r1" run_ci "$here/expected.txt" || status=1
	TLA_RESULTS="$work/r2" run_ci "$here/expected-large.txt" || status=1
	[ $status -eq 0 ] && write_readme "$work/r1" "$work/r2"
	;;
esac
exit $status
