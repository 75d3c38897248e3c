/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/policy.h>

#include <glib/gstdio.h>
#include <openssl/x509.h>
#include <string.h>

#include "pki.h"

typedef struct {
	char *dir;
	TestIdentity *root;
	char *keyring;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
	g_autofree char *key = NULL;

	f->dir = test_tmpdir_new();
	f->root = test_pki_identity("ec", "Root", NULL, 0, 365);
	test_pki_write(f->root, f->dir, "root", &f->keyring, &key);
}

static void teardown(Fixture *f, gconstpointer data)
{
	test_identity_free(f->root);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->keyring);
}

static OtaSignerStatus check(Fixture *f, const TestIdentity *leaf, OtaPurpose purpose,
                             gboolean check_time, char **reason)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaPolicy) p = ota_policy_new(f->keyring, NULL, purpose, check_time, 1, &error);

	g_assert_no_error(error);
	return ota_policy_check_signer(p, leaf->cert, NULL, reason);
}

static void test_threshold_zero_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaPolicy) p = ota_policy_new(f->keyring, NULL, OTA_PURPOSE_ANY, TRUE, 0, &error);

	g_assert_null(p);
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_INVALID);
}

static void test_signer_under_the_root_counts(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Leaf", f->root, 0, 30);
	g_autofree char *reason = NULL;

	g_assert_cmpint(check(f, leaf, OTA_PURPOSE_ANY, TRUE, &reason), ==, OTA_SIGNER_COUNTED);
	g_assert_null(reason);
}

static void test_expired_signer_is_expired(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Old", f->root, -30, -1);
	g_autofree char *reason = NULL;

	g_assert_cmpint(check(f, leaf, OTA_PURPOSE_ANY, TRUE, &reason), ==, OTA_SIGNER_EXPIRED);
	g_assert_nonnull(strstr(reason, "expired"));
}

static void test_not_yet_valid_signer_is_expired(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Early", f->root, 2, 30);
	g_autofree char *reason = NULL;

	g_assert_cmpint(check(f, leaf, OTA_PURPOSE_ANY, TRUE, &reason), ==, OTA_SIGNER_EXPIRED);
}

static void test_expired_signer_counts_without_time_check(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Old", f->root, -30, -1);
	g_autofree char *reason = NULL;

	g_assert_cmpint(check(f, leaf, OTA_PURPOSE_ANY, FALSE, &reason), ==, OTA_SIGNER_COUNTED);
}

static void test_signer_of_another_root_is_untrusted(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) other = test_pki_identity("ec", "Other", NULL, 0, 30);
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Stranger", other, 0, 30);
	g_autofree char *reason = NULL;

	g_assert_cmpint(check(f, leaf, OTA_PURPOSE_ANY, TRUE, &reason), ==, OTA_SIGNER_UNTRUSTED);
	g_assert_nonnull(reason);
}

static void test_codesign_purpose_needs_the_usage(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) plain = test_pki_identity("ec", "Plain", f->root, 0, 30);
	g_autoptr(TestIdentity) coder =
		test_pki_identity_eku("ec", "Coder", f->root, 0, 30, "codeSigning");
	g_autofree char *r1 = NULL, *r2 = NULL;

	g_assert_cmpint(check(f, plain, OTA_PURPOSE_CODESIGN, TRUE, &r1), ==, OTA_SIGNER_UNTRUSTED);
	g_assert_cmpint(check(f, coder, OTA_PURPOSE_CODESIGN, TRUE, &r2), ==, OTA_SIGNER_COUNTED);
}

static OtaSignerStatus check_with(const char *const *keyrings, const TestIdentity *leaf)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaPolicy) p =
		ota_policy_new_from_keyrings(keyrings, NULL, OTA_PURPOSE_ANY, TRUE, 1, &error);
	g_autofree char *reason = NULL;

	g_assert_no_error(error);
	return ota_policy_check_signer(p, leaf->cert, NULL, &reason);
}

static void test_keyrings_add_their_anchors(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) other = test_pki_identity("ec", "Other", NULL, 0, 30);
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Leaf", f->root, 0, 30);
	g_autoptr(TestIdentity) stranger = test_pki_identity("ec", "Stranger", other, 0, 30);
	g_autofree char *other_keyring = NULL, *key = NULL;

	test_pki_write(other, f->dir, "other", &other_keyring, &key);
	const char *both[] = {f->keyring, other_keyring, NULL};
	const char *one[] = {f->keyring, NULL};

	g_assert_cmpint(check_with(both, leaf), ==, OTA_SIGNER_COUNTED);
	g_assert_cmpint(check_with(both, stranger), ==, OTA_SIGNER_COUNTED);
	g_assert_cmpint(check_with(one, stranger), ==, OTA_SIGNER_UNTRUSTED);
}

/* @f's root in a directory of its own, under its subject-hash name if
 * @hashed (as `openssl rehash` names it). */
