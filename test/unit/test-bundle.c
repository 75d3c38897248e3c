/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/bundle.h>
#include <otabundle/error.h>

#include "bundle-private.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki.h"

static const OtaBundleFormat plain = OTA_BUNDLE_FORMAT_PLAIN;
static const OtaBundleFormat verity = OTA_BUNDLE_FORMAT_VERITY;
/* Not "crypt": unistd.h declares crypt(). */
static const OtaBundleFormat crypt_format = OTA_BUNDLE_FORMAT_CRYPT;

typedef struct {
	OtaBundleFormat format;
	char *dir;
	char *input;
	char *bundle;
	char *keyring;
	TestIdentity *root;
	OtaSigner *signer;
	OtaPolicy *policy;
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

	f->format = *(const OtaBundleFormat *)data;
	/* Random, so the payload really is larger than its compressed headers. */
	for (gsize i = 0; i < 200000; i++)
		image[i] = (char)g_random_int();
	f->dir = test_tmpdir_new();
	f->root = test_pki_identity("ec", "Root", NULL, 0, 365);
	leaf = test_pki_identity("ec", "Signer", f->root, 0, 30);
	test_pki_write(f->root, f->dir, "root", &f->keyring, &root_key);
	test_pki_write(leaf, f->dir, "leaf", &cert, &key);
	f->signer = ota_signer_load(NULL, cert, key, TRUE, &error);
	g_assert_no_error(error);
	f->policy = ota_policy_new(f->keyring, NULL, OTA_PURPOSE_ANY, TRUE, 1, &error);
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
	ota_policy_free(f->policy);
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
		.format_set = TRUE,
		.format = f->format,
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

	g_assert_true(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(b->verified);
	g_assert_cmpint(b->format, ==, f->format);
	g_assert_cmpstr(b->manifest->compatible, ==, "test-board");
	root = g_ptr_array_index(b->manifest->images, 0);
	g_assert_cmpuint(root->size, ==, 200000);
	g_assert_cmpuint(strlen(root->sha256), ==, 64);
	g_assert_true(ota_bundle_check_contents(b, TRUE, &error));
	g_assert_no_error(error);
}

/* info checks what `rauc info` checks: the signature, which covers every
 * byte of a plain bundle but only the manifest of a verity one. */
static void test_info_checks_the_signature_and_says_how_much_it_covers(Fixture *f,
                                                                       gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBundle) b = NULL;

	g_assert_true(create(f, &error));
	b = ota_bundle_open_for_info(f->bundle, f->policy, &error);
	g_assert_no_error(error);
	g_assert_true(ota_bundle_is_verified(b));
	g_assert_cmpint(ota_bundle_get_checked(b), ==,
	                f->format == OTA_BUNDLE_FORMAT_PLAIN ? OTA_BUNDLE_CHECKED_PAYLOAD
	                                                     : OTA_BUNDLE_CHECKED_SIGNATURE);
}

static void test_info_without_a_policy_checks_nothing(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBundle) b = NULL;

	g_assert_true(create(f, &error));
	b = ota_bundle_open_for_info(f->bundle, NULL, &error);
	g_assert_no_error(error);
	g_assert_false(ota_bundle_is_verified(b));
	g_assert_cmpint(ota_bundle_get_checked(b), ==, OTA_BUNDLE_CHECKED_NOTHING);
	g_assert_cmpstr(ota_bundle_get_manifest(b)->compatible, ==, "test-board");
}

