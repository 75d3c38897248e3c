/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "verity-private.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pki.h"

#define BLOCK OTA_VERITY_BLOCK_SIZE

typedef struct {
	char *dir;
	char *path; /* data followed by its tree, as in a bundle */
	int fd;
	OtaVerityParams params;
} Fixture;

/* Fixture data: the number of 4 KiB data blocks. */
static void setup(Fixture *f, gconstpointer data)
{
	guint64 blocks = GPOINTER_TO_UINT(data);
	g_autofree guint8 *buf = g_malloc(BLOCK);
	g_autoptr(GError) error = NULL;

	f->dir = test_tmpdir_new();
	f->path = g_build_filename(f->dir, "payload", NULL);
	f->fd = open(f->path, O_RDWR | O_CREAT, 0600);
	for (guint64 b = 0; b < blocks; b++) {
		for (gsize i = 0; i < BLOCK; i++)
			buf[i] = (guint8)g_random_int();
		g_assert_true(ota_write_all(f->fd, buf, BLOCK, &error));
	}
	f->params.data_size = blocks * BLOCK;
	for (gsize i = 0; i < OTA_VERITY_SALT_LEN; i++)
		f->params.salt[i] = (guint8)g_random_int();
	g_assert_true(ota_verity_tree_build(f->fd, f->params.data_size, &f->params, &error));
	g_assert_no_error(error);
}

static void teardown(Fixture *f, gconstpointer data)
{
	close(f->fd);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

static void flip(Fixture *f, guint64 offset)
{
	guint8 byte;

	g_assert_cmpint(pread(f->fd, &byte, 1, (off_t)offset), ==, 1);
	byte ^= 0x80;
	g_assert_cmpint(pwrite(f->fd, &byte, 1, (off_t)offset), ==, 1);
}

static char *hex(const guint8 *bytes, gsize n)
{
	GString *s = g_string_new(NULL);

	for (gsize i = 0; i < n; i++)
		g_string_append_printf(s, "%02x", bytes[i]);
	return g_string_free(s, FALSE);
}

static void test_tree_sizes(void)
{
	g_assert_cmpuint(ota_verity_tree_size(0), ==, 0);
	g_assert_cmpuint(ota_verity_tree_size(100), ==, 0);
	g_assert_cmpuint(ota_verity_tree_size(BLOCK), ==, 0);
	g_assert_cmpuint(ota_verity_tree_size(2 * BLOCK), ==, BLOCK);
	g_assert_cmpuint(ota_verity_tree_size(128 * BLOCK), ==, BLOCK);
	/* 129 blocks: two level-0 blocks and one top block. */
	g_assert_cmpuint(ota_verity_tree_size(129 * BLOCK), ==, 3 * BLOCK);
	/* 128*128+1 blocks: 129 + 2 + 1 hash blocks. */
	g_assert_cmpuint(ota_verity_tree_size((128 * 128 + 1) * (guint64)BLOCK), ==, 132 * BLOCK);
}

/* The reference is cryptsetup's veritysetup, which RAUC's format follows. */
static void test_tree_matches_veritysetup(Fixture *f, gconstpointer data)
{
	g_autofree char *data_path = g_build_filename(f->dir, "data", NULL);
	g_autofree char *tree_path = g_build_filename(f->dir, "tree", NULL);
	g_autofree char *salt = hex(f->params.salt, OTA_VERITY_SALT_LEN);
	g_autofree char *root = hex(f->params.root, OTA_SHA256_LEN);
	g_autofree char *salt_arg = g_strdup_printf("--salt=%s", salt);
	g_autofree char *out = NULL;
	g_autofree char *ours = g_malloc(f->params.tree_size);
	g_autofree char *theirs = NULL;
	g_autoptr(GError) error = NULL;
	gsize theirs_len = 0;
	int status = -1;
	g_autoptr(GMappedFile) whole = g_mapped_file_new(f->path, FALSE, &error);

	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(data_path, g_mapped_file_get_contents(whole),
	                                  (gssize)f->params.data_size, NULL));
	g_assert_true(g_spawn_sync(NULL,
	                           (char *[]){"veritysetup", "format", data_path, tree_path,
	                                      "--no-superblock", "--hash=sha256",
	                                      "--data-block-size=4096", "--hash-block-size=4096",
	                                      salt_arg, NULL},
	                           NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
	g_assert_nonnull(strstr(out, root));
	g_assert_true(g_file_get_contents(tree_path, &theirs, &theirs_len, NULL));
	g_assert_cmpuint(theirs_len, ==, f->params.tree_size);
	g_assert_true(ota_pread_all(f->fd, ours, f->params.tree_size, f->params.data_size, &error));
	g_assert_cmpmem(ours, f->params.tree_size, theirs, theirs_len);
}

static void test_untouched_tree_checks(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_verity_tree_check(f->fd, f->params.data_size, &f->params, &error));
	g_assert_no_error(error);
}

static void assert_check_mismatch(Fixture *f)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_verity_tree_check(f->fd, f->params.data_size, &f->params, &error));
	g_assert_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_MISMATCH);
}

