/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/checksum.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pki.h"

/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/* SHA-256 of the empty string. */
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct {
	char *dir;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
	f->dir = test_tmpdir_new();
}

static void teardown(Fixture *f, gconstpointer data)
{
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
}

static char *write_tmp(Fixture *f, const char *name, const char *content, gssize len)
{
	char *path = g_build_filename(f->dir, name, NULL);

	g_assert_true(g_file_set_contents(path, content, len, NULL));
	return path;
}

static void assert_hex(const guint8 *digest, const char *expected)
{
	char hex[OTA_SHA256_HEX_LEN + 1];

	ota_checksum_to_hex(digest, hex);
	g_assert_cmpstr(hex, ==, expected);
}

static void test_file_digest_matches_known_vector(Fixture *f, gconstpointer data)
{
	g_autofree char *path = write_tmp(f, "abc", "abc", 3);
	g_autoptr(GError) error = NULL;
	OtaChecksum sum;

	g_assert_true(ota_checksum_file(path, &sum, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(sum.size, ==, 3);
	assert_hex(sum.sha256, SHA_ABC);
}

static void test_empty_file_has_empty_digest(Fixture *f, gconstpointer data)
{
	g_autofree char *path = write_tmp(f, "empty", "", 0);
	g_autoptr(GError) error = NULL;
	OtaChecksum sum;

	g_assert_true(ota_checksum_file(path, &sum, &error));
	g_assert_cmpuint(sum.size, ==, 0);
	assert_hex(sum.sha256, SHA_EMPTY);
}

static void test_range_digest_covers_only_the_range(Fixture *f, gconstpointer data)
{
	g_autofree char *path = write_tmp(f, "xabcx", "xabcx", 5);
	g_autoptr(GError) error = NULL;
	OtaChecksum sum;
	int fd = open(path, O_RDONLY);

	g_assert_true(ota_checksum_fd(fd, 1, 3, &sum, &error));
	close(fd);
	assert_hex(sum.sha256, SHA_ABC);
}

static void test_range_past_end_of_file_fails(Fixture *f, gconstpointer data)
{
	g_autofree char *path = write_tmp(f, "abc", "abc", 3);
	g_autoptr(GError) error = NULL;
	OtaChecksum sum;
	int fd = open(path, O_RDONLY);

	g_assert_false(ota_checksum_fd(fd, 0, 4, &sum, &error));
	close(fd);
	g_assert_nonnull(error);
}

static void test_copy_writes_what_it_hashes(Fixture *f, gconstpointer data)
{
	g_autofree char *src = write_tmp(f, "src", "xabc", 4);
	g_autofree char *dst = g_build_filename(f->dir, "dst", NULL);
	g_autofree char *copied = NULL;
	g_autoptr(GError) error = NULL;
	OtaChecksum sum;
	int in = open(src, O_RDONLY);
	int out = open(dst, O_WRONLY | O_CREAT, 0600);

	g_assert_true(ota_checksum_copy_fd(in, 1, 3, out, &sum, &error));
	close(in);
	close(out);
	assert_hex(sum.sha256, SHA_ABC);
	g_assert_true(g_file_get_contents(dst, &copied, NULL, NULL));
	g_assert_cmpstr(copied, ==, "abc");
}

static void test_symlink_is_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *target = write_tmp(f, "abc", "abc", 3);
	g_autofree char *link = g_build_filename(f->dir, "link", NULL);
	g_autoptr(GError) error = NULL;
	OtaChecksum sum;

	g_assert_cmpint(symlink(target, link), ==, 0);
	g_assert_false(ota_checksum_file(link, &sum, &error));
	g_assert_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_NOT_REGULAR);
	g_assert_nonnull(strstr(error->message, link));
}

static void test_directory_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	OtaChecksum sum;

	g_assert_false(ota_checksum_file(f->dir, &sum, &error));
	g_assert_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_NOT_REGULAR);
}

static void test_missing_file_error_names_it(Fixture *f, gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->dir, "missing.img", NULL);
	g_autoptr(GError) error = NULL;
	OtaChecksum sum;

	g_assert_false(ota_checksum_file(path, &sum, &error));
	g_assert_nonnull(strstr(error->message, path));
}

static void test_parallel_digests_match_sequential(Fixture *f, gconstpointer data)
{
	enum { N = 9 };
	g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
	OtaChecksum parallel[N], single;
	g_autoptr(GError) error = NULL;

	for (int i = 0; i < N; i++) {
		g_autofree char *name = g_strdup_printf("f%d", i);
		g_autofree char *content = g_strnfill((gsize)(i * 300000 + 1), (char)('a' + i));
		g_ptr_array_add(paths, write_tmp(f, name, content, -1));
	}
	g_assert_true(ota_checksum_files((const char *const *)paths->pdata, N, parallel, &error));
	for (int i = 0; i < N; i++) {
		g_assert_true(ota_checksum_file(g_ptr_array_index(paths, i), &single, &error));
		g_assert_cmpuint(parallel[i].size, ==, single.size);
		g_assert_cmpmem(parallel[i].sha256, OTA_SHA256_LEN, single.sha256, OTA_SHA256_LEN);
	}
}

static void test_parallel_reports_a_failing_file(Fixture *f, gconstpointer data)
{
	g_autofree char *good = write_tmp(f, "good", "abc", 3);
	g_autofree char *bad = g_build_filename(f->dir, "bad", NULL);
	const char *paths[] = {good, bad, good};
	OtaChecksum sums[3];
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_checksum_files(paths, 3, sums, &error));
	g_assert_nonnull(strstr(error->message, bad));
}

static void test_hex_parsing_is_strict(void)
{
	guint8 d[OTA_SHA256_LEN];

	g_assert_true(ota_checksum_from_hex(SHA_ABC, d));
	assert_hex(d, SHA_ABC);
	g_assert_false(ota_checksum_from_hex("ab", d));
	g_assert_false(ota_checksum_from_hex(SHA_ABC "00", d));
	g_assert_false(ota_checksum_from_hex(NULL, d));
	g_assert_false(ota_checksum_from_hex(
		"g a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", d));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/checksum/" name, Fixture, NULL, setup, fn, teardown)
	ADD("file-digest-matches-known-vector", test_file_digest_matches_known_vector);
	ADD("empty-file-has-empty-digest", test_empty_file_has_empty_digest);
	ADD("range-digest-covers-only-the-range", test_range_digest_covers_only_the_range);
	ADD("range-past-end-of-file-fails", test_range_past_end_of_file_fails);
	ADD("copy-writes-what-it-hashes", test_copy_writes_what_it_hashes);
	ADD("symlink-is-refused", test_symlink_is_refused);
	ADD("directory-is-refused", test_directory_is_refused);
	ADD("missing-file-error-names-it", test_missing_file_error_names_it);
	ADD("parallel-digests-match-sequential", test_parallel_digests_match_sequential);
	ADD("parallel-reports-a-failing-file", test_parallel_reports_a_failing_file);
	g_test_add_func("/checksum/hex-parsing-is-strict", test_hex_parsing_is_strict);
	return g_test_run();
}
