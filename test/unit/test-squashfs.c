/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "squashfs-private.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pki.h"

typedef struct {
	char *dir;
	char *image;
	GBytes *big;
	int fd;
	guint64 size;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
	const char *extra = data;
	g_autofree char *src = NULL, *a = NULL, *big = NULL, *link = NULL, *sub = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree guint8 *bytes = g_malloc(300001);
	g_auto(GStrv) args = NULL;
	struct stat st;

	f->dir = test_tmpdir_new();
	src = g_build_filename(f->dir, "src", NULL);
	g_assert_cmpint(mkdir(src, 0755), ==, 0);
	a = g_build_filename(src, "a.txt", NULL);
	g_assert_true(g_file_set_contents(a, "hello", 5, NULL));
	for (gsize i = 0; i < 300001; i++)
		bytes[i] = (guint8)g_random_int();
	f->big = g_bytes_new(bytes, 300001);
	big = g_build_filename(src, "big.img", NULL);
	g_assert_true(g_file_set_contents(big, (const char *)bytes, 300001, NULL));
	link = g_build_filename(src, "link", NULL);
	g_assert_cmpint(symlink("a.txt", link), ==, 0);
	sub = g_build_filename(src, "sub", NULL);
	g_assert_cmpint(mkdir(sub, 0755), ==, 0);

	f->image = g_build_filename(f->dir, "image.sqfs", NULL);
	/* The fixture's data: a compression name, or (with a '-') mksquashfs flags. */
	args = extra && extra[0] == '-' ? ota_squashfs_build_args(NULL, extra, &error)
	                                : ota_squashfs_build_args(extra, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(ota_squashfs_create((const char *const[]){a, big, link, sub, NULL}, f->image,
	                                  (const char *const *)args, NULL, &error));
	g_assert_no_error(error);
	f->fd = open(f->image, O_RDONLY);
	g_assert_cmpint(fstat(f->fd, &st), ==, 0);
	f->size = (guint64)st.st_size;
}

static void teardown(Fixture *f, gconstpointer data)
{
	close(f->fd);
	g_bytes_unref(f->big);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->image);
}

static OtaSquashfs *open_image(Fixture *f, OtaReader **reader)
{
	g_autoptr(GError) error = NULL;
	OtaSquashfs *sq;

	*reader = ota_reader_new_fd(f->fd, 0, f->size, &error);
	sq = ota_squashfs_open(*reader, &error);
	g_assert_no_error(error);
	return sq;
}

static void test_image_is_padded_to_4k(Fixture *f, gconstpointer data)
{
	g_assert_cmpuint(f->size % 4096, ==, 0);
}

static void test_reads_small_file(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaReader) r = NULL;
	g_autoptr(OtaSquashfs) sq = open_image(f, &r);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) a = ota_squashfs_read_small_file(sq, "a.txt", 100, &error);

	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(a, NULL), g_bytes_get_size(a), "hello", 5);
}

static void test_reads_multi_block_file_exactly(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaReader) r = NULL;
	g_autoptr(OtaSquashfs) sq = open_image(f, &r);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) big = ota_squashfs_read_small_file(sq, "big.img", 1 << 20, &error);
	guint64 size = 0;

	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(big, f->big));
	g_assert_true(ota_squashfs_stat_file(sq, "big.img", &size, &error));
	g_assert_cmpuint(size, ==, 300001);
}

/* Adaptive updates read scattered pieces of an image: across block
 * boundaries, inside the tail fragment, backwards. */
static void test_random_access_reads_exactly_the_bytes_asked_for(Fixture *f, gconstpointer data)
{
	static const struct {
		guint64 offset;
		gsize size;
	} reads[] = {{290000, 10001}, {0, 4096}, {131000, 2000}, {4096, 262144}, {299999, 2},
	             {12345, 1}, {0, 300001}, {1000, 150000}, {151000, 20000}, {171000, 129001}};
	g_autoptr(OtaReader) r = NULL;
	g_autoptr(OtaSquashfs) sq = open_image(f, &r);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSquashfsFile) file = ota_squashfs_file_open(sq, "big.img", &error);
	const guint8 *want = g_bytes_get_data(f->big, NULL);
	g_autofree guint8 *buf = g_malloc(300001);

	g_assert_no_error(error);
	g_assert_cmpuint(ota_squashfs_file_get_size(file), ==, 300001);
	for (gsize i = 0; i < G_N_ELEMENTS(reads); i++) {
		g_assert_true(ota_squashfs_file_read_at(file, reads[i].offset, buf, reads[i].size,
		                                        &error));
		g_assert_no_error(error);
		g_assert_cmpmem(buf, reads[i].size, want + reads[i].offset, reads[i].size);
	}
}

