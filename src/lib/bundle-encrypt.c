/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Encrypted bundles: a crypt bundle's signature wrapped in a CMS
 * EnvelopedData (envelope.c). Opening one is in bundle.c, writing one
 * (encrypt, and sign/merge/resign of an encrypted bundle) in
 * bundle-sign.c; here: its recipients, decrypting it, and the rules both
 * share. */
#include "bundle-private.h"

#include "keys-private.h"

gboolean ota_bundle_is_encrypted(const OtaBundle *b)
{
	return b->envelope != NULL;
}

guint ota_bundle_get_n_recipients(const OtaBundle *b)
{
	return b->envelope != NULL ? ota_envelope_get_n_recipients(b->envelope) : 0;
}

const OtaRecipient *ota_bundle_get_recipient(const OtaBundle *b, guint index)
{
	g_return_val_if_fail(b->envelope != NULL, NULL);
	return ota_envelope_get_recipient(b->envelope, index);
}

gboolean bundle_check_decrypted(OtaBundle *b, GError **error)
{
	if (b->signature != NULL)
		return TRUE;
	g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_ENCRYPTED,
	            "%s: bundle is encrypted: reading it needs a recipient's key", b->path);
	return FALSE;
}

gboolean bundle_check_envelope_size(gsize size, guint n_recipients, gboolean allow_large,
                                    GError **error)
{
	if (size <= OTA_BUNDLE_MAX_SIGNATURE_SIZE)
		return TRUE;
	if (!allow_large) {
		g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_TOO_LARGE,
		            "the EnvelopedData for %u recipients is %" G_GSIZE_FORMAT " bytes, over the "
		            "%d that RAUC 1.8 reads: encrypt for fewer recipients (a key per device "
		            "group), or use --allow-large-envelope for devices that run otabundle",
		            n_recipients, size, OTA_BUNDLE_MAX_SIGNATURE_SIZE);
		return FALSE;
	}
	if (size > OTA_BUNDLE_MAX_ENVELOPE_SIZE) {
		g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_TOO_LARGE,
		            "the EnvelopedData for %u recipients is %" G_GSIZE_FORMAT " bytes, over the "
		            "%d that otabundle reads: encrypt for fewer recipients (a key per device "
		            "group)",
		            n_recipients, size, OTA_BUNDLE_MAX_ENVELOPE_SIZE);
		return FALSE;
	}
	return TRUE;
}

/* The decrypted content becomes the bundle's signature, as if the bundle
 * had never been encrypted. */
static gboolean take_signature(OtaBundle *b, GBytes *content, GError **error)
{
	g_autoptr(OtaSignature) sig = ota_signature_parse(g_bytes_get_data(content, NULL),
	                                                  g_bytes_get_size(content), error);

	if (sig == NULL)
		return FALSE;
	if (sig->detached) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		                    "its encrypted signature embeds no manifest (an encrypted bundle's "
		                    "must)");
		return FALSE;
	}
	b->signature = g_steal_pointer(&sig);
	b->signature_der = g_bytes_ref(content);
	return TRUE;
}

static gboolean decrypt(OtaBundle *b, const char *key_uri, const char *cert_uri,
                        OtaKeyStore *store, GError **error)
{
	g_autofree char *key_name = ota_keys_uri_for_display(key_uri);
	g_autofree char *cert_name = cert_uri != NULL ? ota_keys_uri_for_display(cert_uri) : NULL;
	g_autoptr(X509) cert = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(GBytes) content = NULL;

	if (cert_uri != NULL && (cert = ota_key_store_load_certificate(store, cert_uri, error)) == NULL)
		return FALSE;
	key = ota_key_store_load_private_key(store, key_uri, error);
	if (key == NULL)
		return FALSE;
	content = ota_envelope_decrypt(b->envelope, key, key_name, cert, cert_name, error);
	return content != NULL && take_signature(b, content, error);
}

gboolean ota_bundle_decrypt(OtaBundle *b, const char *key_uri, const char *cert_uri,
                            OtaKeyStore *store, GError **error)
{
	g_autoptr(GError) ierror = NULL;

	g_return_val_if_fail(key_uri != NULL, FALSE);

	if (b->envelope == NULL || b->signature != NULL)
		return TRUE;
	if (!decrypt(b, key_uri, cert_uri, store, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", b->path);
		return FALSE;
	}
	return TRUE;
}

/* Why the same recipients, and how: an EnvelopedData names its recipients
 * only by issuer and serial, so the certificates they were encrypted for
 * can't be recovered from it, and asking whoever resigns for every
 * device's certificate again would make re-signing a fleet bundle depend
 * on the fleet's records. Keeping the RecipientInfos byte for byte with
 * the content-encryption key they wrap gives exactly the same recipients,
 * each of which decrypts the result as it did the input; the new content
 * gets a fresh IV under that key (CBC with a random IV stays sound under
 * one key). To change the recipients, encrypt the unencrypted bundle
 * again. A bundle that RAUC 1.8 could read stays one: only one whose
 * EnvelopedData was over its limit already may stay over it. */
GBytes *bundle_encrypt_again(OtaBundle *b, GBytes *signature, GError **error)
{
	g_autoptr(GBytes) enveloped = ota_envelope_encrypt_again(b->envelope, signature, error);

	if (enveloped == NULL ||
	    !bundle_check_envelope_size(g_bytes_get_size(enveloped),
	                                ota_envelope_get_n_recipients(b->envelope),
	                                b->layout.signature_size > OTA_BUNDLE_MAX_SIGNATURE_SIZE,
	                                error))
		return NULL;
	return g_steal_pointer(&enveloped);
}

gboolean bundle_decrypt_like(OtaBundle *b, const OtaBundle *source, GError **error)
{
	g_autoptr(GBytes) content = NULL;

	if (b->envelope == NULL || source->envelope == NULL) {
		g_set_error_literal(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED,
		                    "not encrypted as its input was");
		return FALSE;
	}
	content = ota_envelope_decrypt_like(b->envelope, source->envelope, error);
	return content != NULL && take_signature(b, content, error);
}
