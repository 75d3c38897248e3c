#!/usr/bin/env bash
# Benchmark: a streaming install from lighttpd on the loopback against a
# local-file install of the same verity bundle, on the same simulated
# device (file-backed slots, the file bootloader backend). One run of each,
# after a warm-up read of the bundle, so both read it from the page cache.
# Prints both wall times, their ratio (target: streaming <= 1.2x local),
# both peak RSS (GNU time's %M) and the bytes the streaming install
# downloaded.
#
# Usage: bench/stream-install.sh [SIZE_MIB]     (default 1024, at least 16)
#   BUILD_DIR=DIR  otabundle build directory (default: build/ in the source tree)
#   TMPDIR=DIR     where the work directory goes; it needs about 3 x SIZE_MIB
#
# This is a report: it exits 0 even when the target is missed, and non-zero
# only when a command fails.
set -euo pipefail

SIZE_MIB=${1:-1024}
case "$SIZE_MIB" in '' | *[!0-9]*) echo "SIZE_MIB must be a positive integer" >&2; exit 2 ;; esac
[ "$SIZE_MIB" -ge 16 ] || { echo "SIZE_MIB must be at least 16" >&2; exit 2; }

# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_tools --time "$LIGHTTPD"
bench_build
bench_work_area otabundle-bench-stream
bench_pki

# --- the bundle ----------------------------------------------------------------
# AES-CTR of zeros: incompressible and much faster than /dev/urandom. Stored
# uncompressed (as incompressible data would be), so create is quick.
input="$tmp/input"
mkdir -p "$input"
openssl enc -aes-128-ctr -nosalt -pass pass:rootfs -in /dev/zero 2>/dev/null |
	head -c "$((SIZE_MIB * MiB))" >"$input/rootfs.img" || true
[ "$(stat -c %s "$input/rootfs.img")" -eq "$((SIZE_MIB * MiB))" ] ||
	{ echo "could not create rootfs.img" >&2; exit 1; }
cat >"$input/manifest.raucm" <<'EOF'
[update]
compatible=bench
version=1

[image.rootfs]
filename=rootfs.img
EOF
htdocs="$tmp/htdocs"
mkdir -p "$htdocs"
bundle="$htdocs/update.raucb"
"$otabundle" create --cert "$pki/signer.pem" --key "$pki/signer.key" \
	"--mksquashfs-args=-noI -noD -noF -noX" "$input" "$bundle" >/dev/null
rm -f "$input/rootfs.img"
bundle_size=$(stat -c %s "$bundle")

# --- the server ----------------------------------------------------------------
bench_lighttpd_conf "$htdocs"
start_lighttpd
url="$url_base/update.raucb"

# --- the device --------------------------------------------------------------
# measure SOURCE: installs SOURCE on a fresh device under GNU time; prints
# "SECONDS MAXRSS_KIB" (the wall time from bash's microsecond clock).
measure() {
	local source=$1 t0 t1 rss
	# shellcheck disable=SC2119 # no ACTIVE: the same device for each install
	bench_device
	t0=$EPOCHREALTIME
	if ! "$GNU_TIME" -v -o "$tmp/time.out" "$install" --conf "$device/system.conf" \
		--override-boot-slot=A --quiet install "$source" >/dev/null 2>"$tmp/cmd.err"; then
		echo "install of $source failed:" >&2
		cat "$tmp/cmd.err" >&2
		exit 1
	fi
	t1=$EPOCHREALTIME
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.out")
	awk -v a="$t0" -v b="$t1" -v rss="$rss" 'BEGIN {printf "%.3f %s\n", b - a, rss}'
}

cat "$bundle" >/dev/null # warm the page cache for both
result=$(measure "$bundle")
read -r local_s local_rss <<<"$result"
local_sum=$(sha256sum <"$device/slots/rootfs.1")
result=$(measure "$url")
read -r stream_s stream_rss <<<"$result"
stream_sum=$(sha256sum <"$device/slots/rootfs.1")
[ "$local_sum" = "$stream_sum" ] || { echo "the two installs wrote different slots" >&2; exit 1; }
downloaded=$("$install" --conf "$device/system.conf" --override-boot-slot=A status \
	--output-format=json | python3 -c 'import json, sys
r = json.load(sys.stdin)["results"][-1]
print(r.get("downloaded_bytes", "?"))')

# --- report ----------------------------------------------------------------------
echo "otabundle streaming install vs local install, verity bundle of $SIZE_MIB MiB image"
echo "(bundle $bundle_size bytes, lighttpd on 127.0.0.1, one run each, warm page cache)"
printf '%-8s %10s %14s\n' "" "time (s)" "peak RSS (KiB)"
printf '%-8s %10s %14s\n' local "$local_s" "$local_rss"
printf '%-8s %10s %14s\n' stream "$stream_s" "$stream_rss"
awk -v s="$stream_s" -v l="$local_s" 'BEGIN {
	r = s / l
	printf "ratio    %.2fx (target <= 1.20x: %s)\n", r, (r <= 1.2 ? "met" : "MISSED")
}'
echo "downloaded $downloaded bytes (bundle: $bundle_size)"
