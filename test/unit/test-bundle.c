/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/bundle.h>

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki.h"

typedef struct {
	char *dir;
	char *input;
	char *bundle;
	char *keyring;
	TestIdentity *root;
	OtaSigner *signer;
	OtaTrust *trust;
} Fixture;

static void write_in(const char *dir, const char *name, const char *content, gssize len)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);

	g_assert_true(g_file_set_contents(path, content, len, NULL));
}

static void setup(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) leaf = NULL;
	g_autofree char *cert = NULL, *key = NULL, *root_key = NULL;
	g_autofree char *image = g_malloc(200000);
	g_autoptr(GError) error = NULL;

	/* Random, so the payload really is larger than its compressed headers. */
	for (gsize i = 0; i < 200000; i++)
		image[i] = (char)g_random_int();
	f->dir = test_tmpdir_new();
	f->root = test_pki_identity("ec", "Root", NULL, 0, 365);
	leaf = test_pki_identity("ec", "Signer", f->root, 0, 30);
	test_pki_write(f->root, f->dir, "root", &f->keyring, &root_key);
	test_pki_write(leaf, f->dir, "leaf", &cert, &key);
	f->signer = ota_signer_load(cert, key, TRUE, &error);
	g_assert_no_error(error);
	f->trust = ota_trust_new(f->keyring, NULL, OTA_PURPOSE_ANY, TRUE, &error);
	g_assert_no_error(error);

	f->input = g_build_filename(f->dir, "input", NULL);
	g_assert_cmpint(mkdir(f->input, 0755), ==, 0);
	write_in(f->input, "manifest.raucm",
	         "[update]\ncompatible=test-board\nversion=1.0\n"
	         "[image.rootfs]\nfilename=rootfs.img\n"
	         "[image.appfs]\nfilename=appfs.img\n",
	         -1);
	write_in(f->input, "rootfs.img", image, 200000);
	write_in(f->input, "appfs.img", "app", 3);
	f->bundle = g_build_filename(f->dir, "out.raucb", NULL);
}

static void teardown(Fixture *f, gconstpointer data)
{
	ota_trust_free(f->trust);
	ota_signer_free(f->signer);
	test_identity_free(f->root);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->input);
	g_free(f->bundle);
	g_free(f->keyring);
}

static gboolean create(Fixture *f, GError **error)
{
	OtaCreateOptions options = {
		.signers = &f->signer,
		.n_signers = 1,
	};

	return ota_bundle_create(f->input, f->bundle, &options, error);
}

static OtaBundle *create_and_open(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	OtaBundle *b;

	g_assert_true(create(f, &error));
	g_assert_no_error(error);
	b = ota_bundle_open(f->bundle, &error);
	g_assert_no_error(error);
	return b;
}

static void flip_byte(const char *path, off_t offset)
{
	int fd = open(path, O_RDWR);
	guint8 byte;

	g_assert_cmpint(pread(fd, &byte, 1, offset), ==, 1);
	byte ^= 0x01;
	g_assert_cmpint(pwrite(fd, &byte, 1, offset), ==, 1);
	close(fd);
}

static void test_created_bundle_verifies(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	g_autoptr(GError) error = NULL;
	const OtaImage *root;

	g_assert_true(ota_bundle_verify(b, f->trust, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(b->verified);
	g_assert_cmpint(b->format, ==, OTA_BUNDLE_FORMAT_PLAIN);
	g_assert_cmpstr(b->manifest->compatible, ==, "test-board");
	root = g_ptr_array_index(b->manifest->images, 0);
	g_assert_cmpuint(root->size, ==, 200000);
	g_assert_cmpuint(strlen(root->sha256), ==, 64);
	g_assert_true(ota_bundle_check_contents(b, TRUE, &error));
	g_assert_no_error(error);
}

static void test_create_leaves_input_manifest_unchanged(Fixture *f, gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->input, "manifest.raucm", NULL);
	g_autofree char *before = NULL, *after = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(g_file_get_contents(path, &before, NULL, NULL));
	g_assert_true(create(f, &error));
	g_assert_true(g_file_get_contents(path, &after, NULL, NULL));
	g_assert_cmpstr(before, ==, after);
}

static void test_payload_is_aligned_and_trailer_matches(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);

	g_assert_cmpuint(b->layout.payload_size % OTA_BUNDLE_PAYLOAD_ALIGNMENT, ==, 0);
	g_assert_cmpuint(b->layout.payload_size + b->layout.signature_size + 8, ==,
	                 b->layout.file_size);
}

