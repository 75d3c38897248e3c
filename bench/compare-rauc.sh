#!/usr/bin/env bash
# Benchmark: otabundle against rauc (and, for verification, against the
# single-stream hashing limit, openssl dgst -sha256) on the same files, in
# one run: verify, info and resign of verity and plain bundles. Prints
# medians, pairwise ratios and peak memory.
#
# Usage: bench/compare-rauc.sh [SIZE_MIB]     (default 1024)
#   RUNS=N   number of measured pairs per comparison (default 5)
#
# This is a report: it exits 0 even when a target is missed, and non-zero
# only when a command fails.
set -euo pipefail

SIZE_MIB=${1:-1024}
RUNS=${RUNS:-5}
case "$SIZE_MIB" in '' | *[!0-9]* | 0) echo "SIZE_MIB must be a positive integer" >&2; exit 2 ;; esac
case "$RUNS" in '' | *[!0-9]* | 0) echo "RUNS must be a positive integer" >&2; exit 2 ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build="$src/build"
otabundle="$build/otabundle"
GNU_TIME=/usr/bin/time

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# --- tools -------------------------------------------------------------------
"$src/contrib/install-deps.sh" --tests
if [ ! -x "$GNU_TIME" ]; then
	echo "Installing: time"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time
fi

# --- otabundle ---------------------------------------------------------------
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$src" >/dev/null
fi
ninja -C "$build" >/dev/null

# --- work area ---------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-bench.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

