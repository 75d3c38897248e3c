#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# An encrypted update for two devices, runnable on one machine: a release
# is built as a crypt bundle, encrypted for the devices it is for, and
# each device decrypts it with its own key; anyone else sees only who it
# is for. Device A keeps its key in a PKCS#11 token (a SoftHSM2 token made
# fresh here stands in for its TPM or secure element), device B in a PEM
# file. Each step says what it would be in a real fleet.
#
#   examples/encrypted-update.sh [OUTDIR]
#
# OUTDIR, if given, receives the encrypted bundle (update.raucb), the
# recipients' certificates (fleet.pem) and the keyring (root.pem).
# Everything else is removed at the end, also when a step fails.
#
# Needs: softhsm2, opensc (pkcs11-tool), openssl, squashfs-tools, and
# otabundle (OTABUNDLE, else otabundle in PATH, else build/otabundle of this
# checkout). rauc, if installed, decrypts the bundle too. SOFTHSM2_MODULE
# overrides the module path.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
EXAMPLE=encrypted-update
# shellcheck source=examples/common.sh
. "$here/common.sh"
outdir=${1:-}
module=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

[ -f "$module" ] || die "$module: no SoftHSM2 module (apt-get install softhsm2)"
for tool in softhsm2-util pkcs11-tool openssl mksquashfs; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
if [ -n "$outdir" ]; then
	mkdir -p "$outdir"
	outdir=$(cd "$outdir" && pwd)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-encrypted-update.XXXXXX")
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
cd "$work"

# --- 1. PKI ----------------------------------------------------------------------------
step "1. A throw-away PKI: a root, a release CA for signers, a device CA for devices"
# Real fleet: the device CA issues each device an encryption certificate
# at manufacturing, for a key made inside the device (its CSR signed
# there); the release CA issues release signers. Devices trust the root.
cat >ext.cnf <<'EOF'
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
[signer]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
[device]
basicConstraints = critical, CA:false
keyUsage = critical, keyEncipherment, keyAgreement
EOF
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
# issue NAME SUBJECT ISSUER EXTENSION: NAME.pem for NAME.key
issue() {
	openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 825 \
		-extfile ext.cnf -extensions "$4" -out "$1.pem" 2>/dev/null
}
ec root.key
openssl req -x509 -new -key root.key -subj "/O=Demo/CN=Demo Root CA" -days 3650 \
	-addext "basicConstraints=critical,CA:true" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -out root.pem
ec release-ca.key && issue release-ca "/O=Demo/CN=Demo Release CA" root ca
ec device-ca.key && issue device-ca "/O=Demo/CN=Demo Device CA" root ca
ec signer.key && issue signer "/O=Demo/CN=Demo Release Signer" release-ca signer

# --- 2. Device A: its key in a token -----------------------------------------------------
step "2. Device A: an EC P-256 key in its token, allowed to derive (ECDH)"
# Real device: the key is generated inside the TPM or secure element and
# never leaves it. Here a SoftHSM2 token in this directory plays the part,
# and the key is made outside and imported (with its public key, which
# the PKCS#11 layer needs) so that one openssl serves for the CSR. An EC
# key decrypts by key agreement: the token must allow it to derive
# (--usage-derive, CKA_DERIVE); otabundle says so if it may not.
mkdir tokens
cat >softhsm2.conf <<EOF
directories.tokendir = $work/tokens
objectstore.backend = file
log.level = ERROR
EOF
export SOFTHSM2_CONF=$work/softhsm2.conf
USER_PIN=$(openssl rand -hex 12)
export USER_PIN
(umask 077 && printf '%s\n' "$USER_PIN" >device-a.pin)
softhsm2-util --init-token --free --label device-a --pin "$USER_PIN" \
	--so-pin "$(openssl rand -hex 12)" >/dev/null
ec device-a.key && issue device-a "/O=Demo/CN=device-a" device-ca device
openssl pkey -in device-a.key -pubout -outform DER -out device-a.pub
openssl x509 -in device-a.pem -outform DER -out device-a.der
p11() { pkcs11-tool --module "$module" --token-label device-a --login --pin env:USER_PIN "$@"; }
p11 --write-object device-a.key --type privkey --label crypt --id 01 --usage-derive >/dev/null
p11 --write-object device-a.pub --type pubkey --label crypt --id 01 >/dev/null
p11 --write-object device-a.der --type cert --label crypt --id 01 >/dev/null
shred -u device-a.key
key_a="pkcs11:token=device-a;object=crypt;type=private?pin-source=file:$work/device-a.pin"
cert_a="pkcs11:token=device-a;object=crypt;type=cert"

# --- 3. Device B: its key in a file ---------------------------------------------------------
step "3. Device B: an RSA-3072 key in a file (no secure element)"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out device-b.key 2>/dev/null
issue device-b "/O=Demo/CN=device-b" device-ca device
# The recipients: one PEM file of every device this release is for.
cat device-a.pem device-b.pem >fleet.pem

# --- 4. Build ----------------------------------------------------------------------------
step "4. The release build: a signed crypt bundle (payload encrypted, key in the manifest)"
mkdir input
cp "$here"/bundle/* input/
head -c $((4 * 1024 * 1024)) /dev/urandom >input/rootfs.img
head -c $((1024 * 1024)) /dev/urandom >input/appfs.img
"$otabundle" create --format=crypt --cert signer.pem --key signer.key \
	--intermediate release-ca.pem input crypt.raucb

# --- 5. Encrypt ---------------------------------------------------------------------------
step "5. Encrypt for the fleet (no signing key needed; the signature is checked first)"
# Real fleet: the device certificates come from the device CA's records,
# for the devices (or device groups) this release is for. RAUC 1.8 reads
# at most about 150 RSA or 210 EC recipients; beyond that, give devices a
# key per group (otabundle(1), ENCRYPTED BUNDLES).
"$otabundle" encrypt --keyring root.pem --to fleet.pem crypt.raucb update.raucb
rm crypt.raucb

# --- 6. Anyone ----------------------------------------------------------------------------
step "6. Without a key: the format and who it is for, nothing else"
"$otabundle" info --dump-recipients update.raucb

# --- 7. Device A ---------------------------------------------------------------------------
step "7. Device A verifies with its token key (found by its certificate's issuer and serial)"
"$otabundle" verify --keyring root.pem --check-images --pkcs11-module "$module" \
	--key "$key_a" --cert "$cert_a" update.raucb

# --- 8. Device B ---------------------------------------------------------------------------
step "8. Device B extracts with its key file; the plaintext goes only into the output"
"$otabundle" extract --keyring root.pem --key device-b.key update.raucb extracted
cmp input/rootfs.img extracted/rootfs.img && cmp input/appfs.img extracted/appfs.img
echo "(checked: the extracted images are the ones built)"

# --- 9. Someone else ------------------------------------------------------------------------
step "9. A device the release is not for is refused"
ec stranger.key && issue stranger "/O=Demo/CN=stranger" device-ca device
if "$otabundle" info --key stranger.key --cert stranger.pem update.raucb; then
	die "a stranger's key decrypted the bundle"
fi

if command -v rauc >/dev/null 2>&1; then
	step "10. rauc decrypts it too"
	rauc info --keyring root.pem --key device-b.key update.raucb 2>&1 |
		grep -E "Bundle Format|Compatible|Version" | sed 's/^/  /'
fi

if [ -n "$outdir" ]; then
	cp update.raucb fleet.pem root.pem "$outdir"/
	echo
	echo "kept: $outdir/update.raucb, $outdir/fleet.pem, $outdir/root.pem"
fi
echo
echo "encrypted update complete"
