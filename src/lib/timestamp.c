/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RFC 3161 time-stamp tokens on signers: parsing and judging the token a
 * signer carries, requesting tokens for new signers and storing them as
 * the unsigned attribute id-aa-timeStampToken (RFC 3161 appendix A). The
 * token's messageImprint is a digest of the SignerInfo's signature value,
 * so it says that exactly this signature existed at its genTime. */
#include "timestamp-private.h"

#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/rand.h>
#include <string.h>
#include <time.h>

#include "openssl-private.h"
#include "policy-private.h"

G_DEFINE_QUARK(ota-timestamp-error-quark, ota_timestamp_error)

G_DEFINE_AUTOPTR_CLEANUP_FUNC(TS_REQ, TS_REQ_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TS_RESP, TS_RESP_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TS_MSG_IMPRINT, TS_MSG_IMPRINT_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_ALGOR, X509_ALGOR_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_INTEGER, ASN1_INTEGER_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIGNUM, BN_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ESS_SIGNING_CERT, ESS_SIGNING_CERT_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ESS_SIGNING_CERT_V2, ESS_SIGNING_CERT_V2_free)

/* Far more than a token with a certificate chain needs. */
#define MAX_TOKEN_SIZE (32 * 1024)

void ota_timestamp_free(OtaTimestamp *ts)
{
	if (ts == NULL)
		return;
	TS_TST_INFO_free(ts->tst_info);
	CMS_ContentInfo_free(ts->token);
	g_free(ts->time_string);
	g_free(ts->tsa);
	g_free(ts->reason);
	g_free(ts);
}

/* --- parsing -------------------------------------------------------------- */

static gboolean parse_error(GError **error, const char *what)
{
	ERR_clear_error();
	g_set_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_PARSE,
	            "timestamp token is malformed: %s", what);
	return FALSE;
}

static gboolean read_gen_time(OtaTimestamp *ts, GError **error)
{
	const ASN1_GENERALIZEDTIME *t = TS_TST_INFO_get_time(ts->tst_info);
	struct tm tm;
	char buf[32];

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return parse_error(error, "its genTime is not a time");
	ts->time = (gint64)timegm(&tm);
	if (strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return parse_error(error, "its genTime is out of range");
	ts->time_string = g_strdup(buf);
	return TRUE;
}

/* A TimeStampToken (RFC 3161 2.4.2): one SignedData embedding one TSTInfo
 * of version 1, one SignerInfo, not a byte more. */
static OtaTimestamp *parse_token(const guint8 *der, gsize len, GError **error)
{
	g_autoptr(OtaTimestamp) ts = g_new0(OtaTimestamp, 1);
	const unsigned char *p = der;
	ASN1_OCTET_STRING **content;
	CMS_SignerInfo *si;

	if (len == 0 || len > MAX_TOKEN_SIZE) {
		parse_error(error, "too large or empty");
		return NULL;
	}
	ts->token = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (ts->token == NULL || p != der + len) {
		parse_error(error, "not one CMS structure");
		return NULL;
	}
	if (OBJ_obj2nid(CMS_get0_type(ts->token)) != NID_pkcs7_signed ||
	    OBJ_obj2nid(CMS_get0_eContentType(ts->token)) != NID_id_smime_ct_TSTInfo) {
		parse_error(error, "not a SignedData over a TSTInfo");
		return NULL;
	}
	if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(ts->token)) != 1) {
		parse_error(error, "not exactly one signer");
		return NULL;
	}
	content = CMS_get0_content(ts->token);
	if (content == NULL || *content == NULL) {
		parse_error(error, "no TSTInfo inside");
		return NULL;
	}
	p = ASN1_STRING_get0_data(*content);
	ts->tst_info = d2i_TS_TST_INFO(NULL, &p, ASN1_STRING_length(*content));
	if (ts->tst_info == NULL ||
	    p != ASN1_STRING_get0_data(*content) + ASN1_STRING_length(*content) ||
	    TS_TST_INFO_get_version(ts->tst_info) != 1) {
		parse_error(error, "its TSTInfo is not a version 1 TSTInfo");
		return NULL;
	}
	if (!read_gen_time(ts, error))
		return NULL;
	/* Matches the SignerInfo with its certificate among the embedded ones. */
	if (CMS_set1_signers_certs(ts->token, NULL, 0) < 0)
		ERR_clear_error();
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(ts->token), 0);
	CMS_SignerInfo_get0_algs(si, NULL, &ts->tsa_cert, NULL, NULL);
	ts->tsa = ts->tsa_cert ? ota_x509_name_to_string(X509_get_subject_name(ts->tsa_cert))
	                       : g_strdup("?");
	ts->reason = g_strdup("not checked");
	return g_steal_pointer(&ts);
}

