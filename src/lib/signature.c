/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "signature-private.h"

#include <openssl/err.h>
#include <string.h>
#include <time.h>

#include "openssl-private.h"
#include "policy-private.h"
#include "signature-eddsa-private.h"
#include "timestamp-private.h"

G_DEFINE_QUARK(ota-signature-error-quark, ota_signature_error)

/* --- signer description ------------------------------------------------ */

static char *time_to_string(const ASN1_TIME *t)
{
	struct tm tm;
	char buf[32];

	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return g_strdup("?");
	return g_strdup(buf);
}

static void signer_info_free(OtaSignerInfo *info)
{
	g_free(info->subject);
	g_free(info->issuer);
	g_free(info->cert_sha256);
	g_free(info->spki_sha256);
	g_free(info->key_id);
	g_free(info->not_before);
	g_free(info->not_after);
	g_free(info->reason);
	g_free(info->missing_issuer);
	ota_timestamp_free(info->timestamp);
	g_free(info);
}

static OtaSignerInfo *describe_signer(X509 *cert)
{
	OtaSignerInfo *info = g_new0(OtaSignerInfo, 1);

	info->status = OTA_SIGNER_UNCHECKED;
	if (cert == NULL) {
		info->subject = g_strdup("?");
		info->issuer = g_strdup("?");
		info->reason = g_strdup("signer certificate is not included in the signature");
		return info;
	}
	info->subject = ota_x509_name_to_string(X509_get_subject_name(cert));
	info->issuer = ota_x509_name_to_string(X509_get_issuer_name(cert));
	info->cert_sha256 = ota_x509_certificate_sha256(cert);
	info->spki_sha256 = ota_x509_spki_sha256(cert);
	info->key_id = ota_keys_public_key_id(X509_get0_pubkey(cert));
	info->not_before = time_to_string(X509_get0_notBefore(cert));
	info->not_after = time_to_string(X509_get0_notAfter(cert));
	return info;
}

const char *ota_signer_info_get_subject(const OtaSignerInfo *info)
{
	return info->subject;
}

const char *ota_signer_info_get_issuer(const OtaSignerInfo *info)
{
	return info->issuer;
}

const char *ota_signer_info_get_certificate_sha256(const OtaSignerInfo *info)
{
	return info->cert_sha256;
}

const char *ota_signer_info_get_spki_sha256(const OtaSignerInfo *info)
{
	return info->spki_sha256;
}

const char *ota_signer_info_get_not_before(const OtaSignerInfo *info)
{
	return info->not_before;
}

const char *ota_signer_info_get_not_after(const OtaSignerInfo *info)
{
	return info->not_after;
}

OtaSignerStatus ota_signer_info_get_status(const OtaSignerInfo *info)
{
	return info->status;
}

const char *ota_signer_info_get_reason(const OtaSignerInfo *info)
{
	return info->reason;
}

gboolean ota_signer_info_is_nested(const OtaSignerInfo *info)
{
	return info->nested;
}

/* --- parsing ------------------------------------------------------------ */

guint ota_signature_get_n_signers(const OtaSignature *sig)
{
	return sig->signers->len;
}

const OtaSignerInfo *ota_signature_get_signer(const OtaSignature *sig, guint index)
{
	g_return_val_if_fail(index < sig->signers->len, NULL);
	return g_ptr_array_index(sig->signers, index);
}

guint ota_signature_get_counted(const OtaSignature *sig)
{
	return sig->counted;
}

gboolean ota_signature_is_detached(const OtaSignature *sig)
{
	return sig->detached;
}

void ota_signature_free(OtaSignature *sig)
{
	if (sig == NULL)
		return;
	/* Signers point into the CMS structures: free them first. */
	if (sig->signers != NULL)
		g_ptr_array_unref(sig->signers);
	if (sig->nested != NULL)
		g_ptr_array_unref(sig->nested);
	CMS_ContentInfo_free(sig->cms);
	g_free(sig);
}

gboolean ota_signature_encoding_from_string(const char *name, OtaSignatureEncoding *encoding)
{
	if (g_strcmp0(name, "nested") == 0)
		*encoding = OTA_SIGNATURE_ENCODING_NESTED;
	else if (g_strcmp0(name, "signer-infos") == 0)
		*encoding = OTA_SIGNATURE_ENCODING_SIGNER_INFOS;
	else
		return FALSE;
	return TRUE;
}

