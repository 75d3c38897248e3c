# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
#
# The shell of otabundle-bundle.bbclass: its do_configure and do_bundle
# tasks source this file and call otabundle_configure and otabundle_bundle.
# Everything comes from the environment (the class exports the variables),
# so test/cli/test_build_recipes.py runs the same functions without BitBake.
#
# otabundle_configure: fills BUNDLE_DIR with manifest.raucm and the images.
#   BUNDLE_DIR              the bundle's input directory (emptied first)
#   DEPLOY_DIR_IMAGE, UNPACKDIR  where images are looked for, in this order
#   RAUC_BUNDLE_COMPATIBLE, RAUC_BUNDLE_VERSION, RAUC_BUNDLE_DESCRIPTION,
#   RAUC_BUNDLE_BUILD       the [update] section
#   RAUC_BUNDLE_FORMAT      [bundle] format= (plain, verity, crypt); empty:
#                           no [bundle] section, so otabundle's default (verity)
#   OTABUNDLE_IMAGES        one entry per slot, separated by spaces, computed by
#                           the class from RAUC_BUNDLE_SLOTS and RAUC_SLOT_<slot>:
#                           SECTION|SOURCE|FILENAME|IMAGETYPE|HOOKS (empty fields
#                           allowed; no SOURCE: an image section without a file)
#   OTABUNDLE_HOOKS_FILE, OTABUNDLE_HOOKS   RAUC_BUNDLE_HOOKS[file] / [hooks]
#   OTABUNDLE_MANIFEST_EXTRA  lines appended to the manifest ('\n' for newlines):
#                           the [meta.*] sections and RAUC_MANIFEST_EXTRA_LINES
#   RAUC_BUNDLE_EXTRA_FILES files or directories copied into the bundle
#
# otabundle_bundle: signs BUNDLE_DIR into B/bundle.raucb.
#   OTABUNDLE               the otabundle binary
#   RAUC_CERT_FILE, RAUC_KEY_FILE  signer: PEM files or pkcs11: URIs (required)
#   RAUC_INTERMEDIATE_FILE  intermediate certificate(s) to embed (optional)
#   RAUC_KEYRING_FILE       if set: the bundle must verify against it before it
#                           is written (--signing-keyring), and is verified with
#                           its images afterwards
#   BUNDLE_ARGS             more create options, quoted as on a shell command line
#   RAUC_ENCRYPT_CRYPT_BUNDLE=1, RAUC_RECIPIENTS_CERT_FILE
#                           also write B/encrypted-bundle.raucb (crypt format)
#   B                       the build directory

otabundle_fatal() {
	if command -v bbfatal >/dev/null 2>&1; then
		bbfatal "$*"
	fi
	echo "otabundle-bundle: $*" >&2
	exit 1
}

otabundle_note() {
	if command -v bbnote >/dev/null 2>&1; then
		bbnote "$*"
	else
		echo "otabundle-bundle: $*"
	fi
}

# Prints the path of @1 in DEPLOY_DIR_IMAGE, else UNPACKDIR; fails if neither has it.
otabundle_find() {
	for _dir in "${DEPLOY_DIR_IMAGE:-}" "${UNPACKDIR:-}"; do
		if [ -n "$_dir" ] && [ -e "$_dir/$1" ]; then
			echo "$_dir/$1"
			return 0
		fi
	done
	otabundle_fatal "'$1' is neither in DEPLOY_DIR_IMAGE (${DEPLOY_DIR_IMAGE:-unset}) nor in UNPACKDIR (${UNPACKDIR:-unset})"
}

