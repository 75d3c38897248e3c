#!/usr/bin/env bash
# Regenerates corpus/trust: trust lists (otabundle-trust(5)) as bare
# documents and as signed files (a DER CMS SignedData embedding the
# document, made with `openssl cms` as `otabundle trust sign` makes it).
# Not byte-for-byte reproducible (keys): run this only when the format
# changes.
#
#   test/fuzz/make-corpus-trust.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
OUT=test/fuzz/corpus/trust
work=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ca NAME: a self-signed P-256 CA, its DER in base64 in $work/NAME.b64
ca() {
	openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/CN=fuzz $1" -addext basicConstraints=critical,CA:TRUE \
		-keyout "$work/$1.key" -out "$work/$1.pem" 2>/dev/null
	openssl x509 -in "$work/$1.pem" -outform DER | base64 -w0 >"$work/$1.b64"
	openssl x509 -in "$work/$1.pem" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1 \
		>"$work/$1.sha256"
}
ca root-a
ca root-b
ca boot

cat >"$OUT/minimal.trust" <<DOC
[trust]
version=1

[tier.default]
anchor-1=$(cat "$work/root-a.b64")
DOC

cat >"$OUT/tiers-windows-revocations.trust" <<DOC
# otabundle trust list: see otabundle-trust(5)
[trust]
version=2

[tier.default]
threshold=1
check-purpose=smimesign
check-time=device
# CN=fuzz root-a
anchor-1=$(cat "$work/root-a.b64")
anchor-1-not-after=2030-01-01T00:00:00Z
# CN=fuzz root-b
anchor-2=$(cat "$work/root-b.b64")
anchor-2-not-before=2029-06-01T00:00:00Z
revoked-certificate-sha256=$(cat "$work/boot.sha256")

[tier.bootloader]
threshold=2
check-purpose=codesign
check-time=signing-time
# CN=fuzz boot
anchor-1=$(cat "$work/boot.b64")
revoked-spki-sha256=$(cat "$work/root-b.sha256");$(cat "$work/root-a.sha256")
DOC

openssl cms -sign -binary -nodetach -md sha256 -outform DER \
	-in "$OUT/tiers-windows-revocations.trust" -signer "$work/root-a.pem" \
	-inkey "$work/root-a.key" -out "$OUT/signed.der"
