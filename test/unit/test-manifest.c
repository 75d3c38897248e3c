/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/manifest.h>

#include <glib/gstdio.h>
#include <string.h>

#include "manifest-private.h"

#define SHA_A "96c90596fb7f7cce35ab53d7ad8029a9712ae7ea52265530fa5df9c232c2836d"

static OtaManifest *parse(const char *text, GError **error)
{
	return ota_manifest_parse(text, strlen(text), error);
}

static void assert_rejected(const char *text, OtaManifestError code, const char *needle)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = parse(text, &error);

	g_assert_null(m);
	g_assert_error(error, OTA_MANIFEST_ERROR, (gint)code);
	if (strstr(error->message, needle) == NULL)
		g_error("message '%s' does not mention '%s'", error->message, needle);
}

static void test_parses_full_manifest(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = parse("[update]\ncompatible=board-a\nversion=2.1\n"
	                                 "description=Demo\nbuild=42\n"
	                                 "[hooks]\nfilename=hook.sh\nhooks=install-check\n"
	                                 "[handler]\nfilename=handler.sh\nargs=--x\n"
	                                 "[image.rootfs]\nfilename=root.img\nsize=100\nsha256=" SHA_A
	                                 "\nhooks=pre-install;post-install\n"
	                                 "[image.appfs.variant-b]\nfilename=app.img\n"
	                                 "[meta.otabundle]\nsecurity-version=7\n",
	                                 &error);
	OtaImage *root, *app;

	g_assert_no_error(error);
	g_assert_cmpstr(m->compatible, ==, "board-a");
	g_assert_cmpstr(m->version, ==, "2.1");
	g_assert_cmpstr(m->description, ==, "Demo");
	g_assert_cmpstr(m->build, ==, "42");
	g_assert_cmpstr(m->hook_filename, ==, "hook.sh");
	g_assert_cmpstr(m->hooks[0], ==, "install-check");
	g_assert_cmpstr(m->handler_filename, ==, "handler.sh");
	g_assert_cmpstr(m->handler_args, ==, "--x");
	g_assert_cmpuint(m->images->len, ==, 2);
	root = g_ptr_array_index(m->images, 0);
	g_assert_cmpstr(root->slotclass, ==, "rootfs");
	g_assert_null(root->variant);
	g_assert_true(root->has_size);
	g_assert_cmpuint(root->size, ==, 100);
	g_assert_cmpstr(root->sha256, ==, SHA_A);
	g_assert_cmpstr(root->hooks[1], ==, "post-install");
	app = g_ptr_array_index(m->images, 1);
	g_assert_cmpstr(app->slotclass, ==, "appfs");
	g_assert_cmpstr(app->variant, ==, "variant-b");
	g_assert_false(app->has_size);
	g_assert_null(app->sha256);
	{
		g_autofree char *sv = ota_manifest_get_meta(m, "otabundle", "security-version");
		g_assert_cmpstr(sv, ==, "7");
	}
	g_assert_false(m->has_format);
	g_assert_cmpint(m->format, ==, OTA_BUNDLE_FORMAT_PLAIN);
}

static void test_rejects_missing_compatible(void)
{
	assert_rejected("[update]\nversion=1\n[image.rootfs]\nfilename=a\n",
	                OTA_MANIFEST_ERROR_MISSING, "compatible");
}

static void test_rejects_empty_compatible(void)
{
	assert_rejected("[update]\ncompatible=\n", OTA_MANIFEST_ERROR_MISSING, "compatible");
}

static void test_rejects_unknown_group(void)
{
	assert_rejected("[update]\ncompatible=x\n[surprise]\na=b\n",
	                OTA_MANIFEST_ERROR_UNKNOWN_FIELD, "[surprise]");
}

static void test_rejects_unknown_key_in_update(void)
{
	assert_rejected("[update]\ncompatible=x\ncolour=blue\n", OTA_MANIFEST_ERROR_UNKNOWN_FIELD,
	                "colour");
}

static void test_rejects_unknown_key_in_image(void)
{
	assert_rejected("[update]\ncompatible=x\n[image.rootfs]\nfilename=a\nmode=777\n",
	                OTA_MANIFEST_ERROR_UNKNOWN_FIELD, "mode");
}