gboolean ota_timestamp_parse_signer(CMS_SignerInfo *si, OtaTimestamp **out, GError **error)
{
	int index = CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1);
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *value;

	*out = NULL;
	if (index < 0)
		return TRUE;
	/* One signature, one time: a second token could only confuse. */
	if (CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, index) >= 0)
		return parse_error(error, "a signer carries more than one timeStampToken attribute");
	attr = CMS_unsigned_get_attr(si, index);
	if (attr == NULL || X509_ATTRIBUTE_count(attr) != 1)
		return parse_error(error, "its attribute does not hold exactly one token");
	value = X509_ATTRIBUTE_get0_type(attr, 0);
	if (value == NULL || value->type != V_ASN1_SEQUENCE)
		return parse_error(error, "not a SEQUENCE");
	*out = parse_token(ASN1_STRING_get0_data(value->value.sequence),
	                   (gsize)ASN1_STRING_length(value->value.sequence), error);
	return *out != NULL;
}

/* --- checking ------------------------------------------------------------- */

gboolean ota_timestamp_check_crypto(const OtaTimestamp *ts, GError **error)
{
	if (ts->tsa_cert == NULL)
		return TRUE;
	/* The signature over the signed attributes and their messageDigest of
	 * the TSTInfo, by the embedded TSA certificate; trust is for later. */
	if (CMS_verify(ts->token, NULL, NULL, NULL, NULL, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) !=
	    1) {
		ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID,
		                      "timestamp token's signature is invalid");
		return FALSE;
	}
	return TRUE;
}