static void test_random_access_past_the_end_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaReader) r = NULL;
	g_autoptr(OtaSquashfs) sq = open_image(f, &r);
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSquashfsFile) file = ota_squashfs_file_open(sq, "big.img", &error);
	guint8 buf[16];

	g_assert_no_error(error);
	g_assert_false(ota_squashfs_file_read_at(file, 299990, buf, 12, &error));
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CORRUPTED);
	g_clear_error(&error);
	g_assert_false(ota_squashfs_file_read_at(file, G_MAXUINT64, buf, 1, &error));
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CORRUPTED);
	g_clear_error(&error);
	g_assert_null(ota_squashfs_file_open(sq, "sub", &error));
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_NOT_REGULAR);
}

static void test_symlink_is_not_a_regular_file(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaReader) r = NULL;
	g_autoptr(OtaSquashfs) sq = open_image(f, &r);
	g_autoptr(GError) error = NULL;
	guint64 size;

	g_assert_false(ota_squashfs_stat_file(sq, "link", &size, &error));
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_NOT_REGULAR);
}

static void test_directory_is_not_a_regular_file(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaReader) r = NULL;
	g_autoptr(OtaSquashfs) sq = open_image(f, &r);
	g_autoptr(GError) error = NULL;
	guint64 size;

	g_assert_false(ota_squashfs_stat_file(sq, "sub", &size, &error));
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_NOT_REGULAR);
}

static void test_missing_entry_is_not_found(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaReader) r = NULL;
	g_autoptr(OtaSquashfs) sq = open_image(f, &r);
	g_autoptr(GError) error = NULL;
	guint64 size;

	g_assert_false(ota_squashfs_stat_file(sq, "nope", &size, &error));
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_NOT_FOUND);
}

static void test_small_file_limit_is_enforced(Fixture *f, gconstpointer data)
{
	g_autoptr(OtaReader) r = NULL;
	g_autoptr(OtaSquashfs) sq = open_image(f, &r);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) big = ota_squashfs_read_small_file(sq, "big.img", 1000, &error);

	g_assert_null(big);
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_TOO_LARGE);
}

static void test_image_larger_than_its_window_is_corrupted(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = ota_reader_new_fd(f->fd, 0, 4096, &error);
	g_autoptr(OtaSquashfs) sq = ota_squashfs_open(r, &error);

	g_assert_null(sq);
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CORRUPTED);
}

static void test_garbage_is_corrupted(Fixture *f, gconstpointer data)
{
	g_autofree char *path = g_build_filename(f->dir, "garbage", NULL);
	g_autofree char *junk = g_strnfill(8192, 'x');
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = NULL;
	g_autoptr(OtaSquashfs) sq = NULL;
	int fd;

	g_assert_true(g_file_set_contents(path, junk, 8192, NULL));
	fd = open(path, O_RDONLY);
	r = ota_reader_new_fd(fd, 0, 8192, &error);
	close(fd);
	sq = ota_squashfs_open(r, &error);
	g_assert_null(sq);
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CORRUPTED);
}

static void patch_u32(Fixture *f, off_t offset, guint32 value)
{
	int fd = open(f->image, O_RDWR);

	g_assert_cmpint(pwrite(fd, &value, 4, offset), ==, 4);
	close(fd);
}

/* A forged superblock must not make libsquashfs allocate gigabytes for a
 * fragment table before anything was checked. */
static void test_forged_fragment_count_is_corrupted(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = NULL;
	g_autoptr(OtaSquashfs) sq = NULL;

	patch_u32(f, 16, GUINT32_TO_LE(0xfffffff0)); /* fragment_entry_count */
	r = ota_reader_new_fd(f->fd, 0, f->size, &error);
	sq = ota_squashfs_open(r, &error);
	g_assert_null(sq);
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CORRUPTED);
	g_assert_nonnull(strstr(error->message, "fragment count"));
}

