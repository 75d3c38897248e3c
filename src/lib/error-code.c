/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one home of the stable error codes: what a script may rely on, while
 * domains and enum values stay free to change. Above every other module,
 * since it names all their domains. */
#include <otabundle/error.h>

#include <gio/gio.h>
#include <otabundle/bundle.h>
#include <otabundle/envelope.h>
#include <otabundle/install.h>
#include <otabundle/keys.h>
#include <otabundle/manifest.h>
#include <otabundle/policy.h>
#include <otabundle/signature.h>
#include <otabundle/timestamp.h>
#include <otabundle/trust.h>
#include <otabundle/version.h>

#include "audit-private.h"
#include "bootloader-private.h"
#include "checksum-private.h"
#include "config-private.h"
#include "crypt-private.h"
#include "output-private.h"
#include "reader-private.h"
#include "slot-private.h"
#include "squashfs-private.h"
#include "state-private.h"
#include "subprocess-private.h"
#include "verity-private.h"

/* Matches every code of its domain. */
#define ANY_CODE (-1)

/* Each name is documented in otabundle(1), JSON OUTPUT, and listed in the
 * JSON Schemas (contrib/schema/); test/cli/test_json_output.py keeps the
 * three in step. */
static const struct {
	GQuark (*domain)(void);
	gint code;
	const char *name;
} error_codes[] = {
	{ota_bundle_error_quark, OTA_BUNDLE_ERROR_IO, "io"},
	{ota_bundle_error_quark, OTA_BUNDLE_ERROR_MALFORMED, "bundle-malformed"},
	{ota_bundle_error_quark, OTA_BUNDLE_ERROR_INPUT, "invalid-input"},
	{ota_bundle_error_quark, OTA_BUNDLE_ERROR_MISMATCH, "content-mismatch"},
	{ota_bundle_error_quark, OTA_BUNDLE_ERROR_UNSUPPORTED, "unsupported"},
	{ota_bundle_error_quark, OTA_BUNDLE_ERROR_EXISTS, "output-exists"},
	{ota_bundle_error_quark, OTA_BUNDLE_ERROR_MODIFIED, "modified-while-verifying"},
	{ota_bundle_error_quark, OTA_BUNDLE_ERROR_ENCRYPTED, "bundle-encrypted"},

	{ota_envelope_error_quark, OTA_ENVELOPE_ERROR_DAMAGED, "bundle-malformed"},
	{ota_envelope_error_quark, OTA_ENVELOPE_ERROR_UNSUPPORTED, "unsupported"},
	{ota_envelope_error_quark, OTA_ENVELOPE_ERROR_NOT_RECIPIENT, "not-a-recipient"},
	{ota_envelope_error_quark, OTA_ENVELOPE_ERROR_KEY_TYPE, "key-invalid"},
	{ota_envelope_error_quark, OTA_ENVELOPE_ERROR_RECIPIENT, "key-invalid"},
	{ota_envelope_error_quark, OTA_ENVELOPE_ERROR_TOO_LARGE, "invalid-input"},
	{ota_envelope_error_quark, OTA_ENVELOPE_ERROR_CRYPTO, "crypto-failed"},

	{ota_signature_error_quark, OTA_SIGNATURE_ERROR_PARSE, "signature-malformed"},
	{ota_signature_error_quark, OTA_SIGNATURE_ERROR_UNSUPPORTED, "unsupported"},
	/* A signature or message digest that fails: the signed bytes changed. */
	{ota_signature_error_quark, OTA_SIGNATURE_ERROR_INVALID, "tampered"},
	{ota_signature_error_quark, OTA_SIGNATURE_ERROR_CRYPTO, "crypto-failed"},

	/* A token that does not parse, or whose signature fails; else the
	 * exchange with the TSA failed. */
	{ota_timestamp_error_quark, OTA_TIMESTAMP_ERROR_MALFORMED, "signature-malformed"},
	{ota_timestamp_error_quark, OTA_TIMESTAMP_ERROR_INVALID, "tampered"},
	{ota_timestamp_error_quark, OTA_TIMESTAMP_ERROR_INPUT, "invalid-input"},
	{ota_timestamp_error_quark, ANY_CODE, "timestamp-failed"},

	/* A trust list that can't be read; an update the chain rule refuses. */
	{ota_trust_error_quark, OTA_TRUST_ERROR_IO, "io"},
	{ota_trust_error_quark, OTA_TRUST_ERROR_VERSION, "trust-update-refused"},
	{ota_trust_error_quark, OTA_TRUST_ERROR_UNSIGNED, "trust-update-refused"},
	{ota_trust_error_quark, OTA_TRUST_ERROR_UNCHANGED, "trust-update-refused"},
	{ota_trust_error_quark, ANY_CODE, "trust-invalid"},

	{ota_policy_error_quark, OTA_POLICY_ERROR_KEYRING, "keyring-invalid"},
	{ota_policy_error_quark, OTA_POLICY_ERROR_THRESHOLD, "threshold-not-met"},
	{ota_policy_error_quark, OTA_POLICY_ERROR_INVALID, "invalid-input"},

	{ota_manifest_error_quark, ANY_CODE, "manifest-invalid"},
	{ota_version_error_quark, ANY_CODE, "invalid-input"},

	{ota_keys_error_quark, OTA_KEYS_ERROR_UNSUPPORTED, "unsupported"},
	{ota_keys_error_quark, OTA_KEYS_ERROR_EXPIRED, "certificate-expired"},
	{ota_keys_error_quark, OTA_KEYS_ERROR_URI, "token-failed"},
	{ota_keys_error_quark, OTA_KEYS_ERROR_TOKEN, "token-failed"},
	/* Apart from other token failures: retrying a wrong PIN can lock it. */
	{ota_keys_error_quark, OTA_KEYS_ERROR_PIN, "pin-failed"},
	{ota_keys_error_quark, ANY_CODE, "key-invalid"},

	/* A data or hash block that does not match the signed root. */
	{ota_verity_error_quark, OTA_VERITY_ERROR_MISMATCH, "tampered"},
	{ota_verity_error_quark, OTA_VERITY_ERROR_INVALID, "payload-malformed"},
	{ota_verity_error_quark, OTA_VERITY_ERROR_IO, "io"},
	{ota_verity_error_quark, OTA_VERITY_ERROR_CRYPTO, "crypto-failed"},

	/* A crypt-key that does not decrypt the (verified) payload: the bundle
	 * is broken, whoever signed it. */
	{ota_crypt_error_quark, OTA_CRYPT_ERROR_WRONG_KEY, "payload-malformed"},
	{ota_crypt_error_quark, OTA_CRYPT_ERROR_INVALID, "invalid-input"},
	{ota_crypt_error_quark, OTA_CRYPT_ERROR_CRYPTO, "crypto-failed"},
	{ota_crypt_error_quark, OTA_CRYPT_ERROR_IO, "io"},

	{ota_squashfs_error_quark, OTA_SQUASHFS_ERROR_CREATE, "tool-failed"},
	{ota_squashfs_error_quark, OTA_SQUASHFS_ERROR_UNSUPPORTED, "unsupported"},
	{ota_squashfs_error_quark, OTA_SQUASHFS_ERROR_ARGS, "invalid-input"},
	{ota_squashfs_error_quark, ANY_CODE, "payload-malformed"},

	{ota_reader_error_quark, OTA_READER_ERROR_IO, "io"},
	{ota_reader_error_quark, OTA_READER_ERROR_OUT_OF_BOUNDS, "bundle-malformed"},
	{ota_reader_error_quark, OTA_READER_ERROR_TRUNCATED, "bundle-malformed"},
	{ota_reader_error_quark, ANY_CODE, "payload-malformed"},

	{ota_checksum_error_quark, OTA_CHECKSUM_ERROR_IO, "io"},
	{ota_checksum_error_quark, OTA_CHECKSUM_ERROR_CRYPTO, "crypto-failed"},
	{ota_checksum_error_quark, OTA_CHECKSUM_ERROR_NOT_REGULAR, "invalid-input"},

	{ota_output_error_quark, OTA_OUTPUT_ERROR_EXISTS, "output-exists"},
	{ota_output_error_quark, OTA_OUTPUT_ERROR_IO, "io"},
	{ota_audit_error_quark, ANY_CODE, "io"},
	{ota_subprocess_error_quark, ANY_CODE, "tool-failed"},

	/* The target. */
	{ota_config_error_quark, ANY_CODE, "config-invalid"},
	{ota_install_error_quark, OTA_INSTALL_ERROR_BOOTED, "booted-slot-unknown"},
	{ota_install_error_quark, OTA_INSTALL_ERROR_INCOMPATIBLE, "incompatible"},
	{ota_install_error_quark, OTA_INSTALL_ERROR_ROLLBACK, "rollback"},
	{ota_install_error_quark, OTA_INSTALL_ERROR_EXPIRED, "bundle-expired"},
	{ota_install_error_quark, OTA_INSTALL_ERROR_NO_SLOT, "no-slot"},
	{ota_install_error_quark, OTA_INSTALL_ERROR_WRITE, "slot-write-failed"},
	{ota_install_error_quark, OTA_INSTALL_ERROR_HOOK, "hook-failed"},
	{ota_install_error_quark, OTA_INSTALL_ERROR_STATE, "state-conflict"},
	{ota_install_error_quark, OTA_INSTALL_ERROR_INVALID, "manifest-invalid"},
	{ota_slot_error_quark, OTA_SLOT_ERROR_NOT_FOUND, "no-slot"},
	{ota_slot_error_quark, OTA_SLOT_ERROR_BOOTED, "slot-booted"},
	{ota_state_error_quark, OTA_STATE_ERROR_IO, "io"},
	{ota_state_error_quark, OTA_STATE_ERROR_CORRUPTED, "state-corrupted"},
	{ota_state_error_quark, OTA_STATE_ERROR_BUSY, "busy"},
	{ota_bootloader_error_quark, ANY_CODE, "bootloader-failed"},

	/* GLib's, where a library call's error is passed on as it is. */
	{g_file_error_quark, ANY_CODE, "io"},
	{g_io_error_quark, ANY_CODE, "io"},
};

const char *ota_error_code(const GError *error)
{
	if (error == NULL)
		return "failed";
	for (gsize i = 0; i < G_N_ELEMENTS(error_codes); i++) {
		if (error->domain == error_codes[i].domain() &&
		    (error_codes[i].code == ANY_CODE || error->code == error_codes[i].code))
			return error_codes[i].name;
	}
	return "failed";
}
