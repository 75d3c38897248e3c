/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* casync chunk indexes (casync-private.h): the on-disk layout casync
 * writes, and hostile indexes refused without trusting their lengths. */
#include "casync-private.h"

#include <string.h>

static void put_le64(GByteArray *a, guint64 v)
{
	guint8 b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (guint8)(v >> (8 * i));
	g_byte_array_append(a, b, 8);
}

/* A blob index with chunks ending at @ends (@n of them), IDs zero. */
static GByteArray *make_index(const guint64 *ends, guint n, guint64 chunk_max)
{
	GByteArray *a = g_byte_array_new();
	guint8 id[32] = {0};

	put_le64(a, OTA_CASYNC_INDEX_HEADER_SIZE);
	put_le64(a, OTA_CASYNC_FORMAT_INDEX);
	put_le64(a, 0);
	put_le64(a, 1);
	put_le64(a, chunk_max / 2);
	put_le64(a, chunk_max);
	put_le64(a, G_MAXUINT64);
	put_le64(a, OTA_CASYNC_FORMAT_TABLE);
	for (guint i = 0; i < n; i++) {
		put_le64(a, ends[i]);
		g_byte_array_append(a, id, sizeof(id));
	}
	put_le64(a, 0);
	put_le64(a, 0);
	put_le64(a, OTA_CASYNC_INDEX_HEADER_SIZE);
	put_le64(a, OTA_CASYNC_TABLE_HEADER_SIZE + (guint64)n * OTA_CASYNC_TABLE_ITEM_SIZE +
	                OTA_CASYNC_TABLE_TAIL_SIZE);
	put_le64(a, OTA_CASYNC_FORMAT_TABLE_TAIL_MARKER);
	return a;
}

static void set_le64(GByteArray *a, gsize at, guint64 v)
{
	for (int i = 0; i < 8; i++)
		a->data[at + i] = (guint8)(v >> (8 * i));
}

static void assert_refused(const GByteArray *a, gsize length, const char *needle)
{
	g_autoptr(GError) error = NULL;
	OtaCasyncIndex index;

	g_assert_false(ota_casync_index_parse(a->data, length, &index, &error));
	g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED);
	if (strstr(error->message, needle) == NULL)
		g_error("'%s' does not mention '%s'", error->message, needle);
}

static void test_layout_is_casync_s(void)
{
	g_assert_cmpint(OTA_CASYNC_INDEX_HEADER_SIZE, ==, 48);
	g_assert_cmpint(OTA_CASYNC_TABLE_HEADER_SIZE, ==, 16);
	g_assert_cmpint(OTA_CASYNC_TABLE_ITEM_SIZE, ==, 40);
	g_assert_cmpint(OTA_CASYNC_TABLE_TAIL_SIZE, ==, 40);
	g_assert_cmpint(OTA_CASYNC_CHUNK_SIZE_MAX, ==, 128 * 1024 * 1024);
}

