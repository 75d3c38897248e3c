/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Trust lists on the host: writing a trust document bare or signed, adding
 * signers, partial signatures and merging them (otabundle trust create,
 * sign, merge), with the signing machinery of bundles (bundle-sign.c:
 * encodings, PKCS#11 signers, timestamps, the audit log); and verifying a
 * bundle as a device holding a trust list would (verify --trust). */
#include <otabundle/trust.h>

#include <string.h>

#include "bundle-private.h"
#include "manifest-private.h"
#include "openssl-private.h"
#include "output-private.h"
#include "signature-private.h"
#include "timestamp-private.h"
#include "trust-private.h"

/* What the audit log calls the thing signed (its "format"). */
#define AUDIT_FORMAT "trust"

/* A trust file read for signing: its document and, if signed, its CMS. */
typedef struct {
	const char *path;
	OtaTrust *trust;
	GBytes *document;        /* owned by @trust */
	GBytes *signed_data;     /* the signed file (owned by @trust), or NULL when bare */
	OtaSignature *signature; /* parsed from @signed_data, or NULL */
	OtaChecksum digest;      /* of @document: SHA-256 and SHA-512 */
} TrustInput;

static void trust_input_free(TrustInput *in)
{
	if (in == NULL)
		return;
	ota_trust_free(in->trust);
	ota_signature_free(in->signature);
	g_free(in);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TrustInput, trust_input_free)

/* @path, a bare trust document or a signed trust file, whose existing
 * signatures must be intact (trusted or not: who may sign is decided where
 * the update is checked against the current list). */
static TrustInput *trust_input_read(const char *path, GError **error)
{
	g_autoptr(TrustInput) in = g_new0(TrustInput, 1);
	g_autoptr(GError) ierror = NULL;

	in->path = path;
	in->trust = ota_trust_load(path, error);
	if (in->trust == NULL)
		return NULL;
	in->document = ota_trust_get_document(in->trust);
	in->signed_data = ota_trust_get_signed_data(in->trust);
	if (in->signed_data != NULL) {
		/* A copy of its own: checking records verdicts in it. */
		in->signature = ota_signature_parse(g_bytes_get_data(in->signed_data, NULL),
		                                    g_bytes_get_size(in->signed_data), &ierror);
		if (in->signature == NULL || !ota_signature_check_crypto(in->signature, NULL, &ierror)) {
			g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: signature: ", path);
			return NULL;
		}
	}
	if (!ota_checksum_bytes_all(in->document, &in->digest, error))
		return NULL;
	return g_steal_pointer(&in);
}

/* New signers must add keys that count: one already signing would count
 * once. */
static gboolean check_new_signers(const TrustInput *in, const OtaTrustSignOptions *options,
                                  GError **error)
{
	if (in->signature == NULL ||
	    ota_signature_check_new_signers(in->signature, options->signers, options->n_signers,
	                                    error))
		return TRUE;
	g_prefix_error(error, "%s: ", in->path);
	return FALSE;
}

/* What is about to be written reads back as a trust list with the same
 * document (@document, or @data itself when bare), and every signature in
 * it holds. */
static gboolean check_written(GBytes *data, GBytes *document, const char *path, GError **error)
{
	g_autoptr(OtaTrust) written =
		ota_trust_parse(g_bytes_get_data(data, NULL), g_bytes_get_size(data), path, error);
	g_autoptr(OtaSignature) sig = NULL;
	g_autoptr(GBytes) content = NULL;

	if (written == NULL)
		return FALSE;
	if (ota_trust_get_signature(written) == NULL)
		return TRUE;
	sig = ota_signature_parse(g_bytes_get_data(data, NULL), g_bytes_get_size(data), error);
	if (sig == NULL)
		return FALSE;
	content = ota_signature_get_content(sig);
	if (content == NULL || !g_bytes_equal(content, document)) {
		g_set_error_literal(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED,
		                    "the signature embeds another document");
		return FALSE;
	}
	return ota_signature_check_crypto(sig, NULL, error);
}

/* The last step of every command that writes a trust file: checked, then
 * written atomically, or nothing is. */
static gboolean write_checked(GBytes *data, GBytes *document, const char *path, gboolean force,
                              GError **error)
{
	g_autoptr(OtaOutput) out = ota_output_new(path, force, error);
	g_autoptr(GError) ierror = NULL;

	if (out == NULL)
		return FALSE;
	if (!check_written(data, document, path, &ierror)) {
		const char *reason = ierror->message;

		/* The parser names the file too. */
		if (g_str_has_prefix(reason, path) && g_str_has_prefix(reason + strlen(path), ": "))
			reason += strlen(path) + 2;
		g_set_error(error, ierror->domain, ierror->code, "%s: not written: %s", path, reason);
		return FALSE;
	}
	if (!ota_write_all(ota_output_get_fd(out), g_bytes_get_data(data, NULL),
	                   g_bytes_get_size(data), error)) {
		g_prefix_error(error, "%s: ", path);
		return FALSE;
	}
	return ota_output_commit(out, error);
}

/* The options' signers' signature over @in's document: embedded for a
 * bare document (then in @encoding), else detached (a partial, or to be
 * merged into the signature there). */
static GBytes *sign_document(const TrustInput *in, const OtaTrustSignOptions *options,
                             gboolean embed, GError **error)
{
	return bundle_sign_content(options->signers, options->n_signers, options->intermediates,
	                           embed ? options->encoding : OTA_SIGNATURE_ENCODING_SIGNER_INFOS,
	                           &in->digest, embed ? in->document : NULL, options->timestamp,
	                           error);
}

static gboolean log_signatures(const OtaTrustSignOptions *options, const char *operation,
                               const char *path, const TrustInput *in, GBytes *signature,
                               GError **error)
{
	return bundle_log_signatures(options->audit_log, operation, options->signers,
	                             options->n_signers, path, AUDIT_FORMAT, in->digest.sha256, NULL,
	                             signature, error);
}

gboolean ota_trust_write(GBytes *document, const char *out_path,
                         const OtaTrustSignOptions *options, GError **error)
{
	g_autoptr(TrustInput) in = g_new0(TrustInput, 1);
	g_autoptr(GBytes) signature = NULL;

	in->path = out_path;
	/* Refused before anything is signed if the parser would refuse it. */
	in->trust = ota_trust_parse(g_bytes_get_data(document, NULL), g_bytes_get_size(document),
	                            out_path, error);
	if (in->trust == NULL)
		return FALSE;
	if (ota_trust_get_signed_data(in->trust) != NULL) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED,
		            "%s: a signed trust list, not a trust document", out_path);
		return FALSE;
	}
	in->document = ota_trust_get_document(in->trust);
	if (!ota_checksum_bytes_all(in->document, &in->digest, error))
		return FALSE;
	if (options == NULL || options->n_signers == 0)
		return write_checked(document, document, out_path, options && options->force, error);
	signature = sign_document(in, options, TRUE, error);
	return signature != NULL &&
	       log_signatures(options, "create", out_path, in, signature, error) &&
	       write_checked(signature, document, out_path, options->force, error);
}