static const EVP_MD *imprint_digest(int nid)
{
	switch (nid) {
	case NID_sha256:
		return EVP_sha256();
	case NID_sha384:
		return EVP_sha384();
	case NID_sha512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/* Whether the token's messageImprint is a digest of @data (a signature
 * value). NULL, or the reason it is not. */
static char *imprint_problem(const OtaTimestamp *ts, const guint8 *data, gsize len)
{
	TS_MSG_IMPRINT *imprint = TS_TST_INFO_get_msg_imprint(ts->tst_info);
	X509_ALGOR *alg = TS_MSG_IMPRINT_get_algo(imprint);
	ASN1_OCTET_STRING *digest = TS_MSG_IMPRINT_get_msg(imprint);
	const EVP_MD *md = alg ? imprint_digest(OBJ_obj2nid(alg->algorithm)) : NULL;
	guint8 expected[EVP_MAX_MD_SIZE];
	unsigned int expected_len = 0;

	if (md == NULL)
		return g_strdup("its imprint uses a digest other than SHA-256, SHA-384 or SHA-512");
	if (EVP_Digest(data, len, expected, &expected_len, md, NULL) != 1) {
		ERR_clear_error();
		return g_strdup("cannot compute the imprint");
	}
	if (digest == NULL || (unsigned int)ASN1_STRING_length(digest) != expected_len ||
	    memcmp(ASN1_STRING_get0_data(digest), expected, expected_len) != 0)
		return g_strdup("it stamps another signature (message imprint differs)");
	return NULL;
}

/* RFC 3161 2.4.1: the ESS signingCertificate(V2) signed attribute names
 * the TSA certificate, so that it can't be swapped for another one with
 * the same key. */
static char *ess_problem(const OtaTimestamp *ts, STACK_OF(X509) *chain)
{
	CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(ts->token), 0);
	ASN1_STRING *v1 = CMS_signed_get0_data_by_OBJ(
		si, OBJ_nid2obj(NID_id_smime_aa_signingCertificate), -3, V_ASN1_SEQUENCE);
	ASN1_STRING *v2 = CMS_signed_get0_data_by_OBJ(
		si, OBJ_nid2obj(NID_id_smime_aa_signingCertificateV2), -3, V_ASN1_SEQUENCE);
	g_autoptr(ESS_SIGNING_CERT) ss = NULL;
	g_autoptr(ESS_SIGNING_CERT_V2) ss2 = NULL;
	const unsigned char *p;

	if (v1 != NULL) {
		p = ASN1_STRING_get0_data(v1);
		ss = d2i_ESS_SIGNING_CERT(NULL, &p, ASN1_STRING_length(v1));
	}
	if (v2 != NULL) {
		p = ASN1_STRING_get0_data(v2);
		ss2 = d2i_ESS_SIGNING_CERT_V2(NULL, &p, ASN1_STRING_length(v2));
	}
	if ((v1 != NULL && ss == NULL) || (v2 != NULL && ss2 == NULL) ||
	    OSSL_ESS_check_signing_certs(ss, ss2, chain, 1) != 1) {
		ERR_clear_error();
		return g_strdup("the token does not name its TSA certificate (ESS signingCertificate)");
	}
	return NULL;
}

static const char purpose_problem[] =
	"the TSA certificate lacks the timeStamping purpose (a critical extendedKeyUsage of "
	"timeStamping only)";

/* The TSA certificate: the timeStamping purpose, named by the token's ESS
 * attribute, and with @store a chain to it at the token's own time (the
 * TSA vouches for that time; a TSA certificate that expired since still
 * vouches for what it signed while valid). NULL, or the reason. */
static char *tsa_problem(const OtaTimestamp *ts, X509_STORE *store)
{
	g_autoptr(X509_STORE_CTX) ctx = NULL;
	g_autoptr(OtaX509Stack) embedded = NULL;
	X509_VERIFY_PARAM *param;
	STACK_OF(X509) *chain;
	int err;

	if (ts->tsa_cert == NULL)
		return g_strdup("the token does not include its TSA certificate");
	if (store == NULL) {
		STACK_OF(X509) *alone = sk_X509_new_null();
		char *problem = NULL;

		if (X509_check_purpose(ts->tsa_cert, X509_PURPOSE_TIMESTAMP_SIGN, 0) != 1)
			problem = g_strdup(purpose_problem);
		else if (alone == NULL || sk_X509_push(alone, ts->tsa_cert) <= 0)
			problem = g_strdup("out of memory");
		else
			problem = ess_problem(ts, alone);
		sk_X509_free(alone); /* without the certificate: the token owns it */
		ERR_clear_error();
		return problem;
	}
	embedded = CMS_get1_certs(ts->token);
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL || X509_STORE_CTX_init(ctx, store, ts->tsa_cert, embedded) != 1) {
		ERR_clear_error();
		return g_strdup("cannot set up certificate verification");
	}
	param = X509_STORE_CTX_get0_param(ctx);
	/* A pinned TSA certificate in the keyring is an anchor. */
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_time(param, (time_t)ts->time);
	X509_VERIFY_PARAM_set_auth_level(param, 2);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_TIMESTAMP_SIGN);
	if (X509_verify_cert(ctx) != 1) {
		ERR_clear_error();
		err = X509_STORE_CTX_get_error(ctx);
		if (err == X509_V_ERR_INVALID_PURPOSE)
			return g_strdup(purpose_problem);
		if (err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID)
			return g_strdup_printf("TSA %s at the token's time",
			                       X509_verify_cert_error_string(err));
		return g_strdup_printf("the TSA is not trusted by the TSA keyring: %s",
		                       X509_verify_cert_error_string(err));
	}
	chain = X509_STORE_CTX_get0_chain(ctx);
	return ess_problem(ts, chain);
}

