#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A Buildroot post-image script that packs the images in BINARIES_DIR into
# a signed update bundle, BINARIES_DIR/update.raucb, with otabundle (as
# br2rauc's post-image script does with rauc). In the defconfig:
#
#   BR2_ROOTFS_POST_IMAGE_SCRIPT="path/to/post-image.sh"
#   BR2_ROOTFS_POST_SCRIPT_ARGS="rootfs=rootfs.ext4"
#
# Buildroot runs it as `post-image.sh BINARIES_DIR ARGS...`. Each argument
# CLASS=FILE puts BINARIES_DIR/FILE into the bundle as the image of slot
# class CLASS (default: rootfs=rootfs.ext4).
#
# Environment (export it before `make`, or set it in the board's wrapper):
#   OTABUNDLE_CERT, OTABUNDLE_KEY  signer: PEM files or pkcs11: URIs (required;
#                           a PIN comes from OTABUNDLE_PKCS11_PIN, never argv)
#   OTABUNDLE_KEYRING       root(s) the devices trust (required): the bundle must
#                           verify against it before it is written
#   OTABUNDLE_INTERMEDIATE  intermediate certificate(s) to embed (optional)
#   OTABUNDLE_COMPATIBLE    [update] compatible (default: buildroot)
#   OTABUNDLE_VERSION       [update] version (default: the date, UTC, from
#                           SOURCE_DATE_EPOCH when set)
#   OTABUNDLE_FORMAT        verity (default), crypt or plain
#   OTABUNDLE               the otabundle binary (default: HOST_DIR/bin/otabundle
#                           if present, else otabundle in PATH)
# Outputs, in BINARIES_DIR: update.raucb, update.raucb.json (verify's
# result, schema otabundle/verify/1); temp-update/ is the bundle's input.

set -eu

fail() {
	echo "post-image.sh: $*" >&2
	exit 1
}

binaries=${1:-${BINARIES_DIR:-}}
[ -n "$binaries" ] || fail "no BINARIES_DIR (Buildroot passes it as the first argument)"
[ -d "$binaries" ] || fail "$binaries: not a directory"
[ $# -eq 0 ] || shift
[ $# -gt 0 ] || set -- rootfs=rootfs.ext4

: "${OTABUNDLE_CERT:?set OTABUNDLE_CERT to the signer certificate}"
: "${OTABUNDLE_KEY:?set OTABUNDLE_KEY to the signer key}"
: "${OTABUNDLE_KEYRING:?set OTABUNDLE_KEYRING to the trusted root certificate(s)}"
if [ -z "${OTABUNDLE:-}" ]; then
	if [ -n "${HOST_DIR:-}" ] && [ -x "$HOST_DIR/bin/otabundle" ]; then
		OTABUNDLE=$HOST_DIR/bin/otabundle
	else
		OTABUNDLE=otabundle
	fi
fi
if [ -z "${OTABUNDLE_VERSION:-}" ]; then
	if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
		OTABUNDLE_VERSION=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y.%m.%d.%H%M%S)
	else
		OTABUNDLE_VERSION=$(date -u +%Y.%m.%d.%H%M%S)
	fi
fi

input=$binaries/temp-update
bundle=$binaries/update.raucb
rm -rf "$input"
mkdir -p "$input"
{
	echo "[update]"
	echo "compatible=${OTABUNDLE_COMPATIBLE:-buildroot}"
	echo "version=$OTABUNDLE_VERSION"
	echo
	echo "[bundle]"
	echo "format=${OTABUNDLE_FORMAT:-verity}"
} >"$input/manifest.raucm"
for spec in "$@"; do
	class=${spec%%=*}
	file=${spec#*=}
	if [ -z "$class" ] || [ "$class" = "$spec" ] || [ -z "$file" ]; then
		fail "$spec: not CLASS=FILE"
	fi
	[ -f "$binaries/$file" ] || fail "$binaries/$file: no such image"
	# A hard link where possible: images are large.
	ln -f "$binaries/$file" "$input/$file" 2>/dev/null || cp "$binaries/$file" "$input/$file"
	printf '\n[image.%s]\nfilename=%s\n' "$class" "$file" >>"$input/manifest.raucm"
done

set -- --cert "$OTABUNDLE_CERT" --key "$OTABUNDLE_KEY"
[ -z "${OTABUNDLE_INTERMEDIATE:-}" ] || set -- "$@" --intermediate "$OTABUNDLE_INTERMEDIATE"
"$OTABUNDLE" create --force --signing-keyring "$OTABUNDLE_KEYRING" "$@" "$input" "$bundle" ||
	fail "$bundle: otabundle create failed"
"$OTABUNDLE" verify --keyring "$OTABUNDLE_KEYRING" --check-images --output-format=json \
	"$bundle" >"$bundle.json" || fail "$bundle: does not verify (see $bundle.json)"
echo "post-image.sh: $bundle (${OTABUNDLE_COMPATIBLE:-buildroot} $OTABUNDLE_VERSION)"