static void test_forged_block_size_is_corrupted(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = NULL;
	g_autoptr(OtaSquashfs) sq = NULL;

	patch_u32(f, 12, GUINT32_TO_LE(1u << 30)); /* block_size */
	r = ota_reader_new_fd(f->fd, 0, f->size, &error);
	sq = ota_squashfs_open(r, &error);
	g_assert_null(sq);
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CORRUPTED);
}

static void test_lzo_image_is_unsupported_not_corrupted(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = ota_reader_new_fd(f->fd, 0, f->size, &error);
	g_autoptr(OtaSquashfs) sq = ota_squashfs_open(r, &error);

	g_assert_null(sq);
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_UNSUPPORTED);
	g_assert_nonnull(strstr(error->message, "lzo"));
}

static void test_mksquashfs_failure_is_reported(void)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_squashfs_create((const char *const[]){"/nonexistent-src", NULL},
	                                   "/nonexistent-dir/out.sqfs", NULL, NULL, &error));
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_CREATE);
}

static void test_unbalanced_extra_args_are_refused(void)
{
	g_autoptr(GError) error = NULL;

	g_assert_null(ota_squashfs_build_args(NULL, "-comp 'xz", &error));
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_ARGS);
	g_assert_nonnull(strstr(error->message, "--mksquashfs-args"));
}

static char *joined_args(const char *compression, const char *extra)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) args = ota_squashfs_build_args(compression, extra, &error);

	g_assert_no_error(error);
	return g_strjoinv(" ", args);
}

static void test_default_compression_is_zstd_level_3_with_bounded_cache(void)
{
	g_autofree char *args = joined_args(NULL, NULL);

	g_assert_cmpstr(args, ==, "-comp zstd -Xcompression-level 3 -mem 128M");
}

static void test_compression_levels_are_passed_on(void)
{
	g_autofree char *gzip = joined_args("gzip", NULL);
	g_autofree char *gzip1 = joined_args("gzip:1", NULL);
	g_autofree char *zstd19 = joined_args("zstd:19", NULL);
	g_autofree char *none = joined_args("none", "-b 4096");

	g_assert_cmpstr(gzip, ==, "-comp gzip -Xcompression-level 9 -mem 128M");
	g_assert_cmpstr(gzip1, ==, "-comp gzip -Xcompression-level 1 -mem 128M");
	g_assert_cmpstr(zstd19, ==, "-comp zstd -Xcompression-level 19 -mem 128M");
	g_assert_cmpstr(none, ==, "-noI -noD -noF -noX -mem 128M -b 4096");
}

static void test_mksquashfs_args_choosing_compression_replace_the_default(void)
{
	g_autofree char *xz = joined_args(NULL, "-comp xz");
	g_autofree char *raw = joined_args(NULL, "-noD -noF");
	g_autofree char *mem = joined_args(NULL, "-comp lz4 -mem 1G");

	g_assert_cmpstr(xz, ==, "-mem 128M -comp xz");
	g_assert_cmpstr(raw, ==, "-mem 128M -noD -noF");
	g_assert_cmpstr(mem, ==, "-mem 128M -comp lz4 -mem 1G");
}

static void test_bad_compression_is_refused(gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_null(ota_squashfs_build_args(data, NULL, &error));
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_ARGS);
	g_assert_nonnull(strstr(error->message, data));
}

static void test_compression_twice_is_refused(void)
{
	g_autoptr(GError) error = NULL;

	g_assert_null(ota_squashfs_build_args("gzip", "-comp xz", &error));
	g_assert_error(error, OTA_SQUASHFS_ERROR, OTA_SQUASHFS_ERROR_ARGS);
	g_assert_nonnull(strstr(error->message, "--compression"));
}

