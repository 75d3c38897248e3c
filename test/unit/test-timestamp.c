/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RFC 3161 tokens and the policy API around them: the TSA keyring, the
 * check-time modes, "now", and what a verified signature tells a device.
 * Tokens come from OpenSSL's own TSA code (TS_RESP_CTX) answering the
 * library's requests; signatures from OpenSSL's CMS_sign(). */
#include <otabundle/policy.h>
#include <otabundle/signature.h>

#include <openssl/cms.h>
#include <openssl/ts.h>
#include <string.h>

#include "pki.h"
#include "timestamp-private.h"

#define DAY ((gint64)24 * 3600)

typedef struct {
	char *dir;
	TestIdentity *root;     /* the signers' */
	TestIdentity *tsa_root; /* the TSA's */
	TestIdentity *tsa;      /* timeStamping, critical */
	char *keyring;
	char *tsa_keyring;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
	g_autofree char *key = NULL;
	g_autofree char *tsa_key = NULL;

	f->dir = test_tmpdir_new();
	/* Valid a month back: chains are checked at times in the past. */
	f->root = test_pki_identity("ec", "Root", NULL, -30, 365);
	f->tsa_root = test_pki_identity("ec", "TSA root", NULL, -30, 365);
	f->tsa = test_pki_identity_eku("ec", "TSA", f->tsa_root, -30, 365, "critical,timeStamping");
	test_pki_write(f->root, f->dir, "root", &f->keyring, &key);
	g_clear_pointer(&key, g_free);
	test_pki_write(f->tsa_root, f->dir, "tsa-root", &f->tsa_keyring, &tsa_key);
}

static void teardown(Fixture *f, gconstpointer data)
{
	test_identity_free(f->root);
	test_identity_free(f->tsa_root);
	test_identity_free(f->tsa);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->keyring);
	g_free(f->tsa_keyring);
}

static const guint8 content[] = "an update";

/* A detached CMS signature of @content by @signer, as DER. */
static GBytes *cms_sign(const TestIdentity *signer)
{
	BIO *in = BIO_new_mem_buf(content, sizeof(content));
	CMS_ContentInfo *cms = CMS_sign(signer->cert, signer->key, NULL, in,
	                                CMS_DETACHED | CMS_BINARY | CMS_NOSMIMECAP);
	unsigned char *der = NULL;
	int len;
	GBytes *out;

	g_assert_nonnull(cms);
	len = i2d_CMS_ContentInfo(cms, &der);
	g_assert_cmpint(len, >, 0);
	out = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return out;
}

static ASN1_INTEGER *next_serial(TS_RESP_CTX *ctx, void *data)
{
	ASN1_INTEGER *serial = ASN1_INTEGER_new();

	ASN1_INTEGER_set(serial, g_random_int_range(1, G_MAXINT32));
	return serial;
}

static int fixed_time(TS_RESP_CTX *ctx, void *data, long *sec, long *usec)
{
	*sec = (long)*(const gint64 *)data;
	*usec = 0;
	return 1;
}

/* The DER TimeStampResp of OpenSSL's TSA (as @tsa) to @request, at @when. */
static GBytes *tsa_answer(const TestIdentity *tsa, GBytes *request, gint64 when)
{
	TS_RESP_CTX *ctx = TS_RESP_CTX_new();
	BIO *in = BIO_new_mem_buf(g_bytes_get_data(request, NULL), (int)g_bytes_get_size(request));
	ASN1_OBJECT *policy = OBJ_txt2obj("1.2.3.4.1", 1);
	TS_RESP *resp;
	unsigned char *der = NULL;
	int len;
	GBytes *out;

	g_assert_cmpint(TS_RESP_CTX_set_signer_cert(ctx, tsa->cert), ==, 1);
	g_assert_cmpint(TS_RESP_CTX_set_signer_key(ctx, tsa->key), ==, 1);
	g_assert_cmpint(TS_RESP_CTX_set_signer_digest(ctx, EVP_sha256()), ==, 1);
	g_assert_cmpint(TS_RESP_CTX_set_def_policy(ctx, policy), ==, 1);
	g_assert_cmpint(TS_RESP_CTX_add_md(ctx, EVP_sha256()), ==, 1);
	TS_RESP_CTX_set_serial_cb(ctx, next_serial, NULL);
	TS_RESP_CTX_set_time_cb(ctx, fixed_time, &when);
	resp = TS_RESP_create_response(ctx, in);
	g_assert_nonnull(resp);
	len = i2d_TS_RESP(resp, &der);
	g_assert_cmpint(len, >, 0);
	out = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	TS_RESP_free(resp);
	ASN1_OBJECT_free(policy);
	BIO_free(in);
	TS_RESP_CTX_free(ctx);
	return out;
}