/* A report of a failed check can still say who signed (JSON output). */
static void test_failed_info_check_keeps_every_signer_with_its_status(Fixture *f,
                                                                     gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBundle) b = NULL;
	g_autoptr(OtaPolicy) two = ota_policy_new(f->keyring, NULL, OTA_PURPOSE_ANY, TRUE, 2, &error);
	const OtaSignature *sig;

	g_assert_no_error(error);
	g_assert_true(create(f, &error));
	b = ota_bundle_open(f->bundle, &error);
	g_assert_no_error(error);
	g_assert_false(ota_bundle_check_for_info(b, two, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	g_assert_cmpstr(ota_error_code(error), ==, "threshold-not-met");
	g_assert_false(ota_bundle_is_verified(b));
	sig = ota_bundle_get_signature(b);
	g_assert_cmpuint(ota_signature_get_n_signers(sig), ==, 1);
	g_assert_cmpuint(ota_signature_get_counted(sig), ==, 1);
	g_assert_cmpint(ota_signer_info_get_status(ota_signature_get_signer(sig, 0)), ==,
	                OTA_SIGNER_COUNTED);
}

static void test_verify_and_image_check_say_what_they_covered(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error));
	g_assert_cmpint(ota_bundle_get_checked(b), ==, OTA_BUNDLE_CHECKED_PAYLOAD);
	g_assert_true(ota_bundle_check_contents(b, TRUE, &error));
	g_assert_no_error(error);
	g_assert_cmpint(ota_bundle_get_checked(b), ==, OTA_BUNDLE_CHECKED_IMAGES);
}

static void test_resign_without_a_policy_needs_integrity_only_said_explicitly(Fixture *f,
                                                                              gconstpointer data)
{
	g_autofree char *out = g_build_filename(f->dir, "resigned.raucb", NULL);
	g_autoptr(GError) error = NULL;
	OtaSignOptions options = {.signers = &f->signer, .n_signers = 1};

	g_assert_true(create(f, &error));
	g_assert_false(ota_bundle_resign(f->bundle, out, &options, &error));
	g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT);
	g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
	g_clear_error(&error);
	options.integrity_only = TRUE;
	g_assert_true(ota_bundle_resign(f->bundle, out, &options, &error));
	g_assert_no_error(error);
}

/* A policy trusting only a root that issued nothing here. */
static OtaPolicy *policy_of_another_root(Fixture *f)
{
	g_autoptr(TestIdentity) other = test_pki_identity("ec", "Other Root", NULL, 0, 365);
	g_autofree char *cert = NULL, *key = NULL;
	g_autoptr(GError) error = NULL;
	OtaPolicy *p;

	test_pki_write(other, f->dir, "other-root", &cert, &key);
	p = ota_policy_new(cert, NULL, OTA_PURPOSE_ANY, TRUE, 1, &error);
	g_assert_no_error(error);
	return p;
}

static void test_create_writes_nothing_the_result_policy_refuses(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaPolicy) other = policy_of_another_root(f);
	g_autoptr(GError) error = NULL;
	OtaCreateOptions options = {
		.format_set = TRUE,
		.format = f->format,
		.signers = &f->signer,
		.n_signers = 1,
		.result_policy = other,
	};

	g_assert_false(ota_bundle_create(f->input, f->bundle, &options, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	g_assert_true(g_str_has_prefix(error->message, f->bundle));
	g_assert_false(g_file_test(f->bundle, G_FILE_TEST_EXISTS));
	g_clear_error(&error);
	options.result_policy = f->policy;
	g_assert_true(ota_bundle_create(f->input, f->bundle, &options, &error));
	g_assert_no_error(error);
}

static void test_resign_writes_nothing_the_result_policy_refuses(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaPolicy) other = policy_of_another_root(f);
	g_autofree char *out = g_build_filename(f->dir, "resigned.raucb", NULL);
	g_autoptr(GError) error = NULL;
	OtaSignOptions options = {.signers = &f->signer, .n_signers = 1, .policy = f->policy};

	g_assert_true(create(f, &error));
	options.result_policy = other;
	g_assert_false(ota_bundle_resign(f->bundle, out, &options, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
	g_clear_error(&error);
	options.result_policy = f->policy;
	g_assert_true(ota_bundle_resign(f->bundle, out, &options, &error));
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
	g_assert_false(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error));
	if (f->format == OTA_BUNDLE_FORMAT_PLAIN)
		g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID);
	else
		g_assert_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_MISMATCH);
	g_assert_true(g_str_has_prefix(error->message, f->bundle));
	g_assert_false(b->verified);
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

/* The squashfs is encrypted where it lies, the key is in the signed
 * manifest only, and reading decrypts it. */
