# Source: https://github.com/rauc/meta-rauc
# Path:   classes-recipe/bundle.bbclass (do_bundle, and the BUNDLE_ARGS example of its header)
# Commit: 27424e20812e29ffa899fa22c47bafdf4d2d3555
# BitBake expands ${VAR} textually before the shell runs the task.
#
# The BUNDLE_ARGS example from the class's documentation:
#   BUNDLE_ARGS += ' --mksquashfs-args="-comp zstd -Xcompression-level 22" '
#
# --- bundle (do_bundle)
	${STAGING_BINDIR_NATIVE}/rauc bundle \
		--debug \
		--cert="${RAUC_CERT_FILE}" \
		--key="${RAUC_KEY_FILE}" \
		${BUNDLE_ARGS} \
		${BUNDLE_DIR} \
		${B}/bundle.raucb
# --- encrypt (do_bundle, with RAUC_ENCRYPT_CRYPT_BUNDLE = "1")
		${STAGING_BINDIR_NATIVE}/rauc encrypt \
			--debug \
			--to="${RAUC_RECIPIENTS_CERT_FILE}" \
			--keyring="${RAUC_KEYRING_FILE}" \
			${B}/bundle.raucb \
			${B}/encrypted-bundle.raucb
