/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/trust.h>

#include "checksum-private.h"
#include "openssl-private.h"
#include "signature-private.h"
#include "trust-private.h"

#include <openssl/x509.h>
#include <string.h>

#include "pki.h"

#define DAY (24 * 3600)

typedef struct {
	char *dir;
	TestIdentity *root_a, *root_b, *root_boot, *root_app;
	TestIdentity *a1, *a2, *a3, *b1, *boot1, *boot2, *app1;
	char *root_a_pem, *root_b_pem, *root_boot_pem, *root_app_pem;
	char *a1_pem;
} Fixture;

static char *write_cert(Fixture *f, const TestIdentity *id, const char *name)
{
	char *cert = NULL;
	g_autofree char *key = NULL;

	test_pki_write(id, f->dir, name, &cert, &key);
	return cert;
}

static void setup(Fixture *f, gconstpointer data)
{
	f->dir = test_tmpdir_new();
	f->root_a = test_pki_identity("ec", "Root A", NULL, -1, 3650);
	f->root_b = test_pki_identity("ec", "Root B", NULL, -1, 3650);
	f->root_boot = test_pki_identity("ec", "Bootloader Root", NULL, -1, 3650);
	f->root_app = test_pki_identity("ec", "App Root", NULL, -1, 3650);
	f->a1 = test_pki_identity("ec", "Officer A1", f->root_a, -1, 365);
	f->a2 = test_pki_identity("ec", "Officer A2", f->root_a, -1, 365);
	f->a3 = test_pki_identity("ec", "Officer A3", f->root_a, -1, 365);
	f->b1 = test_pki_identity("ec", "Officer B1", f->root_b, -1, 365);
	f->boot1 = test_pki_identity("ec", "Boot Officer 1", f->root_boot, -1, 365);
	f->boot2 = test_pki_identity("ec", "Boot Officer 2", f->root_boot, -1, 365);
	f->app1 = test_pki_identity("ec", "App Officer", f->root_app, -1, 365);
	f->root_a_pem = write_cert(f, f->root_a, "root-a");
	f->root_b_pem = write_cert(f, f->root_b, "root-b");
	f->root_boot_pem = write_cert(f, f->root_boot, "root-boot");
	f->root_app_pem = write_cert(f, f->root_app, "root-app");
	f->a1_pem = write_cert(f, f->a1, "a1");
}

static void teardown(Fixture *f, gconstpointer data)
{
	TestIdentity *ids[] = {f->root_a, f->root_b, f->root_boot, f->root_app, f->a1,  f->a2,
			       f->a3,     f->b1,     f->boot1,     f->boot2,    f->app1};

	for (gsize i = 0; i < G_N_ELEMENTS(ids); i++)
		test_identity_free(ids[i]);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->root_a_pem);
	g_free(f->root_b_pem);
	g_free(f->root_boot_pem);
	g_free(f->root_app_pem);
	g_free(f->a1_pem);
}

/* --- helpers ------------------------------------------------------------------------------- */

/* @document signed by @ids (NULL-terminated), with @intermediates embedded. */
static GBytes *sign_with(GBytes *document, OtaX509Stack *intermediates, TestIdentity **ids)
{
	g_autoptr(GPtrArray) signers =
		g_ptr_array_new_with_free_func((GDestroyNotify)ota_signer_free);
	g_autoptr(GError) error = NULL;
	OtaChecksum digest;
	GBytes *der;

	for (TestIdentity **id = ids; *id != NULL; id++)
		g_ptr_array_add(signers, test_identity_signer(*id));
	g_assert_true(ota_checksum_bytes_all(document, &digest, NULL));
	der = ota_signature_sign((OtaSigner *const *)signers->pdata, signers->len, intermediates,
				 &digest, document, &error);
	g_assert_no_error(error);
	return der;
}

static OtaTrust *parse_bytes(GBytes *bytes, GError **error)
{
	return ota_trust_parse(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), "t.trust",
			       error);
}

static OtaTrust *parse_ok(GBytes *bytes)
{
	g_autoptr(GError) error = NULL;
	OtaTrust *trust = parse_bytes(bytes, &error);

	g_assert_no_error(error);
	g_assert_nonnull(trust);
	return trust;
}

static OtaTrust *parse_text(const char *text, GError **error)
{
	return ota_trust_parse((const guint8 *)text, strlen(text), "t.trust", error);
}

/* A document of @version with a "default" tier of @default_pem (threshold
 * @threshold) and, if @boot_pem, a "bootloader" tier of it (threshold 2). */
static GBytes *document(guint64 version, const char *default_pem, guint threshold,
			const char *boot_pem)
{
	OtaTrustTier tiers[] = {
		{"default", threshold, OTA_PURPOSE_SMIMESIGN, OTA_CHECK_TIME_DEVICE},
		{"bootloader", 2, OTA_PURPOSE_SMIMESIGN, OTA_CHECK_TIME_DEVICE},
	};
	OtaTrustAnchor anchors[] = {
		{"default", default_pem, NULL, NULL},
		{"bootloader", boot_pem, NULL, NULL},
	};
	g_autoptr(GError) error = NULL;
	gsize n = boot_pem != NULL ? 2 : 1;
	GBytes *doc = ota_trust_document_new(version, tiers, n, anchors, n, NULL, 0, &error);

	g_assert_no_error(error);
	return doc;
}

static OtaTrust *signed_document(GBytes *doc, TestIdentity **ids)
{
	g_autoptr(GBytes) der = sign_with(doc, NULL, ids);

	return parse_ok(der);
}