static void test_crypt_payload_is_not_the_plaintext_squashfs(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	g_autoptr(GError) error = NULL;
	guint8 head[4], decrypted[4];
	int fd = open(f->bundle, O_RDONLY | O_CLOEXEC);

	g_assert_cmpint(pread(fd, head, sizeof(head), 0), ==, sizeof(head));
	close(fd);
	g_assert_true(memcmp(head, "hsqs", 4) != 0);
	g_assert_cmpint(b->format, ==, OTA_BUNDLE_FORMAT_VERITY); /* until the manifest says */
	g_assert_true(ota_bundle_verify(b, f->policy, 0, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(ota_bundle_get_format(b), ==, OTA_BUNDLE_FORMAT_CRYPT);
	g_assert_cmpuint(strlen(b->manifest->crypt_key), ==, 64);
	g_assert_true(ota_reader_read_at(b->payload, 0, decrypted, sizeof(decrypted), &error));
	g_assert_cmpmem(decrypted, 4, "hsqs", 4);
}

static void test_reproducible_crypt_needs_a_key_choice(Fixture *f, gconstpointer data)
{
	OtaCreateOptions options = {
		.format_set = TRUE,
		.format = OTA_BUNDLE_FORMAT_CRYPT,
		.signers = &f->signer,
		.n_signers = 1,
		.reproducible = TRUE,
	};
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_bundle_check_create_options(&options, &error));
	g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT);
	g_clear_error(&error);
	g_assert_false(ota_bundle_create(f->input, f->bundle, &options, &error));
	g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_INPUT);
	g_assert_false(g_file_test(f->bundle, G_FILE_TEST_EXISTS));
	g_clear_error(&error);
	options.derive_crypt_key = TRUE;
	g_assert_true(ota_bundle_create(f->input, f->bundle, &options, &error));
	g_assert_no_error(error);
}

/* CVE-2020-25860: a bundle changed between verification and use. With a
 * private copy, what is read afterwards is what was verified. */
static void test_private_copy_defeats_modification_after_verify(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, f->dir, &error));
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

	g_assert_true(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error));
	for (off_t off = 0; off < (off_t)b->layout.payload_size; off += 512)
		flip_byte(f->bundle, off);
	g_assert_false(ota_bundle_check_contents(b, TRUE, &error));
}

/* The shared-mapping attack on a plain bundle verified in place: another
 * process rewrites the manifest through a MAP_SHARED mapping, which moves
 * neither size nor (with the page already dirty) mtime or ctime. To hit
 * the window inside ota_bundle_verify() every time, this test binary
 * interposes libcrypto's SHA-256 calls (an executable's symbols win) and,
 * once armed, writes through the mapping at the chosen moment. */
typedef struct {
	guint8 *map; /* the whole bundle, MAP_SHARED */
	gsize offset;  /* of the manifest's compatible= value in the payload */
	gint armed;
} MappingAttack;
static MappingAttack attack;

static void attack_rewrite(void)
{
	memcpy(attack.map + attack.offset, "evil-board", strlen("evil-board"));
}

int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt)
{
	static int (*real)(EVP_MD_CTX *, const void *, size_t);

	if (real == NULL)
		real = (int (*)(EVP_MD_CTX *, const void *, size_t))dlsym(RTLD_NEXT, "EVP_DigestUpdate");
	if (g_atomic_int_compare_and_exchange(&attack.armed, 1, 0))
		attack_rewrite();
	return real(ctx, d, cnt);
}

int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s)
{
	static int (*real)(EVP_MD_CTX *, unsigned char *, unsigned int *);
	int ret;

	if (real == NULL)
		real = (int (*)(EVP_MD_CTX *, unsigned char *, unsigned int *))dlsym(
			RTLD_NEXT, "EVP_DigestFinal_ex");
	ret = real(ctx, md, s);
	if (g_atomic_int_compare_and_exchange(&attack.armed, 2, 0))
		attack_rewrite();
	return ret;
}

/* An uncompressed plain bundle, mapped shared, its manifest page already
 * dirty (so a later write through the mapping changes no timestamp), and
 * opened: what an attacker prepares. */