gboolean ota_trust_add_signers(const char *in_path, const char *out_path,
                               const OtaTrustSignOptions *options, GError **error)
{
	g_autoptr(TrustInput) in = NULL;
	g_autoptr(GBytes) partial = NULL;
	g_autoptr(GBytes) signature = NULL;

	g_return_val_if_fail(options->n_signers > 0, FALSE);

	in = trust_input_read(in_path, error);
	if (in == NULL || !check_new_signers(in, options, error))
		return FALSE;
	if (in->signature == NULL) {
		signature = sign_document(in, options, TRUE, error);
	} else {
		partial = sign_document(in, options, FALSE, error);
		signature = partial != NULL ? ota_signature_merge(in->signed_data, &partial, 1, &in->digest,
		                                                  options->encoding, error)
		                            : NULL;
	}
	return signature != NULL && log_signatures(options, "sign", out_path, in, signature, error) &&
	       write_checked(signature, in->document, out_path, options->force, error);
}

gboolean ota_trust_sign_detached(const char *in_path, const char *sig_path,
                                 const OtaTrustSignOptions *options, GError **error)
{
	g_autoptr(TrustInput) in = NULL;
	g_autoptr(OtaOutput) out = NULL;
	g_autoptr(GBytes) partial = NULL;

	g_return_val_if_fail(options->n_signers > 0, FALSE);

	in = trust_input_read(in_path, error);
	if (in == NULL || !check_new_signers(in, options, error))
		return FALSE;
	out = ota_output_new(sig_path, options->force, error);
	if (out == NULL)
		return FALSE;
	partial = sign_document(in, options, FALSE, error);
	if (partial == NULL ||
	    !log_signatures(options, "sign-detached", in_path, in, partial, error))
		return FALSE;
	if (!ota_write_all(ota_output_get_fd(out), g_bytes_get_data(partial, NULL),
	                   g_bytes_get_size(partial), error)) {
		g_prefix_error(error, "%s: ", sig_path);
		return FALSE;
	}
	return ota_output_commit(out, error);
}

