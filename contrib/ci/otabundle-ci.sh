#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The steps of an otabundle release pipeline, one subcommand per CI job;
# contrib/ci/gitlab-ci.yml and contrib/ci/github-actions.yml call it, and
# test/cli/test_ci_templates.py runs it against the real tool.
#
#   otabundle-ci.sh build     development-signed bundle from an input directory
#   otabundle-ci.sh gate      verify --threshold N --output-format=json, decide on the JSON
#   otabundle-ci.sh promote   resign the gated bytes with the release key in a PKCS#11 token
#
# Configuration comes from the environment (CI variables), never from
# arguments, so a secret is never in argv:
#
#   OTABUNDLE               the otabundle binary (default: otabundle in PATH)
#   OTABUNDLE_BUNDLE        the bundle built and gated (default: out/update.raucb)
# build:
#   OTABUNDLE_INPUT         input directory: manifest.raucm + images (required)
#   OTABUNDLE_DEV_CERT, OTABUNDLE_DEV_KEY   development signer (PEM files; required)
#   OTABUNDLE_DEV_INTERMEDIATE  intermediate certificate(s) to embed (optional)
#   OTABUNDLE_DEV_KEYRING   root(s) the development devices trust (required)
#   OTABUNDLE_VERSION       update.version of the packed manifest (optional)
#   OTABUNDLE_BUILD_ID      update.build, e.g. the pipeline id (optional)
#   SOURCE_DATE_EPOCH       makes the bundle reproducible (optional)
# gate:
#   OTABUNDLE_GATE_KEYRING  trust the bundle must meet (default: OTABUNDLE_DEV_KEYRING)
#   OTABUNDLE_THRESHOLD     distinct trusted signer keys required (default: 1)
#   Writes BUNDLE.verify.json (keep it as an artifact).
# promote:
#   OTABUNDLE_RELEASE_KEY   pkcs11: URI of the release key (type=private; no pin-value=)
#   OTABUNDLE_RELEASE_CERT  its certificate: pkcs11: URI or PEM file
#   OTABUNDLE_RELEASE_INTERMEDIATE  intermediate certificate(s) to embed (optional)
#   OTABUNDLE_RELEASE_KEYRING  root(s) the production devices trust (required)
#   OTABUNDLE_PKCS11_MODULE the token's PKCS#11 module (read by otabundle itself)
#   OTABUNDLE_PKCS11_PIN    the user PIN, from the CI secret store; otabundle
#                           reads it from its environment, this script never
#                           expands it
#   OTABUNDLE_RELEASE_BUNDLE  output (default: BUNDLE with -release before .raucb)
#
# Exit status: 0 when the step succeeded; 1 and one line on stderr
# ("otabundle-ci: STEP: ...") otherwise; 2 for a wrong subcommand.

set -eu

prog="otabundle-ci"
otabundle=${OTABUNDLE:-otabundle}
bundle=${OTABUNDLE_BUNDLE:-out/update.raucb}

fail() {
	echo "$prog: $*" >&2
	exit 1
}

need() {
	for _v in "$@"; do
		eval "_val=\${$_v:-}"
		[ -n "$_val" ] || fail "$step: $_v is not set"
	done
}

# Prints JSON member @1 of file @2 (a jq path), empty when absent.
json_get() {
	jq -r "$1 // empty" "$2"
}

step_build() {
	need OTABUNDLE_INPUT OTABUNDLE_DEV_CERT OTABUNDLE_DEV_KEY OTABUNDLE_DEV_KEYRING
	mkdir -p "$(dirname "$bundle")"
	set -- --cert "$OTABUNDLE_DEV_CERT" --key "$OTABUNDLE_DEV_KEY"
	[ -z "${OTABUNDLE_DEV_INTERMEDIATE:-}" ] || set -- "$@" --intermediate "$OTABUNDLE_DEV_INTERMEDIATE"
	[ -z "${OTABUNDLE_VERSION:-}" ] || set -- "$@" --set "update.version=$OTABUNDLE_VERSION"
	[ -z "${OTABUNDLE_BUILD_ID:-}" ] || set -- "$@" --set "update.build=$OTABUNDLE_BUILD_ID"
	# --signing-keyring: nothing is written unless the result verifies
	# against the development root (a forgotten intermediate fails here).
	"$otabundle" create --force --signing-keyring "$OTABUNDLE_DEV_KEYRING" \
		"$@" "$OTABUNDLE_INPUT" "$bundle" || fail "build: $bundle: otabundle create failed"
	echo "$prog: build: $bundle"
}

