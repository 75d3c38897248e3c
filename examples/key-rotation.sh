#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Changing who may sign updates, in the field, runnable on one machine:
# (1) a planned rotation of the release key with an overlap window, and
# (2) an emergency, a leaked officer key revoked by the other officers.
# The host side makes and checks each signed trust update (otabundle trust
# create|sign|merge|show|verify) and checks bundles as a device holding
# each trust list would (otabundle verify --trust); a device applies the
# same files with `otabundle-install trust-update`.
#
#   examples/key-rotation.sh [OUTDIR]
#
# The trust lists: v1 (shipped in the image, unsigned) trusts the old
# release root for the "default" tier and three officers, 2 of 3, for the
# "bootloader" tier. v2 adds the new release root and ends the old one's
# trust after a 30-day overlap, signed by the old key. v3 drops the old
# root, signed by the new key. v4 revokes Carol's leaked key in the
# bootloader tier, signed by Alice and Bob in parallel and merged.
#
# OUTDIR, if given, receives the trust lists (v1.trust ... v4.trust) and
# the audit log. Everything else is removed at the end, also when a step
# fails.
#
# A device, its slots regular files under the work directory, applies the
# same trust updates with otabundle-install (found beside otabundle) and
# installs or refuses the same bundles: its system.conf names v1.trust in
# [trust] initial=, and its bootloader slot needs the "bootloader" tier.
#
# Needs: openssl, squashfs-tools, and otabundle (OTABUNDLE, else otabundle
# in PATH, else build/otabundle of this checkout). faketime, if installed,
# shows the end of the overlap.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
EXAMPLE=key-rotation
# shellcheck source=examples/common.sh
. "$here/common.sh"
outdir=${1:-}

for tool in openssl mksquashfs; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
if [ -n "$outdir" ]; then
	mkdir -p "$outdir"
	outdir=$(cd "$outdir" && pwd)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/otabundle-key-rotation.XXXXXX")
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
cd "$work"

# A refusal the example expects: it must fail, and its one line is shown.
refused() {
	if "$@" 2>refusal.txt; then
		die "accepted, but must be refused: $*"
	fi
	echo "refused, as it must be: $(cat refusal.txt)"
}

# --- 1. PKI ----------------------------------------------------------------------------
step "1. A throw-away PKI: the old and the new release root, and three officers"
# Real release: each root lives offline; the officers' keys in their HSMs.
printf '[leaf]\nbasicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\n' \
	>ext.cnf
root() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
		-out "$1.pem" -subj "/CN=$1" -days 3650 \
		-addext "basicConstraints=critical,CA:true" \
		-addext "keyUsage=critical,keyCertSign" 2>/dev/null
}
leaf() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
		-out "$1.csr" -subj "/CN=$1" 2>/dev/null
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 3650 \
		-extfile ext.cnf -extensions leaf -out "$1.pem" 2>/dev/null
}
root old-root
root new-root
root officers-root
leaf old old-root
leaf new new-root
for officer in alice bob carol; do
	leaf "$officer" officers-root
done

step "2. Version 1, shipped in the image: the old release root; the bootloader needs 2 of 3 officers"
"$otabundle" trust create --version 1 --tier bootloader:2 --anchor default:old-root.pem \
	--anchor bootloader:officers-root.pem v1.trust
"$otabundle" trust show v1.trust

step "2b. A device shipped with v1: A/B root filesystems, one bootloader slot for the officers"
install_tool=$(dirname "$(command -v "$otabundle")")/otabundle-install
[ -x "$install_tool" ] || install_tool=otabundle-install
mkdir -p device/slots
for slot in rootfs.0 rootfs.1 appfs.0 appfs.1 bootloader.0; do
	: >"device/slots/$slot"
done
cat >device/system.conf <<EOF
[system]
compatible=otabundle-demo
bootloader=file
data-directory=$work/device/data

# The trust list shipped in the image; updates are kept in the data directory.
[trust]
initial=$work/v1.trust

[slot.rootfs.0]
device=$work/device/slots/rootfs.0
bootname=A
[slot.rootfs.1]
device=$work/device/slots/rootfs.1
bootname=B
[slot.appfs.0]
device=$work/device/slots/appfs.0
parent=rootfs.0
[slot.appfs.1]
device=$work/device/slots/appfs.1
parent=rootfs.1
[slot.bootloader.0]
device=$work/device/slots/bootloader.0
policy=bootloader
EOF
# Real device: no --conf and no --override-boot-slot.
device() { "$install_tool" --conf device/system.conf --override-boot-slot A "$@"; }
device check-config