static void test_append_adds_a_file_with_the_image_compression(Fixture *f, gconstpointer data)
{
	g_autofree char *extra = g_build_filename(f->dir, "manifest.raucm", NULL);
	g_autoptr(OtaReader) reader = NULL;
	g_autoptr(OtaSquashfs) sq = NULL;
	g_autoptr(GBytes) text = NULL;
	g_autoptr(GError) error = NULL;
	struct stat st;

	g_assert_true(g_file_set_contents(extra, "appended", -1, NULL));
	g_assert_true(ota_squashfs_append((const char *const[]){extra, NULL}, f->image, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(stat(f->image, &st), ==, 0);
	g_assert_cmpint(st.st_size % 4096, ==, 0);
	close(f->fd);
	f->fd = open(f->image, O_RDONLY);
	reader = ota_reader_new_fd(f->fd, 0, (guint64)st.st_size, &error);
	g_assert_no_error(error);
	sq = ota_squashfs_open(reader, &error);
	g_assert_no_error(error);
	text = ota_squashfs_read_small_file(sq, "manifest.raucm", 100, &error);
	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(text, NULL), g_bytes_get_size(text), "appended", 8);
	/* What was there stays readable. */
	test_reads_multi_block_file_exactly(f, data);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/squashfs/" name, Fixture, NULL, setup, fn, teardown)
	ADD("image-is-padded-to-4k", test_image_is_padded_to_4k);
	ADD("reads-small-file", test_reads_small_file);
	ADD("reads-multi-block-file-exactly", test_reads_multi_block_file_exactly);
	ADD("random-access-reads-exactly-the-bytes-asked-for",
	    test_random_access_reads_exactly_the_bytes_asked_for);
	ADD("random-access-past-the-end-is-refused", test_random_access_past_the_end_is_refused);
	ADD("symlink-is-not-a-regular-file", test_symlink_is_not_a_regular_file);
	ADD("directory-is-not-a-regular-file", test_directory_is_not_a_regular_file);
	ADD("missing-entry-is-not-found", test_missing_entry_is_not_found);
	ADD("small-file-limit-is-enforced", test_small_file_limit_is_enforced);
	ADD("image-larger-than-its-window-is-corrupted", test_image_larger_than_its_window_is_corrupted);
	ADD("garbage-is-corrupted", test_garbage_is_corrupted);
	ADD("forged-fragment-count-is-corrupted", test_forged_fragment_count_is_corrupted);
	ADD("forged-block-size-is-corrupted", test_forged_block_size_is_corrupted);
	g_test_add("/squashfs/lzo-image-is-unsupported-not-corrupted", Fixture, "-comp lzo", setup,
	           test_lzo_image_is_unsupported_not_corrupted, teardown);
	g_test_add_func("/squashfs/mksquashfs-failure-is-reported", test_mksquashfs_failure_is_reported);
	g_test_add_func("/squashfs/unbalanced-extra-args-are-refused",
	                test_unbalanced_extra_args_are_refused);
	g_test_add_func("/squashfs/default-compression-is-zstd-level-3-with-bounded-cache",
	                test_default_compression_is_zstd_level_3_with_bounded_cache);
	g_test_add_func("/squashfs/compression-levels-are-passed-on",
	                test_compression_levels_are_passed_on);
	g_test_add_func("/squashfs/mksquashfs-args-choosing-compression-replace-the-default",
	                test_mksquashfs_args_choosing_compression_replace_the_default);
	g_test_add_data_func("/squashfs/unknown-compression-is-refused", "brotli",
	                     test_bad_compression_is_refused);
	g_test_add_data_func("/squashfs/gzip-level-above-9-is-refused", "gzip:10",
	                     test_bad_compression_is_refused);
	g_test_add_data_func("/squashfs/zstd-level-0-is-refused", "zstd:0",
	                     test_bad_compression_is_refused);
	g_test_add_data_func("/squashfs/xz-takes-no-level", "xz:6", test_bad_compression_is_refused);
	g_test_add_func("/squashfs/compression-given-twice-is-refused",
	                test_compression_twice_is_refused);
	for (const char *const *c = (const char *const[]){"gzip", "xz", "zstd", "lz4", "none", NULL};
	     *c; c++) {
		g_autofree char *path = g_strdup_printf("/squashfs/reads-%s-image", *c);
		g_test_add(path, Fixture, *c, setup, test_reads_multi_block_file_exactly, teardown);
	}
	g_test_add("/squashfs/append-adds-a-file-with-the-image-compression", Fixture, "gzip", setup,
	           test_append_adds_a_file_with_the_image_compression, teardown);
	return g_test_run();
}