/* @signer's signature, with a token of the fixture's TSA at @when (0: none). */
static OtaSignature *signature_by(Fixture *f, const TestIdentity *signer, gint64 when)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) der = cms_sign(signer);
	g_autoptr(GBytes) request = NULL;
	g_autoptr(GBytes) response = NULL;
	g_autoptr(GBytes) stamped = NULL;
	g_autoptr(OtaSignature) sig =
		ota_signature_parse(g_bytes_get_data(der, NULL), g_bytes_get_size(der), &error);
	guint index = 99;

	g_assert_no_error(error);
	if (when == 0)
		return g_steal_pointer(&sig);
	request = ota_timestamp_request_for_signer(sig, 0, &error);
	g_assert_no_error(error);
	response = tsa_answer(f->tsa, request, when);
	stamped = ota_timestamp_add_response(sig, der, response, f->tsa_keyring, &index, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(index, ==, 0);
	ota_signature_free(sig);
	sig = ota_signature_parse(g_bytes_get_data(stamped, NULL), g_bytes_get_size(stamped),
	                          &error);
	g_assert_no_error(error);
	return g_steal_pointer(&sig);
}

static OtaPolicy *policy_for(Fixture *f, const char *tsa_keyring, OtaCheckTime mode)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaPolicy) p = ota_policy_new(f->keyring, NULL, OTA_PURPOSE_ANY, TRUE, 1, &error);

	g_assert_no_error(error);
	if (tsa_keyring != NULL) {
		g_assert_true(ota_policy_set_tsa_keyring(p, tsa_keyring, &error));
		g_assert_no_error(error);
	}
	ota_policy_set_check_time(p, mode);
	return g_steal_pointer(&p);
}

static gboolean verify(OtaSignature *sig, const OtaPolicy *p, GError **error)
{
	guint8 sha256[32];

	g_assert_cmpint(EVP_Digest(content, sizeof(content), sha256, NULL, EVP_sha256(), NULL), ==,
	                1);
	return ota_signature_verify(sig, sha256, p, error);
}

/* --- the modes ------------------------------------------------------------ */

static void test_check_time_names_round_trip(Fixture *f, gconstpointer data)
{
	const OtaCheckTime modes[] = {OTA_CHECK_TIME_DEVICE, OTA_CHECK_TIME_TIMESTAMP,
	                              OTA_CHECK_TIME_SIGNING_TIME, OTA_CHECK_TIME_NONE};
	OtaCheckTime back;

	for (gsize i = 0; i < G_N_ELEMENTS(modes); i++) {
		g_assert_true(ota_check_time_from_string(ota_check_time_to_string(modes[i]), &back));
		g_assert_cmpint(back, ==, modes[i]);
	}
	g_assert_cmpstr(ota_check_time_to_string(OTA_CHECK_TIME_SIGNING_TIME), ==, "signing-time");
	g_assert_false(ota_check_time_from_string("clock", &back));
	g_assert_false(ota_check_time_from_string(NULL, &back));
}