static void test_flipped_data_byte_fails_check(Fixture *f, gconstpointer data)
{
	flip(f, f->params.data_size - 1);
	assert_check_mismatch(f);
}

static void test_flipped_level0_byte_fails_check(Fixture *f, gconstpointer data)
{
	flip(f, f->params.data_size + f->params.tree_size - BLOCK);
	assert_check_mismatch(f);
}

static void test_flipped_top_block_byte_fails_check(Fixture *f, gconstpointer data)
{
	flip(f, f->params.data_size);
	assert_check_mismatch(f);
}

/* Bytes past the last digest are zero padding, still covered by the root. */
static void test_flipped_padding_byte_fails_check(Fixture *f, gconstpointer data)
{
	flip(f, f->params.data_size + f->params.tree_size - 1);
	assert_check_mismatch(f);
}

static void test_wrong_root_fails_check(Fixture *f, gconstpointer data)
{
	f->params.root[0] ^= 1;
	assert_check_mismatch(f);
}

static void test_truncated_tree_fails_check(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(ftruncate(f->fd, (off_t)(f->params.data_size + f->params.tree_size - 1)), ==, 0);
	g_assert_false(ota_verity_tree_check(f->fd, f->params.data_size, &f->params, &error));
	g_assert_nonnull(error);
}

static void test_wrong_tree_size_is_invalid(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->params.tree_size += BLOCK;
	g_assert_false(ota_verity_tree_check(f->fd, f->params.data_size, &f->params, &error));
	g_assert_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_INVALID);
}

/* Found by fuzzing: forged parameters must not size an allocation before
 * the file is known to hold that much. */
static void test_claimed_size_beyond_the_file_is_invalid(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	OtaVerityParams forged = f->params;

	forged.data_size = (guint64)1 << 50;
	forged.tree_size = ota_verity_tree_size(forged.data_size);
	g_assert_false(ota_verity_tree_check(f->fd, forged.data_size, &forged, &error));
	g_assert_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_INVALID);
}

static void test_reader_returns_exact_bytes(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = ota_verity_reader_new(f->fd, f->params.data_size, &f->params, &error);
	guint64 size = f->params.data_size;
	g_autofree guint8 *got = g_malloc(size), *want = g_malloc(size);

	g_assert_no_error(error);
	g_assert_true(ota_pread_all(f->fd, want, size, 0, &error));
	/* Unaligned ranges, one larger than a reader run. */
	g_assert_true(ota_reader_read_at(r, 1, got + 1, size - 2, &error));
	g_assert_no_error(error);
	g_assert_cmpmem(got + 1, size - 2, want + 1, size - 2);
	g_assert_true(ota_reader_read_at(r, size - 5, got, 5, &error));
	g_assert_cmpmem(got, 5, want + size - 5, 5);
}

/* The point of the reader: a block changed after the tree was checked is
 * never served. A reader serves what it has checked, from memory; reading
 * the changed block from the file fails. */
static void test_reader_catches_block_changed_after_check(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = ota_verity_reader_new(f->fd, f->params.data_size, &f->params, &error);
	g_autoptr(OtaReader) fresh = NULL;
	guint8 before[16], buf[16];
	guint64 last = f->params.data_size - BLOCK;

	g_assert_true(ota_verity_tree_check(f->fd, f->params.data_size, &f->params, &error));
	g_assert_true(ota_reader_read_at(r, last + 100, before, sizeof(before), &error));
	flip(f, last + 100);
	g_assert_true(ota_reader_read_at(r, last + 100, buf, sizeof(buf), &error));
	g_assert_cmpmem(buf, sizeof(buf), before, sizeof(before));

	fresh = ota_verity_reader_new(f->fd, f->params.data_size, &f->params, &error);
	g_assert_false(ota_reader_read_at(fresh, last, buf, sizeof(buf), &error));
	g_assert_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_MISMATCH);
	g_clear_error(&error);
	g_assert_true(ota_reader_read_at(fresh, 0, buf, sizeof(buf), &error));
}

static void test_reader_refuses_forged_tree(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaReader) r = NULL;
	guint8 buf[16];

	flip(f, f->params.data_size + 5); /* the top hash block */
	r = ota_verity_reader_new(f->fd, f->params.data_size, &f->params, &error);
	g_assert_false(ota_reader_read_at(r, 0, buf, sizeof(buf), &error));
	g_assert_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_MISMATCH);
}

/* An OtaReader over another that counts what is read below @tree_offset
 * (data) and from there on (the tree): the bytes a network reader would
 * have to fetch. */