static void test_flipped_payload_byte_is_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(create(f, &error));
	flip_byte(f->bundle, 5000);
	b = ota_bundle_open(f->bundle, &error);
	g_assert_no_error(error);
	g_assert_false(ota_bundle_verify(b, f->trust, NULL, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID);
	g_assert_true(g_str_has_prefix(error->message, f->bundle));
	g_assert_null(b->manifest);
}

static void test_missing_image_fails_create_and_writes_nothing(Fixture *f, gconstpointer data)
{
	g_autofree char *image = g_build_filename(f->input, "appfs.img", NULL);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(unlink(image), ==, 0);
	g_assert_false(create(f, &error));
	g_assert_nonnull(strstr(error->message, image));
	g_assert_false(g_file_test(f->bundle, G_FILE_TEST_EXISTS));
}

static void test_wrong_size_in_input_manifest_fails_create(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_in(f->input, "manifest.raucm",
	         "[update]\ncompatible=c\n[image.rootfs]\nfilename=rootfs.img\nsize=5\n", -1);
	g_assert_false(create(f, &error));
	g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT);
	g_assert_false(g_file_test(f->bundle, G_FILE_TEST_EXISTS));
}

static void test_verity_is_refused_until_implemented(Fixture *f, gconstpointer data)
{
	OtaCreateOptions options = {
		.format_set = TRUE,
		.format = OTA_BUNDLE_FORMAT_VERITY,
		.signers = &f->signer,
		.n_signers = 1,
	};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_bundle_create(f->input, f->bundle, &options, &error));
	g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_UNSUPPORTED);
	g_assert_false(g_file_test(f->bundle, G_FILE_TEST_EXISTS));
}

/* CVE-2020-25860: a bundle changed between verification and use. With a
 * private copy, what is read afterwards is what was verified. */
static void test_private_copy_defeats_modification_after_verify(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_bundle_verify(b, f->trust, f->dir, &error));
	g_assert_no_error(error);
	for (off_t off = 0; off < (off_t)b->layout.payload_size; off += 512)
		flip_byte(f->bundle, off);
	g_assert_true(ota_bundle_check_contents(b, TRUE, &error));
	g_assert_no_error(error);
}

/* The counterpart: reading in place sees the modification, so the test
 * above really exercises the copy. */
static void test_in_place_reads_see_modification_after_verify(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_bundle_verify(b, f->trust, NULL, &error));
	for (off_t off = 0; off < (off_t)b->layout.payload_size; off += 512)
		flip_byte(f->bundle, off);
	g_assert_false(ota_bundle_check_contents(b, TRUE, &error));
}

static void test_unreadable_compressor_is_refused_at_create(Fixture *f, gconstpointer data)
{
	OtaCreateOptions options = {
		.signers = &f->signer,
		.n_signers = 1,
		.mksquashfs_args = "-comp lzo",
	};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_bundle_create(f->input, f->bundle, &options, &error));
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_UNSUPPORTED);
	g_assert_false(g_file_test(f->bundle, G_FILE_TEST_EXISTS));
}

static void test_same_key_twice_is_refused(Fixture *f, gconstpointer data)
{
	OtaSigner *twice[] = {f->signer, f->signer};
	OtaCreateOptions options = {
		.signers = twice,
		.n_signers = 2,
	};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_bundle_create(f->input, f->bundle, &options, &error));
	g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT);
	g_assert_nonnull(strstr(error->message, "same key"));
}

/* Reading in place, a file that changes during verification is rejected
 * even when the change leaves the signed bytes intact (here: only the
 * timestamps), because we can't know which bytes were read when. */
static void test_file_touched_during_verify_is_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	g_autoptr(GError) error = NULL;
	struct timespec times[2] = {{0, UTIME_NOW}, {12345, 0}};

	g_assert_cmpint(utimensat(AT_FDCWD, f->bundle, times, 0), ==, 0);
	g_assert_false(ota_bundle_verify(b, f->trust, NULL, &error));
	g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MODIFIED);
	g_assert_false(b->verified);
}