void ota_timestamp_evaluate(OtaTimestamp *ts, CMS_SignerInfo *si, X509_STORE *tsa_store)
{
	ASN1_OCTET_STRING *value = CMS_SignerInfo_get0_signature(si);

	g_clear_pointer(&ts->reason, g_free);
	ts->reason = imprint_problem(ts, ASN1_STRING_get0_data(value),
	                             (gsize)ASN1_STRING_length(value));
	if (ts->reason == NULL && tsa_store == NULL)
		ts->reason = g_strdup("no TSA keyring to check it against");
	if (ts->reason == NULL)
		ts->reason = tsa_problem(ts, tsa_store);
	ts->trusted = ts->reason == NULL;
}

/* --- signer accessors (<otabundle/signature.h>) ------------------------------ */

gboolean ota_signer_info_get_timestamp_time(const OtaSignerInfo *info, gint64 *unix_time)
{
	if (info->timestamp == NULL)
		return FALSE;
	*unix_time = info->timestamp->time;
	return TRUE;
}

const char *ota_signer_info_get_timestamp_time_string(const OtaSignerInfo *info)
{
	return info->timestamp ? info->timestamp->time_string : NULL;
}

const char *ota_signer_info_get_timestamp_tsa(const OtaSignerInfo *info)
{
	return info->timestamp ? info->timestamp->tsa : NULL;
}

gboolean ota_signer_info_timestamp_is_trusted(const OtaSignerInfo *info)
{
	return info->timestamp != NULL && info->timestamp->trusted;
}

const char *ota_signer_info_get_timestamp_reason(const OtaSignerInfo *info)
{
	return info->timestamp && !info->timestamp->trusted ? info->timestamp->reason : NULL;
}

gboolean ota_signature_get_newest_trusted_time(const OtaSignature *sig, gint64 *unix_time)
{
	gboolean found = FALSE;

	for (guint i = 0; i < sig->signers->len; i++) {
		const OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);

		if (info->status != OTA_SIGNER_COUNTED || !ota_signer_info_timestamp_is_trusted(info))
			continue;
		if (!found || info->timestamp->time > *unix_time)
			*unix_time = info->timestamp->time;
		found = TRUE;
	}
	return found;
}

/* --- requests and responses --------------------------------------------------- */

static GBytes *encode_request(TS_REQ *req, GError **error)
{
	unsigned char *der = NULL;
	int len = i2d_TS_REQ(req, &der);
	GBytes *out;

	if (len <= 0) {
		ota_set_openssl_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_MALFORMED,
		                      "cannot encode the timestamp request");
		return NULL;
	}
	out = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return out;
}

/* RFC 3161 2.4.1: version 1, a SHA-256 imprint of @data, a 64-bit random
 * nonce (so that an old answer can't be replayed), certReq (so that the
 * token carries the TSA certificate a device checks). */
static TS_REQ *request_new(const guint8 *data, gsize len, GError **error)
{
	g_autoptr(TS_REQ) req = TS_REQ_new();
	g_autoptr(TS_MSG_IMPRINT) imprint = TS_MSG_IMPRINT_new();
	g_autoptr(X509_ALGOR) alg = X509_ALGOR_new();
	g_autoptr(BIGNUM) bn = NULL;
	g_autoptr(ASN1_INTEGER) nonce = NULL;
	guint8 digest[32], random[8];

	if (req == NULL || imprint == NULL || alg == NULL ||
	    EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL) != 1 ||
	    RAND_bytes(random, sizeof(random)) != 1 ||
	    (bn = BN_bin2bn(random, sizeof(random), NULL)) == NULL ||
	    (nonce = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) != 1 ||
	    TS_MSG_IMPRINT_set_algo(imprint, alg) != 1 ||
	    TS_MSG_IMPRINT_set_msg(imprint, digest, sizeof(digest)) != 1 ||
	    TS_REQ_set_version(req, 1) != 1 || TS_REQ_set_msg_imprint(req, imprint) != 1 ||
	    TS_REQ_set_nonce(req, nonce) != 1 || TS_REQ_set_cert_req(req, 1) != 1) {
		ota_set_openssl_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_MALFORMED,
		                      "cannot make a timestamp request");
		return NULL;
	}
	return g_steal_pointer(&req);
}

static const char *status_name(long status)
{
	switch (status) {
	case 2:
		return "rejection";
	case 3:
		return "waiting";
	case 4:
		return "revocationWarning";
	case 5:
		return "revocationNotification";
	default:
		return "unknown status";
	}
}

