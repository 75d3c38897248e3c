# shellcheck shell=sh
# shellcheck disable=SC2154,SC2034  # here comes from, otabundle goes to, the sourcing script
# Sourced by the example scripts, after they set EXAMPLE (their name, the
# prefix of their messages) and here (their directory): how they report,
# and which otabundle they run.

die() {
	echo "$EXAMPLE: $*" >&2
	exit 1
}

step() { printf '\n== %s\n' "$*"; }

# $OTABUNDLE if set, else the otabundle on PATH, else this tree's build.
if [ -n "${OTABUNDLE:-}" ]; then
	otabundle=$OTABUNDLE
elif command -v otabundle >/dev/null 2>&1; then
	otabundle=otabundle
elif [ -x "$here/../build/otabundle" ]; then
	otabundle=$here/../build/otabundle
else
	die "otabundle not found; build it (ninja -C build) or set OTABUNDLE"
fi