static X509 *signer_certificate(CMS_SignerInfo *si)
{
	X509 *cert = NULL;

	CMS_SignerInfo_get0_algs(si, NULL, &cert, NULL, NULL);
	return cert;
}

X509 *ota_signer_info_get_certificate(const OtaSignerInfo *info)
{
	return signer_certificate(info->si);
}

static ASN1_OBJECT *nested_oid(void)
{
	static ASN1_OBJECT *oid;

	if (g_once_init_enter(&oid))
		g_once_init_leave(&oid, OBJ_txt2obj(OTA_SIGNATURE_NESTED_OID, 1));
	return oid;
}

/* One CMS SignedData over id-data with at least one SignerInfo, and not a
 * byte more. */
static CMS_ContentInfo *parse_signed_data(const guint8 *der, gsize length, GError **error)
{
	g_autoptr(CMS_ContentInfo) cms = NULL;
	const unsigned char *p = der;
	STACK_OF(CMS_SignerInfo) *infos;

	if (length > G_MAXLONG) {
		g_set_error_literal(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_PARSE,
		                    "signature is too large");
		return NULL;
	}
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)length);
	if (cms == NULL) {
		ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_PARSE,
		                      "signature is not valid CMS");
		return NULL;
	}
	if (p != der + length) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_PARSE,
		            "signature has %" G_GSIZE_FORMAT " trailing bytes after the CMS",
		            (gsize)(der + length - p));
		return NULL;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		g_set_error_literal(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_PARSE,
		                    "signature is CMS, but not SignedData");
		return NULL;
	}
	if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data) {
		g_set_error_literal(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED,
		                    "signature covers content of a type other than id-data");
		return NULL;
	}
	infos = CMS_get0_SignerInfos(cms);
	if (infos == NULL || sk_CMS_SignerInfo_num(infos) < 1) {
		g_set_error_literal(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_PARSE,
		                    "signature has no signer");
		return NULL;
	}
	/* Matches each SignerInfo with its certificate among the embedded ones;
	 * a signer whose certificate is missing stays without one. */
	if (CMS_set1_signers_certs(cms, NULL, 0) < 0)
		ERR_clear_error();
	return g_steal_pointer(&cms);
}

static void add_signers_of(OtaSignature *sig, CMS_ContentInfo *cms, gboolean nested)
{
	STACK_OF(CMS_SignerInfo) *infos = CMS_get0_SignerInfos(cms);

	for (int i = 0; i < sk_CMS_SignerInfo_num(infos); i++) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(infos, i);
		OtaSignerInfo *info = describe_signer(signer_certificate(si));

		info->nested = nested;
		info->cms = cms;
		info->si = si;
		g_ptr_array_add(sig->signers, info);
	}
}

static gboolean has_nested_attribute(CMS_ContentInfo *cms)
{
	STACK_OF(CMS_SignerInfo) *infos = CMS_get0_SignerInfos(cms);

	for (int i = 0; i < sk_CMS_SignerInfo_num(infos); i++) {
		if (CMS_unsigned_get_attr_by_OBJ(sk_CMS_SignerInfo_value(infos, i), nested_oid(), -1) >= 0)
			return TRUE;
	}
	return FALSE;
}

/* Nested signatures: values of our unsigned attribute on the primary's
 * SignerInfos, each a complete detached SignedData that nests no further. */
