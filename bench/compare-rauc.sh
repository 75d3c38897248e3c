#!/usr/bin/env bash
# Benchmark: otabundle against rauc (and, for verification, against the
# single-stream hashing limit, openssl dgst -sha256) on the same files, in
# one run: create, info, verify, resign and extract of verity and plain
# bundles. Prints medians, pairwise ratios and peak memory.
#
# Usage: bench/compare-rauc.sh [SIZE_MIB]     (default 1024, at least 16)
#   RUNS=N         measured pairs per comparison (default 5)
#   CREATE_RUNS=N  measured pairs per create comparison (default 3; they are slow)
#   OPS="ID ..."   comparisons to run (default all):
#                  cgzip czstd cdefault vinfo pinfo vverify pverify
#                  vresign presign vextract pextract eextract everity
#   BUILD_DIR=DIR  otabundle build directory (default: build/ in the source tree)
#   TMPDIR=DIR     where the work directory goes (inputs, bundles, outputs)
#
# This is a report: it exits 0 even when a target is missed, and non-zero
# only when a command fails.

# The timed bash -c scripts get their arguments as positional parameters, so
# their $1... are meant to stay unexpanded here:
# shellcheck disable=SC2016
set -euo pipefail

ALL_OPS="cgzip czstd cdefault vinfo pinfo vverify pverify vresign presign vextract pextract eextract everity"
SIZE_MIB=${1:-1024}
RUNS=${RUNS:-5}
CREATE_RUNS=${CREATE_RUNS:-3}
OPS=${OPS:-$ALL_OPS}

positive() { case "$2" in '' | *[!0-9]* | 0) echo "$1 must be a positive integer" >&2; exit 2 ;; esac; }
positive SIZE_MIB "$SIZE_MIB"
positive RUNS "$RUNS"
positive CREATE_RUNS "$CREATE_RUNS"
# appfs.img is SIZE_MIB/4 and must hold at least one data and one zero chunk.
[ "$SIZE_MIB" -ge 16 ] || { echo "SIZE_MIB must be at least 16" >&2; exit 2; }
read -r -a wanted <<<"$OPS"
for id in "${wanted[@]}"; do
	case " $ALL_OPS " in *" $id "*) ;; *) echo "unknown operation in OPS: $id (known: $ALL_OPS)" >&2; exit 2 ;; esac
done
# ops: the selected ids, in the order of ALL_OPS (the report's order).
ops=()
for id in $ALL_OPS; do
	case " ${wanted[*]} " in *" $id "*) ops+=("$id") ;; esac
