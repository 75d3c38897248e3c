/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "checksum-private.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
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

	g_assert_true(ota_checksum_copy_fd(in, 1, 3, out, FALSE, &sum, &error));
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

/* @size bytes that differ from block to block. */
static GBytes *pattern(gsize size)
{
	guint8 *data = g_malloc(size);

	for (gsize i = 0; i < size; i++)
		data[i] = (guint8)(i * 7 + i / 4096);
	return g_bytes_new_take(data, size);
}

/* Pieces of growing odd sizes, so that they straddle the pipe's buffers. */
static void push_in_pieces(OtaHashPipe *pipe, GBytes *bytes)
{
	gsize size = 0;
	const guint8 *data = g_bytes_get_data(bytes, &size);
	g_autoptr(GError) error = NULL;

	for (gsize off = 0, piece = 1; off < size; off += piece, piece = piece * 3 + 1) {
		piece = MIN(piece, size - off);
		g_assert_true(ota_hash_pipe_push(pipe, data + off, piece, &error));
		g_assert_no_error(error);
	}
}

static void test_pipe_digest_and_output_match_the_input(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) input = pattern(5 * 1024 * 1024 + 3);
	g_autofree char *path = g_build_filename(f->dir, "out", NULL);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	g_autoptr(OtaHashPipe) pipe = ota_hash_pipe_new(fd, GPOINTER_TO_UINT(data), NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *written = NULL;
	guint8 expected[OTA_SHA256_LEN], digest[OTA_SHA256_LEN];
	gsize len = 0;

	push_in_pieces(pipe, input);
	g_assert_true(ota_hash_pipe_finish(pipe, digest, &error));
	g_assert_no_error(error);
	close(fd);
	g_assert_true(ota_checksum_bytes(input, expected, NULL));
	g_assert_cmpmem(digest, sizeof(digest), expected, sizeof(expected));
	g_assert_true(g_file_get_contents(path, &written, &len, NULL));
	g_assert_cmpmem(written, len, g_bytes_get_data(input, NULL), g_bytes_get_size(input));
}

static void test_sparse_pipe_makes_holes_and_keeps_the_size(Fixture *f, gconstpointer data)
{
	/* Data, then zeros up to the very end: the hole at the end must still
	 * count in the file size. */
	gsize size = 6 * 1024 * 1024;
	g_autofree guint8 *bytes = g_malloc0(size);
	g_autoptr(GBytes) input = NULL;
	g_autofree char *path = g_build_filename(f->dir, "sparse", NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	g_autoptr(OtaHashPipe) pipe = ota_hash_pipe_new(fd, OTA_HASH_PIPE_SPARSE, NULL);
	g_autoptr(GError) error = NULL;
	g_autofree char *written = NULL;
	guint8 digest[OTA_SHA256_LEN];
	struct stat st;
	gsize len = 0;

	memset(bytes, 0xA5, 1000);
	input = g_bytes_new_take(g_steal_pointer(&bytes), size);
	push_in_pieces(pipe, input);
	g_assert_true(ota_hash_pipe_finish(pipe, digest, &error));
	g_assert_no_error(error);
	g_assert_cmpint(fstat(fd, &st), ==, 0);
	close(fd);
	g_assert_cmpint(st.st_size, ==, (goffset)size);
	g_assert_cmpint((gint64)st.st_blocks * 512, <, 2 * 1024 * 1024);
	g_assert_true(g_file_get_contents(path, &written, &len, NULL));
	g_assert_cmpmem(written, len, g_bytes_get_data(input, NULL), size);
}

static void test_pipe_reports_a_write_error(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) input = pattern(3 * 1024 * 1024);
	g_autofree char *path = write_tmp(f, "ro", "", 0);
	int fd = open(path, O_RDONLY); /* writing to it fails: EBADF */
	g_autoptr(OtaHashPipe) pipe = ota_hash_pipe_new(fd, OTA_HASH_PIPE_HASH, NULL);
	g_autoptr(GError) error = NULL;
	const guint8 *data_ptr = g_bytes_get_data(input, NULL);
	guint8 digest[OTA_SHA256_LEN];
	gboolean pushed = TRUE;

	/* The producer learns of the failure on a later push or at the end. */
	for (gsize off = 0; pushed && off < g_bytes_get_size(input); off += 65536)
		pushed = ota_hash_pipe_push(pipe, data_ptr + off, 65536, &error);
	if (pushed)
		g_assert_false(ota_hash_pipe_finish(pipe, digest, &error));
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "Bad file descriptor"));
	close(fd);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                                  \
	g_test_add("/checksum/" name, Fixture, GUINT_TO_POINTER(OTA_HASH_PIPE_HASH), setup, fn,   \
	           teardown)
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
	ADD("pipe-digest-and-output-match-the-input", test_pipe_digest_and_output_match_the_input);
	/* O_DIRECT where the test directory's filesystem allows it; the
	 * unaligned tail goes through the page cache. */
	g_test_add("/checksum/direct-pipe-digest-and-output-match-the-input", Fixture,
	           GUINT_TO_POINTER(OTA_HASH_PIPE_HASH | OTA_HASH_PIPE_DIRECT), setup,
	           test_pipe_digest_and_output_match_the_input, teardown);
	ADD("sparse-pipe-makes-holes-and-keeps-the-size",
	    test_sparse_pipe_makes_holes_and_keeps_the_size);
	ADD("pipe-reports-a-write-error", test_pipe_reports_a_write_error);
	g_test_add_func("/checksum/hex-parsing-is-strict", test_hex_parsing_is_strict);
	return g_test_run();
}