static gboolean check_status(TS_RESP *resp, GError **error)
{
	TS_STATUS_INFO *info = TS_RESP_get_status_info(resp);
	const ASN1_INTEGER *status = info ? TS_STATUS_INFO_get0_status(info) : NULL;
	const STACK_OF(ASN1_UTF8STRING) *text = info ? TS_STATUS_INFO_get0_text(info) : NULL;
	g_autoptr(GString) words = g_string_new(NULL);
	long value = status ? ASN1_INTEGER_get(status) : -1;

	/* granted, or grantedWithMods */
	if (value == 0 || value == 1)
		return TRUE;
	for (int i = 0; text != NULL && i < sk_ASN1_UTF8STRING_num(text); i++) {
		ASN1_UTF8STRING *s = sk_ASN1_UTF8STRING_value(text, i);

		g_string_append_printf(words, "%s%.*s", words->len ? "; " : ": ",
		                       ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
	}
	g_set_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_REFUSED,
	            "the TSA refused to timestamp (%s%s)", status_name(value), words->str);
	return FALSE;
}

/* The token of the DER TimeStampResp @response, checked as
 * OtaTimestampOptions says: answering @req (its nonce; NULL: none to
 * compare), over @signature_value, from a TSA certificate with the
 * purpose, chaining to @store if given. Its DER. */
static GBytes *check_response(GBytes *response, TS_REQ *req, const guint8 *signature_value,
                              gsize signature_len, X509_STORE *store, GError **error)
{
	const unsigned char *p = g_bytes_get_data(response, NULL);
	gsize len = g_bytes_get_size(response);
	g_autoptr(TS_RESP) resp = NULL;
	g_autoptr(OtaTimestamp) ts = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *problem = NULL;
	unsigned char *der = NULL;
	int der_len;
	GBytes *token;

	if (len > 0 && len <= G_MAXLONG)
		resp = d2i_TS_RESP(NULL, &p, (long)len);
	if (resp == NULL || p != (const unsigned char *)g_bytes_get_data(response, NULL) + len) {
		ERR_clear_error();
		g_set_error_literal(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_MALFORMED,
		                    "the TSA's answer is not an RFC 3161 TimeStampResp");
		return NULL;
	}
	if (!check_status(resp, error))
		return NULL;
	if (TS_RESP_get_token(resp) == NULL ||
	    (der_len = i2d_PKCS7(TS_RESP_get_token(resp), &der)) <= 0) {
		ERR_clear_error();
		g_set_error_literal(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_MALFORMED,
		                    "the TSA granted a timestamp but sent no token");
		return NULL;
	}
	token = g_bytes_new(der, (gsize)der_len);
	OPENSSL_free(der);
	ts = parse_token(g_bytes_get_data(token, NULL), g_bytes_get_size(token), &ierror);
	if (ts == NULL || !ota_timestamp_check_crypto(ts, &ierror)) {
		g_set_error(error, OTA_TIMESTAMP_ERROR,
		            ts == NULL ? OTA_TIMESTAMP_ERROR_MALFORMED : OTA_TIMESTAMP_ERROR_INVALID,
		            "%s", ierror->message);
		g_bytes_unref(token);
		return NULL;
	}
	if (req != NULL &&
	    (TS_TST_INFO_get_nonce(ts->tst_info) == NULL ||
	     ASN1_INTEGER_cmp(TS_TST_INFO_get_nonce(ts->tst_info), TS_REQ_get_nonce(req)) != 0)) {
		g_set_error_literal(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_MISMATCH,
		                    "the token answers another request (nonce differs)");
		g_bytes_unref(token);
		return NULL;
	}
	problem = imprint_problem(ts, signature_value, signature_len);
	if (problem != NULL) {
		g_set_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_MISMATCH, "the token "
		            "answers another request: %s", problem);
		g_bytes_unref(token);
		return NULL;
	}
	problem = tsa_problem(ts, store);
	if (problem != NULL) {
		g_set_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_UNTRUSTED, "%s", problem);
		g_bytes_unref(token);
		return NULL;
	}
	return token;
}