static OtaBundle *prepare_mapping_attack(Fixture *f, gsize *map_len)
{
	OtaCreateOptions options = {
		.format_set = TRUE,
		.format = OTA_BUNDLE_FORMAT_PLAIN,
		.signers = &f->signer,
		.n_signers = 1,
		.compression = "none",
	};
	g_autoptr(GError) error = NULL;
	const char *needle = "compatible=test-board";
	struct stat st;
	guint8 *found;
	OtaBundle *b;
	int fd;

	g_assert_true(ota_bundle_create(f->input, f->bundle, &options, &error));
	g_assert_no_error(error);
	fd = open(f->bundle, O_RDWR);
	g_assert_cmpint(fstat(fd, &st), ==, 0);
	*map_len = (gsize)st.st_size;
	attack.map = mmap(NULL, *map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	g_assert_true(attack.map != MAP_FAILED);
	found = memmem(attack.map, *map_len, needle, strlen(needle));
	g_assert_nonnull(found);
	attack.offset = (gsize)(found - attack.map) + strlen("compatible=");
	((volatile guint8 *)attack.map)[attack.offset] = attack.map[attack.offset];
	b = ota_bundle_open(f->bundle, &error);
	g_assert_no_error(error);
	return b;
}

/* Rewritten after the hash pass, before the manifest is read: what is
 * reported as verified must still be the signed manifest (or, if the
 * kernel did move a timestamp, the bundle is refused as modified). */
static void test_manifest_rewritten_through_shared_mapping_after_hash_is_not_reported(
	Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = NULL;
	g_autoptr(GError) error = NULL;
	gsize map_len = 0;

	b = prepare_mapping_attack(f, &map_len);
	g_atomic_int_set(&attack.armed, 2);
	if (ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error)) {
		g_assert_cmpstr(b->manifest->compatible, ==, "test-board");
		g_assert_true(ota_bundle_check_contents(b, TRUE, &error));
		g_assert_no_error(error);
	} else {
		g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MODIFIED);
	}
	g_assert_cmpint(g_atomic_int_get(&attack.armed), ==, 0);
	g_assert_cmpmem(attack.map + attack.offset, 10, "evil-board", 10);
	munmap(attack.map, map_len);
}

/* Rewritten while the payload is hashed (after the manifest was read for
 * recording, before its bytes are hashed): refused as modified, before the
 * signature is even looked at. */
static void test_manifest_rewritten_through_shared_mapping_during_hash_is_rejected(
	Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = NULL;
	g_autoptr(GError) error = NULL;
	gsize map_len = 0;

	b = prepare_mapping_attack(f, &map_len);
	/* The first SHA-256 update has the first 128 KiB read; the manifest
	 * lies after the image's first full block. */
	g_assert_cmpuint(attack.offset, >=, 128 * 1024);
	g_atomic_int_set(&attack.armed, 1);
	g_assert_false(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error));
	g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MODIFIED);
	g_assert_nonnull(strstr(error->message, "modified while it was being verified"));
	g_assert_false(b->verified);
	munmap(attack.map, map_len);
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
	g_assert_false(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error));
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
	g_assert_true(ota_bundle_extract(f->bundle, f->policy, out, &error));
	g_assert_no_error(error);
	g_assert_cmpint(stat(hook, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0111, ==, 0111);
}

static void test_extract_into_missing_parent_names_outdir(Fixture *f, gconstpointer data)
{
	g_autofree char *out = g_build_filename(f->dir, "no", "such", NULL);
	g_autoptr(GError) error = NULL;

	g_assert_true(create(f, &error));
	g_assert_false(ota_bundle_extract(f->bundle, f->policy, out, &error));
	g_assert_true(g_str_has_prefix(error->message, out));
}

static void test_default_format_is_verity(Fixture *f, gconstpointer data)
{
	OtaCreateOptions options = {
		.signers = &f->signer,
		.n_signers = 1,
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBundle) b = NULL;

	g_assert_true(ota_bundle_create(f->input, f->bundle, &options, &error));
	b = ota_bundle_open(f->bundle, &error);
	g_assert_no_error(error);
	g_assert_cmpint(b->format, ==, OTA_BUNDLE_FORMAT_VERITY);
}

