#!/usr/bin/env bash
# Installs what the tests need (Debian packages), builds otabundle twice
# (release with -Werror, and ASan+UBSan), runs every unit and CLI test and
# replays the fuzzing seeds and regression inputs (test/fuzz) in both, and
# ends with the line "N passed, N failed".
#
# Servers the CLI tests need are started by their pytest session fixtures on
# 127.0.0.1 at free ports and stopped when pytest ends: the RFC 3161 TSA
# (lighttpd running `openssl ts -reply` as CGI, test/cli/tsa_server.py) and
# the streaming tests' web servers (two lighttpds: HTTP, HTTPS, mutual TLS,
# test/cli/http_server.py; faults from the TCP relay test/cli/fault_proxy.py).
#
#   test/run.sh            everything
#   OTABUNDLE_SKIP_ASAN=1 test/run.sh    skip the sanitizer pass (local use)
set -uo pipefail

# Debian's interpreter: python3-pytest is installed for it, whatever python3
# comes first on PATH.
PYTHON=/usr/bin/python3

cd "$(dirname "$0")/.."
ROOT=$PWD
# Every test server listens on 127.0.0.1: a proxy from the environment
# (libcurl honours http_proxy) must not stand in between.
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-tests.XXXXXX")
passed=0
failed=0

# build DIR [meson options...]
build() {
	local dir=$1
	shift
	echo "== building $dir"
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" --werror "$@" >"$LOGDIR/setup-$dir.log" 2>&1 || {
			cat "$LOGDIR/setup-$dir.log"
			return 1
		}
	fi
	ninja -C "$dir" >"$LOGDIR/build-$dir.log" 2>&1 || {
		cat "$LOGDIR/build-$dir.log"
		return 1
	}
}

count() { # count PASSED FAILED LABEL
	passed=$((passed + $1))
	failed=$((failed + $2))
	echo "   $3: $1 passed, $2 failed"
}

# Each gtest binary speaks TAP; every test case counts. A binary that dies
# without reporting (crash, sanitizer abort) counts as one failure.
run_unit_tests() {
	local dir=$1 p=0 f=0 log
	for t in "$dir"/test/test-*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		log="$LOGDIR/$(basename "$dir")-$(basename "$t").tap"
		"$t" --tap >"$log" 2>&1
		local rc=$?
		local ok notok
		ok=$(grep -cE '^ok ' "$log")
		notok=$(grep -cE '^not ok ' "$log")
		p=$((p + ok))
		f=$((f + notok))
		if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
			f=$((f + 1))
		fi
		if [ "$rc" -ne 0 ]; then
			echo "   FAILED: $t (exit $rc)"
			grep -E '^not ok|ERROR|Bail|runtime error|Sanitizer' "$log" | head -20 | sed 's/^/     /'
		fi
	done
	count "$p" "$f" "unit tests ($dir)"
}

# The unit tests once more under valgrind: any memory error or definite
# leak fails the binary (error exit 99), counted like a crash.
run_unit_tests_valgrind() {
	local dir=$1 p=0 f=0 log
	for t in "$dir"/test/test-*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		log="$LOGDIR/valgrind-$(basename "$t").tap"
		G_SLICE=always-malloc G_DEBUG=gc-friendly valgrind -q --error-exitcode=99 --child-silent-after-fork=yes \
			--leak-check=full --errors-for-leak-kinds=definite "$t" --tap >"$log" 2>&1
		local rc=$?
		local ok notok
		ok=$(grep -cE '^ok ' "$log")
		notok=$(grep -cE '^not ok ' "$log")
		if [ "$rc" -ne 0 ]; then
			echo "   FAILED under valgrind: $t (exit $rc)"
			grep -E '^not ok|==[0-9]+==' "$log" | head -20 | sed 's/^/     /'
			[ "$notok" -eq 0 ] && notok=1
			ok=0
		fi
		p=$((p + ok))
		f=$((f + notok))
	done
	count "$p" "$f" "unit tests under valgrind ($dir)"
}

