#!/usr/bin/env bash
# Benchmark: bytes an adaptive update (adaptive=block-hash-index) downloads
# when 5 % of the blocks of an ext4 image changed, installed over HTTP from
# lighttpd on the loopback onto a simulated device (file-backed slots, the
# file bootloader backend) whose active slot holds the previous image.
#
# The images: version 1 is an ext4 file system of SIZE_MIB MiB made with
# `mkfs.ext4 -d` from a tree of files of 16 KiB to 4 MiB of incompressible
# data (about 80 % full). Version 2 is made the same way (same UUID, hash
# seed and time, so the same layout) from the same tree with whole files
# rewritten, chosen at random until 5 % of the image's blocks are in them:
# changes come in contiguous, file-sized runs, as a software update brings
# them. The script counts the 4 KiB blocks that really differ and says so.
#
# Prints the bytes the adaptive install downloaded (lighttpd's access log,
# and the install's own downloaded_bytes), the bundle size, and a full
# download: the same bundle installed on a device with nothing to reuse;
# with GNU time (/usr/bin/time), each install's peak RSS.
# Target: adaptive <= 10 % of the bundle size. Both slots are compared with
# the image afterwards.
#
# Usage: bench/adaptive-download.sh [SIZE_MIB] [PERCENT]  (default 1024 5)
#   BUILD_DIR=DIR  otabundle build directory (default: build/ in the source tree)
#   TMPDIR=DIR     where the work directory goes; it needs about 5 x SIZE_MIB
#   KEEP_LOGS=PREFIX  keep lighttpd's access logs (status, bytes, Range, path)
#                  as PREFIX.adaptive and PREFIX.full
#
# This is a report: it exits 0 even when the target is missed, and non-zero
# only when a command fails.
set -euo pipefail

SIZE_MIB=${1:-1024}
PERCENT=${2:-5}
case "$SIZE_MIB" in '' | *[!0-9]*) echo "SIZE_MIB must be a positive integer" >&2; exit 2 ;; esac
case "$PERCENT" in '' | *[!0-9]*) echo "PERCENT must be an integer" >&2; exit 2 ;; esac
[ "$SIZE_MIB" -ge 64 ] || { echo "SIZE_MIB must be at least 64" >&2; exit 2; }
[ "$PERCENT" -ge 1 ] && [ "$PERCENT" -le 50 ] || { echo "PERCENT must be 1..50" >&2; exit 2; }

# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_tools "$LIGHTTPD" /usr/sbin/mkfs.ext4
bench_build
bench_work_area otabundle-bench-adaptive
bench_pki

# --- the images ------------------------------------------------------------------
# keystream NAME BYTES: incompressible bytes (AES-CTR of zeros keyed by NAME),
# much faster than /dev/urandom.
keystream() {
	openssl enc -aes-128-ctr -nosalt -pass "pass:$1" -in /dev/zero 2>/dev/null | head -c "$2" || true
}

# The tree: files of 16 KiB .. 4 MiB (sizes from a fixed seed) up to about
# 80 % of the image, in a few directories.
tree="$tmp/tree"
mkdir -p "$tree"
python3 - "$tree" "$((SIZE_MIB * MiB * 8 / 10))" >"$tmp/files" <<'EOF'
import random, sys
root, budget = sys.argv[1], int(sys.argv[2])
rnd = random.Random(20)
total, n = 0, 0
while True:
    size = int(2 ** rnd.uniform(14, 22))  # 16 KiB .. 4 MiB, log-uniform
    if total + size > budget:
        break
    print(f"{root}/d{n % 16:02d}/f{n:05d}.bin {size}")
    total += size
    n += 1
EOF
while read -r path size; do
	mkdir -p "$(dirname "$path")"
	keystream "$path" "$size" >"$path"
done <"$tmp/files"
touch -d @1700000000 "$tree"/d*/* "$tree"/d* "$tree"

# mkext4 OUT: the tree as an ext4 image, the same layout for the same tree.
mkext4() {
	rm -f "$1"
	E2FSPROGS_FAKE_TIME=1700000000 /usr/sbin/mkfs.ext4 -q -F -b 4096 -d "$tree" \
		-U 6f0d3e52-4a1c-4f7a-9f55-0123456789ab -E hash_seed=6f0d3e52-4a1c-4f7a-9f55-0123456789ab,root_owner=0:0 \
		-L rootfs "$1" "${SIZE_MIB}M"
}
v1="$tmp/rootfs-v1.ext4"
mkext4 "$v1"

# Version 2: whole files rewritten until PERCENT % of the image's blocks are in them.
target_blocks=$((SIZE_MIB * MiB / 4096 * PERCENT / 100))
python3 - "$tmp/files" "$target_blocks" >"$tmp/changed" <<'EOF'
import random, sys
files = [line.split() for line in open(sys.argv[1])]
rnd = random.Random(21)
rnd.shuffle(files)
blocks = 0
for path, size in files:
    if blocks >= int(sys.argv[2]):
        break
    print(path, size)
    blocks += (int(size) + 4095) // 4096
EOF
while read -r path size; do
	keystream "v2:$path" "$size" >"$path"
done <"$tmp/changed"
touch -d @1700000000 "$tree"/d*/* "$tree"/d* "$tree"
v2_input="$tmp/input"
mkdir -p "$v2_input"
mkext4 "$v2_input/rootfs.ext4"
rm -rf "$tree"
changed_files=$(wc -l <"$tmp/changed")
read -r changed_blocks changed_runs <<<"$(python3 - "$v1" "$v2_input/rootfs.ext4" <<'EOF'
import sys
changed = runs = 0
previous = False
with open(sys.argv[1], "rb") as a, open(sys.argv[2], "rb") as b:
    while True:
        x, y = a.read(4096), b.read(4096)
        if not x and not y:
            break
        differ = x != y
        changed += differ
        runs += differ and not previous
        previous = differ