done
[ ${#ops[@]} -gt 0 ] || { echo "OPS is empty" >&2; exit 2; }
# selected PATTERN: whether any selected operation id matches the glob.
# shellcheck disable=SC2053  # $1 is a glob on purpose
selected() { local id; for id in "${ops[@]}"; do [[ $id == $1 ]] && return 0; done; return 1; }

# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_tools --time
bench_build
bench_work_area otabundle-bench
out="$tmp/out" # outputs of the timed commands, emptied after each comparison
mkdir -p "$out"

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
[v3_device]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyAgreement
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
	# The device an encrypted bundle is for (EC: ECDH key agreement).
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/device.key"
	openssl req -config "$pki/openssl.cnf" -new -key "$pki/device.key" -out "$pki/device.csr" \
		-subj "/O=otabundle bench/CN=bench device" -sha256
	openssl x509 -req -in "$pki/device.csr" -CA "$pki/root.pem" -CAkey "$pki/root.key" \
		-set_serial 3 -days 30 -sha256 -extfile "$pki/openssl.cnf" -extensions v3_device \
		-out "$pki/device.pem"
	# The release key a resign moves to: a self-signed leaf is its own keyring.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$pki/release.key" -out "$pki/release.pem" -subj "/CN=bench release" \
		-days 30 -addext "keyUsage=critical,digitalSignature"
} >"$tmp/pki.log" 2>&1 || { cat "$tmp/pki.log" >&2; echo "PKI creation failed" >&2; exit 1; }
keyring="$pki/root.pem"

# --- inputs ------------------------------------------------------------------
# keystream KEY MIB: writes MIB MiB of incompressible data to stdout. AES-CTR
# of zeros is much faster than /dev/urandom; a different KEY gives different
# data. head closing the pipe kills openssl with SIGPIPE, hence the || true;
# callers check the size.
keystream() {
	openssl enc -aes-128-ctr -nosalt -pass "pass:$1" -in /dev/zero 2>/dev/null |
		head -c "$(($2 * MiB))" || true
}

# half_zero MIB: writes MIB MiB to stdout, alternating 2 MiB of
# incompressible data with 2 MiB of zeros, data first.
half_zero() {
	local mib=$1 off n
	for ((off = 0; off < mib; off += 2)); do
		n=$((mib - off < 2 ? mib - off : 2))
		if ((off % 4 == 0)); then
			keystream "appfs-$off" "$n"
		else
			head -c "$((n * MiB))" /dev/zero
		fi
	done
}

# check_size FILE MIB
check_size() {
	[ "$(stat -c %s "$1")" -eq "$(($2 * MiB))" ] || { echo "could not create $1" >&2; exit 1; }
}

# write_manifest DIR FORMAT: both tools read the [bundle] format (rauc 1.8
# defaults to plain, otabundle to verity), so state it explicitly.
write_manifest() {
	cat >"$1/manifest.raucm" <<EOF
[update]
compatible=bench
version=1

[bundle]
format=$2

[image.rootfs]
filename=rootfs.img

[image.appfs]
filename=appfs.img
EOF
}

APPFS_MIB=$((SIZE_MIB / 4))
input_verity="$tmp/input-verity"
input_plain="$tmp/input-plain"
input_crypt="$tmp/input-crypt"
mkdir -p "$input_verity" "$input_plain" "$input_crypt"
keystream rootfs "$SIZE_MIB" >"$input_verity/rootfs.img"
check_size "$input_verity/rootfs.img" "$SIZE_MIB"
half_zero "$APPFS_MIB" >"$input_verity/appfs.img"
check_size "$input_verity/appfs.img" "$APPFS_MIB"
# The plain input shares the images (hard links) and differs in the manifest.
ln "$input_verity/rootfs.img" "$input_verity/appfs.img" "$input_plain/"
ln "$input_verity/rootfs.img" "$input_verity/appfs.img" "$input_crypt/"
write_manifest "$input_verity" verity
write_manifest "$input_plain" plain
write_manifest "$input_crypt" crypt

# --- bundles for info, verify, resign and extract ----------------------------
# Made by otabundle create with its default settings, and read by both sides.
verity="$tmp/verity.raucb"
plain="$tmp/plain.raucb"
sign=(--cert "$pki/signer.pem" --key "$pki/signer.key")
if selected 'v*' || selected everity; then
	"$otabundle" create "${sign[@]}" "$input_verity" "$verity" >/dev/null
fi
# Encrypted: a crypt bundle, then encrypted for the bench device, as
# `rauc encrypt` would.
encrypted="$tmp/encrypted.raucb"
if selected 'e*'; then
	"$otabundle" create "${sign[@]}" "$input_crypt" "$tmp/crypt.raucb" >/dev/null
	"$otabundle" encrypt --keyring "$keyring" --to "$pki/device.pem" "$tmp/crypt.raucb" \
		"$encrypted" >/dev/null
	rm -f "$tmp/crypt.raucb"
fi
if selected 'p*'; then
	"$otabundle" create "${sign[@]}" "$input_plain" "$plain" >/dev/null
fi

# squashfs_compressor FILE: the compressor of the squashfs image a bundle
# starts with, and for gzip and zstd its level, e.g. "zstd-3". Reads the
# little-endian superblock with od (so it assumes a little-endian host).
squashfs_compressor() {
	local file=$1 id flags hdr name default="" level
	id=$(od -An -tu2 -j20 -N2 "$file")
	flags=$(od -An -tu2 -j24 -N2 "$file")
	case $((id)) in
	1) name=gzip default=9 ;;
	2) name=lzma ;;
	3) name=lzo ;;
	4) name=xz ;;
	5) name=lz4 ;;
	6) name=zstd default=15 ;;
	*) name="compressor-$((id))" ;;
	esac
	[ -n "$default" ] || { echo "$name"; return; }
	# mksquashfs stores compressor options (superblock flag 0x0400) only when
	# they differ from its defaults. They follow the 96-byte superblock as a
	# metadata block: a 2-byte header (0x8000: stored uncompressed), then,
	# for gzip and zstd, the level as the first 32-bit field.
	level=$default
	if (((flags & 0x0400) != 0)); then
		hdr=$(od -An -tu2 -j96 -N2 "$file")
		if (((hdr & 0x8000) != 0)); then
			level=$(($(od -An -tu4 -j98 -N4 "$file")))
		else
			level="?"
		fi
	fi
	echo "$name-$level"
}

# --- header ------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
buildtype=$(meson introspect "$build" --buildoptions 2>/dev/null |
	/usr/bin/python3 -c 'import json, sys
print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"), "?"))' ||
	echo "?")