static void test_accepts_any_key_in_meta_groups(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = parse("[update]\ncompatible=x\n[meta.vendor]\nanything=goes\n",
	                                 &error);

	g_autofree char *value = NULL;

	g_assert_no_error(error);
	value = ota_manifest_get_meta(m, "vendor", "anything");
	g_assert_cmpstr(value, ==, "goes");
}

static void test_rejects_malformed_meta_label(void)
{
	assert_rejected("[update]\ncompatible=x\n[meta.]\na=b\n", OTA_MANIFEST_ERROR_INVALID,
	                "[meta.]");
}

static void test_rejects_malformed_image_class(void)
{
	const char *bad[] = {"[image.]", "[image.root/fs]", "[image.a.b.c]", "[image.-x]",
	                     "[image.a..b]", "[image.ro ot]"};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *text =
			g_strdup_printf("[update]\ncompatible=x\n%s\nfilename=a\n", bad[i]);
		assert_rejected(text, OTA_MANIFEST_ERROR_INVALID, "image");
	}
}

static void test_rejects_filename_with_slash(void)
{
	assert_rejected("[update]\ncompatible=x\n[image.rootfs]\nfilename=../etc/passwd\n",
	                OTA_MANIFEST_ERROR_INVALID, "../etc/passwd");
	assert_rejected("[update]\ncompatible=x\n[image.rootfs]\nfilename=/abs\n",
	                OTA_MANIFEST_ERROR_INVALID, "/abs");
}

static void test_rejects_dot_and_dotdot_filenames(void)
{
	assert_rejected("[update]\ncompatible=x\n[image.rootfs]\nfilename=..\n",
	                OTA_MANIFEST_ERROR_INVALID, "'..'");
	assert_rejected("[update]\ncompatible=x\n[image.rootfs]\nfilename=.\n",
	                OTA_MANIFEST_ERROR_INVALID, "'.'");
}

static void test_rejects_hook_filename_with_slash(void)
{
	assert_rejected("[update]\ncompatible=x\n[hooks]\nfilename=a/b\n",
	                OTA_MANIFEST_ERROR_INVALID, "a/b");
}

static void test_rejects_missing_image_filename(void)
{
	assert_rejected("[update]\ncompatible=x\n[image.rootfs]\nsize=1\n",
	                OTA_MANIFEST_ERROR_MISSING, "filename");
}

static void test_rejects_size_that_does_not_parse(void)
{
	const char *bad[] = {"-1", "12k", "0x10", "5 5", "", "18446744073709551616"};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *text = g_strdup_printf(
			"[update]\ncompatible=x\n[image.rootfs]\nfilename=a\nsize=%s\n", bad[i]);
		assert_rejected(text, OTA_MANIFEST_ERROR_INVALID, "size");
	}
}

static void test_accepts_64bit_size(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = parse("[update]\ncompatible=x\n[image.rootfs]\nfilename=a\n"
	                                 "size=18446744073709551615\n",
	                                 &error);

	g_assert_no_error(error);
	g_assert_cmpuint(((OtaImage *)g_ptr_array_index(m->images, 0))->size, ==, G_MAXUINT64);
}

static void test_rejects_sha256_that_is_not_64_hex_digits(void)
{
	const char *bad[] = {"abc", SHA_A "0", "z6c90596fb7f7cce35ab53d7ad8029a9712ae7ea52265530fa5df9c232c2836d"};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *text = g_strdup_printf(
			"[update]\ncompatible=x\n[image.rootfs]\nfilename=a\nsha256=%s\n", bad[i]);
		assert_rejected(text, OTA_MANIFEST_ERROR_INVALID, "sha256");
	}
}