static void test_check_time_follows_the_constructor_and_the_signing_time_alias(
	Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaPolicy) checked =
		ota_policy_new(f->keyring, NULL, OTA_PURPOSE_ANY, TRUE, 1, &error);
	g_autoptr(OtaPolicy) unchecked =
		ota_policy_new(f->keyring, NULL, OTA_PURPOSE_ANY, FALSE, 1, &error);

	g_assert_no_error(error);
	g_assert_cmpint(ota_policy_get_check_time(checked), ==, OTA_CHECK_TIME_DEVICE);
	g_assert_cmpint(ota_policy_get_check_time(unchecked), ==, OTA_CHECK_TIME_NONE);
	ota_policy_set_use_signing_time(checked, TRUE);
	g_assert_cmpint(ota_policy_get_check_time(checked), ==, OTA_CHECK_TIME_SIGNING_TIME);
	ota_policy_set_check_time(checked, OTA_CHECK_TIME_TIMESTAMP);
	g_assert_false(ota_policy_get_use_signing_time(checked));
	ota_policy_set_check_time(checked, OTA_CHECK_TIME_SIGNING_TIME);
	g_assert_true(ota_policy_get_use_signing_time(checked));
	ota_policy_set_check_time(unchecked, OTA_CHECK_TIME_DEVICE);
	g_assert_cmpint(ota_policy_get_check_time(unchecked), ==, OTA_CHECK_TIME_DEVICE);
}

static void test_now_is_when_certificates_are_checked(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) later = test_pki_identity("ec", "Later", f->root, 10, 20);
	g_autoptr(OtaPolicy) p = policy_for(f, NULL, OTA_CHECK_TIME_DEVICE);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree char *reason = NULL;

	g_assert_cmpint(ota_policy_check_signer(p, later->cert, NULL, &reason), ==,
	                OTA_SIGNER_EXPIRED);
	g_clear_pointer(&reason, g_free);
	/* A device whose clock is behind passes a time it knows has passed. */
	ota_policy_set_now(p, now + 15 * DAY);
	g_assert_cmpint(ota_policy_check_signer(p, later->cert, NULL, &reason), ==,
	                OTA_SIGNER_COUNTED);
	ota_policy_set_now(p, now + 25 * DAY);
	g_assert_cmpint(ota_policy_check_signer(p, later->cert, NULL, &reason), ==,
	                OTA_SIGNER_EXPIRED);
}

static void test_a_tsa_keyring_that_cannot_be_read_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaPolicy) p = policy_for(f, NULL, OTA_CHECK_TIME_DEVICE);
	g_autoptr(GError) error = NULL;
	g_autofree char *missing = g_build_filename(f->dir, "missing.pem", NULL);

	g_assert_false(ota_policy_set_tsa_keyring(p, missing, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING);
	g_assert_nonnull(strstr(error->message, "missing.pem"));
}

/* --- a signer that outlives its certificate --------------------------------------- */

static void test_an_expired_signer_counts_at_its_trusted_timestamp(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) expired = test_pki_identity("ec", "Expired", f->root, -10, -1);
	gint64 then = g_get_real_time() / G_USEC_PER_SEC - 5 * DAY;
	g_autoptr(OtaSignature) sig = signature_by(f, expired, then);
	g_autoptr(OtaPolicy) p = policy_for(f, f->tsa_keyring, OTA_CHECK_TIME_DEVICE);
	g_autoptr(GError) error = NULL;
	const OtaSignerInfo *s;
	gint64 t = 0, newest = 0;

	g_assert_true(verify(sig, p, &error));
	g_assert_no_error(error);
	s = ota_signature_get_signer(sig, 0);
	g_assert_cmpint(ota_signer_info_get_status(s), ==, OTA_SIGNER_COUNTED);
	g_assert_true(ota_signer_info_timestamp_is_trusted(s));
	g_assert_null(ota_signer_info_get_timestamp_reason(s));
	g_assert_true(ota_signer_info_get_timestamp_time(s, &t));
	g_assert_cmpint(t, ==, then);
	g_assert_nonnull(strstr(ota_signer_info_get_timestamp_tsa(s), "CN=TSA"));
	g_assert_true(ota_signature_get_newest_trusted_time(sig, &newest));
	g_assert_cmpint(newest, ==, then);
}

