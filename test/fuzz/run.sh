#!/usr/bin/env bash
# Fuzzing campaign: builds the libFuzzer targets with clang, ASan and UBSan
# in build-fuzz, runs each target for SECONDS (two at a time), and prints a
# summary. Exits 1 if any target found a crash, leak, timeout or OOM.
#
#   test/fuzz/run.sh SECONDS [TARGET...]     default: every target
#
# Each target fuzzes a scratch copy of test/fuzz/corpus/<target> (in
# build-fuzz/fuzz-work/<target>/corpus, its log next to it) plus the inputs
# in test/fuzz/regressions/<target>, with test/fuzz/dict/<target>.dict if
# there is one. libFuzzer runs in fork mode and carries on after a finding,
# so one shallow bug doesn't end the run; findings are written to
# test/fuzz/crashes/<target>/ (crash-*, leak-*, timeout-*, oom-*). Each new
# finding is then run once more to sort them by sanitizer report and first
# frame in otabundle's code (the "distinct" list of the summary).
#
# Environment: FUZZ_JOBS (default 2) targets at once; FUZZ_TIMEOUT (default
# 25) seconds per input before it counts as a hang.
set -uo pipefail

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
	echo "usage: $0 SECONDS [TARGET...]" >&2
	exit 2
fi
DURATION=$1
shift
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=build-fuzz
WORK=$ROOT/$BUILD/fuzz-work
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(manifest bundle verity config partition version crypt envelope trust caindex http-headers)
JOBS=${FUZZ_JOBS:-2}
TIMEOUT=${FUZZ_TIMEOUT:-25}

for t in "${TARGETS[@]}"; do
	if [ ! -d "test/fuzz/corpus/$t" ]; then
		echo "$0: unknown target '$t'" >&2
		exit 2
	fi
done

echo "== building $BUILD"
if [ ! -f "$BUILD/build.ninja" ]; then
	log=$(mktemp)
	CC=clang meson setup "$BUILD" --werror -Dfuzzing=true -Db_sanitize=address,undefined \
		-Db_lundef=false >"$log" 2>&1 || {
		cat "$log"
		exit 1
	}
	rm -f "$log"
fi
mkdir -p "$WORK"
ninja -C "$BUILD" $(printf 'test/fuzz/fuzz-%s ' "${TARGETS[@]}") >"$WORK/build.log" 2>&1 || {
	tail -n 40 "$WORK/build.log"
	exit 1
}

# LeakSanitizer on; UBSan findings abort with a stack, so they are crashes.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

# triage TARGET ARTIFACT: one line naming the finding: the sanitizer's
# verdict, the first frame, and the first frame in our code.
triage() {
	local log ubsan
	log=$("$ROOT/$BUILD/test/fuzz/fuzz-$1" -timeout="$TIMEOUT" "$2" 2>&1)
	local kind first ours frames
	# "AddressSanitizer: heap-buffer-overflow", "libFuzzer: deadly signal"...
	kind=$(grep -m1 -oP '^SUMMARY: \K[A-Za-z]+: [a-z-]+( [a-z-]+)?' <<<"$log")
	# ...and UBSan's own words, which say more.
	ubsan=$(grep -m1 -oP 'runtime error: \K.{1,70}' <<<"$log")
	[ -n "$ubsan" ] && kind="UBSan: $ubsan"
	frames=$(grep -E '^ +#[0-9]+ 0x[0-9a-f]+ in ' <<<"$log" |
		grep -vE ' in (__|fuzzer::|abort|raise|malloc|calloc|realloc|free|g_malloc|g_realloc|g_try_|g_malloc0|gsignal|g_log|g_assertion)' |
		sed -E 's#^ +\#[0-9]+ 0x[0-9a-f]+ in ([^ ]+) ([^ ]+).*#\1 \2#; s#[^ ]*/(src|test)/#\1/#')
	first=$(head -n 1 <<<"$frames")
	ours=$(grep -m1 -E ' (src|test)/' <<<"$frames")
	[ "$first" = "$ours" ] && first=
	if [ -z "$kind" ] && [ -z "$frames" ]; then
		echo "does not reproduce alone (see the sanitizer.* logs) | ?"
		return
	fi
	echo "${kind:-no report} | ${ours:-?}${first:+ (in ${first%% *})}"
}

