/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "block-hash-index-private.h"
#include "reader-private.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>


/* SHA-256 by GLib's own implementation, not the one under test. */
static void glib_sha256(const guint8 *data, gsize size, guint8 out[OTA_SHA256_LEN])
{
	g_autoptr(GChecksum) c = g_checksum_new(G_CHECKSUM_SHA256);
	gsize len = OTA_SHA256_LEN;

	g_checksum_update(c, data, (gssize)size);
	g_checksum_get_digest(c, out, &len);
}

/* A temporary file holding @size bytes of @data, open for reading. */
static int temp_file(const guint8 *data, gsize size, char **path)
{
	GError *error = NULL;
	int fd = g_file_open_tmp("test-bhi-XXXXXX", path, &error);

	g_assert_no_error(error);
	g_assert_true(ota_write_all(fd, data, size, &error));
	g_assert_no_error(error);
	return fd;
}

static guint8 *blocks(guint n, guint32 seed)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
	guint8 *data = g_malloc((gsize)n * OTA_BLOCK_SIZE);

	for (gsize i = 0; i < (gsize)n * OTA_BLOCK_SIZE; i++)
		data[i] = (guint8)g_rand_int(rand);
	return data;
}

static void test_image_sizes_rauc_refuses_are_refused(void)
{
	static const guint64 bad[] = {0, 1, 4095, 4097, 8191,
	                              (G_GUINT64_CONSTANT(1) << 32) * OTA_BLOCK_SIZE};
	static const guint64 good[] = {4096, 8192, (guint64)G_MAXUINT32 * OTA_BLOCK_SIZE};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;

		g_assert_false(ota_block_hash_index_check_image_size(bad[i], &error));
		g_assert_error(error, OTA_BLOCK_HASH_INDEX_ERROR, OTA_BLOCK_HASH_INDEX_ERROR_IMAGE_SIZE);
		g_assert_nonnull(strstr(error->message, "block-hash-index"));
	}
	for (gsize i = 0; i < G_N_ELEMENTS(good); i++)
		g_assert_true(ota_block_hash_index_check_image_size(good[i], NULL));
}

static void test_index_must_have_exactly_32_bytes_per_block(void)
{
	static const guint64 bad[] = {0, 32 * 3 - 1, 32 * 3 + 1, 32 * 4, 32 * 2, G_MAXUINT64};

	g_assert_true(ota_block_hash_index_check_size(3 * OTA_BLOCK_SIZE, 32 * 3, NULL));
	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;

		g_assert_false(ota_block_hash_index_check_size(3 * OTA_BLOCK_SIZE, bad[i], &error));
		g_assert_error(error, OTA_BLOCK_HASH_INDEX_ERROR, OTA_BLOCK_HASH_INDEX_ERROR_INDEX_SIZE);
	}
}

static void test_zero_block_hash_is_that_of_4096_zeros(void)
{
	guint8 zeros[OTA_BLOCK_SIZE] = {0};
	guint8 hash[OTA_SHA256_LEN];

	glib_sha256(zeros, sizeof(zeros), hash);
	g_assert_true(ota_block_hash_is_zero(hash));
	hash[31] ^= 1;
	g_assert_false(ota_block_hash_is_zero(hash));
}

static void test_index_is_the_sha256_of_each_block_concatenated(void)
{
	const guint n = 300; /* more than one read of 256 blocks */
	g_autofree guint8 *data = blocks(n, 1);
	g_autofree char *in_path = NULL, *out_path = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree guint8 *want = g_malloc((gsize)n * OTA_SHA256_LEN);
	g_autofree char *got = NULL;
	gsize got_len = 0;
	int in, out;

	memset(data + 7 * OTA_BLOCK_SIZE, 0, OTA_BLOCK_SIZE);
	in = temp_file(data, (gsize)n * OTA_BLOCK_SIZE, &in_path);
	out = temp_file(NULL, 0, &out_path);
	g_assert_true(ota_block_hash_index_write(in, (guint64)n * OTA_BLOCK_SIZE, out, &error));
	g_assert_no_error(error);
	for (guint i = 0; i < n; i++)
		glib_sha256(data + (gsize)i * OTA_BLOCK_SIZE, OTA_BLOCK_SIZE,
		            want + (gsize)i * OTA_SHA256_LEN);
	g_assert_true(g_file_get_contents(out_path, &got, &got_len, NULL));
	g_assert_cmpmem(got, got_len, want, (gsize)n * OTA_SHA256_LEN);
	g_assert_true(ota_block_hash_is_zero(want + 7 * OTA_SHA256_LEN));
	close(in);
	close(out);
	unlink(in_path);
	unlink(out_path);
}

static void test_index_of_a_file_that_ends_early_fails(void)
{
	g_autofree guint8 *data = blocks(2, 2);
	g_autofree char *in_path = NULL, *out_path = NULL;
	g_autoptr(GError) error = NULL;
	int in = temp_file(data, 2 * OTA_BLOCK_SIZE - 1, &in_path);
	int out = temp_file(NULL, 0, &out_path);

	g_assert_false(ota_block_hash_index_write(in, 2 * OTA_BLOCK_SIZE, out, &error));
	g_assert_nonnull(error);
	close(in);
	close(out);
	unlink(in_path);
	unlink(out_path);
}