/* --- storing tokens ------------------------------------------------------------ */

static ASN1_OBJECT *nested_oid(void)
{
	static ASN1_OBJECT *oid;

	if (g_once_init_enter(&oid))
		g_once_init_leave(&oid, OBJ_txt2obj(OTA_SIGNATURE_NESTED_OID, 1));
	return oid;
}

static gboolean add_token(CMS_SignerInfo *si, GBytes *token, GError **error)
{
	if (CMS_unsigned_add1_attr_by_NID(si, NID_id_smime_aa_timeStampToken, V_ASN1_SEQUENCE,
	                                  g_bytes_get_data(token, NULL),
	                                  (int)g_bytes_get_size(token)) != 1) {
		ota_set_openssl_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_MALFORMED,
		                      "cannot store the timestamp token");
		return FALSE;
	}
	return TRUE;
}

static gboolean has_token(CMS_SignerInfo *si)
{
	return CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1) >= 0;
}

/* Visits one SignerInfo; sets *changed when it changed it. */
typedef gboolean (*SignerVisit)(CMS_SignerInfo *si, gpointer data, gboolean *changed,
                                GError **error);

static CMS_ContentInfo *decode_cms(const guint8 *der, gsize len, GError **error)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = len <= G_MAXLONG ? d2i_CMS_ContentInfo(NULL, &p, (long)len) : NULL;

	if (cms == NULL || p != der + len) {
		CMS_ContentInfo_free(cms);
		ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_PARSE,
		                      "signature is not valid CMS");
		return NULL;
	}
	/* Each SignerInfo with its certificate, for messages. */
	if (CMS_set1_signers_certs(cms, NULL, 0) < 0)
		ERR_clear_error();
	return cms;
}

static gboolean visit_signers(CMS_ContentInfo *cms, gboolean nested, SignerVisit visit,
                              gpointer data, gboolean *changed, GError **error);

/* The nested signatures of @si (signature.h, OTA_SIGNATURE_ENCODING_NESTED)
 * visited too; one that changed is encoded again in its attribute.
 * Unsigned attributes are a SET, so their order carries no meaning. */
static gboolean visit_nested(CMS_SignerInfo *si, SignerVisit visit, gpointer data,
                             gboolean *changed, GError **error)
{
	g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	gboolean any = FALSE;
	int idx = -1;

	while ((idx = CMS_unsigned_get_attr_by_OBJ(si, nested_oid(), idx)) >= 0) {
		X509_ATTRIBUTE *attr = CMS_unsigned_get_attr(si, idx);

		for (int v = 0; v < X509_ATTRIBUTE_count(attr); v++) {
			ASN1_TYPE *value = X509_ATTRIBUTE_get0_type(attr, v);
			g_autoptr(CMS_ContentInfo) cms = NULL;
			gboolean this_changed = FALSE;
			GBytes *encoded;

			if (value == NULL || value->type != V_ASN1_SEQUENCE) {
				g_set_error_literal(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_PARSE,
				                    "nested signature is not a SEQUENCE");
				return FALSE;
			}
			cms = decode_cms(ASN1_STRING_get0_data(value->value.sequence),
			                 (gsize)ASN1_STRING_length(value->value.sequence), error);
			if (cms == NULL || !visit_signers(cms, FALSE, visit, data, &this_changed, error))
				return FALSE;
			encoded = this_changed
			                  ? ota_signature_encode_cms(cms, error)
			                  : g_bytes_new(ASN1_STRING_get0_data(value->value.sequence),
			                                (gsize)ASN1_STRING_length(value->value.sequence));
			if (encoded == NULL)
				return FALSE;
			g_ptr_array_add(values, encoded);
			any |= this_changed;
		}
	}
	if (!any)
		return TRUE;
	while ((idx = CMS_unsigned_get_attr_by_OBJ(si, nested_oid(), -1)) >= 0)
		X509_ATTRIBUTE_free(CMS_unsigned_delete_attr(si, idx));
	for (guint i = 0; i < values->len; i++) {
		GBytes *value = g_ptr_array_index(values, i);

		if (CMS_unsigned_add1_attr_by_OBJ(si, nested_oid(), V_ASN1_SEQUENCE,
		                                  g_bytes_get_data(value, NULL),
		                                  (int)g_bytes_get_size(value)) != 1) {
			ota_set_openssl_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_CRYPTO,
			                      "cannot nest a signature");
			return FALSE;
		}
	}
	*changed = TRUE;
	return TRUE;
}