# Each fuzz target's replay program runs its seed corpus and its regression
# inputs once each (test/fuzz/README.md) and speaks TAP; every input counts.
run_fuzz_replays() {
	local dir=$1 p=0 f=0 log
	# Every target has a seed corpus directory (test/fuzz/README.md).
	for t in $(cd test/fuzz/corpus && echo *); do
		local exe="$dir/test/fuzz/fuzz-$t-replay" inputs=()
		[ -d "test/fuzz/corpus/$t" ] && inputs+=("test/fuzz/corpus/$t")
		[ -d "test/fuzz/regressions/$t" ] && inputs+=("test/fuzz/regressions/$t")
		log="$LOGDIR/$(basename "$dir")-fuzz-$t-replay.tap"
		if [ ! -x "$exe" ]; then
			echo "   FAILED: $exe was not built"
			f=$((f + 1))
			continue
		fi
		"$exe" "${inputs[@]}" >"$log" 2>&1
		local rc=$?
		local ok notok
		ok=$(grep -cE '^ok ' "$log")
		notok=$(grep -cE '^not ok ' "$log")
		p=$((p + ok))
		f=$((f + notok))
		if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
			f=$((f + 1))
		fi
		if [ "$rc" -ne 0 ]; then
			echo "   FAILED: $exe (exit $rc)"
			grep -E '^not ok|ERROR|runtime error|Sanitizer' "$log" | head -20 | sed 's/^/     /'
		fi
	done
	count "$p" "$f" "fuzz replays ($dir)"
}

# pytest's JUnit report gives exact counts, including errors in fixtures.
run_cli_tests() {
	local dir=$1
	shift
	local xml="$LOGDIR/pytest-$(basename "$dir").xml"
	OTABUNDLE="$ROOT/$dir/otabundle" "$PYTHON" -m pytest -q -p no:cacheprovider \
		--junitxml="$xml" "$@" test/cli >"$LOGDIR/pytest-$(basename "$dir").log" 2>&1
	local rc=$?
	tail -n 30 "$LOGDIR/pytest-$(basename "$dir").log" | grep -E 'FAILED|ERROR|passed|failed' | sed 's/^/     /'
	if [ ! -f "$xml" ]; then
		echo "   pytest did not run (exit $rc)"
		count 0 1 "CLI tests ($dir)"
		return
	fi
	read -r p f < <("$PYTHON" - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(tests - bad - skipped, bad)
PY
)
	count "$p" "$f" "CLI tests ($dir)"
}

# The Debian packages: built from a copy of the tree, checked with lintian,
# unpacked into a scratch root and run (test/debian-package.sh, TAP); every
# check counts, a script that dies without reporting counts as a failure.
run_package_tests() {
	local log="$LOGDIR/debian-package.tap" p f
	test/debian-package.sh "$LOGDIR/debian-package" >"$log" 2>&1
	local rc=$?
	p=$(grep -cE '^ok ' "$log")
	f=$(grep -cE '^not ok ' "$log")
	if [ "$rc" -ne 0 ]; then
		grep -E '^not ok|^# ' "$log" | head -40 | sed 's/^/     /'
		[ "$f" -eq 0 ] && f=1
	fi
	count "$p" "$f" "Debian packages"
}

contrib/install-deps.sh --tests || exit 1

if build build; then
	run_unit_tests build
	run_unit_tests_valgrind build
	run_fuzz_replays build
	run_cli_tests build
else
	count 0 1 "release build"
fi
run_package_tests

if [ -z "${OTABUNDLE_SKIP_ASAN:-}" ]; then
	# The large-file test only repeats I/O the release pass already proved;
	# under ASan it would only cost time.
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	# Leaks of third-party libraries, each explained in the file.
	export LSAN_OPTIONS="suppressions=$ROOT/test/lsan.supp"
	if build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
		run_unit_tests build-asan
		run_fuzz_replays build-asan
		run_cli_tests build-asan --ignore=test/cli/test_large.py
	else
		count 0 1 "ASan build"
	fi
fi

echo "logs: $LOGDIR"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