static gboolean parse_nested(OtaSignature *sig, GError **error)
{
	STACK_OF(CMS_SignerInfo) *infos = CMS_get0_SignerInfos(sig->cms);

	for (int i = 0; i < sk_CMS_SignerInfo_num(infos); i++) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(infos, i);
		int idx = -1;

		while ((idx = CMS_unsigned_get_attr_by_OBJ(si, nested_oid(), idx)) >= 0) {
			X509_ATTRIBUTE *attr = CMS_unsigned_get_attr(si, idx);

			for (int v = 0; v < X509_ATTRIBUTE_count(attr); v++) {
				ASN1_TYPE *value = X509_ATTRIBUTE_get0_type(attr, v);
				CMS_ContentInfo *cms;

				if (value == NULL || value->type != V_ASN1_SEQUENCE) {
					g_set_error_literal(error, OTA_SIGNATURE_ERROR,
					                    OTA_SIGNATURE_ERROR_PARSE,
					                    "nested signature is not a SEQUENCE");
					return FALSE;
				}
				cms = parse_signed_data(ASN1_STRING_get0_data(value->value.sequence),
				                        (gsize)ASN1_STRING_length(value->value.sequence),
				                        error);
				if (cms == NULL) {
					g_prefix_error(error, "nested signature: ");
					return FALSE;
				}
				g_ptr_array_add(sig->nested, cms);
				if (CMS_is_detached(cms) != 1 || has_nested_attribute(cms)) {
					g_set_error_literal(error, OTA_SIGNATURE_ERROR,
					                    OTA_SIGNATURE_ERROR_PARSE,
					                    "nested signature must be detached and nest no further");
					return FALSE;
				}
				add_signers_of(sig, cms, TRUE);
			}
		}
	}
	return TRUE;
}

OtaSignature *ota_signature_parse(const guint8 *der, gsize length, GError **error)
{
	g_autoptr(OtaSignature) sig = g_new0(OtaSignature, 1);

	sig->signers = g_ptr_array_new_with_free_func((GDestroyNotify)signer_info_free);
	sig->nested = g_ptr_array_new_with_free_func((GDestroyNotify)CMS_ContentInfo_free);
	sig->cms = parse_signed_data(der, length, error);
	if (sig->cms == NULL)
		return NULL;
	sig->detached = CMS_is_detached(sig->cms) == 1;
	add_signers_of(sig, sig->cms, FALSE);
	if (!parse_nested(sig, error))
		return NULL;
	for (guint i = 0; i < sig->signers->len; i++) {
		OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);

		if (!ota_timestamp_parse_signer(info->si, &info->timestamp, error)) {
			g_prefix_error(error, "signer %s: ", info->subject);
			return NULL;
		}
	}
	return g_steal_pointer(&sig);
}

/* --- verification --------------------------------------------------------- */

/* OpenSSL's CMS_verify() digests the content only with the algorithms
 * SignedData.digestAlgorithms lists, and rejects a signer whose algorithm is
 * missing there (RAUC inherits this). That set is unsigned, but to be never
 * more lenient than RAUC we ask the same question the same way: through
 * the digest BIOs CMS_dataInit() builds from it. */
static gboolean digest_algorithm_is_listed(CMS_ContentInfo *cms, int nid)
{
	BIO *sink = BIO_new(BIO_s_null());
	BIO *chain = sink ? CMS_dataInit(cms, sink) : NULL;
	gboolean found = FALSE;

	/* On failure CMS_dataInit() does not take ownership of @sink. */
	if (chain == NULL) {
		BIO_free(sink);
		ERR_clear_error();
		return FALSE;
	}
	for (BIO *b = chain; b != NULL; b = BIO_next(b)) {
		const EVP_MD *md = NULL;

		if (BIO_method_type(b) == BIO_TYPE_MD && BIO_get_md(b, &md) > 0 && md != NULL &&
		    EVP_MD_get_type(md) == nid)
			found = TRUE;
	}
	BIO_free_all(chain);
	return found;
}

/* The cryptographic checks of one SignerInfo. Failing any of them means the
 * signature or the content was altered, which rejects the whole bundle.
 * With @content NULL, all but the message digest (the content not read
 * yet). An Ed25519 signer is held to RFC 8419 (SHA-512) by the same rules. */
