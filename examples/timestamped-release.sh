#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A release whose signature outlives its signing certificate, runnable on
# one machine: the bundle is signed with a certificate valid for two days
# only, an RFC 3161 Time-Stamping Authority (TSA) vouches for when it was
# signed, and a month later (libfaketime moves the clock) the bundle still
# verifies for whoever trusts that TSA, and fails for whoever does not.
# Each step says what it would be in a real release.
#
#   examples/timestamped-release.sh [OUTDIR]
#
# The TSA: with TSA_URL (and TSA_KEYRING, the PEM its certificate chains
# to) create asks it over HTTP(S); without, the signing room is offline and
# a throw-away TSA made here (`openssl ts -reply`) answers the request file
# that `otabundle timestamp-request` writes, as a TSA reached from another
# machine would.
#
# OUTDIR, if given, receives the bundle (release.raucb) and the keyrings
# (root.pem, tsa-root.pem). Everything else is removed at the end, also
# when a step fails.
#
# Needs: openssl, squashfs-tools, and otabundle (OTABUNDLE, else otabundle
# in PATH, else build/otabundle of this checkout). faketime, if installed,
# shows the verification after the certificate expired.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
EXAMPLE=timestamped-release
# shellcheck source=examples/common.sh
. "$here/common.sh"
outdir=${1:-}
tsa_url=${TSA_URL:-}
tsa_keyring=${TSA_KEYRING:-}

[ -z "$tsa_url" ] || [ -n "$tsa_keyring" ] || die "TSA_URL needs TSA_KEYRING (its root CA)"
for tool in openssl mksquashfs; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
if [ -n "$outdir" ]; then
	mkdir -p "$outdir"
	outdir=$(cd "$outdir" && pwd)
fi
[ -z "$tsa_keyring" ] || tsa_keyring=$(cd "$(dirname "$tsa_keyring")" && pwd)/$(basename "$tsa_keyring")

work=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-timestamped-release.XXXXXX")
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
cd "$work"

# --- 1. PKI ----------------------------------------------------------------------------
step "1. A throw-away PKI: a root, a signer valid for two days only, and a TSA"
# Real release: the signer's certificate lives months, the bundle years.
# The TSA is a public or company service; devices trust its root (and only
# for timestamps: tsa-keyring, not keyring).
cat >ext.cnf <<'EOF'
[signer]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
[tsa]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
EOF
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
# ca NAME SUBJECT: a self-signed root
ca() {
	ec "$1.key"
	openssl req -x509 -new -key "$1.key" -subj "$2" -days 3650 \
		-addext "basicConstraints=critical,CA:true" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.pem"
}
# issue NAME SUBJECT ISSUER EXTENSION DAYS
issue() {
	ec "$1.key"
	openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days "$5" \
		-extfile ext.cnf -extensions "$4" -out "$1.pem" 2>/dev/null
}
ca root "/O=Demo/CN=Demo Root CA"
issue signer "/O=Demo/CN=Demo Release Signer" root signer 2
openssl x509 -in signer.pem -noout -enddate
if [ -z "$tsa_url" ]; then
	ca tsa-root "/O=Demo/CN=Demo TSA Root"
	issue tsa "/O=Demo/CN=Demo TSA" tsa-root tsa 3650
	echo 01 >tsaserial
	cat >tsa.cnf <<EOF
[tsa]
default_tsa = demo
[demo]
serial = $work/tsaserial
signer_cert = $work/tsa.pem
signer_key = $work/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
ess_cert_id_alg = sha256
EOF
	tsa_keyring=$work/tsa-root.pem
fi

# --- 2. Signing, with a timestamp ---------------------------------------------------------
mkdir input
cp "$here"/bundle/* input/
head -c $((1024 * 1024)) /dev/urandom >input/rootfs.img
head -c $((256 * 1024)) /dev/urandom >input/appfs.img
if [ -n "$tsa_url" ]; then
	step "2. Sign, and have the TSA at $tsa_url timestamp the signature"
	"$otabundle" create --cert signer.pem --key signer.key --timestamp-url "$tsa_url" \
		--tsa-keyring "$tsa_keyring" input release.raucb
else
	step "2. Sign offline; the timestamp request goes out, the answer comes back"
	# Real release: the request file leaves the signing room (USB stick,
	# data diode), any TSA client sends it (curl --data-binary @release.tsq
	# -H 'Content-Type: application/timestamp-query' URL), and the answer
	# comes back. It stamps the signature only, so it reveals nothing else.
	"$otabundle" create --cert signer.pem --key signer.key input signed.raucb
	"$otabundle" timestamp-request signed.raucb release.tsq
	openssl ts -reply -config tsa.cnf -queryfile release.tsq -out release.tsr 2>/dev/null
	"$otabundle" add-timestamp --tsa-keyring "$tsa_keyring" signed.raucb release.tsr \
		release.raucb
fi

# --- 3. Verifying now ---------------------------------------------------------------------
step "3. Today: the signer is valid anyway; the timestamp is shown, and trusted with its TSA"
"$otabundle" info --keyring root.pem --tsa-keyring "$tsa_keyring" release.raucb |
	grep -E '^  [0-9]+\.|status:|timestamp:'
"$otabundle" verify --keyring root.pem --tsa-keyring "$tsa_keyring" release.raucb

# --- 4. Verifying after the certificate expired -------------------------------------------
step "4. A month later: the signer's certificate has expired"
# Real device: system.conf [keyring] tsa-keyring= (and check-time=timestamp
# on a device without a trustworthy clock).
if command -v faketime >/dev/null 2>&1; then
	later=$(date -u -d '+30 days' '+%Y-%m-%d %H:%M:%S')
	faketime "$later" "$otabundle" verify --keyring root.pem --tsa-keyring "$tsa_keyring" \
		release.raucb
	if faketime "$later" "$otabundle" verify --keyring root.pem release.raucb; then
		die "without the TSA keyring the expired signer must not count"
	fi
	echo "(refused without --tsa-keyring, as it must be)"
else
	echo "faketime is not installed: skipped"
fi

if [ -n "$outdir" ]; then
	cp release.raucb root.pem "$outdir"/
	cp "$tsa_keyring" "$outdir"/tsa-root.pem
fi
echo
echo "timestamped release complete"
