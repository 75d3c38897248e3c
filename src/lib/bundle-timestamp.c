/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Timestamps for signing rooms without a network: a TimeStampReq for one
 * signer written to a file, and the TSA's answer brought back and stored
 * on the signer it stamps (otabundle timestamp-request, add-timestamp). */
#include "bundle-private.h"

#include "timestamp-private.h"

/* A TimeStampResp with a certificate chain is a few KiB. */
#define MAX_RESPONSE_FILE_SIZE (256 * 1024)

/* The signer a request is for: @requested, or the only one without a token. */
static gboolean choose_signer(const OtaSignature *sig, int requested, guint *index,
                              GError **error)
{
	guint without = 0;

	if (requested >= 0) {
		*index = (guint)requested;
		return TRUE;
	}
	for (guint i = 0; i < sig->signers->len; i++) {
		const OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);

		if (info->timestamp == NULL && without++ == 0)
			*index = i;
	}
	if (without == 1)
		return TRUE;
	if (without == 0)
		g_set_error_literal(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_INPUT,
		                    "every signer has a timestamp already");
	else
		g_set_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_INPUT,
		            "%u signers have no timestamp: choose one (--signer N, as info numbers "
		            "them)", without);
	return FALSE;
}

gboolean ota_bundle_timestamp_request(const char *bundle_path, int signer_index,
                                      const char *request_path, gboolean force, GError **error)
{
	g_autoptr(OtaBundle) b = ota_bundle_open(bundle_path, error);
	g_autoptr(OtaOutput) out = NULL;
	g_autoptr(GBytes) request = NULL;
	g_autoptr(GError) ierror = NULL;
	guint index = 0;

	if (b == NULL || !bundle_check_decrypted(b, error))
		return FALSE;
	/* A token over a signature that does not verify would be wasted. */
	if (!ota_signature_check_attributes(b->signature, &ierror) ||
	    !choose_signer(b->signature, signer_index, &index, &ierror) ||
	    (request = ota_timestamp_request_for_signer(b->signature, index, &ierror)) == NULL) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", bundle_path);
		return FALSE;
	}
	out = ota_output_new(request_path, force, error);
	if (out == NULL)
		return FALSE;
	if (!ota_write_all(ota_output_get_fd(out), g_bytes_get_data(request, NULL),
	                   g_bytes_get_size(request), error)) {
		g_prefix_error(error, "%s: ", request_path);
		return FALSE;
	}
	return ota_output_commit(out, error);
}

static GBytes *read_response(const char *path, GError **error)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) ierror = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &data, &len, &ierror)) {
		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, "%s", ierror->message);
		return NULL;
	}
	if (len == 0 || len > MAX_RESPONSE_FILE_SIZE) {
		g_set_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_MALFORMED,
		            "%s: a timestamp response must be 1 to %d bytes", path,
		            MAX_RESPONSE_FILE_SIZE);
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&data), len);
}

gboolean ota_bundle_add_timestamp(const char *in_path, const char *response_path,
                                  const char *out_path, const OtaPolicy *policy,
                                  const char *tsa_keyring, gboolean force, guint *signer_index,
                                  GError **error)
{
	g_autoptr(OtaBundle) b = ota_bundle_open(in_path, error);
	g_autoptr(GBytes) response = NULL;
	g_autoptr(GBytes) stamped = NULL;
	g_autoptr(GError) ierror = NULL;

	if (b == NULL || !bundle_check_decrypted(b, error))
		return FALSE;
	response = read_response(response_path, error);
	if (response == NULL)
		return FALSE;
	stamped = ota_timestamp_add_response(b->signature, b->signature_der, response, tsa_keyring,
	                                     signer_index, &ierror);
	if (stamped == NULL) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", response_path);
		return FALSE;
	}
	/* Written as replace-signature writes: the new CMS must sign exactly
	 * what IN's does, IN's signatures checked first. */
	return bundle_replace_signature_der(in_path, stamped, response_path, out_path, policy, NULL,
	                                    force, error);
}