static gboolean check_signer_crypto(CMS_ContentInfo *cms, CMS_SignerInfo *si,
                                    const OtaSignerInfo *info, const OtaChecksum *content,
                                    GError **error)
{
	const guint8 *sha256 = content != NULL ? content->sha256 : NULL;
	X509_ALGOR *digest_alg = NULL;
	ASN1_OCTET_STRING *md;
	ASN1_OBJECT *content_type;

	if (ota_eddsa_is_ed25519(signer_certificate(si)))
		return ota_eddsa_check_signer(si, signer_certificate(si), info->subject,
		                              digest_algorithm_is_listed(cms, NID_sha512), content,
		                              error);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &digest_alg, NULL);
	if (digest_alg == NULL || OBJ_obj2nid(digest_alg->algorithm) != NID_sha256) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED,
		            "signer %s: digest algorithm is not SHA-256", info->subject);
		return FALSE;
	}
	if (!digest_algorithm_is_listed(cms, NID_sha256)) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID,
		            "signer %s: SHA-256 is not among the SignedData digest algorithms",
		            info->subject);
		return FALSE;
	}
	/* Without signed attributes the signature would be over the content
	 * itself; RAUC never writes that, and we don't accept it. */
	if (CMS_signed_get_attr_count(si) <= 0) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED,
		            "signer %s: no signed attributes", info->subject);
		return FALSE;
	}
	if (CMS_SignerInfo_verify(si) != 1) {
		ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID,
		                      "signer %s: signature is invalid", info->subject);
		return FALSE;
	}
	content_type = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_contentType), -3,
	                                           V_ASN1_OBJECT);
	if (content_type == NULL || OBJ_obj2nid(content_type) != NID_pkcs7_data) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID,
		            "signer %s: content-type attribute missing or not id-data", info->subject);
		return FALSE;
	}
	if (sha256 == NULL)
		return TRUE;
	md = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3,
	                                 V_ASN1_OCTET_STRING);
	if (md == NULL || ASN1_STRING_length(md) != OTA_SHA256_LEN ||
	    memcmp(ASN1_STRING_get0_data(md), sha256, OTA_SHA256_LEN) != 0) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID,
		            "signer %s: content does not match the signed digest (modified after "
		            "signing)",
		            info->subject);
		return FALSE;
	}
	return TRUE;
}

static void set_threshold_error(OtaSignature *sig, guint threshold, GError **error)
{
	g_autoptr(GString) why = g_string_new(NULL);

	for (guint i = 0; i < sig->signers->len; i++) {
		const OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);

		if (info->status == OTA_SIGNER_COUNTED)
			continue;
		g_string_append_printf(why, "%s%s: %s", why->len ? "; " : "", info->subject,
		                       info->reason ? info->reason : "not counted");
	}
	if (threshold <= 1)
		g_set_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD,
		            "no trusted signer: %s", why->str);
	else
		g_set_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD,
		            "%u of %u required signer keys trusted%s%s", sig->counted, threshold,
		            why->len ? ": " : "", why->str);
}

GBytes *ota_signature_get_content(const OtaSignature *sig)
{
	ASN1_OCTET_STRING **content = CMS_get0_content(sig->cms);

	if (sig->detached || content == NULL || *content == NULL)
		return NULL;
	return g_bytes_new(ASN1_STRING_get0_data(*content), (gsize)ASN1_STRING_length(*content));
}

/* The digest the signers must have signed: the caller's for detached
 * content, ours over the embedded content otherwise. */
static gboolean content_digest(const OtaSignature *sig, const OtaChecksum *detached,
                               OtaChecksum *out, GError **error)
{
	g_autoptr(GBytes) content = NULL;

	if (sig->detached != (detached != NULL)) {
		g_set_error_literal(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED,
		                    sig->detached ? "signature is detached, but no content was given"
		                                  : "signature embeds its content; expected a "
		                                    "detached signature");
		return FALSE;
	}
	if (sig->detached) {
		*out = *detached;
		return TRUE;
	}
	content = ota_signature_get_content(sig);
	if (content == NULL) {
		g_set_error_literal(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_PARSE,
		                    "signature has no content");
		return FALSE;
	}
	return ota_checksum_bytes_all(content, out, error);
}

/* Every signer must have signed @content (NULL: whatever content; see
 * check_signer_crypto()); any failure means tampering. A
 * SignerInfo whose certificate is not embedded can't be checked at all,
 * and an unchecked SignerInfo beside counted ones would let garbage ride
 * along: RAUC rejects such a CMS, and so do we. */
static gboolean check_all_crypto(OtaSignature *sig, const OtaChecksum *content,
                                 GError **error)
{
	for (guint i = 0; i < sig->signers->len; i++) {
		OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);

		if (signer_certificate(info->si) == NULL) {
			g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID,
			            "%ssigner %u: its certificate is not included in the signature",
			            info->nested ? "nested " : "", i + 1);
			return FALSE;
		}
		if (!check_signer_crypto(info->cms, info->si, info, content, error))
			return FALSE;
		if (info->timestamp != NULL && !ota_timestamp_check_crypto(info->timestamp, error)) {
			g_prefix_error(error, "signer %s: ", info->subject);
			return FALSE;
		}
	}
	return TRUE;
}