# bundle_desc NAME FILE
bundle_desc() {
	[ -f "$2" ] || return 0
	if [ "$1" = encrypted ]; then
		echo "$1 $(($(stat -c %s "$2") / MiB)) MiB (crypt; default compressor; one EC recipient)"
	else
		echo "$1 $(($(stat -c %s "$2") / MiB)) MiB ($(squashfs_compressor "$2"))"
	fi
}
# field LABEL TEXT...: one aligned header line.
field() { printf '  %-11s %s\n' "${1:+$1:}" "${*:2}"; }
echo "otabundle vs rauc benchmark"
field machine "$(nproc) CPUs, ${cpu:-unknown CPU}, $mem RAM"
field kernel "$(uname -srm)"
field otabundle "$(git -C "$src" describe --always --dirty 2>/dev/null || echo "?")" \
	"(buildtype $buildtype, $build)"
field rauc "$(rauc --version 2>&1 | head -n 1)"
field openssl "$(openssl version)"
field mksquashfs "$(mksquashfs -version 2>&1 | head -n 1)"
field images "rootfs.img $SIZE_MIB MiB incompressible;" \
	"appfs.img $APPFS_MIB MiB half zero (2 MiB data, 2 MiB zeros, ...)"
if selected 'v*' || selected 'p*' || selected 'e*'; then
	field bundles "$( (bundle_desc verity "$verity"; bundle_desc plain "$plain"; bundle_desc encrypted "$encrypted") | paste -sd, | sed 's/,/, /g'):" \
		"made by otabundle create with its default compressor"
fi
field runs "$RUNS measured pairs per comparison, $CREATE_RUNS per create comparison;"
field "" "one warm-up pair first; alternating order; warm page cache"
field ops "${ops[*]}"
echo

# --- measurements ------------------------------------------------------------
# measure RES SIDE CMD...: runs CMD under GNU time and appends
# "SIDE T0 T1 MAXRSS_KIB" to RES. The wall time comes from bash's microsecond
# clock, since %e only has 10 ms resolution, too coarse for info; %M is GNU
# time's, the peak RSS of the largest process in the tree (for create, that
# is mksquashfs).
measure() {
	local res=$1 side=$2 t0 t1 rss
	shift 2
	t0=$EPOCHREALTIME
	if ! "$GNU_TIME" -f '%e %M' -o "$tmp/time.out" "$@" >/dev/null 2>"$tmp/cmd.err"; then
		echo "command failed: $*" >&2
		cat "$tmp/cmd.err" "$tmp/time.out" >&2 2>/dev/null || true
		exit 1
	fi
	t1=$EPOCHREALTIME
	read -r _ rss <"$tmp/time.out"
	echo "$side $t0 $t1 $rss" >>"$res"
}

# compare ID N: runs N pairs of the commands in arrays A_ID (otabundle) and
# B_ID (reference).
compare() {
	local id=$1 n=$2 i
	local -n a="A_$id" b="B_$id"
	: >"$tmp/res.$id"
	# One unmeasured pair first: loads binaries and libraries into the cache.
	measure "$tmp/warmup" a "${a[@]}"
	measure "$tmp/warmup" b "${b[@]}"
	for ((i = 0; i < n; i++)); do
		if ((i % 2 == 0)); then
			measure "$tmp/res.$id" a "${a[@]}"
			measure "$tmp/res.$id" b "${b[@]}"
		else
			measure "$tmp/res.$id" b "${b[@]}"
			measure "$tmp/res.$id" a "${a[@]}"
		fi
	done
}

# Every timed command that writes removes its previous output first, inside
# the timed command, so both sides pay for the removal alike.

# def_create ID OTABUNDLE_OPTION RAUC_OPTION: create a verity bundle from the
# same input; an empty option is left out.
def_create() {
	local id=$1
	declare -ga "A_$id" "B_$id"
	# shellcheck disable=SC2178  # namerefs to the arrays
	local -n a="A_$id" b="B_$id"
	a=(bash -c 'rm -f "$1" && "$0" create ${2:+"$2"} --cert "$3" --key "$4" "$5" "$1"'
	   "$otabundle" "$out/ota.raucb" "$2" "$pki/signer.pem" "$pki/signer.key" "$input_verity")
	b=(bash -c 'rm -f "$1" && rauc bundle ${2:+"$2"} --cert "$3" --key "$4" "$5" "$1"'
	   rauc "$out/rauc.raucb" "$3" "$pki/signer.pem" "$pki/signer.key" "$input_verity")
}