static char *keyring_directory(Fixture *f, gboolean hashed)
{
	g_autofree char *pem = NULL;
	g_autofree char *name = NULL;
	g_autofree char *path = NULL;
	char *dir = g_build_filename(f->dir, "keyring.d", NULL);
	gsize len = 0;

	g_assert_true(g_file_get_contents(f->keyring, &pem, &len, NULL));
	g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
	name = hashed ? g_strdup_printf("%08lx.0", X509_subject_name_hash(f->root->cert))
	              : g_strdup("root.pem");
	path = g_build_filename(dir, name, NULL);
	g_assert_true(g_file_set_contents(path, pem, (gssize)len, NULL));
	return dir;
}

static void test_hashed_directory_is_a_keyring(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = test_pki_identity("ec", "Leaf", f->root, 0, 30);
	g_autoptr(TestIdentity) other = test_pki_identity("ec", "Other", NULL, 0, 30);
	g_autoptr(TestIdentity) stranger = test_pki_identity("ec", "Stranger", other, 0, 30);
	g_autofree char *dir = keyring_directory(f, TRUE);
	const char *keyrings[] = {dir, NULL};

	g_assert_cmpint(check_with(keyrings, leaf), ==, OTA_SIGNER_COUNTED);
	g_assert_cmpint(check_with(keyrings, stranger), ==, OTA_SIGNER_UNTRUSTED);
}

static void test_directory_without_hashed_links_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = keyring_directory(f, FALSE);
	const char *keyrings[] = {dir, NULL};
	g_autoptr(OtaPolicy) p =
		ota_policy_new_from_keyrings(keyrings, NULL, OTA_PURPOSE_ANY, TRUE, 1, &error);

	g_assert_null(p);
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_KEYRING);
	g_assert_nonnull(strstr(error->message, dir));
	g_assert_nonnull(strstr(error->message, "openssl rehash"));
}

static void test_no_keyring_is_refused(void)
{
	g_autoptr(GError) error = NULL;
	const char *none[] = {NULL};
	g_autoptr(OtaPolicy) p =
		ota_policy_new_from_keyrings(none, NULL, OTA_PURPOSE_ANY, TRUE, 1, &error);

	g_assert_null(p);
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_INVALID);
}

static void test_status_names_are_stable(void)
{
	/* These strings are the JSON interface; scripts match on them. */
	g_assert_cmpstr(ota_signer_status_to_string(OTA_SIGNER_COUNTED), ==, "counted");
	g_assert_cmpstr(ota_signer_status_to_string(OTA_SIGNER_UNTRUSTED), ==, "untrusted");
	g_assert_cmpstr(ota_signer_status_to_string(OTA_SIGNER_EXPIRED), ==, "expired");
	g_assert_cmpstr(ota_signer_status_to_string(OTA_SIGNER_REVOKED), ==, "revoked");
	g_assert_cmpstr(ota_signer_status_to_string(OTA_SIGNER_DUPLICATE_KEY), ==, "duplicate-key");
	g_assert_cmpstr(ota_signer_status_to_string(OTA_SIGNER_UNCHECKED), ==, "unchecked");
}

static void test_purpose_names_round_trip(void)
{
	const char *names[] = {"any", "codesign", "smimesign"};
	OtaPurpose p;

	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		g_assert_true(ota_purpose_from_string(names[i], &p));
		g_assert_cmpstr(ota_purpose_to_string(p), ==, names[i]);
	}
	g_assert_false(ota_purpose_from_string("email", &p));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/policy/" name, Fixture, NULL, setup, fn, teardown)
	ADD("threshold-zero-is-refused", test_threshold_zero_is_refused);
	ADD("signer-under-the-root-counts", test_signer_under_the_root_counts);
	ADD("expired-signer-is-expired", test_expired_signer_is_expired);
	ADD("not-yet-valid-signer-is-expired", test_not_yet_valid_signer_is_expired);
	ADD("expired-signer-counts-without-time-check", test_expired_signer_counts_without_time_check);
	ADD("signer-of-another-root-is-untrusted", test_signer_of_another_root_is_untrusted);
	ADD("codesign-purpose-needs-the-usage", test_codesign_purpose_needs_the_usage);
	ADD("keyrings-add-their-anchors", test_keyrings_add_their_anchors);
	ADD("hashed-directory-is-a-keyring", test_hashed_directory_is_a_keyring);
	ADD("directory-without-hashed-links-is-refused",
	    test_directory_without_hashed_links_is_refused);
	g_test_add_func("/policy/no-keyring-is-refused", test_no_keyring_is_refused);
	g_test_add_func("/policy/status-names-are-stable", test_status_names_are_stable);
	g_test_add_func("/policy/purpose-names-round-trip", test_purpose_names_round_trip);
	return g_test_run();
}