gboolean ota_signature_check_crypto(OtaSignature *sig, const OtaChecksum *detached,
                                    GError **error)
{
	OtaChecksum content;

	return content_digest(sig, detached, &content, error) &&
	       check_all_crypto(sig, &content, error);
}

gboolean ota_signature_check_attributes(OtaSignature *sig, GError **error)
{
	return check_all_crypto(sig, NULL, error);
}

gboolean ota_signature_signs_digest(const OtaSignature *sig, const OtaChecksum *content)
{
	for (guint i = 0; i < sig->signers->len; i++) {
		const OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);
		ASN1_OCTET_STRING *md = CMS_signed_get0_data_by_OBJ(
			info->si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING);
		/* Ed25519 signers sign the SHA-512 (RFC 8419). */
		gboolean sha512 = ota_eddsa_is_ed25519(signer_certificate(info->si));
		const guint8 *digest = sha512 ? content->sha512 : content->sha256;
		int len = sha512 ? OTA_SHA512_LEN : OTA_SHA256_LEN;

		if (md == NULL || (sha512 && !content->has_sha512) || ASN1_STRING_length(md) != len ||
		    memcmp(ASN1_STRING_get0_data(md), digest, (size_t)len) != 0)
			return FALSE;
	}
	return TRUE;
}

gboolean ota_signature_has_ed25519_signer(const OtaSignature *sig)
{
	for (guint i = 0; i < sig->signers->len; i++) {
		const OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);

		if (ota_eddsa_is_ed25519(signer_certificate(info->si)))
			return TRUE;
	}
	return FALSE;
}

gboolean ota_signers_have_ed25519(OtaSigner *const *signers, gsize n_signers)
{
	for (gsize i = 0; i < n_signers; i++) {
		if (ota_eddsa_is_ed25519(signers[i]->cert))
			return TRUE;
	}
	return FALSE;
}

/* Intermediates for chain building: those of every signature involved. */
static OtaX509Stack *all_embedded_certificates(OtaSignature *sig)
{
	OtaX509Stack *all = CMS_get1_certs(sig->cms);

	if (all == NULL)
		all = sk_X509_new_null();
	for (guint i = 0; i < sig->nested->len; i++) {
		g_autoptr(OtaX509Stack) more = CMS_get1_certs(g_ptr_array_index(sig->nested, i));

		while (more != NULL && sk_X509_num(more) > 0)
			sk_X509_push(all, sk_X509_shift(more));
	}
	return all;
}

/* The signingTime signed attribute of @si, as RAUC reads it for
 * use-bundle-signing-time: one attribute with one value, a UTCTime or
 * GeneralizedTime. Read only after the signature over the signed
 * attributes verified, so it is the signer's word. NULL, or the reason the
 * signer has no usable one. */
static char *signing_time_problem(CMS_SignerInfo *si, time_t *at)
{
	int index = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *value;
	struct tm tm;

	if (index < 0)
		return g_strdup("no signingTime attribute, which use-bundle-signing-time needs");
	attr = CMS_signed_get_attr(si, index);
	if (CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, index) >= 0 || attr == NULL ||
	    X509_ATTRIBUTE_count(attr) != 1)
		return g_strdup("signingTime attribute is not a single time");
	value = X509_ATTRIBUTE_get0_type(attr, 0);
	/* Only these two carry an ASN1_STRING in the union: checked first. */
	if (value == NULL ||
	    (value->type != V_ASN1_UTCTIME && value->type != V_ASN1_GENERALIZEDTIME) ||
	    value->value.asn1_string == NULL || ASN1_TIME_check(value->value.asn1_string) != 1 ||
	    ASN1_TIME_to_tm(value->value.asn1_string, &tm) != 1) {
		ERR_clear_error();
		return g_strdup("signingTime attribute is not a valid time");
	}
	*at = timegm(&tm);
	return NULL;
}

/* Where @info's certificate times are checked: NULL (now), or its
 * signingTime in *@at if @policy says so. FALSE, with @info not counted,
 * if it has to be the signingTime and there is none. */