/* An index whose block @i has the hash of seed block @i % @distinct. */
static guint8 *index_of(guint n, guint distinct)
{
	g_autofree guint8 *data = blocks(distinct, 3);
	guint8 *index = g_malloc((gsize)n * OTA_SHA256_LEN);

	for (guint i = 0; i < n; i++)
		glib_sha256(data + (gsize)(i % distinct) * OTA_BLOCK_SIZE, OTA_BLOCK_SIZE,
		            index + (gsize)i * OTA_SHA256_LEN);
	return index;
}

static void test_table_finds_each_block_by_hash_within_the_range(void)
{
	g_autofree guint8 *index = index_of(40, 10); /* each hash at i, i+10, i+20, i+30 */
	g_autoptr(OtaBlockTable) t = ota_block_table_new_from_index(index, 40, NULL);
	guint32 found[8];
	guint8 other[OTA_SHA256_LEN] = {1};

	g_assert_cmpuint(ota_block_table_get_count(t), ==, 40);
	g_assert_cmpuint(ota_block_table_find(t, index + 3 * 32, 0, G_MAXUINT32, found, 8), ==, 4);
	g_assert_cmpuint(found[0], ==, 3);
	g_assert_cmpuint(found[1], ==, 13);
	g_assert_cmpuint(found[3], ==, 33);
	/* [14, 33): only 23 */
	g_assert_cmpuint(ota_block_table_find(t, index + 3 * 32, 14, 33, found, 8), ==, 1);
	g_assert_cmpuint(found[0], ==, 23);
	/* at most @max, the lowest first */
	g_assert_cmpuint(ota_block_table_find(t, index + 3 * 32, 0, 40, found, 2), ==, 2);
	g_assert_cmpuint(found[1], ==, 13);
	g_assert_cmpuint(ota_block_table_find(t, index + 3 * 32, 34, 40, found, 8), ==, 0);
	g_assert_cmpuint(ota_block_table_find(t, other, 0, 40, found, 8), ==, 0);
}

/* A device full of one block (erased flash, a zeroed partition): a lookup
 * in any range answers at once and returns no more than asked. */
static void test_table_of_one_repeated_block_answers_any_range(void)
{
	const guint n = 200000;
	g_autofree guint8 *index = index_of(n, 1);
	g_autoptr(OtaBlockTable) t = ota_block_table_new_from_index(index, n, NULL);
	guint32 found[4];

	for (guint32 lo = 0; lo < n; lo += 997) {
		g_assert_cmpuint(ota_block_table_find(t, index, lo, n, found, 4), ==, MIN(4, n - lo));
		g_assert_cmpuint(found[0], ==, lo);
	}
}

static void test_table_of_a_device_leaves_out_a_trailing_partial_block(void)
{
	g_autofree guint8 *data = blocks(3, 4);
	g_autofree char *path = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaBlockTable) t = NULL;
	guint8 hash[OTA_SHA256_LEN];
	guint32 found[2];
	int fd = temp_file(data, 3 * OTA_BLOCK_SIZE - 100, &path);

	t = ota_block_table_new_from_fd(fd, 3 * OTA_BLOCK_SIZE - 100, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ota_block_table_get_count(t), ==, 2);
	glib_sha256(data + OTA_BLOCK_SIZE, OTA_BLOCK_SIZE, hash);
	g_assert_cmpuint(ota_block_table_find(t, hash, 0, G_MAXUINT32, found, 2), ==, 1);
	g_assert_cmpuint(found[0], ==, 1);
	close(fd);
	unlink(path);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/block-hash-index/image-sizes-rauc-refuses-are-refused",
	                test_image_sizes_rauc_refuses_are_refused);
	g_test_add_func("/block-hash-index/index-must-have-exactly-32-bytes-per-block",
	                test_index_must_have_exactly_32_bytes_per_block);
	g_test_add_func("/block-hash-index/zero-block-hash-is-that-of-4096-zeros",
	                test_zero_block_hash_is_that_of_4096_zeros);
	g_test_add_func("/block-hash-index/index-is-the-sha256-of-each-block-concatenated",
	                test_index_is_the_sha256_of_each_block_concatenated);
	g_test_add_func("/block-hash-index/index-of-a-file-that-ends-early-fails",
	                test_index_of_a_file_that_ends_early_fails);
	g_test_add_func("/block-hash-index/table-finds-each-block-by-hash-within-the-range",
	                test_table_finds_each_block_by_hash_within_the_range);
	g_test_add_func("/block-hash-index/table-of-one-repeated-block-answers-any-range",
	                test_table_of_one_repeated_block_answers_any_range);
	g_test_add_func("/block-hash-index/table-of-a-device-leaves-out-a-trailing-partial-block",
	                test_table_of_a_device_leaves_out_a_trailing_partial_block);
	return g_test_run();
}