static void test_parses_chunks_and_total(void)
{
	static const guint64 ends[] = {4096, 6000, 70000};
	g_autoptr(GByteArray) a = make_index(ends, 3, 65536);
	g_autoptr(GError) error = NULL;
	OtaCasyncIndex index;

	g_assert_true(ota_casync_index_parse(a->data, a->len, &index, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(index.n_chunks, ==, 3);
	g_assert_cmpuint(index.total_size, ==, 70000);
	g_assert_cmpuint(index.chunk_size_max, ==, 65536);
}

static void test_an_empty_index_rebuilds_nothing(void)
{
	g_autoptr(GByteArray) a = make_index(NULL, 0, 65536);
	g_autoptr(GError) error = NULL;
	OtaCasyncIndex index;

	g_assert_true(ota_casync_index_parse(a->data, a->len, &index, &error));
	g_assert_cmpuint(index.total_size, ==, 0);
}

static void test_refuses_every_truncation(void)
{
	static const guint64 ends[] = {4096, 8192};
	g_autoptr(GByteArray) a = make_index(ends, 2, 65536);

	for (gsize length = 0; length < a->len; length++) {
		g_autoptr(GError) error = NULL;
		OtaCasyncIndex index;

		g_assert_false(ota_casync_index_parse(a->data, length, &index, &error));
		g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED);
	}
}

static void test_refuses_a_file_that_is_no_index(void)
{
	g_autoptr(GByteArray) a = make_index(NULL, 0, 65536);

	set_le64(a, 8, 0x1396fabcea5bbb51); /* a catar entry, not an index */
	assert_refused(a, a->len, "no index header");
}

static void test_refuses_chunk_limits_out_of_order(void)
{
	g_autoptr(GByteArray) a = make_index(NULL, 0, 65536);

	set_le64(a, 24, 65537); /* min above avg */
	assert_refused(a, a->len, "chunk sizes");
	set_le64(a, 24, 1);
	set_le64(a, 40, G_MAXUINT64); /* max beyond casync's limit */
	assert_refused(a, a->len, "chunk sizes");
}

static void test_refuses_decreasing_and_overlong_chunks(void)
{
	static const guint64 down[] = {8192, 4096};
	static const guint64 same[] = {4096, 4096};
	static const guint64 huge[] = {4096, G_MAXUINT64};
	g_autoptr(GByteArray) a = make_index(down, 2, 65536);
	g_autoptr(GByteArray) b = make_index(same, 2, 65536);
	g_autoptr(GByteArray) c = make_index(huge, 2, 65536);

	assert_refused(a, a->len, "chunk 1");
	assert_refused(b, b->len, "chunk 1");
	assert_refused(c, c->len, "chunk 1");
}

static void test_refuses_a_tail_that_disagrees_with_the_file(void)
{
	static const guint64 ends[] = {4096};
	g_autoptr(GByteArray) a = make_index(ends, 1, 65536);
	gsize tail = a->len - OTA_CASYNC_TABLE_TAIL_SIZE;

	set_le64(a, tail + 24, G_MAXUINT64);
	assert_refused(a, a->len, "table bytes");
	set_le64(a, tail + 24, 96);
	set_le64(a, tail + 16, 0);
	assert_refused(a, a->len, "puts the table at");
	set_le64(a, tail + 16, 48);
	set_le64(a, tail, 1);
	assert_refused(a, a->len, "padding");
}

static void test_refuses_bytes_after_the_tail(void)
{
	static const guint64 ends[] = {4096};
	g_autoptr(GByteArray) a = make_index(ends, 1, 65536);
	guint8 extra[40] = {0};

	g_byte_array_append(a, extra, sizeof(extra));
	assert_refused(a, a->len, "casync index");
}

static void test_default_store_is_rauc_s(void)
{
	g_autofree char *a = ota_casync_default_store("/srv/update.raucb");
	g_autofree char *b = ota_casync_default_store("https://u.example/x.raucb");
	g_autofree char *c = ota_casync_default_store("/srv/update.bin");

	g_assert_cmpstr(a, ==, "/srv/update.castr");
	g_assert_cmpstr(b, ==, "https://u.example/x.castr");
	g_assert_cmpstr(c, ==, "/srv/update.bin.castr");
}

static void test_image_kind_is_by_filename(void)
{
	OtaImage blob = {.filename = (char *)"rootfs.ext4.caibx"};
	OtaImage tree = {.filename = (char *)"rootfs.tar.caidx"};
	OtaImage plain = {.filename = (char *)"rootfs.caibx.img"};

	g_assert_cmpint(ota_image_get_casync(&blob), ==, OTA_IMAGE_CASYNC_BLOB);
	g_assert_cmpint(ota_image_get_casync(&tree), ==, OTA_IMAGE_CASYNC_TREE);
	g_assert_cmpint(ota_image_get_casync(&plain), ==, OTA_IMAGE_CASYNC_NONE);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/casync-index/layout-is-casync-s", test_layout_is_casync_s);
	g_test_add_func("/casync-index/parses-chunks-and-total", test_parses_chunks_and_total);
	g_test_add_func("/casync-index/an-empty-index-rebuilds-nothing",
	                test_an_empty_index_rebuilds_nothing);
	g_test_add_func("/casync-index/refuses-every-truncation", test_refuses_every_truncation);
	g_test_add_func("/casync-index/refuses-a-file-that-is-no-index",
	                test_refuses_a_file_that_is_no_index);
	g_test_add_func("/casync-index/refuses-chunk-limits-out-of-order",
	                test_refuses_chunk_limits_out_of_order);
	g_test_add_func("/casync-index/refuses-decreasing-and-overlong-chunks",
	                test_refuses_decreasing_and_overlong_chunks);
	g_test_add_func("/casync-index/refuses-a-tail-that-disagrees-with-the-file",
	                test_refuses_a_tail_that_disagrees_with_the_file);
	g_test_add_func("/casync-index/refuses-bytes-after-the-tail",
	                test_refuses_bytes_after_the_tail);
	g_test_add_func("/casync-index/default-store-is-rauc-s", test_default_store_is_rauc_s);
	g_test_add_func("/casync-index/image-kind-is-by-filename", test_image_kind_is_by_filename);
	return g_test_run();
}