static OtaSignerStatus check_signer(const OtaTrust *trust, const char *tier, gint64 now,
				    const TestIdentity *leaf, OtaX509Stack *untrusted,
				    char **reason)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaPolicy) policy = ota_trust_policy_new(trust, tier, now, &error);

	g_assert_no_error(error);
	return ota_policy_check_signer(policy, leaf->cert, untrusted, reason);
}

static char *base_text(Fixture *f)
{
	g_autoptr(GBytes) doc = document(3, f->root_a_pem, 1, NULL);

	return g_strndup(g_bytes_get_data(doc, NULL), g_bytes_get_size(doc));
}

/* --- the document -------------------------------------------------------------------------- */

static void test_document_round_trips_through_parse(Fixture *f, gconstpointer data)
{
	OtaTrustTier tiers[] = {
		{"default", 2, OTA_PURPOSE_CODESIGN, OTA_CHECK_TIME_SIGNING_TIME},
		{"bootloader", 1, OTA_PURPOSE_ANY, OTA_CHECK_TIME_NONE},
	};
	OtaTrustAnchor anchors[] = {
		{"default", f->root_a_pem, NULL, "2030-01-01T00:00:00Z"},
		{"default", f->root_b_pem, "2029-06-01T12:00:00+02:00", NULL},
		{"bootloader", f->root_boot_pem, NULL, NULL},
	};
	OtaTrustRevocation revocations[] = {{"default", f->a1_pem}};
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) doc =
		ota_trust_document_new(7, tiers, 2, anchors, 3, revocations, 1, &error);
	g_autoptr(OtaTrust) trust = NULL;
	g_autoptr(OtaTrust) again = NULL;
	g_autofree char *a1_sha256 = ota_x509_certificate_sha256(f->a1->cert);
	g_autofree char *a1_spki = ota_x509_spki_sha256(f->a1->cert);
	const OtaTrustTierEntry *def, *boot;
	const OtaTrustAnchorEntry *b;
	const char *expected_tiers[] = {"default", "bootloader", NULL};

	g_assert_no_error(error);
	trust = parse_ok(doc);
	g_assert_cmpuint(ota_trust_get_version(trust), ==, 7);
	g_assert_cmpstrv(ota_trust_get_tiers(trust), expected_tiers);
	g_assert_null(ota_trust_get_signature(trust));
	def = ota_trust_get_tier(trust, "default");
	boot = ota_trust_get_tier(trust, "bootloader");
	g_assert_cmpuint(def->threshold, ==, 2);
	g_assert_cmpint(def->purpose, ==, OTA_PURPOSE_CODESIGN);
	g_assert_cmpint(def->check_time, ==, OTA_CHECK_TIME_SIGNING_TIME);
	g_assert_cmpint(boot->check_time, ==, OTA_CHECK_TIME_NONE);
	g_assert_cmpuint(def->anchors->len, ==, 2);
	b = g_ptr_array_index(def->anchors, 1);
	g_assert_true(b->has_not_before && !b->has_not_after);
	g_assert_cmpint(b->not_before, ==, 1875002400); /* 2029-06-01T10:00:00Z */
	g_assert_cmpint(X509_cmp(b->cert, f->root_b->cert), ==, 0);
	g_assert_cmpuint(def->revoked_certs->len, ==, 1);
	g_assert_cmpstr(def->revoked_certs->pdata[0], ==, a1_sha256);
	g_assert_cmpstr(def->revoked_spki->pdata[0], ==, a1_spki);
	g_assert_cmpuint(boot->revoked_certs->len, ==, 0);
	/* signed, the same document */
	again = signed_document(doc, (TestIdentity *[]){f->a2, NULL});
	g_assert_nonnull(ota_trust_get_signature(again));
	g_assert_cmpstr(ota_trust_get_document_sha256(again), ==,
			ota_trust_get_document_sha256(trust));
	g_assert_true(g_bytes_equal(ota_trust_get_document(again), doc));
	g_assert_cmpstr(ota_trust_get_tier(again, "default")->canonical, ==, def->canonical);
}

static void test_document_names_each_anchor_in_a_comment(Fixture *f, gconstpointer data)
{
	g_autofree char *text = base_text(f);

	g_assert_nonnull(strstr(text, "# CN=Root A\nanchor-1="));
}

static void test_revocation_without_tier_applies_to_every_tier(Fixture *f, gconstpointer data)
{
	OtaTrustAnchor anchors[] = {
		{"default", f->root_a_pem, NULL, NULL},
		{"bootloader", f->root_boot_pem, NULL, NULL},
	};
	OtaTrustRevocation revocations[] = {{NULL, f->a1_pem}};
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) doc =
		ota_trust_document_new(1, NULL, 0, anchors, 2, revocations, 1, &error);
	g_autoptr(OtaTrust) trust = NULL;

	g_assert_no_error(error);
	trust = parse_ok(doc);
	g_assert_cmpuint(ota_trust_get_tier(trust, "default")->revoked_certs->len, ==, 1);
	g_assert_cmpuint(ota_trust_get_tier(trust, "bootloader")->revoked_certs->len, ==, 1);
}

static void test_document_without_default_tier_is_not_made(Fixture *f, gconstpointer data)
{
	OtaTrustAnchor anchors[] = {{"bootloader", f->root_boot_pem, NULL, NULL}};
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) doc = ota_trust_document_new(1, NULL, 0, anchors, 1, NULL, 0, &error);

	g_assert_null(doc);
	g_assert_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED);
}