# fuzz_target NAME, in the background: leaves WORK/NAME/summary.
fuzz_target() {
	local t=$1 dir=$WORK/$1 crashes=$ROOT/test/fuzz/crashes/$1
	local dict=() regressions=() before

	rm -rf "$dir"
	mkdir -p "$dir/corpus" "$crashes"
	cp -r "test/fuzz/corpus/$t/." "$dir/corpus/"
	[ -f "test/fuzz/dict/$t.dict" ] && dict=(-dict="$ROOT/test/fuzz/dict/$t.dict")
	[ -d "test/fuzz/regressions/$t" ] && regressions=("$ROOT/test/fuzz/regressions/$t")
	ls "$crashes" >"$dir/findings.before"

	# Fork mode deletes its workers' logs; the sanitizers' own reports
	# (with stacks) are kept in sanitizer.<pid>, for findings that don't
	# reproduce on their own.
	ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$dir/sanitizer" \
	UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$dir/sanitizer" \
	"$ROOT/$BUILD/test/fuzz/fuzz-$t" -fork=1 -ignore_crashes=1 -ignore_ooms=1 \
		-ignore_timeouts=1 -max_total_time="$DURATION" -timeout="$TIMEOUT" \
		-artifact_prefix="$crashes/" "${dict[@]}" "$dir/corpus" "${regressions[@]}" \
		>"$dir/fuzz.log" 2>&1

	# Coverage of the corpus the run ended with: edges reached, out of
	# the instrumented edges in the binary.
	"$ROOT/$BUILD/test/fuzz/fuzz-$t" -runs=0 -timeout="$TIMEOUT" "$dir/corpus" \
		>"$dir/coverage.log" 2>&1
	local execs cov ft total corpus
	execs=$(grep -oP '^#\K[0-9]+(?=: cov)' "$dir/fuzz.log" | tail -n 1)
	cov=$(grep -oP 'INITED cov: \K[0-9]+' "$dir/coverage.log" | tail -n 1)
	ft=$(grep -oP 'INITED cov: [0-9]+ ft: \K[0-9]+' "$dir/coverage.log" | tail -n 1)
	total=$(grep -oP 'Loaded 1 modules +\(\K[0-9]+' "$dir/coverage.log" | head -n 1)
	corpus=$(find "$dir/corpus" -type f | wc -l)

	ls "$crashes" | comm -13 "$dir/findings.before" - >"$dir/findings"
	: >"$dir/distinct"
	while read -r f; do
		[ -n "$f" ] && echo "$(triage "$t" "$crashes/$f")	$f"
	done <"$dir/findings" | sort -t'	' -k1,1 >"$dir/triaged"
	cut -f1 "$dir/triaged" | uniq -c >"$dir/distinct"
	echo "$t ${execs:-0} ${cov:-0}/${total:-?} ${ft:-0} $corpus $(wc -l <"$dir/findings")" \
		>"$dir/summary"
}

echo "== fuzzing ${TARGETS[*]} for ${DURATION}s each, $JOBS at a time"
running=0
for t in "${TARGETS[@]}"; do
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	echo "   $(date +%T) started $t"
	fuzz_target "$t" &
	running=$((running + 1))
done
wait

status=0
echo "== summary (logs: $BUILD/fuzz-work/<target>/)"
printf '   %-10s %12s %12s %8s %8s %9s\n' target execs cov ft corpus findings
for t in "${TARGETS[@]}"; do
	read -r name execs cov ft corpus findings <"$WORK/$t/summary"
	printf '   %-10s %12s %12s %8s %8s %9s\n' "$name" "$execs" "$cov" "$ft" "$corpus" "$findings"
	[ "$findings" -gt 0 ] || continue
	status=1
	while read -r n what; do
		example=$(grep -F -m1 "$what	" "$WORK/$t/triaged" | cut -f2)
		echo "      $n x $what"
		echo "          e.g. test/fuzz/crashes/$t/$example"
	done <"$WORK/$t/distinct"
done
if [ "$status" -eq 0 ]; then
	echo "no findings"
else
	echo "findings in test/fuzz/crashes/ (test/fuzz/README.md: minimise, add to regressions/)"
fi
exit "$status"
