/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "audit-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "pki.h"

#define WRITERS 8
#define EVENTS 40

typedef struct {
	char *dir;
	char *log;
	TestIdentity *root;
	OtaSigner *signers[2];
} Fixture;

static OtaSigner *signer_for(const TestIdentity *id, const char *key_uri)
{
	OtaSigner *s = g_new0(OtaSigner, 1);

	s->cert_uri = g_strdup("cert.pem");
	s->key_uri = g_strdup(key_uri);
	s->cert = X509_dup(id->cert);
	EVP_PKEY_up_ref(id->key);
	s->key = id->key;
	return s;
}

static void setup(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) a = NULL;
	g_autoptr(TestIdentity) b = NULL;

	f->dir = test_tmpdir_new();
	f->log = g_build_filename(f->dir, "audit.log", NULL);
	f->root = test_pki_identity("ec", "Root", NULL, 0, 365);
	a = test_pki_identity("ec", "Alice", f->root, 0, 30);
	b = test_pki_identity("ec", "Bob", f->root, 0, 30);
	f->signers[0] = signer_for(a, "keys/alice.key");
	f->signers[1] = signer_for(b, "pkcs11:token=release;object=bob");
}

static void teardown(Fixture *f, gconstpointer data)
{
	ota_signer_free(f->signers[0]);
	ota_signer_free(f->signers[1]);
	test_identity_free(f->root);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->log);
}

static const guint8 digest[OTA_SHA256_LEN] = {1, 2, 3};

static gboolean append(Fixture *f, GError **error)
{
	OtaAuditEvent event = {"create", "out.raucb", "verity", digest, "ab"};

	return ota_audit_append(f->log, &event, f->signers, 2, error);
}

static GPtrArray *read_lines(Fixture *f)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	GPtrArray *objects = g_ptr_array_new_with_free_func((GDestroyNotify)json_node_unref);

	g_assert_true(g_file_get_contents(f->log, &text, NULL, NULL));
	g_assert_true(g_str_has_suffix(text, "\n"));
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l && **l; l++) {
		g_autoptr(GError) error = NULL;
		JsonNode *node = json_from_string(*l, &error);

		g_assert_no_error(error);
		g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
		g_ptr_array_add(objects, node);
	}
	return objects;
}

static void test_one_line_per_signer_with_every_field(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) lines = NULL;
	JsonObject *o;

	g_assert_true(append(f, &error));
	g_assert_no_error(error);
	lines = read_lines(f);
	g_assert_cmpuint(lines->len, ==, 2);
	o = json_node_get_object(g_ptr_array_index(lines, 1));
	g_assert_cmpstr(json_object_get_string_member(o, "operation"), ==, "create");
	g_assert_cmpstr(json_object_get_string_member(o, "bundle"), ==, "out.raucb");
	g_assert_cmpstr(json_object_get_string_member(o, "signer_subject"), ==, "CN=Bob");
	g_assert_cmpstr(json_object_get_string_member(o, "key_uri"), ==,
	                "pkcs11:token=release;object=bob");
	g_assert_cmpuint(strlen(json_object_get_string_member(o, "certificate_sha256")), ==, 64);
	g_assert_true(g_str_has_prefix(json_object_get_string_member(o, "signed_sha256"), "010203"));
	g_assert_true(g_str_has_suffix(json_object_get_string_member(o, "time"), "Z"));
}

static void test_appends_to_an_existing_log(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) lines = NULL;

	g_assert_true(g_file_set_contents(f->log, "{\"earlier\":true}\n", -1, NULL));
	g_assert_true(append(f, &error));
	lines = read_lines(f);
	g_assert_cmpuint(lines->len, ==, 3);
}

static gpointer writer(gpointer data)
{
	Fixture *f = data;

	for (int i = 0; i < EVENTS; i++) {
		g_autoptr(GError) error = NULL;

		g_assert_true(append(f, &error));
	}
	return NULL;
}

/* Concurrent signers share one log: no line may be torn or interleaved. */
static void test_concurrent_writers_never_interleave(Fixture *f, gconstpointer data)
{
	GThread *threads[WRITERS];
	g_autoptr(GPtrArray) lines = NULL;

	for (int i = 0; i < WRITERS; i++)
		threads[i] = g_thread_new("writer", writer, f);
	for (int i = 0; i < WRITERS; i++)
		g_thread_join(threads[i]);
	lines = read_lines(f);
	g_assert_cmpuint(lines->len, ==, WRITERS * EVENTS * 2);
}

static void test_unwritable_log_is_an_error_naming_it(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	OtaAuditEvent event = {"create", "out.raucb", "plain", digest, NULL};

	g_free(f->log);
	f->log = g_build_filename(f->dir, "missing", "audit.log", NULL);
	g_assert_false(ota_audit_append(f->log, &event, f->signers, 2, &error));
	g_assert_error(error, OTA_AUDIT_ERROR, OTA_AUDIT_ERROR_IO);
	g_assert_true(g_str_has_prefix(error->message, f->log));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/audit/" name, Fixture, NULL, setup, fn, teardown)
	ADD("one-line-per-signer-with-every-field", test_one_line_per_signer_with_every_field);
	ADD("appends-to-an-existing-log", test_appends_to_an_existing_log);
	ADD("concurrent-writers-never-interleave", test_concurrent_writers_never_interleave);
	ADD("unwritable-log-is-an-error-naming-it", test_unwritable_log_is_an_error_naming_it);
	return g_test_run();
}