static void test_tier_settings_without_anchor_are_not_made(Fixture *f, gconstpointer data)
{
	OtaTrustTier tiers[] = {{"app", 1, OTA_PURPOSE_ANY, OTA_CHECK_TIME_DEVICE}};
	OtaTrustAnchor anchors[] = {{"default", f->root_a_pem, NULL, NULL}};
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) doc = ota_trust_document_new(1, tiers, 1, anchors, 1, NULL, 0, &error);

	g_assert_null(doc);
	g_assert_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_NO_TIER);
}

static void test_window_ending_before_it_starts_is_not_made(Fixture *f, gconstpointer data)
{
	OtaTrustAnchor anchors[] = {
		{"default", f->root_a_pem, "2030-01-01T00:00:00Z", "2029-01-01T00:00:00Z"}};
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) doc = ota_trust_document_new(1, NULL, 0, anchors, 1, NULL, 0, &error);

	g_assert_null(doc);
	g_assert_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED);
}

static void test_window_time_without_zone_is_not_made(Fixture *f, gconstpointer data)
{
	OtaTrustAnchor anchors[] = {{"default", f->root_a_pem, "2030-01-01T00:00:00", NULL}};
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) doc = ota_trust_document_new(1, NULL, 0, anchors, 1, NULL, 0, &error);

	g_assert_null(doc);
	g_assert_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED);
	g_assert_nonnull(strstr(error->message, "RFC 3339"));
}

static void test_same_anchor_twice_in_a_tier_is_not_made(Fixture *f, gconstpointer data)
{
	OtaTrustAnchor anchors[] = {{"default", f->root_a_pem, NULL, NULL},
				    {"default", f->root_a_pem, NULL, "2030-01-01T00:00:00Z"}};
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) doc = ota_trust_document_new(1, NULL, 0, anchors, 2, NULL, 0, &error);

	g_assert_null(doc);
	g_assert_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED);
	g_assert_nonnull(strstr(error->message, "already an anchor of tier 'default'"));
}

/* Strict parsing: each case edits the text of a valid document. */
typedef struct {
	const char *name;
	const char *find; /* replaced by @replace; NULL: append @replace */
	const char *replace;
	const char *message; /* a part of the error */
} BadDocument;

static const BadDocument bad_documents[] = {
	{"unknown-key", NULL, "colour=blue\n", "unknown key 'colour' in group [tier.default]"},
	{"unknown-group", NULL, "[extra]\nx=1\n", "unknown group [extra]"},
	{"unknown-empty-group", NULL, "[extra]\n", "unknown group [extra]"},
	{"invalid-tier-name", NULL, "[tier.a/b]\nthreshold=1\n", "invalid tier name"},
	{"tier-without-anchor", NULL, "[tier.app]\nthreshold=1\n", "tier 'app' has no anchor"},
	{"missing-default-tier", "[tier.default]", "[tier.other]", "default tier is required"},
	{"missing-version", "version=3\n", "", "missing key 'version' in group [trust]"},
	{"version-zero", "version=3", "version=0", "invalid version '0'"},
	{"version-too-large", "version=3", "version=9223372036854775808", "invalid version"},
	{"version-not-a-number", "version=3", "version=three", "invalid version"},
	{"threshold-zero", "threshold=1", "threshold=0", "invalid threshold '0'"},
	{"unknown-purpose", "check-purpose=smimesign", "check-purpose=tls",
	 "invalid check-purpose 'tls'"},
	{"unknown-check-time", "check-time=device", "check-time=later",
	 "invalid check-time 'later'"},
	{"anchor-not-base64", "anchor-1=", "anchor-1=!!", "invalid anchor-1 in group"},
	{"anchor-not-a-certificate", NULL, "anchor-2=AAAA\n", "invalid anchor-2 in group"},
	{"anchor-with-space-in-base64", "anchor-1=MI", "anchor-1=M I", "invalid anchor-1"},
	{"anchor-numbering-gap", NULL, "anchor-3=AAAA\n", "unknown key 'anchor-3'"},
	{"window-key-without-anchor", NULL, "anchor-2-not-after=2030-01-01T00:00:00Z\n",
	 "unknown key 'anchor-2-not-after'"},
	{"window-not-utc", NULL, "anchor-1-not-after=2030-01-01T00:00:00+01:00\n",
	 "invalid anchor-1-not-after"},
	{"window-impossible-date", NULL, "anchor-1-not-after=2030-02-30T00:00:00Z\n",
	 "invalid anchor-1-not-after"},
	{"window-reversed", NULL,
	 "anchor-1-not-before=2030-01-01T00:00:00Z\nanchor-1-not-after=2029-01-01T00:00:00Z\n",
	 "not-before is after not-after"},
	{"revoked-not-hex", NULL, "revoked-spki-sha256=xyz\n", "invalid revoked-spki-sha256 entry"},
	{"revoked-upper-case", NULL,
	 "revoked-certificate-sha256="
	 "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789\n",
	 "invalid revoked-certificate-sha256 entry"},
	{"revoked-twice", NULL,
	 "revoked-spki-sha256=abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789;"
	 "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\n",
	 "lists abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789 twice"},
	{"duplicate-key", NULL, "threshold=2\n", "duplicate key 'threshold'"},
	{"repeated-group", NULL, "[trust]\n", "group [trust] appears twice"},
	{"localized-key", NULL, "threshold[de]=2\n", "localized key"},
	{"not-a-key-file", NULL, "this is no key\n", "not a trust document"},
};