# --- scenario (1): planned rotation ----------------------------------------------------
step "3. The transition, v2: both roots, the old one for 30 more days; signed by the old key"
overlap_end=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
"$otabundle" trust create --version 2 --tier bootloader:2 \
	--anchor "default:old-root.pem::$overlap_end" --anchor default:new-root.pem \
	--anchor bootloader:officers-root.pem --cert old.pem --key old.key \
	--audit-log audit.log v2.trust
"$otabundle" trust verify --trust v1.trust v2.trust
echo "The new key alone cannot make the transition:"
"$otabundle" trust create --version 2 --anchor default:old-root.pem \
	--anchor default:new-root.pem --anchor bootloader:officers-root.pem --tier bootloader:2 \
	--cert new.pem --key new.key forged.trust
refused "$otabundle" trust verify --trust v1.trust forged.trust

step "4. During the overlap, bundles signed by either key verify against v2"
mkdir input
cp "$here/bundle/manifest.raucm" input/
head -c $((1024 * 1024)) /dev/urandom >input/rootfs.img
head -c $((256 * 1024)) /dev/urandom >input/appfs.img
"$otabundle" create --cert old.pem --key old.key input old.raucb
"$otabundle" create --cert new.pem --key new.key input new.raucb
"$otabundle" verify --trust v2.trust old.raucb
"$otabundle" verify --trust v2.trust new.raucb
refused "$otabundle" verify --trust v1.trust new.raucb

echo "On the device, v1 trusts the old key only; v2 adds the new one:"
device install old.raucb
refused device install new.raucb
device trust-update v2.trust
device install new.raucb
device install old.raucb

step "5. After the overlap, only the new key"
if command -v faketime >/dev/null 2>&1; then
	later=$(date -u -d '+31 days' '+%Y-%m-%d %H:%M:%S')
	faketime "$later" "$otabundle" verify --trust v2.trust new.raucb
	refused faketime "$later" "$otabundle" verify --trust v2.trust old.raucb
else
	echo "(faketime is not installed: skipped)"
fi

step "6. v3 drops the old root for good, signed by the new key"
"$otabundle" trust create --version 3 --tier bootloader:2 --anchor default:new-root.pem \
	--anchor bootloader:officers-root.pem --cert new.pem --key new.key --audit-log audit.log \
	v3.trust
"$otabundle" trust verify --trust v2.trust v3.trust
refused "$otabundle" verify --trust v3.trust old.raucb

# --- scenario (2): emergency revocation ------------------------------------------------
step "7. Carol's key leaks: v4 revokes it in the bootloader tier"
# A bootloader update needs 2 of 3 officers besides the release key.
mkdir bootinput
head -c $((64 * 1024)) /dev/urandom >bootinput/bootloader.img
printf '[update]\ncompatible=otabundle-demo\nversion=2024.10.0\n[image.bootloader]\nfilename=bootloader.img\n' \
	>bootinput/manifest.raucm
"$otabundle" create --cert new.pem --key new.key --cert alice.pem --key alice.key \
	--cert carol.pem --key carol.key bootinput boot.raucb
"$otabundle" verify --trust v3.trust --tier bootloader boot.raucb
"$otabundle" trust create --version 4 --tier bootloader:2 --anchor default:new-root.pem \
	--anchor bootloader:officers-root.pem --revoke bootloader:carol.pem v4.doc
echo "Alice and Bob each sign in parallel (a partial signature); the release key is not needed:"
"$otabundle" trust sign --detached alice.cms --cert alice.pem --key alice.key \
	--audit-log audit.log v4.doc
"$otabundle" trust sign --detached bob.cms --cert bob.pem --key bob.key \
	--audit-log audit.log v4.doc
"$otabundle" trust merge v4.doc v4.trust alice.cms bob.cms
"$otabundle" trust verify --trust v3.trust v4.trust
"$otabundle" trust show v4.trust
echo "One officer alone cannot revoke:"
"$otabundle" trust sign --cert alice.pem --key alice.key v4.doc alone.trust
refused "$otabundle" trust verify --trust v3.trust alone.trust

step "8. From v4 on, a bootloader bundle that needs Carol's signature is refused"
refused "$otabundle" verify --trust v4.trust --tier bootloader boot.raucb

echo "On the device (still on v2): v3 and v4 in one go, then the bootloader bundle is refused:"
device info boot.raucb
device trust-update v3.trust v4.trust
refused device info boot.raucb
device status | grep -i trust

step "9. A device still on v1 walks the chain in one go"
"$otabundle" trust verify --trust v1.trust v2.trust v3.trust v4.trust
refused "$otabundle" trust verify --trust v1.trust v3.trust
refused "$otabundle" trust verify --trust v3.trust v2.trust


if [ -n "$outdir" ]; then
	cp v1.trust v2.trust v3.trust v4.trust audit.log "$outdir/"
fi
echo
echo "key rotation complete"
