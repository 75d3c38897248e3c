#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A CI job that builds a signed update bundle with a development key and
# verifies it the way a device would. Call it from any CI system after the
# step that produced the images.
#
# Required environment:
#   OTABUNDLE_CERT      signer certificate (PEM)
#   OTABUNDLE_KEY       signer private key (PEM, not passphrase-protected)
#   OTABUNDLE_KEYRING   the root certificate(s) your development devices trust
# Optional environment:
#   OTABUNDLE_INTERMEDIATE  intermediate CA certificate(s) to embed (PEM)
#   OTABUNDLE_INPUT     input directory: manifest.raucm + images
#                       (default: examples/bundle next to this script)
#   OTABUNDLE_OUTPUT    bundle to write (default: out/update.raucb)
#   OTABUNDLE_BUILD_ID  written as [update] build= into the packed manifest
#                       (create --set), e.g. "$CI_PIPELINE_ID"; the input is
#                       not modified
#   SOURCE_DATE_EPOCH   makes the bundle reproducible (create reads it), e.g.
#                       "$(git log -1 --format=%ct)"
#   OTABUNDLE_PURPOSE   --check-purpose for verification (default: smimesign, as RAUC)
#   OTABUNDLE_COMPRESSION  squashfs compressor, e.g. gzip for device kernels
#                       without zstd (default: otabundle's, zstd level 3)
#   OTABUNDLE           the otabundle binary (default: otabundle in PATH,
#                       else build/otabundle of this checkout)
#
# Outputs: the bundle, and BUNDLE.json with the verification result
# (otabundle verify --output-format=json, schema otabundle/verify/1; on a
# failure too, with its error code and every signer's status) to keep as a
# CI artifact.
# Exit status: 0 when the bundle was built and verified, non-zero otherwise.
#
# The development key must only be trusted by development devices: the
# keyring of production devices holds a different root, whose key never
# sits on a CI machine.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
EXAMPLE=ci-pipeline
# shellcheck source=examples/common.sh
. "$here/common.sh"

: "${OTABUNDLE_CERT:?set OTABUNDLE_CERT to the signer certificate (PEM)}"
: "${OTABUNDLE_KEY:?set OTABUNDLE_KEY to the signer private key (PEM)}"
: "${OTABUNDLE_KEYRING:?set OTABUNDLE_KEYRING to the trusted root certificate(s) (PEM)}"
input=${OTABUNDLE_INPUT:-$here/bundle}
output=${OTABUNDLE_OUTPUT:-out/update.raucb}
purpose=${OTABUNDLE_PURPOSE:-smimesign}

[ -f "$input/manifest.raucm" ] || die "$input/manifest.raucm: no such file"
mkdir -p "$(dirname "$output")"

set -- --cert "$OTABUNDLE_CERT" --key "$OTABUNDLE_KEY"
# The build id goes into the packed manifest only (it overrides a build=
# the input may have); the input directory is never modified.
if [ -n "${OTABUNDLE_BUILD_ID:-}" ]; then
	set -- "$@" --set "update.build=$OTABUNDLE_BUILD_ID"
fi
if [ -n "${OTABUNDLE_INTERMEDIATE:-}" ]; then
	set -- "$@" --intermediate "$OTABUNDLE_INTERMEDIATE"
fi
if [ -n "${OTABUNDLE_COMPRESSION:-}" ]; then
	set -- "$@" --compression="$OTABUNDLE_COMPRESSION"
fi

echo "== create $output"
# --signing-keyring: the bundle is verified against the keyring before it is
# written, so a missing --intermediate or a signer outside the development
# PKI fails here ("did you forget --intermediate?") and nothing is written.
"$otabundle" create --force --signing-keyring "$OTABUNDLE_KEYRING" --check-purpose "$purpose" \
	"$@" "$input" "$output"

# Verify everything as a device would: beyond the signature and chain
# (checked by create), every payload block, and each image against the
# manifest.
echo "== verify $output"
status=0
"$otabundle" verify --keyring "$OTABUNDLE_KEYRING" --check-purpose "$purpose" \
	--check-images --output-format=json "$output" >"$output.json" || status=$?
if [ "$status" -ne 0 ]; then
	cat "$output.json" >&2
	# Don't leave an unverifiable bundle where a later step could publish it.
	rm -f "$output"
	die "verification failed (exit status $status)"
fi
"$otabundle" info --keyring "$OTABUNDLE_KEYRING" --check-purpose "$purpose" "$output"

# Optional: also ask RAUC, if this runner has it (Debian: apt-get install rauc).
# RAUC 1.8 checks the S/MIME purpose without a system.conf; point
# OTABUNDLE_RAUC_CONF at one with check-purpose=codesign for codeSigning
# leaves.
if command -v rauc >/dev/null 2>&1; then
	echo "== rauc info $output"
	if [ -n "${OTABUNDLE_RAUC_CONF:-}" ]; then
		rauc -c "$OTABUNDLE_RAUC_CONF" --keyring "$OTABUNDLE_KEYRING" info "$output" >/dev/null
	else
		rauc --keyring "$OTABUNDLE_KEYRING" info "$output" >/dev/null
	fi
fi

echo "== ok: $output (result in $output.json)"