static void test_malformed_document_is_refused(gconstpointer data)
{
	const BadDocument *bad = data;
	g_autoptr(TestIdentity) root = test_pki_identity("ec", "Root A", NULL, -1, 3650);
	g_autofree char *dir = test_tmpdir_new();
	g_autofree char *pem = NULL;
	g_autofree char *key = NULL;
	g_autoptr(GBytes) doc = NULL;
	g_autofree char *text = NULL;
	g_autoptr(GString) edited = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaTrust) trust = NULL;

	test_pki_write(root, dir, "root", &pem, &key);
	doc = document(3, pem, 1, NULL);
	text = g_strndup(g_bytes_get_data(doc, NULL), g_bytes_get_size(doc));
	edited = g_string_new(text);
	if (bad->find == NULL) {
		g_string_append(edited, bad->replace);
	} else {
		g_assert_nonnull(strstr(text, bad->find));
		g_string_replace(edited, bad->find, bad->replace, 1);
	}
	trust = parse_text(edited->str, &error);
	g_assert_null(trust);
	g_assert_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED);
	if (strstr(error->message, bad->message) == NULL)
		g_error("'%s' lacks '%s'", error->message, bad->message);
	g_assert_true(g_str_has_prefix(error->message, "t.trust: "));
	g_assert_null(strchr(error->message, '\n'));
	test_tmpdir_remove(dir);
}

static void test_unedited_base_document_parses(Fixture *f, gconstpointer data)
{
	g_autofree char *text = base_text(f);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaTrust) trust = parse_text(text, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(ota_trust_get_version(trust), ==, 3);
}

static void test_document_with_defaults_omitted_parses(Fixture *f, gconstpointer data)
{
	g_autofree char *text = base_text(f);
	g_autoptr(GString) edited = g_string_new(text);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaTrust) trust = NULL;
	g_autoptr(OtaTrust) full = parse_text(text, NULL);
	const OtaTrustTierEntry *t;

	g_string_replace(edited, "threshold=1\ncheck-purpose=smimesign\ncheck-time=device\n", "",
			 1);
	trust = parse_text(edited->str, &error);
	g_assert_no_error(error);
	t = ota_trust_get_tier(trust, "default");
	g_assert_cmpuint(t->threshold, ==, 1);
	g_assert_cmpint(t->purpose, ==, OTA_PURPOSE_SMIMESIGN);
	g_assert_cmpint(t->check_time, ==, OTA_CHECK_TIME_DEVICE);
	/* the same tier as written out in full */
	g_assert_cmpstr(t->canonical, ==, ota_trust_get_tier(full, "default")->canonical);
}

static void test_pem_armoured_trust_list_is_refused_with_one_line(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaTrust) trust =
		parse_text("-----BEGIN CMS-----\nMIIB\n-----END CMS-----\n", &error);

	g_assert_null(trust);
	g_assert_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED);
	g_assert_cmpstr(error->message, ==,
			"t.trust: PEM-armoured; a trust list is DER (as 'otabundle trust sign' "
			"writes it) or a bare trust document");
}

static void test_unknown_file_is_refused_with_one_line(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaTrust) trust = parse_text("hsqs\x01\x02", &error);

	g_assert_null(trust);
	g_assert_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED);
	g_assert_cmpstr(error->message, ==,
			"t.trust: not a trust list (neither a signed trust list in DER nor a trust "
			"document)");
}

static void test_garbage_der_is_refused_as_a_signature(Fixture *f, gconstpointer data)
{
	static const guint8 der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaTrust) trust = ota_trust_parse(der, sizeof(der), "t.trust", &error);

	g_assert_null(trust);
	g_assert_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED);
	g_assert_true(g_str_has_prefix(error->message, "t.trust: signature: "));
}

static void test_detached_signature_is_not_a_trust_list(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) doc = document(1, f->root_a_pem, 1, NULL);
	g_autoptr(OtaSigner) signer = test_identity_signer(f->a1);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) der = NULL;
	g_autoptr(OtaTrust) trust = NULL;
	OtaChecksum digest;

	g_assert_true(ota_checksum_bytes_all(doc, &digest, NULL));
	der = ota_signature_sign(&signer, 1, NULL, &digest, NULL, &error);
	g_assert_no_error(error);
	trust = parse_bytes(der, &error);
	g_assert_null(trust);
	g_assert_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED);
	g_assert_nonnull(strstr(error->message, "detached"));
}

static void test_load_of_missing_file_is_an_io_error(Fixture *f, gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->dir, "absent.trust", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaTrust) trust = ota_trust_load(path, &error);

	g_assert_null(trust);
	g_assert_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_IO);
	g_assert_nonnull(strstr(error->message, path));
}

/* --- policies: windows and revocations ----------------------------------------------------- */

static void test_policy_of_unknown_tier_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) doc = document(1, f->root_a_pem, 1, NULL);
	g_autoptr(OtaTrust) trust = parse_ok(doc);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaPolicy) policy = ota_trust_policy_new(trust, "bootloader", 0, &error);

	g_assert_null(policy);
	g_assert_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_NO_TIER);
	g_assert_cmpstr(error->message, ==, "trust list version 1 has no tier 'bootloader'");
}

static void test_policy_has_the_tier_threshold_and_settings(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) doc = document(1, f->root_a_pem, 1, f->root_boot_pem);
	g_autoptr(OtaTrust) trust = parse_ok(doc);
	g_autoptr(OtaPolicy) policy = ota_trust_policy_new(trust, "bootloader", 0, NULL);

	g_assert_cmpuint(ota_policy_get_threshold(policy), ==, 2);
	g_assert_cmpint(ota_policy_get_check_time(policy), ==, OTA_CHECK_TIME_DEVICE);
}