static gboolean visit_signers(CMS_ContentInfo *cms, gboolean nested, SignerVisit visit,
                              gpointer data, gboolean *changed, GError **error)
{
	STACK_OF(CMS_SignerInfo) *infos = CMS_get0_SignerInfos(cms);

	for (int i = 0; i < sk_CMS_SignerInfo_num(infos); i++) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(infos, i);

		if (!visit(si, data, changed, error) ||
		    (nested && !visit_nested(si, visit, data, changed, error)))
			return FALSE;
	}
	return TRUE;
}

/* @der with @visit applied to every SignerInfo, nested ones included. */
static GBytes *visit_signature(GBytes *der, SignerVisit visit, gpointer data, GError **error)
{
	g_autoptr(CMS_ContentInfo) cms =
		decode_cms(g_bytes_get_data(der, NULL), g_bytes_get_size(der), error);
	gboolean changed = FALSE;

	if (cms == NULL || !visit_signers(cms, TRUE, visit, data, &changed, error))
		return NULL;
	return changed ? ota_signature_encode_cms(cms, error) : g_bytes_ref(der);
}

/* A signer's subject, for messages. */
static char *signer_name(CMS_SignerInfo *si)
{
	X509 *cert = NULL;

	CMS_SignerInfo_get0_algs(si, NULL, &cert, NULL, NULL);
	return cert ? ota_x509_name_to_string(X509_get_subject_name(cert)) : g_strdup("?");
}

/* The URL as messages show it: without a password or other userinfo. */
static char *url_for_display(const char *url)
{
	g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_PARSE_RELAXED, NULL);

	return uri ? g_uri_to_string_partial(uri, G_URI_HIDE_USERINFO) : g_strdup(url);
}

typedef struct {
	const OtaTimestampOptions *options;
	X509_STORE *store;
} Requester;

/* A new signer gets its token from the TSA; one with a token keeps it. */
static gboolean request_token(CMS_SignerInfo *si, gpointer data, gboolean *changed,
                              GError **error)
{
	Requester *r = data;
	ASN1_OCTET_STRING *value = CMS_SignerInfo_get0_signature(si);
	const guint8 *bytes = ASN1_STRING_get0_data(value);
	gsize len = (gsize)ASN1_STRING_length(value);
	g_autoptr(TS_REQ) req = NULL;
	g_autoptr(GBytes) request = NULL;
	g_autoptr(GBytes) response = NULL;
	g_autoptr(GBytes) token = NULL;

	if (has_token(si))
		return TRUE;
	req = request_new(bytes, len, error);
	if (req == NULL || (request = encode_request(req, error)) == NULL)
		return FALSE;
	response = ota_tsa_client_post(r->options->url, r->options->tls_ca,
	                               r->options->timeout ? r->options->timeout
	                                                   : OTA_TIMESTAMP_DEFAULT_TIMEOUT,
	                               request, error);
	if (response != NULL)
		token = check_response(response, req, bytes, len, r->store, error);
	if (token == NULL) {
		g_autofree char *url = url_for_display(r->options->url);
		g_autofree char *who = signer_name(si);

		g_prefix_error(error, "timestamp for signer %s from %s: ", who, url);
		return FALSE;
	}
	*changed = TRUE;
	return add_token(si, token, error);
}

static X509_STORE *load_tsa_keyring(const char *path, GError **error)
{
	X509_STORE *store;
	g_autoptr(GError) ierror = NULL;

	if (path == NULL)
		return NULL;
	store = ota_policy_load_store(path, &ierror);
	if (store == NULL)
		g_set_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_UNTRUSTED, "%s",
		            ierror->message);
	return store;
}

