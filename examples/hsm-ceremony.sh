#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A release-signing ceremony with the release key inside an HSM, runnable
# on one machine: a SoftHSM2 token, made fresh in a temporary directory,
# stands in for the HSM. Each step says what it would be with a real one.
#
#   examples/hsm-ceremony.sh [OUTDIR]
#
# OUTDIR, if given, receives the signed bundle (release.raucb), the release
# certificate (release-signer.pem) and the device keyring (root.pem).
# Everything else, the token included, is destroyed at the end, also when
# a step fails.
#
# Needs: softhsm2, opensc (pkcs11-tool), gnutls-bin (certtool: openssl 3.0
# has no PKCS#11 provider in Debian 12 to make a CSR with a token key),
# openssl, squashfs-tools, and otabundle (OTABUNDLE, else otabundle in PATH,
# else build/otabundle of this checkout). rauc, if installed, checks the
# bundle too. SOFTHSM2_MODULE overrides the module path.
#
# Roles, which a real ceremony keeps apart (different people, each with
# their own credential, watched by witnesses and written into the
# ceremony log):
#   security officer (SO PIN)   owns the HSM: initialises it, sets the user PIN
#   release officer (user PIN)  may use the release key, and only that
#   CA operator                 issues the release certificate on the offline CA
#
# No PIN is ever put on a command line (where `ps` shows it to every user):
# pkcs11-tool reads them with --pin env:VAR, certtool from GNUTLS_PIN and
# otabundle from a pin-source file (or from OTABUNDLE_PKCS11_PIN).

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
EXAMPLE=hsm-ceremony
# shellcheck source=examples/common.sh
. "$here/common.sh"
outdir=${1:-}
module=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

[ -f "$module" ] || die "$module: no SoftHSM2 module (apt-get install softhsm2)"
for tool in softhsm2-util pkcs11-tool certtool openssl mksquashfs; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
if [ -n "$outdir" ]; then
	mkdir -p "$outdir"
	outdir=$(cd "$outdir" && pwd)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-hsm-ceremony.XXXXXX")
chmod 700 "$work"

# --- teardown -----------------------------------------------------------------
# Real HSM: log out, the officers take back their cards or PIN envelopes,
# the HSM (or its backup) goes back into the safe, and the ceremony log is
# signed by everyone present. Here the token itself is destroyed.
teardown() {
	status=$?
	set +e
	step "Teardown"
	if [ -f "$work/softhsm2.conf" ]; then
		SOFTHSM2_CONF=$work/softhsm2.conf softhsm2-util --delete-token --token release \
			>/dev/null 2>&1 && echo "token 'release' deleted"
	fi
	[ -f "$work/user.pin" ] && shred -u "$work/user.pin" 2>/dev/null
	rm -rf "$work"
	echo "removed $work"
	unset SO_PIN USER_PIN GNUTLS_PIN
	exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM
cd "$work"

# --- 1. The HSM ---------------------------------------------------------------
step "1. A fresh SoftHSM2 stands in for the HSM (tokens in $work/tokens)"
# Real HSM: nothing to do here; it is already installed, and its vendor
# ships the PKCS#11 module (e.g. /opt/<vendor>/lib/libcs_pkcs11.so) that
# --pkcs11-module names below. SoftHSM2 keeps tokens in files; this
# configuration puts them in the ceremony's own directory, so nothing of
# the machine's own SoftHSM2 is touched.
mkdir tokens
cat >softhsm2.conf <<EOF
directories.tokendir = $work/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF=$work/softhsm2.conf
p11() { pkcs11-tool --module "$module" "$@"; }

# The PINs. Real HSM: each officer types their own PIN on the HSM's PIN
# pad or a terminal and nobody else learns it; quorum HSMs take M of N
# smart cards instead. Here they are random and live only in this
# process's environment, plus one 0600 file that otabundle reads.
SO_PIN=$(openssl rand -hex 12)
USER_PIN=$(openssl rand -hex 12)
export SO_PIN USER_PIN
(umask 077 && printf '%s\n' "$USER_PIN" >user.pin)

# --- 2. Security officer: initialise the token ------------------------------------
step "2. Security officer initialises token 'release' and sets the user PIN"
# Real HSM: the vendor's tool creates a partition/slot for release signing
# with its own SO credential; then the SO hands the user credential to the
# release officer. A token whose user PIN was never set cannot sign:
# otabundle says "has no user PIN set".
p11 --slot-index 0 --init-token --label release --so-pin env:SO_PIN
p11 --token-label release --login --login-type so --so-pin env:SO_PIN \
	--init-pin --new-pin env:USER_PIN

# --- 3. Release officer: generate the release key inside the token -----------------
step "3. Release officer generates the release key on the token"
# The key is made inside the token, marked sensitive and never
# extractable: it cannot leave it, not even to a backup file. Real HSM:
# the same call (or the vendor's tool); some HSMs can also attest that the
# key was generated inside. Importing an existing PEM key instead
# (softhsm2-util --import key.p8 ...) would mean the key once lay on a disk.
p11 --token-label release --pin env:USER_PIN --keypairgen --key-type EC:prime256v1 \
	--usage-sign --label release-signer --id 01
p11 --token-label release --pin env:USER_PIN --list-objects --type privkey --id 01 |
	grep -q 'never extractable' || die "the release key is extractable"
echo "(checked: the token reports the key as sensitive and never extractable)"

# --- 4. A certificate request signed by the token key ---------------------------------
step "4. A certificate request (CSR) signed inside the token"
# The CSR proves the requester holds the key. Real HSM: the same, with the
# vendor module as --provider; the CSR then goes to the CA operator on
# removable media.
cat >csr.tmpl <<'EOF'
organization = "Demo"
cn = "Demo Release Signer (HSM)"
EOF
GNUTLS_PIN=$USER_PIN certtool --provider "$module" --generate-request \
	--load-privkey 'pkcs11:token=release;object=release-signer;type=private' \
	--template csr.tmpl --outfile release-signer.csr 2>/dev/null
openssl req -in release-signer.csr -noout -verify -subject

# --- 5. CA operator: issue the release certificate ----------------------------------
step "5. CA operator issues the release certificate (demo PKI: root -> release CA)"
# Real PKI: the root CA key is offline (its own HSM, in a safe); an
# intermediate "release CA" issues signer certificates. Devices trust
# only the root (their keyring); bundles embed the intermediate. Here a
# throw-away PKI is made on the spot.
mkdir pki
cat >pki/ext.cnf <<'EOF'
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[signer]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "pki/$1.key"; }
newkey root
openssl req -x509 -new -key pki/root.key -subj "/O=Demo/CN=Demo Root CA" -days 3650 \
	-addext "basicConstraints=critical,CA:true" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -out pki/root.pem
