/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ed25519 SignerInfos (RFC 8419 section 3). OpenSSL 3.0's
 * CMS_SignerInfo_sign() and CMS_SignerInfo_verify() feed the signed
 * attributes to a streaming digest-sign context, which PureEdDSA does not
 * have, so both fail for Ed25519. OpenSSL still builds the structure here
 * (CMS_add1_signer() without signing: signer identifier, certificate,
 * digest algorithm in the SignerInfo and in SignedData.digestAlgorithms);
 * the signature over the signed attributes is made and checked in this
 * file, one-shot, with the rules CMS_SignerInfo_verify() applies to other
 * signers. */
#include "signature-eddsa-private.h"

#include <otabundle/signature.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <string.h>

#include "keys-private.h"
#include "openssl-private.h"

/* What the signature covers (RFC 5652 section 5.4): the signed attributes
 * as a SET OF with the universal SET tag, not the [0] IMPLICIT they carry
 * in the SignerInfo. Signing encodes them sorted, as DER wants and as
 * OpenSSL then encodes the SignerInfo itself; verifying keeps the order
 * received, which is what the signer signed (OpenSSL's CMS_Attributes_Sign
 * and CMS_Attributes_Verify, whose items it does not export). */
ASN1_ITEM_TEMPLATE(OTA_SIGNED_ATTRS_TO_SIGN) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SET_OF, 0, OTA_SIGNED_ATTRS_TO_SIGN, X509_ATTRIBUTE)
static_ASN1_ITEM_TEMPLATE_END(OTA_SIGNED_ATTRS_TO_SIGN)

ASN1_ITEM_TEMPLATE(OTA_SIGNED_ATTRS_RECEIVED) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF | ASN1_TFLG_IMPTAG | ASN1_TFLG_UNIVERSAL,
	                      V_ASN1_SET, OTA_SIGNED_ATTRS_RECEIVED, X509_ATTRIBUTE)
static_ASN1_ITEM_TEMPLATE_END(OTA_SIGNED_ATTRS_RECEIVED)

#define ED25519_SIGNATURE_LEN OTA_ED25519_SIGNATURE_LEN

gboolean ota_eddsa_is_ed25519(X509 *cert)
{
	EVP_PKEY *key = cert != NULL ? X509_get0_pubkey(cert) : NULL;

	return key != NULL && EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
}

/* The DER of @si's signed attributes as @item encodes them; NULL if it
 * has none or they can't be encoded. */
static GBytes *signed_attributes_der(CMS_SignerInfo *si, const ASN1_ITEM *item)
{
	STACK_OF(X509_ATTRIBUTE) *attrs = sk_X509_ATTRIBUTE_new_null();
	unsigned char *der = NULL;
	int n = CMS_signed_get_attr_count(si);
	int len = -1;
	GBytes *out;

	/* A view: the attributes stay the SignerInfo's. */
	for (int i = 0; attrs != NULL && i < n; i++) {
		if (sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i)) <= 0)
			break;
	}
	if (attrs != NULL && n > 0 && sk_X509_ATTRIBUTE_num(attrs) == n)
		len = ASN1_item_i2d((const ASN1_VALUE *)attrs, &der, item);
	sk_X509_ATTRIBUTE_free(attrs);
	if (len <= 0 || der == NULL)
		return NULL;
	out = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return out;
}

static gboolean verify_ed25519(X509 *cert, GBytes *data, const guint8 *signature,
                               gsize signature_len)
{
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	gboolean ok;

	ok = ctx != NULL && signature_len == ED25519_SIGNATURE_LEN &&
	     EVP_DigestVerifyInit_ex(ctx, NULL, NULL, NULL, NULL, X509_get0_pubkey(cert), NULL) == 1 &&
	     EVP_DigestVerify(ctx, signature, signature_len, g_bytes_get_data(data, NULL),
	                      g_bytes_get_size(data)) == 1;
	ERR_clear_error();
	return ok;
}

gboolean ota_signers_rauc_cannot_verify(OtaSigner *const *signers, gsize n_signers)
{
	return n_signers > 0 && ota_eddsa_is_ed25519(signers[0]->cert);
}

/* --- signing ------------------------------------------------------------------ */

/* The signingTime RAUC's signatures carry (CMS_SignerInfo_sign() adds it). */
static gboolean add_signing_time(CMS_SignerInfo *si)
{
	ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
	gboolean ok = now != NULL &&
	              CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, now->type, now, -1) == 1;

	ASN1_TIME_free(now);
	return ok;
}

