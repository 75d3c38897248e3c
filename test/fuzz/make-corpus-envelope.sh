#!/usr/bin/env bash
# Regenerates corpus/envelope: EnvelopedData (DER) as an encrypted bundle
# carries it, encrypted with `openssl cms` (as RAUC's CMS_encrypt() does:
# AES-CBC, RSA PKCS#1 v1.5 key transport, ECDH key agreement) for the
# fuzz-envelope target's fixed device keys, so that they decrypt inside the
# target, and for a stranger. The content is a small CMS SignedData, as a
# bundle's is. Not byte-for-byte reproducible (keys, IVs): run this only
# when the format changes.
#
#   test/fuzz/make-corpus-envelope.sh [BUILDDIR]     default: build
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${1:-build}
OUT=test/fuzz/corpus/envelope
ninja -C "$BUILD" test/fuzz/fuzz-envelope-replay >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The replay program runs the target's initialisation, which exports the keys.
: >"$work/empty"
OTABUNDLE_FUZZ_EXPORT_RECIPIENTS="$work" "$BUILD/test/fuzz/fuzz-envelope-replay" \
	"$work/empty" >/dev/null

openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
	-subj "/CN=fuzz stranger" -keyout "$work/stranger.key" -out "$work/stranger.pem" \
	2>/dev/null
printf '[update]\ncompatible=fuzz\nversion=1\n' >"$work/manifest"
openssl cms -sign -binary -nodetach -outform DER -in "$work/manifest" \
	-signer "$work/ec.pem" -inkey "$work/ec.key" -out "$work/signed.der"

# envelope NAME CIPHER RECIPIENT...
envelope() {
	local name=$1 cipher=$2
	shift 2
	local recips=()
	for r in "$@"; do recips+=(-recip "$work/$r.pem"); done
	openssl cms -encrypt -binary "-$cipher" -inform DER -outform DER -in "$work/signed.der" \
		"${recips[@]}" -out "$OUT/$name.der"
}

mkdir -p "$OUT"
rm -f "$OUT"/*.der
envelope rsa aes-256-cbc rsa
envelope ec aes-256-cbc ec
envelope rsa-ec aes-256-cbc rsa ec
envelope stranger-rsa aes-256-cbc stranger rsa
envelope aes128 aes-128-cbc ec
envelope stranger aes-256-cbc stranger
ls -l "$OUT"