static void test_an_expired_signer_without_a_tsa_keyring_is_expired(Fixture *f,
                                                                     gconstpointer data)
{
	g_autoptr(TestIdentity) expired = test_pki_identity("ec", "Expired", f->root, -10, -1);
	g_autoptr(OtaSignature) sig =
		signature_by(f, expired, g_get_real_time() / G_USEC_PER_SEC - 5 * DAY);
	g_autoptr(OtaPolicy) p = policy_for(f, NULL, OTA_CHECK_TIME_DEVICE);
	g_autoptr(GError) error = NULL;
	const OtaSignerInfo *s;
	gint64 t;

	g_assert_false(verify(sig, p, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	s = ota_signature_get_signer(sig, 0);
	g_assert_cmpint(ota_signer_info_get_status(s), ==, OTA_SIGNER_EXPIRED);
	g_assert_false(ota_signer_info_timestamp_is_trusted(s));
	g_assert_true(ota_signer_info_get_timestamp_time(s, &t));
	g_assert_false(ota_signature_get_newest_trusted_time(sig, &t));
}

static void test_a_token_from_a_tsa_outside_the_keyring_gives_no_time(Fixture *f,
                                                                       gconstpointer data)
{
	g_autoptr(TestIdentity) expired = test_pki_identity("ec", "Expired", f->root, -10, -1);
	g_autoptr(OtaSignature) sig =
		signature_by(f, expired, g_get_real_time() / G_USEC_PER_SEC - 5 * DAY);
	/* The signers' root is no TSA's. */
	g_autoptr(OtaPolicy) p = policy_for(f, f->keyring, OTA_CHECK_TIME_DEVICE);
	g_autoptr(GError) error = NULL;
	const OtaSignerInfo *s;

	g_assert_false(verify(sig, p, &error));
	s = ota_signature_get_signer(sig, 0);
	g_assert_false(ota_signer_info_timestamp_is_trusted(s));
	g_assert_nonnull(strstr(ota_signer_info_get_timestamp_reason(s), "TSA keyring"));
	g_assert_nonnull(strstr(ota_signer_info_get_reason(s), "timestamp is not trusted"));
}

/* --- check-time=timestamp and none ---------------------------------------------- */

static void test_timestamp_mode_does_not_count_a_signer_without_a_token(Fixture *f,
                                                                        gconstpointer data)
{
	g_autoptr(TestIdentity) valid = test_pki_identity("ec", "Valid", f->root, -1, 30);
	g_autoptr(OtaSignature) sig = signature_by(f, valid, 0);
	g_autoptr(OtaPolicy) p = policy_for(f, f->tsa_keyring, OTA_CHECK_TIME_TIMESTAMP);
	g_autoptr(GError) error = NULL;
	const OtaSignerInfo *s;

	g_assert_false(verify(sig, p, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	s = ota_signature_get_signer(sig, 0);
	g_assert_cmpint(ota_signer_info_get_status(s), ==, OTA_SIGNER_UNTRUSTED);
	g_assert_cmpstr(ota_signer_info_get_reason(s), ==, "no trusted timestamp");
}

static void test_timestamp_mode_does_not_count_a_signer_whose_token_is_untrusted(
	Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) valid = test_pki_identity("ec", "Valid", f->root, -1, 30);
	g_autoptr(OtaSignature) sig =
		signature_by(f, valid, g_get_real_time() / G_USEC_PER_SEC - 60);
	g_autoptr(OtaPolicy) p = policy_for(f, NULL, OTA_CHECK_TIME_TIMESTAMP);
	g_autoptr(GError) error = NULL;

	g_assert_false(verify(sig, p, &error));
	g_assert_nonnull(strstr(ota_signer_info_get_reason(ota_signature_get_signer(sig, 0)),
	                        "no trusted timestamp: no TSA keyring"));
}

static void test_timestamp_mode_counts_a_signer_at_its_token_time(Fixture *f, gconstpointer data)
{
	/* Not yet valid by the clock (a device whose clock is behind). */
	g_autoptr(TestIdentity) future = test_pki_identity("ec", "Future", f->root, 2, 30);
	g_autoptr(OtaSignature) sig =
		signature_by(f, future, g_get_real_time() / G_USEC_PER_SEC + 3 * DAY);
	g_autoptr(OtaPolicy) p = policy_for(f, f->tsa_keyring, OTA_CHECK_TIME_TIMESTAMP);
	g_autoptr(GError) error = NULL;

	g_assert_true(verify(sig, p, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ota_signature_get_counted(sig), ==, 1);
}

static void test_none_mode_ignores_certificate_times(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) expired = test_pki_identity("ec", "Expired", f->root, -10, -1);
	g_autoptr(OtaSignature) sig = signature_by(f, expired, 0);
	g_autoptr(OtaPolicy) p = policy_for(f, NULL, OTA_CHECK_TIME_NONE);
	g_autoptr(GError) error = NULL;

	g_assert_true(verify(sig, p, &error));
	g_assert_no_error(error);
}

/* --- adding answers ----------------------------------------------------------- */

static void test_an_answer_for_another_signature_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, -1, 30);
	g_autoptr(GBytes) der_a = cms_sign(a);
	g_autoptr(GBytes) der_b = cms_sign(a);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSignature) sig_a = ota_signature_parse(g_bytes_get_data(der_a, NULL),
	                                                    g_bytes_get_size(der_a), &error);
	g_autoptr(OtaSignature) sig_b = ota_signature_parse(g_bytes_get_data(der_b, NULL),
	                                                    g_bytes_get_size(der_b), &error);
	g_autoptr(GBytes) request = ota_timestamp_request_for_signer(sig_a, 0, &error);
	g_autoptr(GBytes) response = tsa_answer(f->tsa, request, g_get_real_time() / G_USEC_PER_SEC);
	g_autoptr(GBytes) stamped = NULL;
	guint index;

	g_assert_no_error(error);
	/* ECDSA: the same signer over the same content, another signature. */
	stamped = ota_timestamp_add_response(sig_b, der_b, response, NULL, &index, &error);
	g_assert_null(stamped);
	g_assert_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_MISMATCH);
}