/* A partial signature from `trust sign --detached`: intact, and over this
 * very document (a partial of another version is a mix-up in the ceremony,
 * which "tampered" would misreport). */
static GBytes *read_partial(const char *path, const TrustInput *in,
                            const OtaTimestampOptions *timestamp, GError **error)
{
	g_autoptr(GBytes) partial = bundle_read_signature_file(path, OTA_TRUST_MAX_SIZE, error);
	g_autoptr(OtaSignature) parsed = NULL;
	g_autoptr(GError) ierror = NULL;

	if (partial == NULL)
		return NULL;
	parsed = ota_signature_parse(g_bytes_get_data(partial, NULL), g_bytes_get_size(partial),
	                             &ierror);
	if (parsed != NULL && ota_signature_check_attributes(parsed, &ierror) &&
	    !ota_signature_signs_digest(parsed, &in->digest))
		g_set_error_literal(&ierror, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED,
		                    "signs another trust document (content digest differs)");
	if (ierror == NULL && !ota_signature_is_detached(parsed))
		g_set_error_literal(&ierror, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED,
		                    "not a partial signature (it embeds its document): give it as IN");
	if (ierror != NULL || !ota_signature_check_crypto(parsed, &in->digest, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", path);
		return NULL;
	}
	/* Its signers are new here: each gets its token now, unless it
	 * brought one. */
	if (timestamp != NULL) {
		GBytes *stamped = ota_timestamp_signature(partial, timestamp, error);

		if (stamped == NULL) {
			g_prefix_error(error, "%s: ", path);
			return NULL;
		}
		g_bytes_unref(partial);
		partial = stamped;
	}
	return g_steal_pointer(&partial);
}

/* @partial, a detached signature over @document, made to embed it: the
 * signers signed the document's digest in their signed attributes, which
 * stay as they are, so every signature still holds. */
static GBytes *embed_document(GBytes *partial, GBytes *document, GError **error)
{
	const unsigned char *der = g_bytes_get_data(partial, NULL);
	g_autoptr(CMS_ContentInfo) cms =
		d2i_CMS_ContentInfo(NULL, &der, (long)g_bytes_get_size(partial));
	ASN1_OCTET_STRING **content;

	if (cms == NULL || !CMS_set_detached(cms, 0) || (content = CMS_get0_content(cms)) == NULL ||
	    *content == NULL ||
	    !ASN1_OCTET_STRING_set(*content, g_bytes_get_data(document, NULL),
	                           (int)g_bytes_get_size(document))) {
		ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
		                      "cannot embed the trust document");
		return NULL;
	}
	/* Read in, not to be streamed in on output (OpenSSL's mark). */
	(*content)->flags &= ~ASN1_STRING_FLAG_CONT;
	return ota_signature_encode_cms(cms, error);
}

gboolean ota_trust_merge(const char *in_path, const char *out_path,
                         const char *const *sig_paths, gsize n_sigs,
                         const OtaTrustSignOptions *options, GError **error)
{
	g_autoptr(TrustInput) in = trust_input_read(in_path, error);
	g_autoptr(GPtrArray) partials = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_autoptr(GBytes) base = NULL;
	g_autoptr(GBytes) signature = NULL;
	GBytes *const *rest;
	gsize n_rest;

	g_return_val_if_fail(n_sigs > 0, FALSE);

	if (in == NULL)
		return FALSE;
	for (gsize i = 0; i < n_sigs; i++) {
		GBytes *partial = read_partial(sig_paths[i], in, options->timestamp, error);

		if (partial == NULL)
			return FALSE;
		g_ptr_array_add(partials, partial);
	}
	rest = (GBytes *const *)partials->pdata;
	n_rest = partials->len;
	/* A bare document: the first partial signature becomes the one that
	 * embeds it. */
	if (in->signature != NULL) {
		base = g_bytes_ref(in->signed_data);
	} else {
		base = embed_document(rest[0], in->document, error);
		if (base == NULL) {
			g_prefix_error(error, "%s: ", sig_paths[0]);
			return FALSE;
		}
		rest++;
		n_rest--;
	}
	/* No audit line: merging creates no signature. */
	signature = n_rest > 0 ? ota_signature_merge(base, rest, n_rest, &in->digest,
	                                             options->encoding, error)
	                       : g_bytes_ref(base);
	return signature != NULL &&
	       write_checked(signature, in->document, out_path, options->force, error);
}