newkey intermediate
openssl req -new -key pki/intermediate.key -subj "/O=Demo/CN=Demo Release CA" \
	-out pki/intermediate.csr
openssl x509 -req -in pki/intermediate.csr -CA pki/root.pem -CAkey pki/root.key \
	-CAcreateserial -days 1825 -extfile pki/ext.cnf -extensions ca \
	-out pki/intermediate.pem 2>/dev/null
# The signer certificate: no extended key usage, which RAUC 1.8 accepts
# without a system.conf (see DESIGN.md).
openssl x509 -req -in release-signer.csr -CA pki/intermediate.pem \
	-CAkey pki/intermediate.key -CAcreateserial -days 365 -extfile pki/ext.cnf \
	-extensions signer -out release-signer.pem 2>/dev/null
openssl x509 -in release-signer.pem -noout -subject -issuer -enddate

# --- 6. Store the certificate next to its key, and read it back -------------------
step "6. The certificate goes onto the token, next to its key (same id)"
# With key and certificate on the token, the signing command needs only
# the token; the PEM copy is what gets published. Real HSM: same call.
openssl x509 -in release-signer.pem -outform DER -out release-signer.der
p11 --token-label release --pin env:USER_PIN --write-object release-signer.der \
	--type cert --label release-signer --id 01 >/dev/null
p11 --token-label release --read-object --type cert --id 01 -o exported.der
cmp exported.der release-signer.der
echo "(checked: the certificate read back from the token is the one the CA issued)"
p11 --token-label release --list-objects

# --- 7. The input --------------------------------------------------------------------
step "7. Input directory: examples/bundle plus two generated images"
# Real ceremony: the images arrive from the release build, with their
# digests checked against the build record before anything is signed.
mkdir input
cp "$here"/bundle/* input/
head -c $((16 * 1024 * 1024)) /dev/urandom >input/rootfs.img
{
	head -c $((4 * 1024 * 1024)) /dev/urandom
	head -c $((4 * 1024 * 1024)) /dev/zero
} >input/appfs.img
sha256sum input/*.img

# --- 8. Sign ---------------------------------------------------------------------------
step "8. Release officer signs with otabundle create"
# The PIN comes from pin-source (a file only this user can read); setting
# OTABUNDLE_PKCS11_PIN in the environment works as well, and on a terminal
# otabundle prompts for it. Never use pin-value= in a URI on a shared
# machine: the command line is visible to every user (otabundle warns).
# Real HSM: --pkcs11-module names the vendor's module (or leave it out:
# otabundle then uses p11-kit's proxy, which loads every module the
# system registered) and token= names its slot or partition label.
key="pkcs11:token=release;object=release-signer;type=private?pin-source=file:$work/user.pin"
cert="pkcs11:token=release;object=release-signer;type=cert"
"$otabundle" create --pkcs11-module "$module" --cert "$cert" --key "$key" \
	--intermediate pki/intermediate.pem input release.raucb
# The same with the PIN in the environment:
#   OTABUNDLE_PKCS11_PIN=... otabundle create --pkcs11-module "$module" \
#       --cert "$cert" --key 'pkcs11:token=release;object=release-signer' ...

# --- 9. Verify, as a device would --------------------------------------------------
step "9. Verify against the root alone, as a device would"
"$otabundle" verify --keyring pki/root.pem --check-images release.raucb
"$otabundle" info --keyring pki/root.pem release.raucb
if command -v rauc >/dev/null 2>&1; then
	echo
	echo "rauc info --keyring pki/root.pem release.raucb:"
	rauc info --keyring pki/root.pem release.raucb 2>&1 |
		grep -E "Verified|Bundle Format|Compatible|Version" | sed 's/^/  /'
else
	echo "(rauc not installed: skipped the RAUC check)"
fi

if [ -n "$outdir" ]; then
	cp release.raucb release-signer.pem "$outdir"/
	cp pki/root.pem "$outdir"/root.pem
	echo
	echo "kept: $outdir/release.raucb, $outdir/release-signer.pem, $outdir/root.pem"
fi
echo
echo "ceremony complete"