static void test_verity_manifest_carries_tree_parameters(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error));
	g_assert_cmpstr(b->manifest->verity_hash, !=, NULL);
	g_assert_cmpuint(strlen(b->manifest->verity_salt), ==, 64);
	g_assert_cmpuint(b->manifest->verity_size, ==, ota_verity_tree_size(b->verity.data_size));
	g_assert_cmpuint(b->verity.data_size + b->verity.tree_size, ==, b->layout.payload_size);
}

static void verify_fails_after_flip(Fixture *f, guint64 offset)
{
	g_autoptr(OtaBundle) b = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(create(f, &error));
	flip_byte(f->bundle, (off_t)offset);
	b = ota_bundle_open(f->bundle, &error);
	if (b != NULL)
		g_assert_false(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error));
	g_assert_nonnull(error);
}

static guint64 tree_offset(Fixture *f)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	g_autoptr(GError) error = NULL;
	guint64 offset;

	g_assert_true(ota_bundle_verify(b, f->policy, 0, NULL, &error));
	offset = b->verity.data_size;
	unlink(f->bundle);
	return offset;
}

static void test_flipped_tree_byte_is_rejected(Fixture *f, gconstpointer data)
{
	verify_fails_after_flip(f, tree_offset(f) + 40);
}

static void test_flipped_manifest_byte_is_rejected(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GMappedFile) map = NULL;
	const char *hit;

	g_assert_true(create(f, &error));
	map = g_mapped_file_new(f->bundle, FALSE, &error);
	hit = memmem(g_mapped_file_get_contents(map), g_mapped_file_get_length(map),
	             "compatible=test-board", 21);
	g_assert_nonnull(hit);
	flip_byte(f->bundle, hit + 11 - g_mapped_file_get_contents(map));
	b = ota_bundle_open(f->bundle, &error);
	g_assert_no_error(error);
	g_assert_false(ota_bundle_verify(b, f->policy, 0, NULL, &error));
	g_assert_error(error, OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID);
}

/* Cutting a block out of the tree shifts the CMS: the trailer then frames
 * garbage, or the tree no longer fits the signed verity-size. */
static void test_truncated_tree_is_rejected(Fixture *f, gconstpointer data)
{
	guint64 tree = tree_offset(f);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBundle) b = NULL;
	g_autofree char *whole = NULL;
	gsize len = 0;
	GString *cut;

	g_assert_true(create(f, &error));
	g_assert_true(g_file_get_contents(f->bundle, &whole, &len, NULL));
	cut = g_string_new_len(whole, (gssize)tree);
	g_string_append_len(cut, whole + tree + OTA_VERITY_BLOCK_SIZE,
	                    (gssize)(len - tree - OTA_VERITY_BLOCK_SIZE));
	g_assert_true(g_file_set_contents(f->bundle, cut->str, (gssize)cut->len, NULL));
	g_string_free(cut, TRUE);
	b = ota_bundle_open(f->bundle, &error);
	if (b != NULL)
		g_assert_false(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error));
	g_assert_nonnull(error);
}

/* CVE-2020-25860 for verity: a block changed after the whole tree was
 * checked is still caught when extraction (here: image hashing) reads it. */
static void test_block_changed_after_verify_is_caught_on_read(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error));
	flip_byte(f->bundle, 8192 + 17);
	g_assert_false(ota_bundle_check_contents(b, TRUE, &error));
	g_assert_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_MISMATCH);
}

/* Crypt: verification already decrypted the first window (1 MiB, this
 * whole payload) after checking it, to see that the key decrypts to a
 * squashfs; later reads are served from that verified copy in memory, so a
 * change to the file afterwards can't reach them either. */
static void test_crypt_block_changed_after_verify_is_never_served(Fixture *f,
                                                                  gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error));
	flip_byte(f->bundle, 8192 + 17);
	g_assert_true(ota_bundle_check_contents(b, TRUE, &error));
	g_assert_no_error(error);
}