static OtaTrust *windowed(Fixture *f, const char *not_before, const char *not_after)
{
	OtaTrustAnchor anchors[] = {{"default", f->root_a_pem, not_before, not_after}};
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) doc = ota_trust_document_new(1, NULL, 0, anchors, 1, NULL, 0, &error);

	g_assert_no_error(error);
	return parse_ok(doc);
}

static void test_anchor_counts_inside_its_window(Fixture *f, gconstpointer data)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree char *from = ota_trust_format_time(now - DAY);
	g_autofree char *to = ota_trust_format_time(now + DAY);
	g_autoptr(OtaTrust) trust = windowed(f, from, to);
	g_autofree char *reason = NULL;

	g_assert_cmpint(check_signer(trust, "default", now, f->a1, NULL, &reason), ==,
			OTA_SIGNER_COUNTED);
}

static void test_anchor_after_its_window_is_left_out(Fixture *f, gconstpointer data)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree char *to = ota_trust_format_time(now - 1);
	g_autoptr(OtaTrust) trust = windowed(f, NULL, to);
	g_autofree char *reason = NULL;

	g_assert_cmpint(check_signer(trust, "default", now, f->a1, NULL, &reason), ==,
			OTA_SIGNER_UNTRUSTED);
}

static void test_anchor_before_its_window_is_left_out(Fixture *f, gconstpointer data)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree char *from = ota_trust_format_time(now + 1);
	g_autoptr(OtaTrust) trust = windowed(f, from, NULL);
	g_autofree char *reason = NULL;

	g_assert_cmpint(check_signer(trust, "default", now, f->a1, NULL, &reason), ==,
			OTA_SIGNER_UNTRUSTED);
	/* and counts once its window has begun */
	g_clear_pointer(&reason, g_free);
	g_assert_cmpint(check_signer(trust, "default", now + 1, f->a1, NULL, &reason), ==,
			OTA_SIGNER_COUNTED);
}

static OtaTrust *revoking(Fixture *f, const char *pem)
{
	OtaTrustAnchor anchors[] = {{"default", f->root_a_pem, NULL, NULL}};
	OtaTrustRevocation revocations[] = {{"default", pem}};
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) doc =
		ota_trust_document_new(4, NULL, 0, anchors, 1, revocations, 1, &error);

	g_assert_no_error(error);
	return parse_ok(doc);
}

static void test_revoked_leaf_is_refused_with_the_list_version(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaTrust) trust = revoking(f, f->a1_pem);
	g_autofree char *reason = NULL;
	g_autofree char *other_reason = NULL;

	g_assert_cmpint(check_signer(trust, "default", 0, f->a1, NULL, &reason), ==,
			OTA_SIGNER_REVOKED);
	g_assert_cmpstr(reason, ==, "revoked by trust list version 4");
	g_assert_cmpint(check_signer(trust, "default", 0, f->a2, NULL, &other_reason), ==,
			OTA_SIGNER_COUNTED);
}

static void test_revoked_key_is_refused_in_a_new_certificate(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaTrust) trust = revoking(f, f->a1_pem);
	g_autoptr(TestIdentity) again = test_pki_reissue(f->a1, "Officer A1 renewed", f->root_a);
	g_autofree char *reason = NULL;

	g_assert_cmpint(check_signer(trust, "default", 0, again, NULL, &reason), ==,
			OTA_SIGNER_REVOKED);
}

static void test_revoked_intermediate_refuses_its_leaves(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) inter =
		test_pki_intermediate("ec", "Signing CA", f->root_a, -1, 365);
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Leaf", inter, -1, 30);
	g_autofree char *inter_pem = write_cert(f, inter, "inter");
	g_autoptr(OtaX509Stack) chain = sk_X509_new_null();
	g_autoptr(OtaTrust) before = revoking(f, f->a1_pem);
	g_autoptr(OtaTrust) after = revoking(f, inter_pem);
	g_autofree char *reason = NULL;
	g_autofree char *reason_after = NULL;

	g_assert_cmpint(sk_X509_push(chain, X509_dup(inter->cert)), ==, 1);
	g_assert_cmpint(check_signer(before, "default", 0, leaf, chain, &reason), ==,
			OTA_SIGNER_COUNTED);
	g_assert_cmpint(check_signer(after, "default", 0, leaf, chain, &reason_after), ==,
			OTA_SIGNER_REVOKED);
	g_assert_cmpstr(reason_after, ==, "revoked by trust list version 4");
}

static void test_revoked_signer_does_not_count_towards_a_bundle(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaTrust) trust = revoking(f, f->a1_pem);
	g_autoptr(GBytes) content = g_bytes_new_static("payload", 7);
	g_autoptr(GBytes) der = sign_with(content, NULL, (TestIdentity *[]){f->a1, NULL});
	g_autoptr(OtaSignature) sig =
		ota_signature_parse(g_bytes_get_data(der, NULL), g_bytes_get_size(der), NULL);
	g_autoptr(OtaPolicy) policy = ota_trust_policy_new(trust, "default", 0, NULL);
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_signature_verify(sig, NULL, policy, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	g_assert_nonnull(strstr(error->message, "revoked by trust list version 4"));
}

/* --- updates ------------------------------------------------------------------------------- */

static void assert_update_refused(const OtaTrust *current, const OtaTrust *update, gint code,
				  const char *message)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_trust_check_update(current, update, 0, &error));
	g_assert_error(error, OTA_TRUST_ERROR, code);
	if (!g_str_has_prefix(error->message, message))
		g_error("'%s' does not start with '%s'", error->message, message);
	g_assert_null(strchr(error->message, '\n'));
}

static void assert_update_accepted(const OtaTrust *current, const OtaTrust *update)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_trust_check_update(current, update, 0, &error));
	g_assert_no_error(error);
}

