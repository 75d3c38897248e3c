#!/usr/bin/env bash
# Regenerates the generated seed corpora: corpus/bundle (tiny bundles made
# with `otabundle create`, signed by a leaf of the fuzz-bundle target's fixed
# root, so that they verify inside the target), corpus/verity (valid
# layouts for fuzz-verity's input format) and corpus/crypt (fuzz-crypt's).
# corpus/manifest and corpus/config are written by hand. The output is not
# byte-for-byte reproducible (salts, keys, signatures, timestamps), so run
# this only when a format changes.
#
#   test/fuzz/make-corpus.sh [BUILDDIR]     default: build
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${1:-build}
OUT=test/fuzz/corpus
ninja -C "$BUILD" otabundle test/fuzz/fuzz-bundle-replay >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The replay program runs the target's initialisation, which exports the PKI.
: >"$work/empty"
OTABUNDLE_FUZZ_EXPORT_PKI="$work" "$BUILD/test/fuzz/fuzz-bundle-replay" "$work/empty" >/dev/null

# bundle NAME FORMAT [otabundle create options...]: packs $work/in/NAME.
bundle() {
	local name=$1 format=$2
	shift 2
	"$BUILD/otabundle" create --format="$format" --cert "$work/signer1.pem" \
		--key "$work/signer1.key" "$@" "$work/in/$name" "$OUT/bundle/$name-$format.raucb"
}

