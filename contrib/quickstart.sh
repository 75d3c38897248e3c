#!/usr/bin/env bash
# otabundle quick start, on a fresh Debian machine:
#   installs the build dependencies, builds otabundle, makes a throw-away
#   PKI (root CA -> intermediate CA -> signer), creates a signed bundle from
#   examples/bundle with two generated images, shows it, verifies it and
#   extracts it, then installs it on a simulated A/B device (slots are
#   regular files) with otabundle-install and commits it after a simulated
#   reboot. Everything it makes lands in one temporary directory.
#
#   OTABUNDLE_BINDIR=/usr/bin contrib/quickstart.sh
#     runs the same steps with the otabundle and otabundle-install in that
#     directory (e.g. installed from the Debian packages), building nothing.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

if [ -n "${OTABUNDLE_BINDIR:-}" ]; then
	BINDIR=$OTABUNDLE_BINDIR
else
	contrib/install-deps.sh
	if [ ! -f build/build.ninja ]; then
		meson setup build >/dev/null
	fi
	ninja -C build >/dev/null
	BINDIR="$ROOT/build"
fi
OTABUNDLE="$BINDIR/otabundle"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-quickstart.XXXXXX")
cd "$WORK"
step() { printf '\n== %s\n' "$*"; }

step "A demo PKI in $WORK/pki: root CA -> intermediate CA -> signer"
mkdir pki
cat >pki/ext.cnf <<'CNF'
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
CNF
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "pki/$1.key" 2>/dev/null; }
newkey root
openssl req -x509 -new -key pki/root.key -subj "/O=Demo/CN=Demo Root CA" -days 3650 \
	-addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out pki/root.pem
# issue NAME SUBJECT ISSUER EXTENSIONS
issue() {
	newkey "$1"
	openssl req -new -key "pki/$1.key" -subj "$2" -out "pki/$1.csr"
	openssl x509 -req -in "pki/$1.csr" -CA "pki/$3.pem" -CAkey "pki/$3.key" -CAcreateserial \
		-days 365 -extfile pki/ext.cnf -extensions "$4" -out "pki/$1.pem" 2>/dev/null
}
issue intermediate "/O=Demo/CN=Demo Release CA" root ca
issue signer "/O=Demo/CN=Demo Release Signer" intermediate signer
echo "root.pem is the device keyring; signer.pem/.key sign; intermediate.pem is embedded."

step "Input directory: examples/bundle plus two generated images"
mkdir input
cp "$ROOT"/examples/bundle/* input/
head -c $((16 * 1024 * 1024)) /dev/urandom >input/rootfs.img
{ head -c $((4 * 1024 * 1024)) /dev/urandom; head -c $((4 * 1024 * 1024)) /dev/zero; } >input/appfs.img
ls -l input

step "otabundle create (checked against the root before it is written)"
"$OTABUNDLE" create --cert pki/signer.pem --key pki/signer.key \
	--intermediate pki/intermediate.pem --signing-keyring pki/root.pem input demo.raucb
ls -l demo.raucb

step "otabundle info --keyring pki/root.pem demo.raucb"
"$OTABUNDLE" info --keyring pki/root.pem demo.raucb

step "otabundle verify --check-images"
"$OTABUNDLE" verify --keyring pki/root.pem --check-images demo.raucb

step "otabundle extract"
"$OTABUNDLE" extract --keyring pki/root.pem demo.raucb extracted
cmp input/rootfs.img extracted/rootfs.img && cmp input/appfs.img extracted/appfs.img &&
	echo "extracted images are byte-identical to the inputs"

step "A tampered copy is refused"
cp demo.raucb tampered.raucb
printf 'X' | dd of=tampered.raucb bs=1 seek=100000 conv=notrunc status=none
if "$OTABUNDLE" verify --keyring pki/root.pem tampered.raucb; then
	echo "quickstart: a tampered bundle was accepted" >&2
	exit 1
fi

step "A simulated A/B device in $WORK/target (slots are regular files)"
INSTALL="$BINDIR/otabundle-install"
mkdir -p target/data
for slot in rootfs-a rootfs-b appfs-0 appfs-1; do
	truncate -s 1M "target/$slot.img" # the factory contents, as far as this demo cares
done
cat >target/system.conf <<CONF
[system]
compatible=otabundle-demo
bootloader=file
data-directory=$WORK/target/data

[keyring]
path=$WORK/pki/root.pem

[slot.rootfs.0]
device=$WORK/target/rootfs-a.img
bootname=A

[slot.rootfs.1]
device=$WORK/target/rootfs-b.img
bootname=B

[slot.appfs.0]
device=$WORK/target/appfs-0.img

[slot.appfs.1]
device=$WORK/target/appfs-1.img
CONF
cat target/system.conf
# A real device learns the booted slot from the kernel command line
# (rauc.slot= or otabundle.slot=); here --override-boot-slot says it.
device() { "$INSTALL" --conf target/system.conf --override-boot-slot "$@"; }

step "Booted from A: otabundle-install info demo.raucb (checks only, writes nothing)"
device A info demo.raucb

step "otabundle-install install demo.raucb: writes B's slots, makes B primary once"
device A install demo.raucb
cmp input/rootfs.img target/rootfs-b.img
cmp input/appfs.img target/appfs-1.img
echo "rootfs-b.img and appfs-1.img now hold the bundle's images; A's slots are untouched"

step "otabundle-install status (still running A; B pending)"
device A status

step "Reboot into B (simulated), self-test passed: otabundle-install mark-good"
device B mark-good

step "otabundle-install status (running B; installed version and security floor committed)"
device B status

printf '\nDone. Everything is in %s\n' "$WORK"