static gboolean signer_check_time(OtaSignerInfo *info, const OtaPolicy *policy, time_t *at,
                                  const time_t **check_at)
{
	*check_at = NULL;
	if (ota_policy_get_check_time(policy) == OTA_CHECK_TIME_TIMESTAMP) {
		info->reason = info->timestamp == NULL
		                       ? g_strdup("no trusted timestamp")
		                       : g_strdup_printf("no trusted timestamp: %s",
		                                         ota_signer_info_get_timestamp_reason(info));
		info->status = OTA_SIGNER_UNTRUSTED;
		return FALSE;
	}
	if (!ota_policy_get_use_signing_time(policy))
		return TRUE;
	info->reason = signing_time_problem(info->si, at);
	if (info->reason != NULL) {
		info->status = OTA_SIGNER_UNTRUSTED;
		return FALSE;
	}
	*check_at = at;
	return TRUE;
}

/* Which signers @policy trusts, each key counted once. */
static gboolean count_trusted_signers(OtaSignature *sig, const OtaPolicy *policy, GError **error)
{
	g_autoptr(OtaX509Stack) embedded = all_embedded_certificates(sig);
	g_autoptr(GHashTable) counted_keys = g_hash_table_new(g_str_hash, g_str_equal);

	sig->counted = 0;
	for (guint i = 0; i < sig->signers->len; i++) {
		OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);
		X509 *cert = signer_certificate(info->si);
		const time_t *check_at;
		time_t signing_time;

		g_clear_pointer(&info->reason, g_free);
		g_clear_pointer(&info->missing_issuer, g_free);
		/* A trusted timestamp says when the signature was made. */
		if (info->timestamp != NULL)
			ota_timestamp_evaluate(info->timestamp, info->si, ota_policy_get_tsa_store(policy));
		if (ota_signer_info_timestamp_is_trusted(info)) {
			info->status = ota_policy_check_signer_at_timestamp(
				policy, cert, embedded, (time_t)info->timestamp->time, &info->reason,
				&info->missing_issuer);
		} else {
			if (!signer_check_time(info, policy, &signing_time, &check_at))
				continue;
			info->status = ota_policy_check_signer_chain(policy, cert, embedded, check_at,
			                                             &info->reason, &info->missing_issuer);
		}
		if (info->status != OTA_SIGNER_COUNTED) {
			if (info->timestamp != NULL && !info->timestamp->trusted) {
				char *why = g_strdup_printf("%s (its timestamp is not trusted: %s)",
				                            info->reason, info->timestamp->reason);

				g_free(info->reason);
				info->reason = why;
			}
			continue;
		}
		/* One key is one signer, with two certificates or in two encodings. */
		if (!g_hash_table_add(counted_keys, info->key_id)) {
			info->status = OTA_SIGNER_DUPLICATE_KEY;
			info->reason = g_strdup("same public key as another signer, counted once");
			continue;
		}
		sig->counted++;
	}

	if (sig->counted < ota_policy_get_threshold(policy)) {
		set_threshold_error(sig, ota_policy_get_threshold(policy), error);
		return FALSE;
	}
	return TRUE;
}

gboolean ota_signature_verify_content(OtaSignature *sig, const OtaChecksum *detached,
                                      const OtaPolicy *policy, GError **error)
{
	g_return_val_if_fail(policy != NULL, FALSE);

	/* Cryptography first, for every signer: one bad signature rejects all. */
	return ota_signature_check_crypto(sig, detached, error) &&
	       count_trusted_signers(sig, policy, error);
}

gboolean ota_signature_verify(OtaSignature *sig, const guint8 *detached_sha256,
                              const OtaPolicy *policy, GError **error)
{
	OtaChecksum detached = {0};

	/* Without the SHA-512 an Ed25519 signer of detached content fails. */
	if (detached_sha256 != NULL)
		memcpy(detached.sha256, detached_sha256, OTA_SHA256_LEN);
	return ota_signature_verify_content(sig, detached_sha256 != NULL ? &detached : NULL, policy,
	                                    error);
}

gboolean ota_signature_check_signers(OtaSignature *sig, const OtaPolicy *policy, GError **error)
{
	g_return_val_if_fail(policy != NULL, FALSE);

	return check_all_crypto(sig, NULL, error) && count_trusted_signers(sig, policy, error);
}