gboolean ota_eddsa_add_signer(CMS_ContentInfo *cms, OtaSigner *signer, const OtaChecksum *content,
                              GError **error)
{
	CMS_SignerInfo *si;
	X509_ALGOR *signature_alg = NULL;
	g_autoptr(GBytes) signed_attrs = NULL;
	guint8 signature[ED25519_SIGNATURE_LEN];

	if (!content->has_sha512) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
		            "%s: the content's SHA-512, which an Ed25519 signer signs, is unknown",
		            signer->key_uri);
		return FALSE;
	}
	/* CMS_PARTIAL: no signing by OpenSSL, which would fail. */
	si = CMS_add1_signer(cms, signer->cert, signer->key, EVP_sha512(),
	                     CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP);
	if (si != NULL)
		CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &signature_alg);
	if (si == NULL || signature_alg == NULL ||
	    X509_ALGOR_set0(signature_alg, OBJ_nid2obj(NID_ED25519), V_ASN1_UNDEF, NULL) != 1 ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
	                                OBJ_nid2obj(NID_pkcs7_data), -1) != 1 ||
	    !add_signing_time(si) ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING,
	                                content->sha512, OTA_SHA512_LEN) != 1 ||
	    (signed_attrs = signed_attributes_der(si, ASN1_ITEM_rptr(OTA_SIGNED_ATTRS_TO_SIGN))) ==
	            NULL) {
		ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
		                      "%s: cannot build the Ed25519 signer", signer->key_uri);
		return FALSE;
	}
	if (!ota_signer_sign_ed25519(signer, g_bytes_get_data(signed_attrs, NULL),
	                             g_bytes_get_size(signed_attrs), signature, error))
		return FALSE;
	/* A token that answers with anything but a signature by this
	 * certificate's key must not make a bundle nobody can verify. */
	if (!verify_ed25519(signer->cert, signed_attrs, signature, sizeof(signature))) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
		            "%s: the Ed25519 signature made does not verify with certificate %s",
		            signer->key_uri, signer->cert_uri);
		return FALSE;
	}
	if (ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), signature, sizeof(signature)) != 1) {
		ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
		                      "%s: cannot store the Ed25519 signature", signer->key_uri);
		return FALSE;
	}
	return TRUE;
}

/* --- verification ----------------------------------------------------------- */

/* @alg is @nid; its parameters absent, or NULL where @null_allowed (RFC
 * 5754 asks verifiers to accept both for SHA-2; RFC 8419 wants none for
 * id-Ed25519). */
static gboolean algorithm_is(const X509_ALGOR *alg, int nid, gboolean null_allowed)
{
	const ASN1_OBJECT *obj = NULL;
	int param_type = V_ASN1_UNDEF;

	if (alg == NULL)
		return FALSE;
	X509_ALGOR_get0(&obj, &param_type, NULL, alg);
	return OBJ_obj2nid(obj) == nid &&
	       (param_type == V_ASN1_UNDEF || (null_allowed && param_type == V_ASN1_NULL));
}

/* What OpenSSL's CMS checks of signed attributes before any signature
 * (RFC 5652 section 11): contentType and messageDigest once each, with one
 * value; signingTime at most once, with one value; no countersignature. */
static gboolean signed_attributes_well_formed(CMS_SignerInfo *si)
{
	static const struct {
		int nid;
		gboolean required;
	} single[] = {
		{NID_pkcs9_contentType, TRUE},
		{NID_pkcs9_messageDigest, TRUE},
		{NID_pkcs9_signingTime, FALSE},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(single); i++) {
		int first = CMS_signed_get_attr_by_NID(si, single[i].nid, -1);

		if (first < 0) {
			if (single[i].required)
				return FALSE;
			continue;
		}
		if (CMS_signed_get_attr_by_NID(si, single[i].nid, first) >= 0 ||
		    X509_ATTRIBUTE_count(CMS_signed_get_attr(si, first)) != 1)
			return FALSE;
	}
	return CMS_signed_get_attr_by_NID(si, NID_pkcs9_countersignature, -1) < 0;
}