static void test_update_signed_by_old_and_new_keys_is_accepted(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) v1 = document(1, f->root_a_pem, 1, NULL);
	g_autoptr(GBytes) v2 = document(2, f->root_b_pem, 1, NULL);
	g_autoptr(OtaTrust) current = parse_ok(v1);
	g_autoptr(OtaTrust) update = signed_document(v2, (TestIdentity *[]){f->a1, f->b1, NULL});

	assert_update_accepted(current, update);
}

static void test_update_signed_only_by_old_keys_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) v1 = document(1, f->root_a_pem, 1, NULL);
	g_autoptr(GBytes) v2 = document(2, f->root_b_pem, 1, NULL);
	g_autoptr(OtaTrust) current = parse_ok(v1);
	g_autoptr(OtaTrust) update = signed_document(v2, (TestIdentity *[]){f->a1, NULL});

	assert_update_refused(current, update, OTA_TRUST_ERROR_UNSIGNED,
			      "tier 'default' changed, but the update is not signed by its new "
			      "threshold (0 of 1): CN=Officer A1: ");
}

static void test_update_signed_only_by_new_keys_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) v1 = document(1, f->root_a_pem, 1, NULL);
	g_autoptr(GBytes) v2 = document(2, f->root_b_pem, 1, NULL);
	g_autoptr(OtaTrust) current = parse_ok(v1);
	g_autoptr(OtaTrust) update = signed_document(v2, (TestIdentity *[]){f->b1, NULL});

	assert_update_refused(current, update, OTA_TRUST_ERROR_UNSIGNED,
			      "tier 'default' changed, but the update is not signed by its current "
			      "threshold (0 of 1)");
}

static void test_update_skipping_a_version_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) v3 = document(3, f->root_a_pem, 1, NULL);
	g_autoptr(GBytes) v5 = document(5, f->root_b_pem, 1, NULL);
	g_autoptr(OtaTrust) current = parse_ok(v3);
	g_autoptr(OtaTrust) update = signed_document(v5, (TestIdentity *[]){f->a1, f->b1, NULL});

	assert_update_refused(current, update, OTA_TRUST_ERROR_VERSION,
			      "trust list version 5 does not follow the current 3");
}

static void test_replayed_update_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) v1 = document(1, f->root_a_pem, 1, NULL);
	g_autoptr(GBytes) v2 = document(2, f->root_b_pem, 1, NULL);
	g_autoptr(OtaTrust) old = parse_ok(v1);
	g_autoptr(OtaTrust) current = signed_document(v2, (TestIdentity *[]){f->a1, f->b1, NULL});
	g_autoptr(OtaTrust) again = signed_document(v2, (TestIdentity *[]){f->a1, f->b1, NULL});

	assert_update_accepted(old, current);
	assert_update_refused(current, again, OTA_TRUST_ERROR_VERSION,
			      "trust list version 2 does not follow the current 2");
	assert_update_refused(current, old, OTA_TRUST_ERROR_VERSION,
			      "trust list version 1 does not follow the current 2");
}

static void test_update_changing_nothing_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) v1 = document(1, f->root_a_pem, 1, NULL);
	g_autoptr(GBytes) v2 = document(2, f->root_a_pem, 1, NULL);
	g_autoptr(OtaTrust) current = parse_ok(v1);
	g_autoptr(OtaTrust) update = signed_document(v2, (TestIdentity *[]){f->a1, NULL});

	assert_update_refused(current, update, OTA_TRUST_ERROR_UNCHANGED,
			      "trust list version 2 changes no tier of version 1");
}

static void test_reordering_anchors_is_no_change(Fixture *f, gconstpointer data)
{
	OtaTrustAnchor ab[] = {{"default", f->root_a_pem, NULL, NULL},
			       {"default", f->root_b_pem, NULL, NULL}};
	OtaTrustAnchor ba[] = {{"default", f->root_b_pem, NULL, NULL},
			       {"default", f->root_a_pem, NULL, NULL}};
	g_autoptr(GBytes) v1 = ota_trust_document_new(1, NULL, 0, ab, 2, NULL, 0, NULL);
	g_autoptr(GBytes) v2 = ota_trust_document_new(2, NULL, 0, ba, 2, NULL, 0, NULL);
	g_autoptr(OtaTrust) current = parse_ok(v1);
	g_autoptr(OtaTrust) update = signed_document(v2, (TestIdentity *[]){f->a1, NULL});

	assert_update_refused(current, update, OTA_TRUST_ERROR_UNCHANGED, "trust list version 2");
}

static void test_unsigned_update_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) v1 = document(1, f->root_a_pem, 1, NULL);
	g_autoptr(GBytes) v2 = document(2, f->root_b_pem, 1, NULL);
	g_autoptr(OtaTrust) current = parse_ok(v1);
	g_autoptr(OtaTrust) update = parse_ok(v2);

	assert_update_refused(current, update, OTA_TRUST_ERROR_UNSIGNED,
			      "trust list version 2 is not signed");
}

static void test_update_altered_after_signing_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) v1 = document(1, f->root_a_pem, 1, NULL);
	g_autoptr(GBytes) v2 = document(2, f->root_b_pem, 1, NULL);
	g_autoptr(GBytes) der = sign_with(v2, NULL, (TestIdentity *[]){f->a1, f->b1, NULL});
	g_autoptr(OtaTrust) current = parse_ok(v1);
	g_autoptr(OtaTrust) update = NULL;
	gsize length = 0;
	guint8 *bytes = g_bytes_unref_to_data(g_bytes_ref(der), &length);
	guint8 *threshold = memmem(bytes, length, "threshold=1", 11);
	g_autoptr(GBytes) altered = NULL;

	g_assert_nonnull(threshold);
	threshold[10] = '2'; /* still a valid document, but not the one signed */
	altered = g_bytes_new_take(bytes, length);
	update = parse_ok(altered);
	assert_update_refused(current, update, OTA_TRUST_ERROR_MALFORMED, "signature: ");
}