static void test_tiny_verity_bundle_is_padded_to_two_blocks(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *root_img = g_build_filename(f->input, "rootfs.img", NULL);

	unlink(root_img);
	write_in(f->input, "manifest.raucm",
	         "[update]\ncompatible=c\n[image.appfs]\nfilename=appfs.img\n", -1);
	b = create_and_open(f);
	g_assert_true(ota_bundle_verify(b, f->policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(b->verity.data_size, ==, 2 * OTA_VERITY_BLOCK_SIZE);
	g_assert_true(ota_bundle_check_contents(b, TRUE, &error));
}

static void test_extract_writes_manifest_and_images(Fixture *f, gconstpointer data)
{
	g_autofree char *out = g_build_filename(f->dir, "out", NULL);
	g_autofree char *app = g_build_filename(out, "appfs.img", NULL);
	g_autofree char *mf = g_build_filename(out, "manifest.raucm", NULL);
	g_autofree char *content = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(create(f, &error));
	g_assert_true(ota_bundle_extract(f->bundle, f->policy, out, &error));
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
	g_assert_false(ota_bundle_extract(f->bundle, f->policy, out, &error));
	g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
	d = g_dir_open(f->dir, 0, NULL);
	while ((name = g_dir_read_name(d)) != NULL)
		g_assert_false(g_str_has_prefix(name, ".out."));
}

/* The squashfs superblock's compression id (little-endian at offset 20):
 * 1 gzip, 4 xz, 6 zstd. */
static guint16 payload_compression(const char *bundle)
{
	g_autofree char *data = NULL;
	gsize len = 0;

	g_assert_true(g_file_get_contents(bundle, &data, &len, NULL));
	g_assert_cmpuint(len, >, 22);
	return (guint16)((guint8)data[20] | (guint8)data[21] << 8);
}

/* `rauc bundle` without [bundle] format makes a plain bundle, and packs
 * with mksquashfs's default, gzip: a fleet fed by RAUC may have neither
 * dm-verity nor zstd in its kernels. */
static void test_rauc_defaults_are_plain_and_gzip(Fixture *f, gconstpointer data)
{
	OtaCreateOptions options = {
		.signers = &f->signer,
		.n_signers = 1,
		.rauc_defaults = TRUE,
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBundle) b = NULL;

	g_assert_true(ota_bundle_create(f->input, f->bundle, &options, &error));
	b = ota_bundle_open(f->bundle, &error);
	g_assert_no_error(error);
	g_assert_cmpint(b->format, ==, OTA_BUNDLE_FORMAT_PLAIN);
	g_assert_cmpuint(payload_compression(f->bundle), ==, 1);
}

/* They only fill in what nobody chose: the manifest's format, and a
 * compression in the mksquashfs arguments, win. */
static void test_rauc_defaults_yield_to_what_is_given(Fixture *f, gconstpointer data)
{
	OtaCreateOptions options = {
		.signers = &f->signer,
		.n_signers = 1,
		.rauc_defaults = TRUE,
		.mksquashfs_args = "-comp xz",
	};
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBundle) b = NULL;

	write_in(f->input, "manifest.raucm",
	         "[update]\ncompatible=test-board\nversion=1.0\n[bundle]\nformat=verity\n"
	         "[image.rootfs]\nfilename=rootfs.img\n[image.appfs]\nfilename=appfs.img\n",
	         -1);
	g_assert_true(ota_bundle_create(f->input, f->bundle, &options, &error));
	b = ota_bundle_open(f->bundle, &error);
	g_assert_no_error(error);
	g_assert_cmpint(b->format, ==, OTA_BUNDLE_FORMAT_VERITY);
	g_assert_cmpuint(payload_compression(f->bundle), ==, 4);
}

/* RAUC's manifest hash: SHA-256 of the manifest's bytes in the bundle. */
static void test_manifest_sha256_is_over_the_manifest_bytes(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	g_autoptr(GError) error = NULL;
	g_autofree char *before = ota_bundle_get_manifest_sha256(b);
	g_autofree char *hash = NULL;
	g_autofree char *expected = NULL;

	g_assert_null(before);
	g_assert_true(ota_bundle_verify(b, f->policy, 0, NULL, &error));
	g_assert_no_error(error);
	hash = ota_bundle_get_manifest_sha256(b);
	expected = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, b->manifest_data);
	g_assert_cmpstr(hash, ==, expected);
	if (f->format == OTA_BUNDLE_FORMAT_VERITY) {
		g_autoptr(GBytes) signed_content = ota_signature_get_content(b->signature);
		g_autofree char *of_signed =
			g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, signed_content);

		g_assert_cmpstr(hash, ==, of_signed);
	}
}