static void test_normalises_upper_case_sha256(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *upper = g_ascii_strup(SHA_A, -1);
	g_autofree char *text =
		g_strdup_printf("[update]\ncompatible=x\n[image.r]\nfilename=a\nsha256=%s\n", upper);
	g_autoptr(OtaManifest) m = parse(text, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(((OtaImage *)g_ptr_array_index(m->images, 0))->sha256, ==, SHA_A);
}

static void test_rejects_unknown_hook(void)
{
	assert_rejected("[update]\ncompatible=x\n[image.rootfs]\nfilename=a\nhooks=rm-rf\n",
	                OTA_MANIFEST_ERROR_INVALID, "rm-rf");
}

static void test_rejects_unknown_bundle_format(void)
{
	assert_rejected("[update]\ncompatible=x\n[bundle]\nformat=zip\n",
	                OTA_MANIFEST_ERROR_INVALID, "zip");
}

static void test_reads_verity_bundle_group(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = parse("[update]\ncompatible=x\n[bundle]\nformat=verity\n"
	                                 "verity-hash=aa\nverity-salt=bb\nverity-size=4096\n",
	                                 &error);

	g_assert_no_error(error);
	g_assert_true(m->has_format);
	g_assert_cmpint(m->format, ==, OTA_BUNDLE_FORMAT_VERITY);
	g_assert_cmpstr(m->verity_hash, ==, "aa");
	g_assert_cmpuint(m->verity_size, ==, 4096);
}

#define CRYPT_KEY "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"

static void test_reads_crypt_key_of_a_crypt_manifest(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = parse("[update]\ncompatible=x\n[bundle]\nformat=crypt\n"
	                                 "crypt-key=" CRYPT_KEY "\n",
	                                 &error);

	g_assert_no_error(error);
	g_assert_cmpint(m->format, ==, OTA_BUNDLE_FORMAT_CRYPT);
	g_assert_cmpstr(m->crypt_key, ==, CRYPT_KEY);
}

static void test_rejects_a_crypt_key_that_is_not_64_hex_digits_without_quoting_it(void)
{
	static const char *const keys[] = {"0011223344556677", CRYPT_KEY "0",
	                                   "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"};

	for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
		g_autofree char *text =
			g_strdup_printf("[update]\ncompatible=x\n[bundle]\nformat=crypt\ncrypt-key=%s\n",
			                keys[i]);
		g_autoptr(GError) error = NULL;
		g_autoptr(OtaManifest) m = parse(text, &error);

		g_assert_null(m);
		g_assert_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID);
		g_assert_nonnull(strstr(error->message, "crypt-key"));
		g_assert_null(strstr(error->message, "0011223344556677"));
	}
}

/* As RAUC: only a crypt manifest reads crypt-key; elsewhere it is unknown. */
static void test_rejects_a_crypt_key_in_a_verity_manifest(void)
{
	assert_rejected("[update]\ncompatible=x\n[bundle]\nformat=verity\ncrypt-key=" CRYPT_KEY
	                "\n",
	                OTA_MANIFEST_ERROR_UNKNOWN_FIELD, "crypt-key");
}

static void test_rejects_nul_byte(void)
{
	g_autoptr(GError) error = NULL;
	const char text[] = "[update]\ncompatible=x\0y\n";
	g_autoptr(OtaManifest) m = ota_manifest_parse(text, sizeof(text) - 1, &error);

	g_assert_null(m);
	g_assert_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_PARSE);
}

static void test_rejects_oversized_manifest(void)
{
	g_autoptr(GError) error = NULL;
	gsize len = OTA_MANIFEST_MAX_SIZE + 1;
	g_autofree char *text = g_malloc(len);
	g_autoptr(OtaManifest) m = NULL;

	memset(text, '#', len);
	m = ota_manifest_parse(text, len, &error);
	g_assert_null(m);
	g_assert_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_PARSE);
}

static void test_rejects_non_ini_text(void)
{
	assert_rejected("this is not an ini file\n", OTA_MANIFEST_ERROR_PARSE, "manifest");
}

static void test_rejects_duplicate_key(void)
{
	assert_rejected("[update]\ncompatible=x\nversion=1\nversion=2\n", OTA_MANIFEST_ERROR_INVALID,
	                "duplicate key 'version'");
}

static void test_rejects_duplicate_key_across_repeated_group(void)
{
	assert_rejected("[update]\ncompatible=x\n[image.r]\nfilename=a\n[update]\ncompatible=y\n",
	                OTA_MANIFEST_ERROR_INVALID, "duplicate key 'compatible'");
}