mkdir -p "$work/in/minimal" "$work/in/full" "$work/in/two-images" "$OUT/bundle" "$OUT/verity"
rm -f "$OUT"/bundle/*.raucb

printf 'x' >"$work/in/minimal/rootfs.img"
cat >"$work/in/minimal/manifest.raucm" <<'M'
[update]
compatible=fuzz
version=1
[image.rootfs]
filename=rootfs.img
M

printf 'y' >"$work/in/full/rootfs.img"
printf '#!/bin/sh\nexit 0\n' >"$work/in/full/hook.sh"
cat >"$work/in/full/manifest.raucm" <<'M'
[update]
compatible=fuzz
version=2024.06.1
description=every field
build=20240601
[hooks]
filename=hook.sh
hooks=install-check
[image.rootfs]
filename=rootfs.img
hooks=pre-install;post-install
[meta.otabundle]
security-version=3
expires=2124-01-01T00:00:00Z
min-installed-version=1
hardware-revisions=rev-a;rev-b
[meta.vendor]
label=fuzz seed
M

printf 'a' >"$work/in/two-images/rootfs.img"
printf 'bb' >"$work/in/two-images/appfs.img"
cat >"$work/in/two-images/manifest.raucm" <<'M'
[update]
compatible=fuzz
version=3
[image.rootfs]
filename=rootfs.img
[image.appfs]
filename=appfs.img
M

bundle minimal plain
bundle minimal verity
bundle minimal crypt
bundle full plain
bundle full verity
bundle two-images verity --cert "$work/signer2.pem" --key "$work/signer2.key"
bundle two-images plain --cert "$work/signer2.pem" --key "$work/signer2.key" \
	--signer-encoding=signer-infos
# Other decompressors in libsquashfs.
mkdir -p "$work/in/xz" "$work/in/zstd"
cp "$work/in/minimal"/* "$work/in/xz"
cp "$work/in/minimal"/* "$work/in/zstd"
bundle xz plain --mksquashfs-args "-comp xz"
bundle zstd verity --mksquashfs-args "-comp zstd"

# RFC 3161 tokens on both signers of a nested pair, from a throw-away TSA
# (its certificate: timeStamping, critical), added as an offline signing
# room adds them.
timestamped() {
	cat >"$work/tsa.cnf" <<EOF
[v3_tsa]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = critical,timeStamping
[tsa]
default_tsa = fuzz
[fuzz]
serial = $work/tsaserial
signer_cert = $work/tsa.pem
signer_key = $work/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
ess_cert_id_alg = sha256
EOF
	echo 01 >"$work/tsaserial"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=fuzz TSA" \
		-keyout "$work/tsa.key" -out "$work/tsa.pem" -days 36500 -config "$work/tsa.cnf" \
		-extensions v3_tsa 2>/dev/null
	"$BUILD/otabundle" create --cert "$work/signer1.pem" --key "$work/signer1.key" \
		--cert "$work/signer2.pem" --key "$work/signer2.key" "$work/in/minimal" \
		"$work/stamp0.raucb" >/dev/null
	for n in 1 2; do
		"$BUILD/otabundle" timestamp-request --signer "$n" "$work/stamp$((n - 1)).raucb" \
			"$work/$n.tsq" >/dev/null
		openssl ts -reply -config "$work/tsa.cnf" -queryfile "$work/$n.tsq" \
			-out "$work/$n.tsr" 2>/dev/null
		"$BUILD/otabundle" add-timestamp "$work/stamp$((n - 1)).raucb" "$work/$n.tsr" \
			"$work/stamp$n.raucb" >/dev/null
	done
	cp "$work/stamp2.raucb" "$OUT/bundle/timestamped-verity.raucb"
}
timestamped

# fuzz-verity inputs: see the layout in fuzz-verity.c.
rm -f "$OUT"/verity/*
python3 - "$OUT/verity" <<'PY'
import hashlib, os, struct, sys

BLOCK = 4096
out = sys.argv[1]

def tree(data, salt):
    """dm-verity v1, SHA-256, top level first; returns (root, tree bytes)."""
    levels = []
    blocks = [data[i:i + BLOCK] for i in range(0, len(data), BLOCK)]
    while True:
        digests = [hashlib.sha256(salt + b).digest() for b in blocks]
        level = b"".join(digests)
        level += b"\0" * (-len(level) % BLOCK)
        levels.append(level)
        blocks = [level[i:i + BLOCK] for i in range(0, len(level), BLOCK)]
        if len(blocks) == 1:
            return hashlib.sha256(salt + blocks[0]).digest(), b"".join(reversed(levels))

FIT_DATA, TREE_SIZE, TREE_AFTER_DATA, COMPACT = 1, 2, 4, 8

def header(salt, root, data_size, tree_size, tree_offset, flags, read_offset, read_len):
    return (salt + root + struct.pack("<QQQBQH", data_size, tree_size, tree_offset, flags,
                                      read_offset, read_len))

def seed(name, n_blocks, compact, flags, fill=lambda i: bytes([i * 37 % 256]) * BLOCK,
         read=(0, 16)):
    salt = hashlib.sha256(name.encode()).digest()
    data = b"".join(fill(i) for i in range(n_blocks))
    root, t = tree(data, salt)
    if compact:
        body = struct.pack("<H", n_blocks) + bytes(data[i * BLOCK] for i in range(n_blocks)) + t
    else:
        body = data + t
    flags |= COMPACT if compact else 0
    h = header(salt, root, len(data), len(t), len(data), flags, *read)
    with open(os.path.join(out, name), "wb") as f:
        f.write(h + body)

# Explicit parameters, the file laid out as in a bundle.
seed("two-blocks", 2, False, 0, read=(4000, 200))
seed("five-blocks-random", 5, False, 0, fill=lambda i: os.urandom(BLOCK), read=(8192, 4096))
# Parameters derived by the harness.
seed("three-blocks-derived", 3, False, FIT_DATA | TREE_SIZE | TREE_AFTER_DATA)
seed("twelve-blocks", 12, False, TREE_SIZE | TREE_AFTER_DATA, read=(12 * BLOCK - 10, 20))
# Two hash levels (more than 128 data blocks), compact.
seed("two-levels-compact", 200, True, 0, read=(150 * BLOCK, 4096))
seed("two-levels-derived", 300, True, FIT_DATA | TREE_SIZE | TREE_AFTER_DATA,
     fill=lambda i: bytes([i % 7]) * BLOCK, read=(129 * BLOCK - 1, 2))
PY

# fuzz-crypt inputs: see the layout in fuzz-crypt.c.
mkdir -p "$OUT/crypt" "$work/in/crypt"
rm -f "$OUT"/crypt/*
printf '[update]\ncompatible=fuzz\n[bundle]\nformat=crypt\n[image.rootfs]\nfilename=rootfs.img\n' \
	>"$work/in/crypt/manifest.raucm"
printf 'z' >"$work/in/crypt/rootfs.img"
mksquashfs "$work/in/crypt" "$work/crypt.sqfs" -quiet -all-root -noappend -comp gzip >/dev/null
python3 - "$OUT/crypt" "$work/crypt.sqfs" <<'PY'
import os, struct, subprocess, sys

SECTOR = 4096
out, squashfs = sys.argv[1], open(sys.argv[2], "rb").read()
ENCRYPT_BODY = 1
key = bytes(range(32))

def encrypt(plaintext):
    """aes-cbc-plain64 per 4 KiB sector, by openssl enc (not otabundle)."""
    cipher = b""
    for n in range(len(plaintext) // SECTOR):
        iv = (n * 8).to_bytes(16, "little").hex()
        cipher += subprocess.run(["openssl", "enc", "-aes-256-cbc", "-nopad", "-K", key.hex(),
                                  "-iv", iv], input=plaintext[n * SECTOR:(n + 1) * SECTOR],
                                 capture_output=True, check=True).stdout
    return cipher

def seed(name, flags, body, read=(0, 64)):
    with open(os.path.join(out, name), "wb") as f:
        f.write(key + struct.pack("<BQH", flags, *read) + body)

# The plaintext squashfs of a crypt bundle, encrypted by the harness.
seed("squashfs-encrypted-by-harness", ENCRYPT_BODY, squashfs, read=(96, 4000))
# The same as it lies in a bundle: encrypted, whole sectors.
seed("squashfs-ciphertext", 0, encrypt(squashfs + b"\0" * (-len(squashfs) % SECTOR)))
# Decrypts to the squashfs magic followed by a superblock of garbage.
seed("forged-superblock", 0, encrypt(b"hsqs" + bytes((i * 7) % 251 for i in range(2 * SECTOR - 4))))
# Random ciphertext (a wrong key's view) and a size that is not whole sectors.
seed("random-two-sectors", 0, os.urandom(2 * SECTOR), read=(SECTOR - 8, 16))
seed("partial-sector", 0, os.urandom(SECTOR + 100))
PY
ls -l "$OUT/bundle" "$OUT/verity" "$OUT/crypt"