pki="$tmp/pki"
mkdir -p "$pki"
cat >"$pki/openssl.cnf" <<'EOF'
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused
[v3_root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
EOF
{
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/root.key"
	openssl req -config "$pki/openssl.cnf" -new -x509 -key "$pki/root.key" -out "$pki/root.pem" \
		-subj "/O=otabundle bench/CN=bench root CA" -days 30 -sha256 -extensions v3_root
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/signer.key"
	openssl req -config "$pki/openssl.cnf" -new -key "$pki/signer.key" -out "$pki/signer.csr" \
		-subj "/O=otabundle bench/CN=bench signer" -sha256
	openssl x509 -req -in "$pki/signer.csr" -CA "$pki/root.pem" -CAkey "$pki/root.key" \
		-set_serial 2 -days 30 -sha256 -extfile "$pki/openssl.cnf" -extensions v3_leaf \
		-out "$pki/signer.pem"
	# The release key a resign moves to: a self-signed leaf is its own keyring.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$pki/release.key" -out "$pki/release.pem" -subj "/CN=bench release" \
		-days 30 -addext "keyUsage=critical,digitalSignature"
} >"$tmp/pki.log" 2>&1 || { cat "$tmp/pki.log" >&2; echo "PKI creation failed" >&2; exit 1; }
keyring="$pki/root.pem"

input="$tmp/input"
mkdir -p "$input"
cat >"$input/manifest.raucm" <<'EOF'
[update]
compatible=bench
version=1

[image.rootfs]
filename=rootfs.img
EOF
# Incompressible content; AES-CTR of zeros is much faster than /dev/urandom.
openssl enc -aes-128-ctr -nosalt -pass pass:x -in /dev/zero 2>/dev/null |
	head -c "$((SIZE_MIB * 1024 * 1024))" >"$input/rootfs.img" || true
[ "$(stat -c %s "$input/rootfs.img")" -eq "$((SIZE_MIB * 1024 * 1024))" ] ||
	{ echo "could not create rootfs.img" >&2; exit 1; }

verity="$tmp/verity.raucb"
plain="$tmp/plain.raucb"
sign=(--cert "$pki/signer.pem" --key "$pki/signer.key")
# Uncompressed squashfs keeps creation quick; the benchmark is about verification.
"$otabundle" create --format=verity --mksquashfs-args "-noI -noD -noF -noX" "${sign[@]}" \
	"$input" "$verity" >/dev/null
"$otabundle" create --format=plain --mksquashfs-args "-noI -noD -noF -noX" "${sign[@]}" \
	"$input" "$plain" >/dev/null
rm -f "$input/rootfs.img"

# --- header ------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
buildtype=$(meson introspect "$build" --buildoptions 2>/dev/null |
	/usr/bin/python3 -c 'import json, sys
print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"), "?"))' ||
	echo "?")
echo "otabundle verify/info benchmark"
echo "  machine:   $(nproc) CPUs, ${cpu:-unknown CPU}, $mem RAM"
echo "  kernel:    $(uname -srm)"
echo "  otabundle: $(git -C "$src" describe --always --dirty 2>/dev/null || echo "?") (buildtype $buildtype)"
echo "  rauc:      $(rauc --version 2>&1 | head -n 1)"
echo "  openssl:   $(openssl version)"
echo "  image:     $SIZE_MIB MiB incompressible rootfs.img, uncompressed squashfs"
echo "  bundles:   verity $(($(stat -c %s "$verity") / 1048576)) MiB, plain $(($(stat -c %s "$plain") / 1048576)) MiB"
echo "  runs:      $RUNS pairs per comparison, alternating order, warm page cache"
echo

# --- measurements ------------------------------------------------------------
# measure OUT SIDE CMD...: runs CMD under GNU time and appends
# "SIDE WALL_S MAXRSS_KIB" to OUT. WALL_S comes from bash's microsecond clock,
# since %e only has 10 ms resolution, too coarse for info; %M is GNU time's.
measure() {
	local out=$1 side=$2 t0 t1 rss
	shift 2
	t0=$EPOCHREALTIME
	if ! "$GNU_TIME" -f '%e %M' -o "$tmp/time.out" "$@" >/dev/null 2>"$tmp/cmd.err"; then
		echo "command failed: $*" >&2
		cat "$tmp/cmd.err" "$tmp/time.out" >&2 2>/dev/null || true
		exit 1
	fi
	t1=$EPOCHREALTIME
	read -r _ rss <"$tmp/time.out"
	echo "$side $t0 $t1 $rss" >>"$out"
}

# compare ID: runs RUNS pairs of the commands in arrays A_ID and B_ID.
compare() {
	local id=$1 i
	local -n a="A_$id" b="B_$id"
	: >"$tmp/res.$id"
	# One unmeasured pair first: loads binaries and libraries into the cache.
	measure "$tmp/warmup" a "${a[@]}"
	measure "$tmp/warmup" b "${b[@]}"
	for ((i = 0; i < RUNS; i++)); do
		if ((i % 2 == 0)); then
			measure "$tmp/res.$id" a "${a[@]}"
			measure "$tmp/res.$id" b "${b[@]}"
		else
			measure "$tmp/res.$id" b "${b[@]}"
			measure "$tmp/res.$id" a "${a[@]}"
		fi
	done
}

# shellcheck disable=SC2034  # used through namerefs in compare()
{
	A_vverify=("$otabundle" verify --keyring "$keyring" "$verity")
	B_vverify=(openssl dgst -sha256 "$verity")
	A_vinfo=("$otabundle" info --keyring "$keyring" "$verity")
	B_vinfo=(rauc info --keyring "$keyring" "$verity")
	A_pverify=("$otabundle" verify --keyring "$keyring" "$plain")
	B_pverify=(openssl dgst -sha256 "$plain")
	A_pinfo=("$otabundle" info --keyring "$keyring" "$plain")
	B_pinfo=(rauc info --keyring "$keyring" "$plain")
	# Each side removes its previous output inside the timed command.
	for f in verity plain; do
		src="$tmp/$f.raucb"
		declare -n A_ref="A_${f:0:1}resign" B_ref="B_${f:0:1}resign"
		A_ref=(bash -c 'rm -f "$1" && "$0" resign --keyring "$2" --cert "$3" --key "$4" "$5" "$1" >/dev/null'
		       "$otabundle" "$tmp/ota-$f.raucb" "$keyring" "$pki/release.pem" "$pki/release.key" "$src")
		B_ref=(bash -c 'rm -f "$1" && rauc resign --keyring "$2" --signing-keyring "$3" --cert "$3" --key "$4" "$5" "$1" 2>/dev/null'
		       rauc "$tmp/rauc-$f.raucb" "$keyring" "$pki/release.pem" "$pki/release.key" "$src")
		unset -n A_ref B_ref
	done
}

# Flush the freshly written bundles so that background writeback does not
# steal CPU during the measurements, then warm the page cache so that both
# sides read from memory.
sync
cat "$verity" "$plain" >/dev/null

ids=(vverify vinfo pverify pinfo vresign presign)
for id in "${ids[@]}"; do
	compare "$id"
done

# --- report ------------------------------------------------------------------
/usr/bin/python3 - "$tmp" "$RUNS" <<'EOF'
import statistics, sys

tmp, runs = sys.argv[1], int(sys.argv[2])
# id, bundle, otabundle command, reference, time target (ratio), RSS target (MiB)
rows = [
    ("vverify", "verity", "verify", "openssl dgst -sha256", 0.6, 64),
    ("vinfo",   "verity", "info",   "rauc info",           1.0, None),
    ("pverify", "plain",  "verify", "openssl dgst -sha256", None, None),
    ("pinfo",   "plain",  "info",   "rauc info",           None, None),
    ("vresign", "verity", "resign", "rauc resign",         0.2, 64),
    ("presign", "plain",  "resign", "rauc resign",         0.35, 64),
]

def fmt_t(s):
    return f"{s:.3f} s" if s >= 0.1 else f"{s * 1000:.1f} ms"

hdr = ("bundle", "otabundle", "reference", "otab time", "ref time", "ratio",
       "range", "otab RSS", "ref RSS", "target", "result")
table = [hdr]
for rid, bundle, cmd, ref, t_target, m_target in rows:
    a, b = [], []
    for line in open(f"{tmp}/res.{rid}"):
        side, t0, t1, rss = line.split()
        (a if side == "a" else b).append((float(t1) - float(t0), int(rss)))
    ratios = [x[0] / y[0] for x, y in zip(a, b)]
    ta = statistics.median(x[0] for x in a)
    tb = statistics.median(y[0] for y in b)
    ratio = statistics.median(ratios)
    ma = max(x[1] for x in a) / 1024
    mb = max(y[1] for y in b) / 1024
    targets, misses = [], []
    if t_target is not None:
        targets.append(f"ratio<={t_target:g}")
        if ratio > t_target:
            misses.append(f"ratio {ratio:.2f} > {t_target:g}")
    if m_target is not None:
        targets.append(f"RSS<{m_target}MiB")
        if ma >= m_target:
            misses.append(f"RSS {ma:.1f} >= {m_target} MiB")
    if targets:
        result = "PASS" if not misses else "MISS (" + ", ".join(misses) + ")"
    else:
        result = "info only"
    table.append((bundle, cmd, ref, fmt_t(ta), fmt_t(tb), f"{ratio:.2f}",
                  f"{min(ratios):.2f}-{max(ratios):.2f}",
                  f"{ma:.1f} MiB", f"{mb:.1f} MiB", ",".join(targets) or "-", result))

widths = [max(len(r[i]) for r in table) for i in range(len(hdr))]
right = {3, 4, 5, 6, 7, 8}
for n, r in enumerate(table):
    print("  ".join(c.rjust(w) if i in right else c.ljust(w)
                    for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    if n == 0:
        print("  ".join("-" * w for w in widths))
print()
print(f"times: median of {runs} runs (wall clock); ratio: median of the {runs} pairwise")
print("otabundle/reference ratios, range: their min-max;")
print("RSS: peak resident set over all runs (GNU time %M).")
EOF