static void test_rejects_hooks_without_a_hook_file(void)
{
	assert_rejected("[update]\ncompatible=x\n[image.r]\nfilename=a\nhooks=post-install\n",
	                OTA_MANIFEST_ERROR_MISSING, "[hooks] names no filename");
	assert_rejected("[update]\ncompatible=x\n[hooks]\nhooks=install-check\n",
	                OTA_MANIFEST_ERROR_MISSING, "[hooks] names no filename");
}

/* Found by fuzzing: meta values were copied raw, so a trailing carriage
 * return changed meaning each time the manifest was written and read. */
static void test_meta_values_round_trip_exactly(void)
{
	const char text[] = "[update]\ncompatible=x\n[meta.v]\nnote=ends in cr\r\r\n";
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = ota_manifest_parse(text, sizeof(text) - 1, &error);
	g_autoptr(OtaManifest) again = NULL;
	g_autofree char *once = NULL, *twice = NULL;
	gsize n1 = 0, n2 = 0;

	g_assert_no_error(error);
	once = ota_manifest_to_data(m, &n1);
	again = ota_manifest_parse(once, n1, &error);
	g_assert_no_error(error);
	twice = ota_manifest_to_data(again, &n2);
	g_assert_cmpmem(once, n1, twice, n2);
}

static void test_rejects_meta_value_that_is_not_utf8(void)
{
	assert_rejected("[update]\ncompatible=x\n[meta.v]\nk=\xff\xfe\n", OTA_MANIFEST_ERROR_INVALID,
	                "not UTF-8");
}

static void test_rejects_meta_key_that_is_not_a_plain_name(void)
{
	assert_rejected("[update]\ncompatible=x\n[meta.v]\nk:x=v\n", OTA_MANIFEST_ERROR_INVALID,
	                "[meta.v]");
}

/* GKeyFile hides "key[locale]" lines from key listings: another parser
 * could read "compatible[de]" as a second compatible. */
static void test_rejects_localized_keys(void)
{
	assert_rejected("[update]\ncompatible=x\ncompatible[de]=y\n", OTA_MANIFEST_ERROR_INVALID,
	                "localized key 'compatible[de]'");
	assert_rejected("[update]\ncompatible=x\n[meta.v]\nk[de]=v\n", OTA_MANIFEST_ERROR_INVALID,
	                "localized key");
}

static void test_round_trips_through_text(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = parse("[update]\ncompatible=c\nversion=1\n[image.rootfs]\n"
	                                 "filename=r.img\nsize=5\nsha256=" SHA_A "\n"
	                                 "[meta.otabundle]\nexpires=2030-01-01T00:00:00Z\n",
	                                 &error);
	g_autofree char *text = NULL;
	g_autoptr(OtaManifest) again = NULL;
	g_autofree char *text_again = NULL;
	g_autofree char *expires = NULL;
	gsize len = 0;

	g_assert_no_error(error);
	text = ota_manifest_to_data(m, &len);
	again = ota_manifest_parse(text, len, &error);
	g_assert_no_error(error);
	text_again = ota_manifest_to_data(again, NULL);
	g_assert_cmpstr(text, ==, text_again);
	expires = ota_manifest_get_meta(again, "otabundle", "expires");
	g_assert_cmpstr(expires, ==, "2030-01-01T00:00:00Z");
}

static void test_writes_no_bundle_group_for_plain(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = parse("[update]\ncompatible=c\n[bundle]\nformat=plain\n", &error);
	g_autofree char *text = NULL;

	g_assert_no_error(error);
	text = ota_manifest_to_data(m, NULL);
	g_assert_null(strstr(text, "[bundle]"));
}

static void test_check_complete_requires_size_and_sha256(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = parse("[update]\ncompatible=c\n[image.r]\nfilename=a\nsize=1\n",
	                                 &error);

	g_assert_no_error(error);
	g_assert_false(ota_manifest_check_complete(m, &error));
	g_assert_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_MISSING);
}

static void test_check_complete_requires_an_image(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = parse("[update]\ncompatible=c\n", &error);

	g_assert_no_error(error);
	g_assert_false(ota_manifest_check_complete(m, &error));
	g_assert_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_MISSING);
}