GBytes *ota_signature_encode_cms(CMS_ContentInfo *cms, GError **error)
{
	unsigned char *der = NULL;
	int len = i2d_CMS_ContentInfo(cms, &der);
	GBytes *out;

	if (len <= 0) {
		ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
		                      "cannot encode CMS");
		return NULL;
	}
	out = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return out;
}

/* --- signing ------------------------------------------------------------- */

static gboolean add_certificate_once(CMS_ContentInfo *cms, X509 *cert)
{
	g_autoptr(OtaX509Stack) present = CMS_get1_certs(cms);

	for (int i = 0; present && i < sk_X509_num(present); i++) {
		if (X509_cmp(sk_X509_value(present, i), cert) == 0)
			return TRUE;
	}
	return CMS_add1_cert(cms, cert) == 1;
}

static gboolean add_signer(CMS_ContentInfo *cms, OtaSigner *signer, const OtaChecksum *content,
                           GError **error)
{
	const guint8 *sha256 = content->sha256;
	CMS_SignerInfo *si;

	if (ota_eddsa_is_ed25519(signer->cert))
		return ota_eddsa_add_signer(cms, signer, content, error);

	/* CMS_PARTIAL: we supply the message digest ourselves (computed over
	 * the payload in one streamed pass) instead of letting CMS read the
	 * content again. */
	si = CMS_add1_signer(cms, signer->cert, signer->key, EVP_sha256(),
	                     CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP);
	if (si == NULL ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
	                                OBJ_nid2obj(NID_pkcs7_data), -1) != 1 ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, sha256,
	                                OTA_SHA256_LEN) != 1 ||
	    CMS_SignerInfo_sign(si) != 1) {
		ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
		                      "%s: signing failed", signer->key_uri);
		return FALSE;
	}
	return TRUE;
}

static gboolean embed_content(CMS_ContentInfo *cms, GBytes *content)
{
	ASN1_OCTET_STRING **slot = CMS_get0_content(cms);

	return slot != NULL && *slot != NULL &&
	       ASN1_OCTET_STRING_set(*slot, g_bytes_get_data(content, NULL),
	                             (int)g_bytes_get_size(content)) == 1;
}

GBytes *ota_signature_sign(OtaSigner *const *signers, gsize n_signers,
                           OtaX509Stack *intermediates, const OtaChecksum *digest,
                           GBytes *content, GError **error)
{
	g_autoptr(CMS_ContentInfo) cms = NULL;

	g_return_val_if_fail(n_signers > 0, NULL);

	cms = CMS_sign(NULL, NULL, NULL, NULL,
	               CMS_PARTIAL | CMS_BINARY | (content == NULL ? CMS_DETACHED : 0));
	if (cms == NULL || (content != NULL && !embed_content(cms, content))) {
		ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
		                      "cannot create CMS SignedData");
		return NULL;
	}
	for (gsize i = 0; i < n_signers; i++) {
		if (!add_signer(cms, signers[i], digest, error))
			return NULL;
	}
	for (int i = 0; intermediates && i < sk_X509_num(intermediates); i++) {
		if (!add_certificate_once(cms, sk_X509_value(intermediates, i))) {
			ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
			                      "cannot embed intermediate certificate");
			return NULL;
		}
	}
	return ota_signature_encode_cms(cms, error);
}

/* --- merging ----------------------------------------------------------------- */

/* Moves the partial's SignerInfos (and certificates) into @target. The
 * moved SignerInfos are only encoded afterwards, never used for
 * cryptography in their new home. */