print(changed, runs)
EOF
)"

cat >"$v2_input/manifest.raucm" <<'EOF'
[update]
compatible=bench
version=2

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
adaptive=block-hash-index
EOF
htdocs="$tmp/htdocs"
mkdir -p "$htdocs"
bundle="$htdocs/update.raucb"
"$otabundle" create --cert "$pki/signer.pem" --key "$pki/signer.key" "$v2_input" "$bundle" \
	>/dev/null
bundle_size=$(stat -c %s "$bundle")

# --- the server ----------------------------------------------------------------
# One lighttpd per install, stopped before its access log is read: lighttpd
# writes the log in batches, and all of it when it exits.
bench_lighttpd_conf "$htdocs" 'server.modules += ("mod_accesslog")' \
	"accesslog.filename = \"$tmp/access.log\"" 'accesslog.format = "%s %b \"%{Range}i\" %U"'
start_server() {
	: >"$tmp/access.log"
	start_lighttpd
}
# stop_server: stops lighttpd (in the shell that started it, which alone can
# wait for it) and sets $served to the body bytes it sent.
stop_server() {
	kill "$lighttpd_pid"
	wait "$lighttpd_pid" 2>/dev/null || true
	lighttpd_pid=
	served=$(awk '{ if ($2 != "-") n += $2 } END { print n + 0 }' "$tmp/access.log")
}
url="$url_base/update.raucb"

# --- the device --------------------------------------------------------------
# install_from_url NAME: installs $url on the device; prints "SECONDS SERVED
# DOWNLOADED REUSED MAXRSS_KIB". With KEEP_LOGS=PREFIX, the access log is kept
# as PREFIX.NAME.
install_from_url() {
	local t0 t1 served rss=?
	local timer=()
	[ -x "$GNU_TIME" ] && timer=("$GNU_TIME" -v -o "$tmp/time.out")
	start_server
	t0=$EPOCHREALTIME
	if ! "${timer[@]}" "$install" --conf "$device/system.conf" --override-boot-slot=A --quiet \
		install "$url" >/dev/null 2>"$tmp/cmd.err"; then
		echo "install of $url failed:" >&2
		cat "$tmp/cmd.err" >&2
		exit 1
	fi
	t1=$EPOCHREALTIME
	[ -x "$GNU_TIME" ] && rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.out")
	stop_server
	if [ -n "${KEEP_LOGS:-}" ]; then cp "$tmp/access.log" "$KEEP_LOGS.$1"; fi
	cmp -s "$device/slots/rootfs.1" "$v2_input/rootfs.ext4" ||
		{ echo "slot B does not hold the new image" >&2; exit 1; }
	local bytes
	bytes=$("$install" --conf "$device/system.conf" --override-boot-slot=A status \
		--output-format=json | python3 -c 'import json, sys
r = json.load(sys.stdin)["results"][-1]
print(r.get("downloaded_bytes", "?"), r.get("reused_bytes", "?"))')
	awk -v a="$t0" -v b="$t1" -v s="$served" -v d="$bytes" -v m="$rss" \
		'BEGIN {printf "%.1f %s %s %s\n", b - a, s, d, m}'
}

bench_device "$v1"
cmp -s "$device/slots/rootfs.0" "$v1" || { echo "slot A changed" >&2; exit 1; }
read -r adaptive_s adaptive_served adaptive_downloaded adaptive_reused adaptive_rss \
	<<<"$(install_from_url adaptive)"
cmp -s "$device/slots/rootfs.0" "$v1" || { echo "the install changed the active slot" >&2; exit 1; }

# Nothing to reuse: the active slot holds unrelated data of the same size.
keystream unrelated "$((SIZE_MIB * MiB))" >"$tmp/unrelated"
bench_device "$tmp/unrelated"
rm -f "$tmp/unrelated" "$v1"
read -r full_s full_served full_downloaded full_reused full_rss <<<"$(install_from_url full)"

# --- report ----------------------------------------------------------------------
image_size=$(stat -c %s "$v2_input/rootfs.ext4")
echo "otabundle adaptive update (adaptive=block-hash-index) over HTTP, lighttpd on 127.0.0.1"
echo "image: ext4, $image_size bytes, about 80 % full of incompressible files"
echo "change: $changed_files whole files rewritten (file-sized contiguous runs, 16 KiB..4 MiB):"
awk -v c="$changed_blocks" -v r="$changed_runs" -v t="$((image_size / 4096))" 'BEGIN {
	printf "        %d of %d 4 KiB blocks differ (%.2f %%), in %d contiguous runs\n", c, t, 100 * c / t, r
}'
echo "bundle: $bundle_size bytes (verity, zstd)"
printf '%-30s %12s %14s %12s %8s %9s\n' "" "served (B)" "downloaded (B)" "reused (B)" \
	"time (s)" "RSS (KiB)"
printf '%-30s %12s %14s %12s %8s %9s\n' "adaptive, active slot = v1" "$adaptive_served" \
	"$adaptive_downloaded" "$adaptive_reused" "$adaptive_s" "$adaptive_rss"
printf '%-30s %12s %14s %12s %8s %9s\n' "full download (nothing reused)" "$full_served" \
	"$full_downloaded" "$full_reused" "$full_s" "$full_rss"
awk -v a="$adaptive_served" -v b="$bundle_size" -v f="$full_served" 'BEGIN {
	printf "adaptive / bundle size: %.2f %% (target <= 10 %%: %s); adaptive / full download: %.2f %%\n",
		100 * a / b, (a <= b / 10 ? "met" : "MISSED"), 100 * a / f
}'