otabundle_configure() {
	[ -n "${BUNDLE_DIR:-}" ] || otabundle_fatal "BUNDLE_DIR is not set"
	[ -n "${RAUC_BUNDLE_COMPATIBLE:-}" ] || otabundle_fatal "'RAUC_BUNDLE_COMPATIBLE' not set"
	rm -rf "$BUNDLE_DIR"
	mkdir -p "$BUNDLE_DIR"
	_m=$BUNDLE_DIR/manifest.raucm
	{
		echo "[update]"
		echo "compatible=$RAUC_BUNDLE_COMPATIBLE"
		[ -z "${RAUC_BUNDLE_VERSION:-}" ] || echo "version=$RAUC_BUNDLE_VERSION"
		[ -z "${RAUC_BUNDLE_DESCRIPTION:-}" ] || echo "description=$RAUC_BUNDLE_DESCRIPTION"
		[ -z "${RAUC_BUNDLE_BUILD:-}" ] || echo "build=$RAUC_BUNDLE_BUILD"
		echo
		if [ -n "${RAUC_BUNDLE_FORMAT:-}" ]; then
			printf '[bundle]\nformat=%s\n\n' "$RAUC_BUNDLE_FORMAT"
		fi
		if [ -n "${OTABUNDLE_HOOKS_FILE:-}" ]; then
			echo "[hooks]"
			echo "filename=$OTABUNDLE_HOOKS_FILE"
			[ -z "${OTABUNDLE_HOOKS:-}" ] || echo "hooks=$OTABUNDLE_HOOKS"
			echo
		fi
	} >"$_m"

	for _entry in ${OTABUNDLE_IMAGES:-}; do
		# SECTION|SOURCE|FILENAME|IMAGETYPE|HOOKS
		_rest=$_entry
		_section=${_rest%%|*}; _rest=${_rest#*|}
		_source=${_rest%%|*}; _rest=${_rest#*|}
		_filename=${_rest%%|*}; _rest=${_rest#*|}
		_imagetype=${_rest%%|*}; _rest=${_rest#*|}
		_hooks=$_rest
		[ -n "$_section" ] || otabundle_fatal "OTABUNDLE_IMAGES: '$_entry' has no slot class"
		{
			echo "[image.$_section]"
			[ -z "$_hooks" ] || echo "hooks=$_hooks"
			[ -z "$_imagetype" ] || echo "type=$_imagetype"
			if [ -n "$_source" ]; then
				echo "filename=${_filename:-${_source##*/}}"
			fi
			echo
		} >>"$_m"
		if [ -n "$_source" ]; then
			_path=$(otabundle_find "$_source") || exit 1
			otabundle_note "adding image to bundle dir: '${_filename:-${_source##*/}}'"
			cp -L "$_path" "$BUNDLE_DIR/${_filename:-${_source##*/}}" ||
				otabundle_fatal "$_path: cannot copy into $BUNDLE_DIR"
		fi
	done

	if [ -n "${OTABUNDLE_MANIFEST_EXTRA:-}" ]; then
		printf '%b' "$OTABUNDLE_MANIFEST_EXTRA" >>"$_m"
	fi

	if [ -n "${OTABUNDLE_HOOKS_FILE:-}" ]; then
		_path=$(otabundle_find "$OTABUNDLE_HOOKS_FILE") || exit 1
		cp "$_path" "$BUNDLE_DIR/$OTABUNDLE_HOOKS_FILE"
		chmod +x "$BUNDLE_DIR/$OTABUNDLE_HOOKS_FILE"
	fi
	for _file in ${RAUC_BUNDLE_EXTRA_FILES:-}; do
		_path=$(otabundle_find "$_file") || exit 1
		_file=${_file#/}
		_file=${_file%/}
		case "$_file" in
		*/*) mkdir -p "$BUNDLE_DIR/${_file%/*}" ;;
		esac
		cp -fpPRH "$_path" "$BUNDLE_DIR/$_file"
	done
}

otabundle_bundle() {
	[ -n "${RAUC_KEY_FILE:-}" ] || otabundle_fatal "'RAUC_KEY_FILE' not set. Please set to a valid key file location."
	[ -n "${RAUC_CERT_FILE:-}" ] || otabundle_fatal "'RAUC_CERT_FILE' not set. Please set to a valid certificate file location."
	[ -n "${B:-}" ] || otabundle_fatal "B is not set"
	_otabundle=${OTABUNDLE:-otabundle}
	set -- --cert "$RAUC_CERT_FILE" --key "$RAUC_KEY_FILE"
	[ -z "${RAUC_INTERMEDIATE_FILE:-}" ] || set -- "$@" --intermediate "$RAUC_INTERMEDIATE_FILE"
	[ -z "${RAUC_KEYRING_FILE:-}" ] || set -- "$@" --signing-keyring "$RAUC_KEYRING_FILE"
	# BUNDLE_ARGS keeps its shell quoting, as in meta-rauc, where BitBake
	# pastes it into the command line:
	#   BUNDLE_ARGS += ' --mksquashfs-args="-comp zstd -Xcompression-level 22" '
	eval "set -- \"\$@\" ${BUNDLE_ARGS:-}"
	mkdir -p "$B"
	"$_otabundle" create --force "$@" "$BUNDLE_DIR" "$B/bundle.raucb" ||
		otabundle_fatal "$B/bundle.raucb: otabundle create failed"
	if [ -n "${RAUC_KEYRING_FILE:-}" ]; then
		"$_otabundle" verify --keyring "$RAUC_KEYRING_FILE" --check-images "$B/bundle.raucb" ||
			otabundle_fatal "$B/bundle.raucb: does not verify against $RAUC_KEYRING_FILE"
	fi

	if [ "${RAUC_ENCRYPT_CRYPT_BUNDLE:-0}" = 1 ]; then
		[ "${RAUC_BUNDLE_FORMAT:-}" = crypt ] ||
			otabundle_fatal "'RAUC_BUNDLE_FORMAT' is not 'crypt'. In order to encrypt bundles during building, please use the 'crypt' bundle format."
		[ -n "${RAUC_RECIPIENTS_CERT_FILE:-}" ] ||
			otabundle_fatal "'RAUC_RECIPIENTS_CERT_FILE' not set. Please set a valid recipient certificate file location."
		[ -n "${RAUC_KEYRING_FILE:-}" ] ||
			otabundle_fatal "'RAUC_KEYRING_FILE' not set. Please set a valid keyring file location."
		"$_otabundle" encrypt --force --to "$RAUC_RECIPIENTS_CERT_FILE" --keyring "$RAUC_KEYRING_FILE" \
			"$B/bundle.raucb" "$B/encrypted-bundle.raucb" ||
			otabundle_fatal "$B/encrypted-bundle.raucb: otabundle encrypt failed"
	fi
}