static gboolean move_signer_infos(CMS_ContentInfo *target, CMS_ContentInfo *partial,
                                  GError **error)
{
	STACK_OF(CMS_SignerInfo) *from = CMS_get0_SignerInfos(partial);
	STACK_OF(CMS_SignerInfo) *to = CMS_get0_SignerInfos(target);
	g_autoptr(OtaX509Stack) certs = CMS_get1_certs(partial);

	for (int i = 0; certs != NULL && i < sk_X509_num(certs); i++) {
		if (!add_certificate_once(target, sk_X509_value(certs, i))) {
			ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
			                      "cannot add a signer certificate");
			return FALSE;
		}
	}
	for (int i = 0; i < sk_CMS_SignerInfo_num(from);) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(from, i);
		X509_ALGOR *digest_alg = NULL;

		/* A digest @target's SignedData does not list (SHA-512 of an
		 * Ed25519 signer, or SHA-256 beside one) must be listed, and only
		 * a SignerInfo added by OpenSSL adds it: @si is copied. */
		CMS_SignerInfo_get0_algs(si, NULL, NULL, &digest_alg, NULL);
		if (!digest_algorithm_is_listed(target, OBJ_obj2nid(digest_alg->algorithm))) {
			if (!ota_eddsa_copy_signer_info(target, si, error))
				return FALSE;
			i++;
			continue;
		}
		if (sk_CMS_SignerInfo_push(to, sk_CMS_SignerInfo_delete(from, i)) <= 0) {
			g_set_error_literal(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
			                    "out of memory");
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean nest(CMS_ContentInfo *target, GBytes *partial, GError **error)
{
	CMS_SignerInfo *primary = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(target), 0);

	if (CMS_unsigned_add1_attr_by_OBJ(primary, nested_oid(), V_ASN1_SEQUENCE,
	                                  g_bytes_get_data(partial, NULL),
	                                  (int)g_bytes_get_size(partial)) != 1) {
		ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
		                      "cannot nest a signature");
		return FALSE;
	}
	return TRUE;
}

/* A key that already signs adds a SignerInfo that counts once: refused, so
 * that nobody believes a bundle has more signers than it has. Keys are
 * compared as keys (ota_keys_public_key_id), not by certificate. */
static gboolean add_distinct_keys(GHashTable *keys, OtaSignature *sig, GError **error)
{
	for (guint i = 0; i < sig->signers->len; i++) {
		OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);

		if (info->key_id == NULL) {
			g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED,
			            "signer %s: unsupported public key", info->subject);
			return FALSE;
		}
		if (!g_hash_table_add(keys, g_strdup(info->key_id))) {
			g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED,
			            "signer %s: the same key already signs this bundle", info->subject);
			return FALSE;
		}
	}
	return TRUE;
}

gboolean ota_signature_check_new_signers(const OtaSignature *sig, OtaSigner *const *signers,
                                         gsize n_signers, GError **error)
{
	for (gsize i = 0; i < n_signers; i++) {
		g_autofree char *id = ota_keys_public_key_id(X509_get0_pubkey(signers[i]->cert));

		for (guint j = 0; id != NULL && j < sig->signers->len; j++) {
			const OtaSignerInfo *info = g_ptr_array_index(sig->signers, j);

			if (g_strcmp0(info->key_id, id) != 0)
				continue;
			g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED,
			            "%s: the same key already signs this bundle (as %s)",
			            signers[i]->cert_uri, info->subject);
			return FALSE;
		}
	}
	return TRUE;
}

GBytes *ota_signature_merge(GBytes *signature, GBytes *const *partials, gsize n_partials,
                            const OtaChecksum *content, OtaSignatureEncoding encoding,
                            GError **error)
{
	g_autoptr(OtaSignature) target =
		ota_signature_parse(g_bytes_get_data(signature, NULL), g_bytes_get_size(signature), error);
	g_autoptr(GHashTable) keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	if (target == NULL)
		return NULL;
	/* The signers already there are taken as they are. */
	for (guint i = 0; i < target->signers->len; i++) {
		const OtaSignerInfo *info = g_ptr_array_index(target->signers, i);

		if (info->key_id != NULL)
			g_hash_table_add(keys, g_strdup(info->key_id));
	}
	for (gsize i = 0; i < n_partials; i++) {
		g_autoptr(OtaSignature) part = ota_signature_parse(
			g_bytes_get_data(partials[i], NULL), g_bytes_get_size(partials[i]), error);

		if (part == NULL)
			return NULL;
		if (!part->detached || part->nested->len > 0) {
			g_set_error_literal(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED,
			                    "a partial signature must be a plain detached signature");
			return NULL;
		}
		/* A partial over other content would only spoil the bundle. */
		if (!check_all_crypto(part, content, error) || !add_distinct_keys(keys, part, error))
			return NULL;
		if (encoding == OTA_SIGNATURE_ENCODING_NESTED ? !nest(target->cms, partials[i], error)
		                                              : !move_signer_infos(target->cms, part->cms,
		                                                                   error))
			return NULL;
	}
	return ota_signature_encode_cms(target->cms, error);
}