static void test_extracted_hook_script_is_executable(Fixture *f, gconstpointer data)
{
	g_autofree char *out = g_build_filename(f->dir, "out", NULL);
	g_autofree char *hook = g_build_filename(out, "hook.sh", NULL);
	g_autoptr(GError) error = NULL;
	struct stat st;

	write_in(f->input, "manifest.raucm",
	         "[update]\ncompatible=c\n[hooks]\nfilename=hook.sh\nhooks=install-check\n"
	         "[image.appfs]\nfilename=appfs.img\n",
	         -1);
	write_in(f->input, "hook.sh", "#!/bin/sh\nexit 0\n", -1);
	g_assert_true(create(f, &error));
	g_assert_true(ota_bundle_extract(f->bundle, f->trust, out, &error));
	g_assert_no_error(error);
	g_assert_cmpint(stat(hook, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0111, ==, 0111);
}

static void test_extract_into_missing_parent_names_outdir(Fixture *f, gconstpointer data)
{
	g_autofree char *out = g_build_filename(f->dir, "no", "such", NULL);
	g_autoptr(GError) error = NULL;

	g_assert_true(create(f, &error));
	g_assert_false(ota_bundle_extract(f->bundle, f->trust, out, &error));
	g_assert_true(g_str_has_prefix(error->message, out));
}

static void test_extract_writes_manifest_and_images(Fixture *f, gconstpointer data)
{
	g_autofree char *out = g_build_filename(f->dir, "out", NULL);
	g_autofree char *app = g_build_filename(out, "appfs.img", NULL);
	g_autofree char *mf = g_build_filename(out, "manifest.raucm", NULL);
	g_autofree char *content = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(create(f, &error));
	g_assert_true(ota_bundle_extract(f->bundle, f->trust, out, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(app, &content, NULL, NULL));
	g_assert_cmpstr(content, ==, "app");
	g_assert_true(g_file_test(mf, G_FILE_TEST_IS_REGULAR));
}

static void test_failed_extract_leaves_no_directory(Fixture *f, gconstpointer data)
{
	g_autofree char *out = g_build_filename(f->dir, "out", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) d = NULL;
	const char *name;

	g_assert_true(create(f, &error));
	flip_byte(f->bundle, 100);
	g_assert_false(ota_bundle_extract(f->bundle, f->trust, out, &error));
	g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
	d = g_dir_open(f->dir, 0, NULL);
	while ((name = g_dir_read_name(d)) != NULL)
		g_assert_false(g_str_has_prefix(name, ".out."));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/bundle/" name, Fixture, NULL, setup, fn, teardown)
	ADD("created-bundle-verifies", test_created_bundle_verifies);
	ADD("create-leaves-input-manifest-unchanged", test_create_leaves_input_manifest_unchanged);
	ADD("payload-is-aligned-and-trailer-matches", test_payload_is_aligned_and_trailer_matches);
	ADD("flipped-payload-byte-is-rejected", test_flipped_payload_byte_is_rejected);
	ADD("missing-image-fails-create-and-writes-nothing",
	    test_missing_image_fails_create_and_writes_nothing);
	ADD("wrong-size-in-input-manifest-fails-create", test_wrong_size_in_input_manifest_fails_create);
	ADD("verity-is-refused-until-implemented", test_verity_is_refused_until_implemented);
	ADD("private-copy-defeats-modification-after-verify",
	    test_private_copy_defeats_modification_after_verify);
	ADD("in-place-reads-see-modification-after-verify",
	    test_in_place_reads_see_modification_after_verify);
	ADD("unreadable-compressor-is-refused-at-create", test_unreadable_compressor_is_refused_at_create);
	ADD("same-key-twice-is-refused", test_same_key_twice_is_refused);
	ADD("file-touched-during-verify-is-rejected", test_file_touched_during_verify_is_rejected);
	ADD("extracted-hook-script-is-executable", test_extracted_hook_script_is_executable);
	ADD("extract-into-missing-parent-names-outdir", test_extract_into_missing_parent_names_outdir);
	ADD("extract-writes-manifest-and-images", test_extract_writes_manifest_and_images);
	ADD("failed-extract-leaves-no-directory", test_failed_extract_leaves_no_directory);
	return g_test_run();
}