gboolean ota_eddsa_check_signer(CMS_SignerInfo *si, X509 *cert, const char *subject,
                                gboolean sha512_listed, const OtaChecksum *content,
                                GError **error)
{
	X509_ALGOR *digest_alg = NULL;
	X509_ALGOR *signature_alg = NULL;
	ASN1_OCTET_STRING *signature = CMS_SignerInfo_get0_signature(si);
	g_autoptr(GBytes) signed_attrs = NULL;
	ASN1_OBJECT *content_type;
	ASN1_OCTET_STRING *md;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &digest_alg, &signature_alg);
	if (!algorithm_is(digest_alg, NID_sha512, TRUE)) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED,
		            "signer %s: digest algorithm of an Ed25519 signer is not SHA-512 "
		            "(RFC 8419)", subject);
		return FALSE;
	}
	if (!sha512_listed) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID,
		            "signer %s: SHA-512 is not among the SignedData digest algorithms", subject);
		return FALSE;
	}
	if (!algorithm_is(signature_alg, NID_ED25519, FALSE)) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED,
		            "signer %s: signature algorithm of an Ed25519 key is not id-Ed25519 "
		            "without parameters (RFC 8419)", subject);
		return FALSE;
	}
	/* RFC 8419 would allow a signature over the content itself; RAUC
	 * never writes that, and we don't accept it from any signer. */
	if (CMS_signed_get_attr_count(si) <= 0) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED,
		            "signer %s: no signed attributes", subject);
		return FALSE;
	}
	if (!signed_attributes_well_formed(si)) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID,
		            "signer %s: signature is invalid (malformed signed attributes)", subject);
		return FALSE;
	}
	signed_attrs = signed_attributes_der(si, ASN1_ITEM_rptr(OTA_SIGNED_ATTRS_RECEIVED));
	if (signed_attrs == NULL || signature == NULL ||
	    !verify_ed25519(cert, signed_attrs, ASN1_STRING_get0_data(signature),
	                    (gsize)ASN1_STRING_length(signature))) {
		ERR_clear_error();
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID,
		            "signer %s: signature is invalid", subject);
		return FALSE;
	}
	content_type = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_contentType), -3,
	                                           V_ASN1_OBJECT);
	if (content_type == NULL || OBJ_obj2nid(content_type) != NID_pkcs7_data) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID,
		            "signer %s: content-type attribute missing or not id-data", subject);
		return FALSE;
	}
	if (content == NULL)
		return TRUE;
	if (!content->has_sha512) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_UNSUPPORTED,
		            "signer %s: an Ed25519 signer signs the content's SHA-512, which was not "
		            "computed", subject);
		return FALSE;
	}
	md = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3,
	                                 V_ASN1_OCTET_STRING);
	if (md == NULL || ASN1_STRING_length(md) != OTA_SHA512_LEN ||
	    memcmp(ASN1_STRING_get0_data(md), content->sha512, OTA_SHA512_LEN) != 0) {
		g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID,
		            "signer %s: content does not match the signed digest (modified after "
		            "signing)",
		            subject);
		return FALSE;
	}
	return TRUE;
}

/* --- merging ----------------------------------------------------------------- */

static gboolean copy_attributes(CMS_SignerInfo *to, CMS_SignerInfo *from)
{
	for (int i = 0; i < CMS_signed_get_attr_count(from); i++) {
		if (CMS_signed_add1_attr(to, CMS_signed_get_attr(from, i)) != 1)
			return FALSE;
	}
	for (int i = 0; i < CMS_unsigned_get_attr_count(from); i++) {
		if (CMS_unsigned_add1_attr(to, CMS_unsigned_get_attr(from, i)) != 1)
			return FALSE;
	}
	return TRUE;
}

gboolean ota_eddsa_copy_signer_info(CMS_ContentInfo *target, CMS_SignerInfo *from,
                                    GError **error)
{
	X509 *cert = NULL;
	X509_ALGOR *from_digest = NULL, *from_signature = NULL;
	X509_ALGOR *to_digest = NULL, *to_signature = NULL;
	ASN1_OCTET_STRING *key_id = NULL;
	ASN1_OCTET_STRING *signature = CMS_SignerInfo_get0_signature(from);
	const EVP_MD *md;
	CMS_SignerInfo *si;

	CMS_SignerInfo_get0_algs(from, NULL, &cert, &from_digest, &from_signature);
	md = from_digest != NULL ? EVP_get_digestbyobj(from_digest->algorithm) : NULL;
	if (cert == NULL || md == NULL || signature == NULL) {
		g_set_error_literal(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
		                    "cannot merge a signer without certificate or known digest");
		return FALSE;
	}
	/* The same kind of signer identifier as @from: subjectKeyIdentifier
	 * (which then matched this certificate's) or issuer and serial. */
	if (CMS_SignerInfo_get0_signer_id(from, &key_id, NULL, NULL) != 1)
		key_id = NULL;
	/* With the certificate's public key, which is all CMS_add1_signer()
	 * needs when it does not sign; CMS_NOATTR: the attributes come from
	 * @from, in its order. */
	si = CMS_add1_signer(target, cert, X509_get0_pubkey(cert), md,
	                     CMS_PARTIAL | CMS_BINARY | CMS_NOCERTS | CMS_NOATTR |
	                             (key_id != NULL ? CMS_USE_KEYID : 0));
	if (si != NULL)
		CMS_SignerInfo_get0_algs(si, NULL, NULL, &to_digest, &to_signature);
	if (si == NULL || to_digest == NULL || to_signature == NULL ||
	    X509_ALGOR_copy(to_digest, from_digest) != 1 ||
	    X509_ALGOR_copy(to_signature, from_signature) != 1 || !copy_attributes(si, from) ||
	    ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), ASN1_STRING_get0_data(signature),
	                    ASN1_STRING_length(signature)) != 1) {
		ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
		                      "cannot merge a signer");
		return FALSE;
	}
	return TRUE;
}