typedef struct {
	OtaReader base;
	OtaReader *inner;
	guint64 tree_offset;
	guint64 data_bytes, data_reads, tree_bytes;
} CountingReader;

static gboolean counting_read_at(OtaReader *self, guint64 offset, void *buffer, gsize size,
                                 GError **error)
{
	CountingReader *c = (CountingReader *)self;

	if (offset < c->tree_offset) {
		c->data_bytes += size;
		c->data_reads++;
	} else {
		c->tree_bytes += size;
	}
	return ota_reader_read_at(c->inner, offset, buffer, size, error);
}

static void counting_free(OtaReader *self)
{
	CountingReader *c = (CountingReader *)self;

	ota_reader_free(c->inner);
	g_free(c);
}

static CountingReader *counting_reader_new(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	CountingReader *c = g_new0(CountingReader, 1);

	c->base.read_at = counting_read_at;
	c->base.free = counting_free;
	c->base.size = f->params.data_size + f->params.tree_size;
	c->tree_offset = f->params.data_size;
	c->inner = ota_reader_new_fd(f->fd, 0, c->base.size, &error);
	g_assert_no_error(error);
	return c;
}

static void test_reader_over_any_reader_returns_exact_bytes(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	CountingReader *file = counting_reader_new(f);
	OtaReader *r = ota_verity_reader_new_for(&file->base, f->params.data_size, &f->params, &error);
	guint64 size = f->params.data_size;
	g_autofree guint8 *got = g_malloc(size), *want = g_malloc(size);

	g_assert_no_error(error);
	g_assert_true(ota_pread_all(f->fd, want, size, 0, &error));
	g_assert_true(ota_reader_read_at(r, 3, got + 3, size - 3, &error));
	g_assert_no_error(error);
	g_assert_cmpmem(got + 3, size - 3, want + 3, size - 3);
	g_assert_cmpuint(file->data_bytes, ==, size);
	/* Borrowed: freed by its owner, after the verity reader. */
	ota_reader_free(r);
	ota_reader_free(&file->base);
}

static void test_reader_over_any_reader_catches_changed_block(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	CountingReader *file = counting_reader_new(f);
	OtaReader *r = ota_verity_reader_new_for(&file->base, f->params.data_size, &f->params, &error);
	guint8 buf[16];

	flip(f, 7 * BLOCK + 9);
	g_assert_false(ota_reader_read_at(r, 7 * BLOCK, buf, sizeof(buf), &error));
	g_assert_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_MISMATCH);
	ota_reader_free(r);
	ota_reader_free(&file->base);
}

/* Adaptive installs read scattered blocks: a read that does not continue
 * the previous one must fetch the 4 KiB blocks it covers, not a 1 MiB
 * window, or streaming one downloads nearly everything. */
static void test_random_read_fetches_only_its_blocks(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	CountingReader *file = counting_reader_new(f);
	OtaReader *r = ota_verity_reader_new_for(&file->base, f->params.data_size, &f->params, &error);
	guint8 buf[16], want[16];

	g_assert_true(ota_reader_read_at(r, 150 * BLOCK + 10, buf, sizeof(buf), &error));
	g_assert_no_error(error);
	g_assert_cmpuint(file->data_bytes, ==, BLOCK);
	/* Straddling two blocks: both, nothing more. */
	g_assert_true(ota_reader_read_at(r, 20 * BLOCK - 8, buf, sizeof(buf), &error));
	g_assert_cmpuint(file->data_bytes, ==, 3 * BLOCK);
	g_assert_true(ota_pread_all(f->fd, want, sizeof(want), 20 * BLOCK - 8, &error));
	g_assert_cmpmem(buf, sizeof(buf), want, sizeof(want));
	/* The hash blocks needed: level 0 of each (one block each here) and
	 * the top block, no more. */
	g_assert_cmpuint(file->tree_bytes, <=, 3 * BLOCK);
	ota_reader_free(r);
	ota_reader_free(&file->base);
}

/* The local hot path: a stream of small reads is served from windows read
 * ahead, not one fetch per block. */
static void test_sequential_reads_read_ahead(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	CountingReader *file = counting_reader_new(f);
	OtaReader *r = ota_verity_reader_new_for(&file->base, f->params.data_size, &f->params, &error);
	guint8 buf[BLOCK];

	for (guint64 i = 0; i < 256; i++)
		g_assert_true(ota_reader_read_at(r, i * BLOCK, buf, sizeof(buf), &error));
	g_assert_no_error(error);
	g_assert_cmpuint(file->data_bytes, >=, 256 * BLOCK);
	g_assert_cmpuint(file->data_reads, <=, 10);
	ota_reader_free(r);
	ota_reader_free(&file->base);
}