static void test_changing_default_tier_needs_no_bootloader_signers(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) v1 = document(1, f->root_a_pem, 1, f->root_boot_pem);
	g_autoptr(GBytes) v2 = document(2, f->root_b_pem, 1, f->root_boot_pem);
	g_autoptr(OtaTrust) current = parse_ok(v1);
	g_autoptr(OtaTrust) update = signed_document(v2, (TestIdentity *[]){f->a1, f->b1, NULL});

	assert_update_accepted(current, update);
}

static void test_changing_bootloader_tier_needs_its_threshold(Fixture *f, gconstpointer data)
{
	OtaTrustTier tiers[] = {{"bootloader", 1, OTA_PURPOSE_SMIMESIGN, OTA_CHECK_TIME_DEVICE}};
	OtaTrustAnchor anchors[] = {{"default", f->root_a_pem, NULL, NULL},
				    {"bootloader", f->root_boot_pem, NULL, NULL}};
	g_autoptr(GBytes) v1 = document(1, f->root_a_pem, 1, f->root_boot_pem);
	/* the same anchors, a bootloader threshold lowered to 1 */
	g_autoptr(GBytes) v2 = ota_trust_document_new(2, tiers, 1, anchors, 2, NULL, 0, NULL);
	g_autoptr(OtaTrust) current = parse_ok(v1);
	g_autoptr(OtaTrust) by_one = signed_document(v2, (TestIdentity *[]){f->a1, f->boot1, NULL});
	g_autoptr(OtaTrust) by_two =
		signed_document(v2, (TestIdentity *[]){f->boot1, f->boot2, NULL});

	assert_update_refused(current, by_one, OTA_TRUST_ERROR_UNSIGNED,
			      "tier 'bootloader' changed, but the update is not signed by its "
			      "current threshold (1 of 2)");
	/* the default tier is unchanged: its officers are not needed */
	assert_update_accepted(current, by_two);
}

static void test_added_tier_needs_the_current_default_threshold(Fixture *f, gconstpointer data)
{
	OtaTrustAnchor anchors[] = {{"default", f->root_a_pem, NULL, NULL},
				    {"app", f->root_app_pem, NULL, NULL}};
	g_autoptr(GBytes) v1 = document(1, f->root_a_pem, 1, NULL);
	g_autoptr(GBytes) v2 = ota_trust_document_new(2, NULL, 0, anchors, 2, NULL, 0, NULL);
	g_autoptr(OtaTrust) current = parse_ok(v1);
	g_autoptr(OtaTrust) by_app = signed_document(v2, (TestIdentity *[]){f->app1, NULL});
	g_autoptr(OtaTrust) by_default = signed_document(v2, (TestIdentity *[]){f->a1, NULL});
	g_autoptr(OtaTrust) by_both = signed_document(v2, (TestIdentity *[]){f->app1, f->a1, NULL});

	assert_update_refused(current, by_app, OTA_TRUST_ERROR_UNSIGNED,
			      "tier 'app' added, but the update is not signed by the current "
			      "'default' threshold (0 of 1)");
	assert_update_refused(current, by_default, OTA_TRUST_ERROR_UNSIGNED,
			      "tier 'app' added, but the update is not signed by its new threshold "
			      "(0 of 1)");
	assert_update_accepted(current, by_both);
}

static void test_removed_tier_needs_its_current_threshold(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) v1 = document(1, f->root_a_pem, 1, f->root_boot_pem);
	g_autoptr(GBytes) v2 = document(2, f->root_a_pem, 1, NULL);
	g_autoptr(OtaTrust) current = parse_ok(v1);
	g_autoptr(OtaTrust) by_default = signed_document(v2, (TestIdentity *[]){f->a1, NULL});
	g_autoptr(OtaTrust) by_boot =
		signed_document(v2, (TestIdentity *[]){f->boot1, f->boot2, NULL});
	g_autoptr(OtaTrust) by_all =
		signed_document(v2, (TestIdentity *[]){f->a1, f->boot1, f->boot2, NULL});

	assert_update_refused(current, by_default, OTA_TRUST_ERROR_UNSIGNED,
			      "tier 'bootloader' removed, but the update is not signed by its "
			      "current threshold (0 of 2)");
	assert_update_refused(current, by_boot, OTA_TRUST_ERROR_UNSIGNED,
			      "tier 'bootloader' removed, but the update is not signed by the new "
			      "'default' threshold (0 of 1)");
	assert_update_accepted(current, by_all);
}

/* The emergency: officer A1's key leaked; the other two of a 2-of-3
 * revoke it, and it can no longer help sign an update. */