static void test_signer_certificate_is_the_signing_certificate(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaBundle) b = create_and_open(f);
	const OtaSignature *sig = ota_bundle_get_signature(b);

	g_assert_cmpuint(ota_signature_get_n_signers(sig), ==, 1);
	g_assert_cmpint(X509_cmp(ota_signer_info_get_certificate(ota_signature_get_signer(sig, 0)),
	                         f->signer->cert), ==, 0);
}

/* As `rauc extract-signature`: with a policy, nothing is written for a
 * bundle that fails it. */
static void test_extract_signature_checks_the_policy_first(Fixture *f, gconstpointer data)
{
	g_autoptr(TestIdentity) other = test_pki_identity("ec", "Other root", NULL, 0, 365);
	g_autofree char *other_cert = NULL, *other_key = NULL;
	g_autofree char *sig = g_build_filename(f->dir, "sig.cms", NULL);
	g_autoptr(OtaPolicy) other_policy = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(create(f, &error));
	test_pki_write(other, f->dir, "other", &other_cert, &other_key);
	other_policy = ota_policy_new(other_cert, NULL, OTA_PURPOSE_ANY, TRUE, 1, &error);
	g_assert_no_error(error);
	g_assert_false(ota_bundle_extract_signature(f->bundle, sig, other_policy, FALSE, &error));
	g_assert_error(error, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD);
	g_assert_false(g_file_test(sig, G_FILE_TEST_EXISTS));
	g_clear_error(&error);
	g_assert_true(ota_bundle_extract_signature(f->bundle, sig, f->policy, FALSE, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_test(sig, G_FILE_TEST_IS_REGULAR));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD_FOR(fmt, name, fn) \
	g_test_add("/bundle/" #fmt "/" name, Fixture, &fmt, setup, fn, teardown)
#define ADD_CRYPT(name, fn) \
	g_test_add("/bundle/crypt/" name, Fixture, &crypt_format, setup, fn, teardown)
/* Each format: plain, verity and crypt. */
#define ADD_BOTH(name, fn) \
	do { \
		ADD_FOR(plain, name, fn); \
		ADD_FOR(verity, name, fn); \
		ADD_CRYPT(name, fn); \
	} while (0)
#define ADD_VERITY_AND_CRYPT(name, fn) \
	do { \
		ADD_FOR(verity, name, fn); \
		ADD_CRYPT(name, fn); \
	} while (0)
	ADD_BOTH("created-bundle-verifies", test_created_bundle_verifies);
	ADD_BOTH("create-leaves-input-manifest-unchanged", test_create_leaves_input_manifest_unchanged);
	ADD_BOTH("create-writes-nothing-the-result-policy-refuses",
	         test_create_writes_nothing_the_result_policy_refuses);
	ADD_BOTH("resign-writes-nothing-the-result-policy-refuses",
	         test_resign_writes_nothing_the_result_policy_refuses);
	ADD_BOTH("info-checks-the-signature-and-says-how-much-it-covers",
	         test_info_checks_the_signature_and_says_how_much_it_covers);
	ADD_BOTH("info-without-a-policy-checks-nothing", test_info_without_a_policy_checks_nothing);
	ADD_BOTH("failed-info-check-keeps-every-signer-with-its-status",
	         test_failed_info_check_keeps_every_signer_with_its_status);
	ADD_BOTH("resign-without-a-policy-needs-integrity-only-said-explicitly",
	         test_resign_without_a_policy_needs_integrity_only_said_explicitly);
	ADD_BOTH("verify-and-image-check-say-what-they-covered",
	         test_verify_and_image_check_say_what_they_covered);
	ADD_BOTH("payload-is-aligned-and-trailer-matches", test_payload_is_aligned_and_trailer_matches);
	ADD_BOTH("flipped-payload-byte-is-rejected", test_flipped_payload_byte_is_rejected);
	ADD_BOTH("missing-image-fails-create-and-writes-nothing",
	         test_missing_image_fails_create_and_writes_nothing);
	ADD_BOTH("wrong-size-in-input-manifest-fails-create",
	         test_wrong_size_in_input_manifest_fails_create);
	ADD_BOTH("unreadable-compressor-is-refused-at-create",
	         test_unreadable_compressor_is_refused_at_create);
	ADD_BOTH("same-key-twice-is-refused", test_same_key_twice_is_refused);
	ADD_BOTH("extracted-hook-script-is-executable", test_extracted_hook_script_is_executable);
	ADD_BOTH("extract-into-missing-parent-names-outdir",
	         test_extract_into_missing_parent_names_outdir);
	ADD_BOTH("extract-writes-manifest-and-images", test_extract_writes_manifest_and_images);
	ADD_BOTH("failed-extract-leaves-no-directory", test_failed_extract_leaves_no_directory);
	ADD_CRYPT("payload-is-not-the-plaintext-squashfs",
	        test_crypt_payload_is_not_the_plaintext_squashfs);
	ADD_CRYPT("reproducible-crypt-needs-a-key-choice",
	        test_reproducible_crypt_needs_a_key_choice);
	ADD_FOR(plain, "private-copy-defeats-modification-after-verify",
	        test_private_copy_defeats_modification_after_verify);
	ADD_FOR(plain, "in-place-reads-see-modification-after-verify",
	        test_in_place_reads_see_modification_after_verify);
	ADD_FOR(plain, "file-touched-during-verify-is-rejected",
	        test_file_touched_during_verify_is_rejected);
	ADD_FOR(plain, "manifest-rewritten-through-shared-mapping-after-hash-is-not-reported",
	        test_manifest_rewritten_through_shared_mapping_after_hash_is_not_reported);
	ADD_FOR(plain, "manifest-rewritten-through-shared-mapping-during-hash-is-rejected",
	        test_manifest_rewritten_through_shared_mapping_during_hash_is_rejected);
	ADD_FOR(verity, "default-format-is-verity", test_default_format_is_verity);
	ADD_FOR(plain, "rauc-defaults-are-plain-and-gzip", test_rauc_defaults_are_plain_and_gzip);
	ADD_FOR(verity, "rauc-defaults-yield-to-what-is-given",
	        test_rauc_defaults_yield_to_what_is_given);
	ADD_BOTH("manifest-sha256-is-over-the-manifest-bytes",
	         test_manifest_sha256_is_over_the_manifest_bytes);
	ADD_BOTH("signer-certificate-is-the-signing-certificate",
	         test_signer_certificate_is_the_signing_certificate);
	ADD_BOTH("extract-signature-checks-the-policy-first",
	         test_extract_signature_checks_the_policy_first);
	ADD_VERITY_AND_CRYPT("manifest-carries-tree-parameters",
	                     test_verity_manifest_carries_tree_parameters);
	ADD_VERITY_AND_CRYPT("flipped-tree-byte-is-rejected", test_flipped_tree_byte_is_rejected);
	ADD_VERITY_AND_CRYPT("flipped-manifest-byte-is-rejected",
	                     test_flipped_manifest_byte_is_rejected);
	ADD_VERITY_AND_CRYPT("truncated-tree-is-rejected", test_truncated_tree_is_rejected);
	ADD_FOR(verity, "block-changed-after-verify-is-caught-on-read",
	        test_block_changed_after_verify_is_caught_on_read);
	ADD_CRYPT("block-changed-after-verify-is-never-served",
	          test_crypt_block_changed_after_verify_is_never_served);
	ADD_VERITY_AND_CRYPT("tiny-bundle-is-padded-to-two-blocks",
	                     test_tiny_verity_bundle_is_padded_to_two_blocks);
	return g_test_run();
}