/* --- what a trust list says ----------------------------------------------------------- */

gboolean ota_trust_get_tier_settings(const OtaTrust *trust, const char *tier,
                                     OtaTrustTier *settings)
{
	const OtaTrustTierEntry *t = ota_trust_get_tier(trust, tier);

	if (t == NULL)
		return FALSE;
	settings->name = t->name;
	settings->threshold = t->threshold;
	settings->purpose = t->purpose;
	settings->check_time = t->check_time;
	return TRUE;
}

guint ota_trust_get_n_anchors(const OtaTrust *trust, const char *tier)
{
	const OtaTrustTierEntry *t = ota_trust_get_tier(trust, tier);

	return t != NULL ? t->anchors->len : 0;
}

gboolean ota_trust_get_anchor(const OtaTrust *trust, const char *tier, guint index,
                              OtaTrustAnchorInfo *info)
{
	const OtaTrustTierEntry *t = ota_trust_get_tier(trust, tier);
	const OtaTrustAnchorEntry *a;

	if (t == NULL || index >= t->anchors->len)
		return FALSE;
	a = g_ptr_array_index(t->anchors, index);
	info->certificate = a->cert;
	info->subject = a->subject;
	info->certificate_sha256 = a->cert_sha256;
	info->has_not_before = a->has_not_before;
	info->not_before = a->not_before;
	info->has_not_after = a->has_not_after;
	info->not_after = a->not_after;
	return TRUE;
}

static char **strv_copy(const GPtrArray *strings)
{
	char **v = g_new0(char *, (strings != NULL ? strings->len : 0) + 1);

	for (guint i = 0; strings != NULL && i < strings->len; i++)
		v[i] = g_strdup(g_ptr_array_index(strings, i));
	return v;
}

char **ota_trust_get_revoked_keys(const OtaTrust *trust, const char *tier)
{
	const OtaTrustTierEntry *t = ota_trust_get_tier(trust, tier);

	return strv_copy(t != NULL ? t->revoked_spki : NULL);
}

char **ota_trust_get_revoked_certificates(const OtaTrust *trust, const char *tier)
{
	const OtaTrustTierEntry *t = ota_trust_get_tier(trust, tier);

	return strv_copy(t != NULL ? t->revoked_certs : NULL);
}

/* --- a bundle as a device holding a trust list sees it ---------------------------- */

/* Tier @tier must pass too; @why says what asks for it. */
static gboolean verify_tier(OtaBundle *bundle, const OtaTrust *trust, const char *tier,
                            const char *why, gint64 now, GError **error)
{
	const OtaChecksum *digest =
		bundle->format == OTA_BUNDLE_FORMAT_PLAIN ? &bundle->payload_checksum : NULL;
	g_autoptr(OtaPolicy) policy = ota_trust_policy_new(trust, tier, now, error);
	g_autoptr(GError) ierror = NULL;

	if (policy == NULL)
		return FALSE;
	if (ota_signature_verify_content(bundle->signature, digest, policy, &ierror))
		return TRUE;
	g_propagate_prefixed_error(error, g_steal_pointer(&ierror),
	                           "%s: tier '%s' of trust list version %" G_GUINT64_FORMAT "%s: ",
	                           bundle->path, tier, ota_trust_get_version(trust), why);
	return FALSE;
}

gboolean ota_trust_verify_bundle(OtaBundle *bundle, const OtaTrust *trust,
                                 const char *const *tiers, gint64 now,
                                 OtaBundleVerifyFlags flags, GError **error)
{
	g_autoptr(OtaPolicy) policy = ota_trust_policy_new(trust, "default", now, error);
	/* As the device does: every tier for a bundle that runs its own code. */
	gboolean runs_code;

	if (policy == NULL || !ota_bundle_verify(bundle, policy, flags, NULL, error))
		return FALSE;
	for (const char *const *tier = tiers; tier != NULL && *tier != NULL; tier++) {
		if (!g_str_equal(*tier, "default") &&
		    !verify_tier(bundle, trust, *tier, "", now, error))
			return FALSE;
	}
	runs_code = ota_manifest_runs_code(bundle->manifest);
	for (const char *const *tier = ota_trust_get_tiers(trust); runs_code && *tier != NULL;
	     tier++) {
		if (!g_str_equal(*tier, "default") &&
		    !verify_tier(bundle, trust, *tier, " (a bundle with hooks)", now, error))
			return FALSE;
	}
	return TRUE;
}