static void test_reader_refuses_tree_beyond_file(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	CountingReader *file = counting_reader_new(f);

	file->base.size -= BLOCK;
	g_assert_null(ota_verity_reader_new_for(&file->base, f->params.data_size, &f->params,
	                                        &error));
	g_assert_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_INVALID);
	ota_reader_free(&file->base);
}

/* The reference: openssl's HMAC over openssl's digest of the data. */
static void test_derived_salt_is_hmac_of_data_digest(Fixture *f, gconstpointer data)
{
	g_autofree char *cmd = g_strdup_printf(
		"head -c %" G_GUINT64_FORMAT " '%s' | openssl dgst -sha256 -binary | "
		"openssl dgst -sha256 -mac HMAC -macopt 'key:%s' -hex",
		f->params.data_size, f->path, OTA_VERITY_DERIVED_SALT_KEY);
	g_autofree char *out = NULL;
	g_autofree char *ours = NULL;
	g_autoptr(GError) error = NULL;
	guint8 salt[OTA_VERITY_SALT_LEN];
	int status = -1;

	g_assert_true(ota_verity_salt_from_data(f->fd, f->params.data_size, salt, &error));
	g_assert_no_error(error);
	g_assert_true(g_spawn_sync(NULL, (char *[]){"sh", "-c", cmd, NULL}, NULL, G_SPAWN_SEARCH_PATH,
	                           NULL, NULL, &out, NULL, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
	ours = hex(salt, OTA_VERITY_SALT_LEN);
	g_assert_true(g_str_has_suffix(g_strstrip(out), ours));
}

static void test_derived_salt_changes_with_any_data_byte(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	guint8 before[OTA_VERITY_SALT_LEN], again[OTA_VERITY_SALT_LEN], after[OTA_VERITY_SALT_LEN];

	g_assert_true(ota_verity_salt_from_data(f->fd, f->params.data_size, before, &error));
	g_assert_true(ota_verity_salt_from_data(f->fd, f->params.data_size, again, &error));
	flip(f, f->params.data_size - 1);
	g_assert_true(ota_verity_salt_from_data(f->fd, f->params.data_size, after, &error));
	g_assert_no_error(error);
	g_assert_cmpmem(before, sizeof(before), again, sizeof(again));
	g_assert_true(memcmp(before, after, sizeof(before)) != 0);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		guint blocks;
	} sizes[] = {{"2-blocks", 2}, {"128-blocks", 128}, {"129-blocks", 129},
	             {"3-levels", 128 * 128 + 3}};

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/verity/tree-sizes", test_tree_sizes);
	for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_autofree char *p = g_strdup_printf("/verity/tree-matches-veritysetup/%s", sizes[i].name);
		g_test_add(p, Fixture, GUINT_TO_POINTER(sizes[i].blocks), setup,
		           test_tree_matches_veritysetup, teardown);
	}
#define ADD(name, fn) \
	g_test_add("/verity/" name, Fixture, GUINT_TO_POINTER(300), setup, fn, teardown)
	ADD("untouched-tree-checks", test_untouched_tree_checks);
	ADD("flipped-data-byte-fails-check", test_flipped_data_byte_fails_check);
	ADD("flipped-level0-byte-fails-check", test_flipped_level0_byte_fails_check);
	ADD("flipped-top-block-byte-fails-check", test_flipped_top_block_byte_fails_check);
	ADD("flipped-padding-byte-fails-check", test_flipped_padding_byte_fails_check);
	ADD("wrong-root-fails-check", test_wrong_root_fails_check);
	ADD("truncated-tree-fails-check", test_truncated_tree_fails_check);
	ADD("wrong-tree-size-is-invalid", test_wrong_tree_size_is_invalid);
	ADD("claimed-size-beyond-the-file-is-invalid", test_claimed_size_beyond_the_file_is_invalid);
	ADD("reader-returns-exact-bytes", test_reader_returns_exact_bytes);
	ADD("reader-catches-block-changed-after-check", test_reader_catches_block_changed_after_check);
	ADD("reader-refuses-forged-tree", test_reader_refuses_forged_tree);
	ADD("reader-over-any-reader-returns-exact-bytes",
	    test_reader_over_any_reader_returns_exact_bytes);
	ADD("reader-over-any-reader-catches-changed-block",
	    test_reader_over_any_reader_catches_changed_block);
	ADD("random-read-fetches-only-its-blocks", test_random_read_fetches_only_its_blocks);
	ADD("sequential-reads-read-ahead", test_sequential_reads_read_ahead);
	ADD("reader-refuses-tree-beyond-file", test_reader_refuses_tree_beyond_file);
	ADD("derived-salt-is-hmac-of-data-digest", test_derived_salt_is_hmac_of_data_digest);
	ADD("derived-salt-changes-with-any-data-byte", test_derived_salt_changes_with_any_data_byte);
	return g_test_run();
}
