#!/usr/bin/env bash
# Regenerates corpus/partition, the seeds of fuzz-partition.c: 63 KiB disk
# images partitioned by sfdisk (util-linux, Debian package fdisk), each
# behind the target's 9 parameter bytes (kind and alignment, region start
# and size in sectors). Labels and GUIDs are fixed, so the output is the
# same in every run.
#
#   test/fuzz/make-corpus-partition.sh
set -euo pipefail

cd "$(dirname "$0")"
OUT=corpus/partition
mkdir -p "$OUT"
rm -f "$OUT"/*
work=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-partition-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT

# seed NAME FLAGS REGION_START REGION_SIZE: partitions $work/disk with the
# sfdisk script on stdin and writes the seed.
seed() {
	local name=$1 flags=$2 start=$3 size=$4
	rm -f "$work/disk"
	truncate -s 63K "$work/disk"
	sfdisk -q --no-reread --no-tell-kernel "$work/disk" >/dev/null
	python3 - "$flags" "$start" "$size" "$work/disk" "$OUT/$name" <<'PY'
import struct, sys
flags, start, size, disk, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
with open(out, "wb") as f:
    f.write(struct.pack("<BII", flags, start, size) + open(disk, "rb").read())
PY
}

GPT_HEAD='label: gpt
label-id: 01234567-89AB-CDEF-0123-456789ABCDEF
first-lba: 34'
ESP=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4

# MBR: region sectors 8..39, the boot partition in its first or second half.
printf 'label: dos\nlabel-id: 0x12345678\nstart=8, size=16, type=c\nstart=40, size=80, type=83\n' |
	seed mbr-first-half 0 8 32
printf 'label: dos\nlabel-id: 0x12345678\nstart=24, size=16, type=c\nstart=40, size=80, type=83\n' |
	seed mbr-second-half 0 8 32
# ...with an extended partition holding two logical ones.
printf 'label: dos\nlabel-id: 0x12345678\nstart=8, size=16, type=c\nstart=40, size=80, type=5\nstart=48, size=16, type=83\nstart=72, size=16, type=83\n' |
	seed mbr-extended 0 8 32

# GPT: region sectors 40..71.
printf '%s\nstart=40, size=16, type=%s, uuid=11111111-2222-3333-4444-555555555555\nstart=72, size=16, type=%s, uuid=66666666-7777-8888-9999-AAAAAAAAAAAA\n' \
	"$GPT_HEAD" "$ESP" "$LINUX" | seed gpt-first-half 1 40 32
printf '%s\nstart=56, size=16, type=%s, uuid=11111111-2222-3333-4444-555555555555\nstart=72, size=16, type=%s, uuid=66666666-7777-8888-9999-AAAAAAAAAAAA\n' \
	"$GPT_HEAD" "$ESP" "$LINUX" | seed gpt-second-half 1 40 32
# ...with a one-sector entry array (4 entries).
printf 'label: gpt\nlabel-id: 01234567-89AB-CDEF-0123-456789ABCDEF\ntable-length: 4\nfirst-lba: 8\nstart=40, size=16, type=%s, uuid=11111111-2222-3333-4444-555555555555\n' \
	"$ESP" | seed gpt-short-table 1 40 32
# ...and RAUC's 1 MiB alignment, which this small disk can't meet.
printf '%s\nstart=40, size=16, type=%s, uuid=11111111-2222-3333-4444-555555555555\n' \
	"$GPT_HEAD" "$ESP" | seed gpt-rauc-alignment 3 40 32
ls -l "$OUT"