# def_read ID BUNDLE OTABUNDLE_COMMAND REFERENCE...: a command that only
# reads the bundle, against REFERENCE run on the same bundle.
def_read() {
	local id=$1 bundle=$2 cmd=$3
	shift 3
	declare -ga "A_$id" "B_$id"
	# shellcheck disable=SC2178  # namerefs to the arrays
	local -n a="A_$id" b="B_$id"
	a=("$otabundle" "$cmd" --keyring "$keyring" "$bundle")
	b=("$@" "$bundle")
}

# def_resign ID BUNDLE: move the bundle to the release key.
def_resign() {
	local id=$1 bundle=$2
	declare -ga "A_$id" "B_$id"
	# shellcheck disable=SC2178  # namerefs to the arrays
	local -n a="A_$id" b="B_$id"
	a=(bash -c 'rm -f "$1" && "$0" resign --keyring "$2" --cert "$3" --key "$4" "$5" "$1" >/dev/null'
	   "$otabundle" "$out/ota.raucb" "$keyring" "$pki/release.pem" "$pki/release.key" "$bundle")
	b=(bash -c 'rm -f "$1" && rauc resign --keyring "$2" --signing-keyring "$3" --cert "$3" --key "$4" "$5" "$1" 2>/dev/null'
	   rauc "$out/rauc.raucb" "$keyring" "$pki/release.pem" "$pki/release.key" "$bundle")
}

# def_extract ID BUNDLE: both sides extract the same bundle into a new
# directory (otabundle refuses a non-empty one).
def_extract() {
	local id=$1 bundle=$2
	declare -ga "A_$id" "B_$id"
	# shellcheck disable=SC2178  # namerefs to the arrays
	local -n a="A_$id" b="B_$id"
	a=(bash -c 'rm -rf "$1" && "$0" extract --keyring "$2" "$3" "$1"'
	   "$otabundle" "$out/ota" "$keyring" "$bundle")
	b=(bash -c 'rm -rf "$1" && rauc extract --keyring "$2" "$3" "$1"'
	   rauc "$out/rauc" "$keyring" "$bundle")
}

# def_extract_encrypted ID: both sides decrypt with the device key and
# extract the encrypted bundle. rauc 1.8 leaves the whole decrypted payload
# in $TMPDIR (otabundle leaves nothing): its TMPDIR is a directory of its own
# in the output area, removed inside the timed command, so rauc pays for the
# unlink of what it left.
def_extract_encrypted() {
	local id=$1
	declare -ga "A_$id" "B_$id"
	# shellcheck disable=SC2178  # namerefs to the arrays
	local -n a="A_$id" b="B_$id"
	a=(bash -c 'rm -rf "$1" && "$0" extract --keyring "$2" --key "$3" "$4" "$1"'
	   "$otabundle" "$out/ota" "$keyring" "$pki/device.key" "$encrypted")
	b=(bash -c 'rm -rf "$1" "$5" && mkdir "$5" && TMPDIR="$5" rauc extract --keyring "$2" --key "$3" "$4" "$1" && rm -rf "$5"'
	   rauc "$out/rauc" "$keyring" "$pki/device.key" "$encrypted" "$out/rauc-tmp")
}

# def_extract_own ID: the encrypted bundle's extract (as in eextract, defined
# first) against otabundle's own extract of the verity bundle of the same
# images: the cost of decryption.
def_extract_own() {
	local id=$1
	declare -ga "A_$id" "B_$id"
	# shellcheck disable=SC2178  # namerefs to the arrays
	local -n a="A_$id" b="B_$id"
	a=("${A_eextract[@]}")
	b=(bash -c 'rm -rf "$1" && "$0" extract --keyring "$2" "$3" "$1"'
	   "$otabundle" "$out/verity" "$keyring" "$verity")
}

def_create cgzip --compression=gzip ""
def_create czstd --compression=zstd "--mksquashfs-args=-comp zstd -Xcompression-level 3"
def_create cdefault "" ""
def_read vinfo "$verity" info rauc info --keyring "$keyring"
def_read pinfo "$plain" info rauc info --keyring "$keyring"
def_read vverify "$verity" verify openssl dgst -sha256
def_read pverify "$plain" verify openssl dgst -sha256
def_resign vresign "$verity"
def_resign presign "$plain"
def_extract vextract "$verity"
def_extract pextract "$plain"
def_extract_encrypted eextract
def_extract_own everity