step_gate() {
	keyring=${OTABUNDLE_GATE_KEYRING:-${OTABUNDLE_DEV_KEYRING:-}}
	[ -n "$keyring" ] || fail "gate: OTABUNDLE_GATE_KEYRING is not set"
	threshold=${OTABUNDLE_THRESHOLD:-1}
	command -v jq >/dev/null 2>&1 || fail "gate: jq is not installed (it reads the verification result)"
	result=$bundle.verify.json
	# verify prints its document on failure too (exit 1); the decision is
	# taken on the document, the exit status only confirms it.
	rc=0
	"$otabundle" verify --keyring "$keyring" --threshold "$threshold" --check-images \
		--output-format=json "$bundle" >"$result" 2>/dev/null || rc=$?
	jq -e . "$result" >/dev/null 2>&1 || fail "gate: $bundle: no verification result (otabundle exit $rc)"
	# Fields used (schema otabundle/verify/1, otabundle(1) JSON OUTPUT):
	#   .verified            true only when every check passed, threshold included
	#   .trusted_signers     distinct trusted signer keys counted
	#   .error.code/.message why not, e.g. threshold-not-met, tampered
	#   .manifest.version    what is being promoted
	verified=$(jq -r '.verified' "$result")
	counted=$(json_get '.trusted_signers' "$result")
	if [ "$verified" != true ] || [ "$rc" -ne 0 ]; then
		code=$(json_get '.error.code' "$result")
		message=$(json_get '.error.message' "$result")
		message=${message#"$bundle: "}
		fail "gate: $bundle: ${code:-rejected}: ${message:-verification failed} (trusted signers ${counted:-0}, need $threshold)"
	fi
	version=$(json_get '.manifest.version' "$result")
	echo "$prog: gate: $bundle: passed, version ${version:-?}, $counted of $threshold trusted signer(s)"
}

step_promote() {
	need OTABUNDLE_RELEASE_KEY OTABUNDLE_RELEASE_CERT OTABUNDLE_RELEASE_KEYRING
	keyring=${OTABUNDLE_GATE_KEYRING:-${OTABUNDLE_DEV_KEYRING:-}}
	[ -n "$keyring" ] || fail "promote: OTABUNDLE_DEV_KEYRING is not set"
	case "$OTABUNDLE_RELEASE_KEY" in
	*pin-value=*) fail "promote: OTABUNDLE_RELEASE_KEY holds pin-value=: put the PIN in OTABUNDLE_PKCS11_PIN (a CI secret)" ;;
	esac
	# The PIN reaches otabundle through the environment only; say whether
	# it is there, never what it is.
	[ -n "${OTABUNDLE_PKCS11_PIN:-}" ] || fail "promote: OTABUNDLE_PKCS11_PIN is not set (map the CI secret to it)"
	out=${OTABUNDLE_RELEASE_BUNDLE:-${bundle%.raucb}-release.raucb}
	set -- --cert "$OTABUNDLE_RELEASE_CERT" --key "$OTABUNDLE_RELEASE_KEY"
	[ -z "${OTABUNDLE_RELEASE_INTERMEDIATE:-}" ] || set -- "$@" --intermediate "$OTABUNDLE_RELEASE_INTERMEDIATE"
	# --keyring: the development trust of the gated bundle; --signing-keyring:
	# the result must verify against the production root before it is written.
	"$otabundle" resign --force --keyring "$keyring" --signing-keyring "$OTABUNDLE_RELEASE_KEYRING" \
		"$@" "$bundle" "$out" || fail "promote: $bundle: otabundle resign failed"
	echo "$prog: promote: $out"
}

step=${1:-}
case "$step" in
build) step_build ;;
gate) step_gate ;;
promote) step_promote ;;
*)
	echo "usage: $0 build|gate|promote (configuration in the environment; see the header)" >&2
	exit 2
	;;
esac