static void test_leaked_key_is_revoked_by_the_other_officers(Fixture *f, gconstpointer data)
{
	OtaTrustTier tiers[] = {{"default", 2, OTA_PURPOSE_SMIMESIGN, OTA_CHECK_TIME_DEVICE}};
	OtaTrustAnchor anchors[] = {{"default", f->root_a_pem, NULL, NULL}};
	OtaTrustRevocation revocations[] = {{"default", f->a1_pem}};
	g_autoptr(GBytes) v1 = ota_trust_document_new(1, tiers, 1, anchors, 1, NULL, 0, NULL);
	g_autoptr(GBytes) v2 =
		ota_trust_document_new(2, tiers, 1, anchors, 1, revocations, 1, NULL);
	g_autoptr(GBytes) v3 = ota_trust_document_new(3, tiers, 1, anchors, 1, NULL, 0, NULL);
	g_autoptr(OtaTrust) current = parse_ok(v1);
	g_autoptr(OtaTrust) revoked = signed_document(v2, (TestIdentity *[]){f->a2, f->a3, NULL});
	g_autoptr(OtaTrust) with_leaked =
		signed_document(v2, (TestIdentity *[]){f->a1, f->a2, NULL});
	g_autoptr(OtaTrust) unrevoke = signed_document(v3, (TestIdentity *[]){f->a1, f->a2, NULL});

	assert_update_accepted(current, revoked);
	assert_update_refused(current, with_leaked, OTA_TRUST_ERROR_UNSIGNED,
			      "tier 'default' changed, but the update is not signed by its new "
			      "threshold (1 of 2): CN=Officer A1: revoked by trust list version 2");
	/* nor can the leaked key help lift its own revocation */
	assert_update_refused(revoked, unrevoke, OTA_TRUST_ERROR_UNSIGNED,
			      "tier 'default' changed, but the update is not signed by its current "
			      "threshold (1 of 2): CN=Officer A1: revoked by trust list version 2");
}

/* A planned rotation: version 2 adds root B with a window opening in a
 * day and closes root A's then; its successor is judged at that time. */
static void test_anchor_out_of_its_window_cannot_sign_an_update(Fixture *f, gconstpointer data)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree char *switch_at = ota_trust_format_time(now + DAY);
	OtaTrustAnchor overlap[] = {{"default", f->root_a_pem, NULL, switch_at},
				    {"default", f->root_b_pem, NULL, NULL}};
	OtaTrustAnchor only_b[] = {{"default", f->root_b_pem, NULL, NULL}};
	g_autoptr(GBytes) v2 = ota_trust_document_new(2, NULL, 0, overlap, 2, NULL, 0, NULL);
	g_autoptr(GBytes) v3 = ota_trust_document_new(3, NULL, 0, only_b, 1, NULL, 0, NULL);
	g_autoptr(OtaTrust) current = parse_ok(v2);
	g_autoptr(OtaTrust) by_a = signed_document(v3, (TestIdentity *[]){f->a1, NULL});
	g_autoptr(GError) error = NULL;

	/* during the window, root A's officer still counts for the current side */
	g_assert_false(ota_trust_check_update(current, by_a, now, &error));
	g_assert_nonnull(strstr(error->message, "its new threshold"));
	g_clear_error(&error);
	/* after it, not even for that */
	g_assert_false(ota_trust_check_update(current, by_a, now + 2 * DAY, &error));
	g_assert_nonnull(strstr(error->message, "its current threshold"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name) g_test_add("/trust/" #name, Fixture, NULL, setup, test_##name, teardown)
	ADD(document_round_trips_through_parse);
	ADD(document_names_each_anchor_in_a_comment);
	ADD(revocation_without_tier_applies_to_every_tier);
	ADD(document_without_default_tier_is_not_made);
	ADD(tier_settings_without_anchor_are_not_made);
	ADD(window_ending_before_it_starts_is_not_made);
	ADD(window_time_without_zone_is_not_made);
	ADD(same_anchor_twice_in_a_tier_is_not_made);
	ADD(unedited_base_document_parses);
	ADD(document_with_defaults_omitted_parses);
	ADD(pem_armoured_trust_list_is_refused_with_one_line);
	ADD(unknown_file_is_refused_with_one_line);
	ADD(garbage_der_is_refused_as_a_signature);
	ADD(detached_signature_is_not_a_trust_list);
	ADD(load_of_missing_file_is_an_io_error);
	ADD(policy_of_unknown_tier_is_refused);
	ADD(policy_has_the_tier_threshold_and_settings);
	ADD(anchor_counts_inside_its_window);
	ADD(anchor_after_its_window_is_left_out);
	ADD(anchor_before_its_window_is_left_out);
	ADD(revoked_leaf_is_refused_with_the_list_version);
	ADD(revoked_key_is_refused_in_a_new_certificate);
	ADD(revoked_intermediate_refuses_its_leaves);
	ADD(revoked_signer_does_not_count_towards_a_bundle);
	ADD(update_signed_by_old_and_new_keys_is_accepted);
	ADD(update_signed_only_by_old_keys_is_refused);
	ADD(update_signed_only_by_new_keys_is_refused);
	ADD(update_skipping_a_version_is_refused);
	ADD(replayed_update_is_refused);
	ADD(update_changing_nothing_is_refused);
	ADD(reordering_anchors_is_no_change);
	ADD(unsigned_update_is_refused);
	ADD(update_altered_after_signing_is_refused);
	ADD(changing_default_tier_needs_no_bootloader_signers);
	ADD(changing_bootloader_tier_needs_its_threshold);
	ADD(added_tier_needs_the_current_default_threshold);
	ADD(removed_tier_needs_its_current_threshold);
	ADD(leaked_key_is_revoked_by_the_other_officers);
	ADD(anchor_out_of_its_window_cannot_sign_an_update);
#undef ADD
	for (gsize i = 0; i < G_N_ELEMENTS(bad_documents); i++) {
		g_autofree char *path = g_strdup_printf("/trust/malformed-document-is-refused/%s",
							bad_documents[i].name);

		g_test_add_data_func(path, &bad_documents[i], test_malformed_document_is_refused);
	}
	return g_test_run();
}
