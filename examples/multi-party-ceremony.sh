#!/usr/bin/env bash
# A 2-of-3 release ceremony with otabundle.
#
# Three release officers each hold a key; any two must sign before devices
# (or the release pipeline's `otabundle verify --threshold 2`) accept a
# bundle. Each officer signs in parallel, on their own machine, producing a
# small partial signature; a coordinator merges them. No officer ever sees
# another's key, and nobody can release alone.
#
# Run from the repository after building (ninja -C build). Everything is
# made in a temporary directory: a throw-away PKI, the input, the bundles.
# With real keys, each officer would run step 3 with their HSM
# (--key 'pkcs11:...', see examples/hsm-ceremony.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OTABUNDLE=${OTABUNDLE:-$ROOT/build/otabundle}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-ceremony.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
step() { printf '\n== %s\n' "$*"; }

step "1. A throw-away PKI: one root, three officers"
printf '[leaf]\nbasicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\n' >ext.cnf
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key \
	-out root.pem -subj "/CN=Release Root" -days 30 \
	-addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
for officer in alice bob carol; do
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$officer.key" \
		-out "$officer.csr" -subj "/CN=$officer" 2>/dev/null
	openssl x509 -req -in "$officer.csr" -CA root.pem -CAkey root.key -CAcreateserial \
		-days 30 -extfile ext.cnf -extensions leaf -out "$officer.pem" 2>/dev/null
done

step "2. CI builds the bundle, signed by Alice (the build officer)"
mkdir input
cp "$ROOT/examples/bundle/manifest.raucm" input/
head -c $((4 * 1024 * 1024)) /dev/urandom >input/rootfs.img
head -c $((1024 * 1024)) /dev/urandom >input/appfs.img
"$OTABUNDLE" create --cert alice.pem --key alice.key --audit-log audit.log input update.raucb

step "3. Bob and Carol each sign in parallel: a partial signature, bundle unchanged"
# For a verity bundle they could even sign just the manifest (see
# otabundle(1), SEVERAL SIGNERS): an air-gapped HSM never needs the payload.
"$OTABUNDLE" sign --detached bob.cms --cert bob.pem --key bob.key --audit-log audit.log update.raucb
"$OTABUNDLE" sign --detached carol.cms --cert carol.pem --key carol.key --audit-log audit.log \
	update.raucb

step "4. The coordinator merges the partial signatures (each checked against this bundle)"
"$OTABUNDLE" merge --keyring root.pem update.raucb release.raucb bob.cms carol.cms

step "5. The release gate: at least 2 of the 3 officers"
"$OTABUNDLE" verify --keyring root.pem --threshold 2 release.raucb
"$OTABUNDLE" verify --keyring root.pem --threshold 2 --output-format=json release.raucb |
	grep -E '"(subject|status)"'

step "6. Alone, Alice's bundle does not pass the gate"
if "$OTABUNDLE" verify --keyring root.pem --threshold 2 update.raucb; then
	echo "ceremony: a single signature passed a 2-of-3 gate" >&2
	exit 1
fi

step "7. A RAUC device still installs it: the nested encoding keeps one SignerInfo"
if command -v rauc >/dev/null; then
	printf '[system]\ncompatible=otabundle-demo\nbootloader=noop\n[keyring]\npath=%s\n' \
		"$WORK/root.pem" >system.conf
	rauc -c system.conf info release.raucb >/dev/null && echo "rauc accepts release.raucb"
fi

step "The audit log: one line per signature"
cat audit.log