gboolean ota_timestamp_check_options(const OtaTimestampOptions *options, GError **error)
{
	gboolean https = options->url != NULL && g_str_has_prefix(options->url, "https://");

	if (options->url == NULL || (!https && !g_str_has_prefix(options->url, "http://"))) {
		g_set_error_literal(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_INPUT,
		                    "a timestamp URL must start with http:// or https://");
		return FALSE;
	}
	if (options->tls_ca != NULL && !https) {
		g_set_error_literal(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_INPUT,
		                    "TLS CAs for a TSA apply only to an https:// URL");
		return FALSE;
	}
	return TRUE;
}

GBytes *ota_timestamp_signature(GBytes *der, const OtaTimestampOptions *options, GError **error)
{
	g_autoptr(X509_STORE) store = NULL;
	Requester r = {options, NULL};

	if (options == NULL)
		return g_bytes_ref(der);
	if (!ota_timestamp_check_options(options, error))
		return NULL;
	if (options->tsa_keyring != NULL &&
	    (store = load_tsa_keyring(options->tsa_keyring, error)) == NULL)
		return NULL;
	r.store = store;
	return visit_signature(der, request_token, &r, error);
}

/* --- air-gapped: request and response as files ------------------------------------ */

GBytes *ota_timestamp_request_for_signer(const OtaSignature *sig, guint index, GError **error)
{
	const OtaSignerInfo *info;
	ASN1_OCTET_STRING *value;
	g_autoptr(TS_REQ) req = NULL;

	if (index >= sig->signers->len) {
		g_set_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_INPUT,
		            "there is no signer %u (the signature has %u)", index + 1,
		            sig->signers->len);
		return NULL;
	}
	info = g_ptr_array_index(sig->signers, index);
	if (info->timestamp != NULL) {
		g_set_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_INPUT,
		            "signer %u (%s) has a timestamp already", index + 1, info->subject);
		return NULL;
	}
	value = CMS_SignerInfo_get0_signature(info->si);
	req = request_new(ASN1_STRING_get0_data(value), (gsize)ASN1_STRING_length(value), error);
	return req != NULL ? encode_request(req, error) : NULL;
}

typedef struct {
	ASN1_OCTET_STRING *value; /* the signature value stamped */
	GBytes *token;
	gboolean done;
} Adder;

static gboolean add_token_to_match(CMS_SignerInfo *si, gpointer data, gboolean *changed,
                                   GError **error)
{
	Adder *a = data;

	if (a->done || ASN1_STRING_cmp(CMS_SignerInfo_get0_signature(si), a->value) != 0)
		return TRUE;
	a->done = TRUE;
	*changed = TRUE;
	return add_token(si, a->token, error);
}

GBytes *ota_timestamp_add_response(const OtaSignature *sig, GBytes *der, GBytes *response,
                                   const char *tsa_keyring, guint *signer_index,
                                   GError **error)
{
	g_autoptr(X509_STORE) store = NULL;
	g_autoptr(GBytes) token = NULL;
	g_autoptr(GError) last = NULL;

	if (tsa_keyring != NULL && (store = load_tsa_keyring(tsa_keyring, error)) == NULL)
		return NULL;
	/* The signer is the one whose signature the token stamps. */
	for (guint i = 0; i < sig->signers->len; i++) {
		const OtaSignerInfo *info = g_ptr_array_index(sig->signers, i);
		ASN1_OCTET_STRING *value = CMS_SignerInfo_get0_signature(info->si);
		Adder adder = {value, NULL, FALSE};

		g_clear_error(&last);
		token = check_response(response, NULL, ASN1_STRING_get0_data(value),
		                       (gsize)ASN1_STRING_length(value), store, &last);
		if (token == NULL) {
			if (g_error_matches(last, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_MISMATCH))
				continue;
			g_propagate_error(error, g_steal_pointer(&last));
			return NULL;
		}
		if (info->timestamp != NULL) {
			g_set_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_INPUT,
			            "signer %u (%s) has a timestamp already", i + 1, info->subject);
			return NULL;
		}
		adder.token = token;
		*signer_index = i;
		return visit_signature(der, add_token_to_match, &adder, error);
	}
	g_set_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_MISMATCH,
	            "the token stamps none of the bundle's %u signatures (message imprint differs)",
	            sig->signers->len);
	return NULL;
}
