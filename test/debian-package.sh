#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the Debian packages (debian/) from a copy of the tree, checks them
# with lintian, unpacks them into a scratch root and runs the quick start
# (contrib/quickstart.sh) against the unpacked programs and library, then
# compiles and runs a program against libotabundle-dev via pkg-config.
# Speaks TAP: one "ok"/"not ok" line per check; test/run.sh counts them.
#
#   test/debian-package.sh [WORKDIR]     (default: a new temporary directory)
#
# The packages are unpacked (dpkg -x), not installed: the check then needs no
# root, leaves the machine as it was (a developer's, or a CI machine whose
# /usr/bin/otabundle would otherwise be replaced), and cannot pick up an
# otabundle from elsewhere on the machine. PATH and LD_LIBRARY_PATH point
# into the scratch root, and the check proves the programs load the
# unpacked library. What installing adds (maintainer scripts) debhelper
# generates; lintian checks them.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/otabundle-deb.XXXXXX")}
mkdir -p "$WORK"
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
# check LABEL LOG COMMAND...: one TAP line; the log's tail when it fails.
check() {
	local label=$1 log=$2
	shift 2
	if "$@" >"$log" 2>&1; then
		ok "$label"
	else
		not_ok "$label (log: $log)"
		tail -n 40 "$log" | sed 's/^/# /'
		return 1
	fi
}
bail() { echo "1..$n"; exit 1; }

# A copy of what git tracks (and new files it does not ignore): the build
# writes debian/ build trees there and the .debs next to it, not in the tree.
SRC="$WORK/src"
rm -rf "$SRC" && mkdir -p "$SRC"
{ git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
	[ -e "$f" ] && printf '%s\n' "$f"
done | tar -cf - --no-recursion -T - | tar -xf - -C "$SRC"; } ||
	{ not_ok "copy the tree to $SRC"; bail; }

# nocheck: the package build runs no tests (debian/rules), this script does.
check "dpkg-buildpackage -us -uc -b" "$WORK/build.log" \
	env -C "$SRC" DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b || bail
rm -rf "$SRC" # the build tree; the .debs and logs stay
debs=()
for p in otabundle otabundle-install libotabundle0 libotabundle-dev; do
	debs+=("$(ls "$WORK"/${p}_*.deb)")
done

# Errors fail, warnings are shown in the log only.
check "lintian reports no errors" "$WORK/lintian.log" \
	lintian --fail-on error "$WORK"/otabundle_*.changes
grep -E '^[EW]: ' "$WORK/lintian.log" | sed 's/^/# /'

DEST="$WORK/root"
rm -rf "$DEST" && mkdir -p "$DEST"
for d in "${debs[@]}"; do
	dpkg -x "$d" "$DEST" || { not_ok "dpkg -x $d"; bail; }
done
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
LIBDIR="$DEST/usr/lib/$MULTIARCH"
export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

loads_unpacked_library() {
	local exe
	for exe in "$DEST/usr/bin/otabundle" "$DEST/usr/bin/otabundle-install"; do
		ldd "$exe" | grep -F "libotabundle.so.0 => $LIBDIR/libotabundle.so.0" || return 1
	done
}
check "the packaged programs load the packaged libotabundle.so.0" "$WORK/ldd.log" \
	loads_unpacked_library

check "contrib/quickstart.sh runs against the packaged programs" "$WORK/quickstart.log" \
	env PATH="$DEST/usr/bin:$PATH" OTABUNDLE_BINDIR="$DEST/usr/bin" TMPDIR="$WORK" contrib/quickstart.sh

# The .pc file names /usr; a copy of it names the scratch root instead (the
# dependencies' .pc files stay the machine's).
mkdir -p "$WORK/pkgconfig"
sed "s|^prefix=.*|prefix=$DEST/usr|" "$LIBDIR/pkgconfig/otabundle.pc" >"$WORK/pkgconfig/otabundle.pc"
cat >"$WORK/api.c" <<'C'
#include <otabundle/version.h>
#include <stdio.h>

int main(void)
{
	g_autoptr(GError) error = NULL;
	int result = 0;
	if (!ota_version_compare("1.0.0-rc.1", "1.0.0", &result, &error)) {
		fprintf(stderr, "%s\n", error->message);
		return 1;
	}
	return result < 0 ? 0 : 1;
}
C
compile_and_run() {
	local flags
	flags=$(PKG_CONFIG_PATH="$WORK/pkgconfig" pkg-config --cflags --libs otabundle) || return 1
	echo "cc api.c $flags"
	# shellcheck disable=SC2086 # pkg-config's flags are words
	cc -Wall -Wextra -Werror -o "$WORK/api" "$WORK/api.c" $flags && "$WORK/api"
}
check "a program builds against libotabundle-dev (pkg-config otabundle) and runs" \
	"$WORK/pkg-config.log" compile_and_run

echo "1..$n"
[ "$failed" -eq 0 ]