static void test_a_request_for_a_signer_that_does_not_exist_is_refused(Fixture *f,
                                                                      gconstpointer data)
{
	g_autoptr(TestIdentity) a = test_pki_identity("ec", "A", f->root, -1, 30);
	g_autoptr(OtaSignature) sig = signature_by(f, a, 0);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) request = ota_timestamp_request_for_signer(sig, 1, &error);

	g_assert_null(request);
	g_assert_error(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_INPUT);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name) g_test_add("/timestamp/" #name, Fixture, NULL, setup, test_##name, teardown)
	ADD(check_time_names_round_trip);
	ADD(check_time_follows_the_constructor_and_the_signing_time_alias);
	ADD(now_is_when_certificates_are_checked);
	ADD(a_tsa_keyring_that_cannot_be_read_is_refused);
	ADD(an_expired_signer_counts_at_its_trusted_timestamp);
	ADD(an_expired_signer_without_a_tsa_keyring_is_expired);
	ADD(a_token_from_a_tsa_outside_the_keyring_gives_no_time);
	ADD(timestamp_mode_does_not_count_a_signer_without_a_token);
	ADD(timestamp_mode_does_not_count_a_signer_whose_token_is_untrusted);
	ADD(timestamp_mode_counts_a_signer_at_its_token_time);
	ADD(none_mode_ignores_certificate_times);
	ADD(an_answer_for_another_signature_is_refused);
	ADD(a_request_for_a_signer_that_does_not_exist_is_refused);
	return g_test_run();
}