static void test_load_names_the_file(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = ota_manifest_load("/nonexistent/manifest.raucm", &error);

	g_assert_null(m);
	g_assert_nonnull(strstr(error->message, "/nonexistent/manifest.raucm"));
}

/* --- create --set ---------------------------------------------------------- */

#define SETTINGS_INPUT "[update]\ncompatible=board\nversion=1.0\n[image.rootfs]\nfilename=r.img\n"

static OtaManifest *load_with(const char *const *settings, GError **error)
{
	g_autofree char *path = NULL;
	g_autofree char *after = NULL;
	OtaManifest *m;
	int fd = g_file_open_tmp("manifest-XXXXXX", &path, NULL);

	g_assert_cmpint(fd, >=, 0);
	close(fd);
	g_assert_true(g_file_set_contents(path, SETTINGS_INPUT, -1, NULL));
	m = ota_manifest_load_with_settings(path, settings, error);
	/* The file is read, never written. */
	g_assert_true(g_file_get_contents(path, &after, NULL, NULL));
	g_assert_cmpstr(after, ==, SETTINGS_INPUT);
	g_unlink(path);
	return m;
}

static void test_settings_override_and_add_fields(void)
{
	const char *const settings[] = {"update.version=2.0-rc1", "update.build=ci 77",
	                                "meta.ci.pipeline.url=https://ci/x?a=b", NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = NULL;
	g_autofree char *url = NULL;

	g_assert_true(ota_manifest_check_settings(settings, &error));
	m = load_with(settings, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(m->compatible, ==, "board");
	g_assert_cmpstr(m->version, ==, "2.0-rc1");
	g_assert_cmpstr(m->build, ==, "ci 77");
	url = ota_manifest_get_meta(m, "ci", "pipeline.url");
	g_assert_cmpstr(url, ==, "https://ci/x?a=b");
}

/* Written out and parsed again, a set value means what was given. */
static void test_set_values_round_trip_exactly(void)
{
	const char *const settings[] = {"update.description= lead;semi#hash\\back\nline ",
	                                NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m = load_with(settings, &error);
	g_autoptr(OtaManifest) again = NULL;
	g_autofree char *text = NULL;
	gsize length = 0;

	g_assert_no_error(error);
	g_assert_cmpstr(m->description, ==, " lead;semi#hash\\back\nline ");
	text = ota_manifest_to_data(m, &length);
	again = ota_manifest_parse(text, length, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(again->description, ==, m->description);
}

static void assert_setting_refused(const char *setting, OtaManifestError code, const char *needle)
{
	const char *const settings[] = {setting, NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) load_error = NULL;
	g_autoptr(OtaManifest) m = NULL;

	g_assert_false(ota_manifest_check_settings(settings, &error));
	g_assert_error(error, OTA_MANIFEST_ERROR, (gint)code);
	if (strstr(error->message, needle) == NULL)
		g_error("message '%s' does not mention '%s'", error->message, needle);
	/* Loading applies the same rules. */
	m = load_with(settings, &load_error);
	g_assert_null(m);
	g_assert_error(load_error, OTA_MANIFEST_ERROR, (gint)code);
}

static void test_settings_refuse_fields_create_owns(void)
{
	assert_setting_refused("image.rootfs.sha256=00", OTA_MANIFEST_ERROR_UNKNOWN_FIELD,
	                       "--set image.rootfs.sha256: not a field");
	assert_setting_refused("bundle.format=plain", OTA_MANIFEST_ERROR_UNKNOWN_FIELD,
	                       "--set bundle.format");
	assert_setting_refused("hooks.filename=h.sh", OTA_MANIFEST_ERROR_UNKNOWN_FIELD,
	                       "--set hooks.filename");
	assert_setting_refused("update.verity-hash=00", OTA_MANIFEST_ERROR_UNKNOWN_FIELD,
	                       "--set update.verity-hash");
}

static void test_settings_refuse_malformed_meta_names(void)
{
	assert_setting_refused("meta.a b.key=1", OTA_MANIFEST_ERROR_INVALID, "meta.LABEL.KEY");
	assert_setting_refused("meta.label=1", OTA_MANIFEST_ERROR_INVALID, "meta.LABEL.KEY");
	assert_setting_refused("meta..key=1", OTA_MANIFEST_ERROR_INVALID, "meta.LABEL.KEY");
	assert_setting_refused("meta.label.k[de]=1", OTA_MANIFEST_ERROR_INVALID, "meta.LABEL.KEY");
}

static void test_setting_without_a_value_is_refused(void)
{
	assert_setting_refused("update.version", OTA_MANIFEST_ERROR_INVALID, "NAME=VALUE");
}

/* The parser's rule: compatible must not be empty. */
static void test_setting_an_empty_compatible_is_refused(void)
{
	const char *const settings[] = {"update.compatible=", NULL};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_manifest_check_settings(settings, &error));
	g_assert_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_MISSING);
	g_assert_true(g_str_has_prefix(error->message, "--set update.compatible: "));
}

static void test_setting_a_field_twice_is_refused(void)
{
	const char *const settings[] = {"meta.ci.id=1", "update.build=2", "meta.ci.id=3", NULL};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_manifest_check_settings(settings, &error));
	g_assert_error(error, OTA_MANIFEST_ERROR, OTA_MANIFEST_ERROR_INVALID);
	g_assert_cmpstr(error->message, ==, "--set meta.ci.id: given twice");
}

/* RAUC's adaptive= is a ';'-separated list; unknown methods are kept (a
 * newer RAUC may know them) and round-trip verbatim. */
static void test_adaptive_methods_are_a_list(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaManifest) m =
		parse("[update]\ncompatible=c\n\n[image.rootfs]\nfilename=r.img\n"
		      "adaptive= block-hash-index;; future-method ;\n\n"
		      "[image.appfs]\nfilename=a.img\n",
		      &error);
	const OtaImage *rootfs, *appfs;
	g_auto(GStrv) methods = NULL;
	g_autofree char *data = NULL;
	g_autoptr(OtaManifest) again = NULL;

	g_assert_no_error(error);
	rootfs = g_ptr_array_index(m->images, 0);
	appfs = g_ptr_array_index(m->images, 1);
	methods = ota_image_get_adaptive_methods(rootfs);
	g_assert_cmpuint(g_strv_length(methods), ==, 2);
	g_assert_cmpstr(methods[0], ==, "block-hash-index");
	g_assert_cmpstr(methods[1], ==, "future-method");
	g_assert_true(ota_image_has_adaptive_method(rootfs, "block-hash-index"));
	g_assert_false(ota_image_has_adaptive_method(rootfs, "block-hash"));
	g_assert_false(ota_image_has_adaptive_method(appfs, "block-hash-index"));
	g_strfreev(methods);
	methods = ota_image_get_adaptive_methods(appfs);
	g_assert_cmpuint(g_strv_length(methods), ==, 0);

	data = ota_manifest_to_data(m, NULL);
	again = parse(data, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(((const OtaImage *)g_ptr_array_index(again->images, 0))->adaptive, ==,
	                rootfs->adaptive);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/manifest/parses-full-manifest", test_parses_full_manifest);
	g_test_add_func("/manifest/rejects-missing-compatible", test_rejects_missing_compatible);
	g_test_add_func("/manifest/rejects-empty-compatible", test_rejects_empty_compatible);
	g_test_add_func("/manifest/rejects-unknown-group", test_rejects_unknown_group);
	g_test_add_func("/manifest/rejects-unknown-key-in-update", test_rejects_unknown_key_in_update);
	g_test_add_func("/manifest/rejects-unknown-key-in-image", test_rejects_unknown_key_in_image);
	g_test_add_func("/manifest/accepts-any-key-in-meta-groups", test_accepts_any_key_in_meta_groups);
	g_test_add_func("/manifest/rejects-malformed-meta-label", test_rejects_malformed_meta_label);
	g_test_add_func("/manifest/rejects-malformed-image-class", test_rejects_malformed_image_class);
	g_test_add_func("/manifest/rejects-filename-with-slash", test_rejects_filename_with_slash);
	g_test_add_func("/manifest/rejects-dot-and-dotdot-filenames", test_rejects_dot_and_dotdot_filenames);
	g_test_add_func("/manifest/rejects-hook-filename-with-slash", test_rejects_hook_filename_with_slash);
	g_test_add_func("/manifest/rejects-missing-image-filename", test_rejects_missing_image_filename);
	g_test_add_func("/manifest/rejects-size-that-does-not-parse", test_rejects_size_that_does_not_parse);
	g_test_add_func("/manifest/accepts-64bit-size", test_accepts_64bit_size);
	g_test_add_func("/manifest/rejects-sha256-that-is-not-64-hex-digits",
	                test_rejects_sha256_that_is_not_64_hex_digits);
	g_test_add_func("/manifest/normalises-upper-case-sha256", test_normalises_upper_case_sha256);
	g_test_add_func("/manifest/rejects-unknown-hook", test_rejects_unknown_hook);
	g_test_add_func("/manifest/rejects-unknown-bundle-format", test_rejects_unknown_bundle_format);
	g_test_add_func("/manifest/reads-verity-bundle-group", test_reads_verity_bundle_group);
	g_test_add_func("/manifest/reads-crypt-key-of-a-crypt-manifest",
	                test_reads_crypt_key_of_a_crypt_manifest);
	g_test_add_func("/manifest/rejects-a-crypt-key-that-is-not-64-hex-digits-without-quoting-it",
	                test_rejects_a_crypt_key_that_is_not_64_hex_digits_without_quoting_it);
	g_test_add_func("/manifest/rejects-a-crypt-key-in-a-verity-manifest",
	                test_rejects_a_crypt_key_in_a_verity_manifest);
	g_test_add_func("/manifest/rejects-nul-byte", test_rejects_nul_byte);
	g_test_add_func("/manifest/rejects-oversized-manifest", test_rejects_oversized_manifest);
	g_test_add_func("/manifest/rejects-non-ini-text", test_rejects_non_ini_text);
	g_test_add_func("/manifest/rejects-duplicate-key", test_rejects_duplicate_key);
	g_test_add_func("/manifest/rejects-duplicate-key-across-repeated-group",
	                test_rejects_duplicate_key_across_repeated_group);
	g_test_add_func("/manifest/rejects-hooks-without-a-hook-file",
	                test_rejects_hooks_without_a_hook_file);
	g_test_add_func("/manifest/meta-values-round-trip-exactly", test_meta_values_round_trip_exactly);
	g_test_add_func("/manifest/rejects-meta-value-that-is-not-utf8",
	                test_rejects_meta_value_that_is_not_utf8);
	g_test_add_func("/manifest/rejects-meta-key-that-is-not-a-plain-name",
	                test_rejects_meta_key_that_is_not_a_plain_name);
	g_test_add_func("/manifest/rejects-localized-keys", test_rejects_localized_keys);
	g_test_add_func("/manifest/round-trips-through-text", test_round_trips_through_text);
	g_test_add_func("/manifest/writes-no-bundle-group-for-plain", test_writes_no_bundle_group_for_plain);
	g_test_add_func("/manifest/check-complete-requires-size-and-sha256",
	                test_check_complete_requires_size_and_sha256);
	g_test_add_func("/manifest/check-complete-requires-an-image", test_check_complete_requires_an_image);
	g_test_add_func("/manifest/load-names-the-file", test_load_names_the_file);
	g_test_add_func("/manifest/settings-override-and-add-fields",
	                test_settings_override_and_add_fields);
	g_test_add_func("/manifest/set-values-round-trip-exactly", test_set_values_round_trip_exactly);
	g_test_add_func("/manifest/settings-refuse-fields-create-owns",
	                test_settings_refuse_fields_create_owns);
	g_test_add_func("/manifest/settings-refuse-malformed-meta-names",
	                test_settings_refuse_malformed_meta_names);
	g_test_add_func("/manifest/setting-without-a-value-is-refused",
	                test_setting_without_a_value_is_refused);
	g_test_add_func("/manifest/setting-an-empty-compatible-is-refused",
	                test_setting_an_empty_compatible_is_refused);
	g_test_add_func("/manifest/setting-a-field-twice-is-refused",
	                test_setting_a_field_twice_is_refused);
	g_test_add_func("/manifest/adaptive-methods-are-a-list", test_adaptive_methods_are_a_list);
	return g_test_run();
}