# prepare ID: flush what earlier steps wrote, so that background writeback
# does not steal CPU or disk bandwidth during the measurements (creating
# and resigning write whole bundles), then warm the page cache with the
# operation's input so that both sides read from memory.
prepare() {
	sync
	case $1 in
	c*) cat "$input_verity/rootfs.img" "$input_verity/appfs.img" >/dev/null ;;
	v*) cat "$verity" >/dev/null ;;
	p*) cat "$plain" >/dev/null ;;
	eextract) cat "$encrypted" >/dev/null ;;
	everity) cat "$encrypted" "$verity" >/dev/null ;;
	esac
}

# finish ID: records which compressor each side's create used, then removes
# the outputs.
finish() {
	if [[ $1 == c* ]]; then
		echo "$(squashfs_compressor "$out/ota.raucb")/$(squashfs_compressor "$out/rauc.raucb")" \
			>"$tmp/comp.$1"
	fi
	rm -rf -- "${out:?}"/*
}

for id in "${ops[@]}"; do
	prepare "$id"
	if [[ $id == c* ]]; then n=$CREATE_RUNS; else n=$RUNS; fi
	compare "$id" "$n"
	finish "$id"
done

# --- report ------------------------------------------------------------------
/usr/bin/python3 - "$tmp" "$RUNS" "$CREATE_RUNS" "${ops[@]}" <<'EOF'
import os, statistics, sys

tmp, runs, create_runs, ops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
# id, bundle, otabundle command, reference, time target (ratio), RSS target (MiB)
rows = [
    ("cgzip",    "verity", "create gzip",    "rauc bundle",          0.85, 256),
    ("czstd",    "verity", "create zstd",    "rauc bundle",          0.6,  256),
    ("cdefault", "verity", "create default", "rauc bundle",          None, None),
    ("vinfo",    "verity", "info",           "rauc info",            1.0,  64),
    ("pinfo",    "plain",  "info",           "rauc info",            1.0,  64),
    ("vverify",  "verity", "verify",         "openssl dgst -sha256", 0.6,  64),
    ("pverify",  "plain",  "verify",         "openssl dgst -sha256", 1.05, 64),
    ("vresign",  "verity", "resign",         "rauc resign",          0.2,  64),
    ("presign",  "plain",  "resign",         "rauc resign",          0.35, 64),
    ("vextract", "verity", "extract",        "rauc extract",         0.8,  64),
    ("pextract", "plain",  "extract",        "rauc extract",         None, None),
    ("eextract", "encrypted", "extract --key", "rauc extract --key",   0.8,  64),
    ("everity",  "encrypted", "extract --key", "otabundle verity extract", 1.2, 64),
]

def fmt_t(s):
    return f"{s:.3f} s" if s >= 0.1 else f"{s * 1000:.1f} ms"

hdr = ("bundle", "otabundle", "reference", "compressor", "otab time", "ref time", "ratio",
       "range", "otab RSS", "ref RSS", "target", "result")
table = [hdr]
for rid, bundle, cmd, ref, t_target, m_target in rows:
    if rid not in ops:
        continue
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
    comp = "-"
    if os.path.exists(f"{tmp}/comp.{rid}"):
        comp = open(f"{tmp}/comp.{rid}").read().strip()
    targets, misses = [], []
    if t_target is not None:
        targets.append(f"ratio<={t_target:g}")
        if ratio > t_target:
            misses.append(f"ratio {ratio:.2f} > {t_target:g}")
    if m_target is not None:
        targets.append(f"RSS<={m_target}MiB")
        if ma > m_target:
            misses.append(f"RSS {ma:.1f} > {m_target} MiB")
    if targets:
        result = "PASS" if not misses else "MISS (" + ", ".join(misses) + ")"
    else:
        result = "info only"
    table.append((bundle, cmd, ref, comp, fmt_t(ta), fmt_t(tb), f"{ratio:.2f}",
                  f"{min(ratios):.2f}-{max(ratios):.2f}",
                  f"{ma:.1f} MiB", f"{mb:.1f} MiB", ",".join(targets) or "-", result))

widths = [max(len(r[i]) for r in table) for i in range(len(hdr))]
right = {4, 5, 6, 7, 8, 9}
for n, r in enumerate(table):
    print("  ".join(c.rjust(w) if i in right else c.ljust(w)
                    for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    if n == 0:
        print("  ".join("-" * w for w in widths))
print()
print(f"times: median of {runs} runs ({create_runs} for create; wall clock); ratio: median")
print("of the pairwise otabundle/reference ratios, range: their min-max;")
print("compressor: of the squashfs each create wrote, otabundle/rauc;")
print("RSS: peak resident set over all runs (GNU time %M: the largest process,")
print("for create that is mksquashfs).")
EOF
