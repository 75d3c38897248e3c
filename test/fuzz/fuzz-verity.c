/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the dm-verity tree check and the block-checking reader,
 * with parameters that need not describe the file. They come from a signed
 * manifest in a bundle, but the code must not crash or read out of bounds
 * whatever they are.
 *
 * Input (integers little-endian):
 *
 *   0   salt[32]
 *   32  root[32]
 *   64  u64 data_size
 *   72  u64 tree_size
 *   80  u64 tree_offset
 *   88  u8  flags
 *   89  u64 read_offset   one extra read through the reader
 *   97  u16 read_length
 *   99  body
 *
 * flags: FIT_DATA sizes data_size to the largest multiple of the block size
 * whose tree still fits the file after it; TREE_SIZE takes tree_size from
 * ota_verity_tree_size(data_size); TREE_AFTER_DATA puts the tree at
 * data_size, as in a bundle; COMPACT_BODY makes the body
 * "u16 n, n fill bytes, tree bytes": n data blocks each filled with one
 * byte, then the tree. That keeps seeds with two-level trees (more than
 * 128 data blocks) a few KiB small. Otherwise the body is the file. */
#include "verity-private.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BLOCK OTA_VERITY_BLOCK_SIZE
#define HEADER_SIZE 99
/* Data blocks a compact body may describe: enough for two hash levels. */
#define MAX_COMPACT_BLOCKS 520
#define MAX_READ (64 * 1024)

enum {
	FIT_DATA = 1 << 0,
	TREE_SIZE = 1 << 1,
	TREE_AFTER_DATA = 1 << 2,
	COMPACT_BODY = 1 << 3,
};

static guint64 le64(const uint8_t *p)
{
	guint64 v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The file the parameters talk about, as an unnamed memory file. */
static GBytes *expand_body(const uint8_t *body, size_t size, gboolean compact)
{
	GByteArray *file;
	guint n;

	if (!compact)
		return g_bytes_new(body, size);
	if (size < 2)
		return NULL;
	n = (guint)(body[0] | body[1] << 8);
	if (n > MAX_COMPACT_BLOCKS || size - 2 < n)
		return NULL;
	file = g_byte_array_sized_new(n * BLOCK + (guint)(size - 2 - n));
	for (guint i = 0; i < n; i++) {
		guint8 block[BLOCK];

		memset(block, body[2 + i], BLOCK);
		g_byte_array_append(file, block, BLOCK);
	}
	g_byte_array_append(file, body + 2 + n, (guint)(size - 2 - n));
	return g_byte_array_free_to_bytes(file);
}

static int memfd_with(GBytes *contents)
{
	gsize len = 0;
	const guint8 *p = g_bytes_get_data(contents, &len);
	int fd = memfd_create("verity", MFD_CLOEXEC);

	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	if (!ota_write_all(fd, p, len, NULL))
		abort();
	return fd;
}

/* One read through the reader. Whatever it hands out must be the file's
 * own bytes; after a successful tree check every read inside the data
 * must succeed; a read outside it must fail. */
static void read_through(OtaReader *reader, GBytes *file, guint64 offset, gsize length,
                         gboolean tree_ok)
{
	g_autoptr(GError) error = NULL;
	g_autofree guint8 *buf = g_malloc(MAX(length, 1));
	gsize file_len = 0;
	const guint8 *contents = g_bytes_get_data(file, &file_len);
	gboolean inside = offset <= reader->size && length <= reader->size - offset;
	gboolean ok = ota_reader_read_at(reader, offset, buf, length, &error);

	if (ok && !inside) {
		fprintf(stderr, "read of %zu at %" G_GUINT64_FORMAT " past %" G_GUINT64_FORMAT
		        " bytes succeeded\n", length, offset, reader->size);
		abort();
	}
	if (!ok && inside && tree_ok) {
		fprintf(stderr, "tree check passed, but read of %zu at %" G_GUINT64_FORMAT
		        " failed: %s\n", length, offset, error->message);
		abort();
	}
	if (ok && length > 0 &&
	    (offset > file_len || length > file_len - offset ||
	     memcmp(buf, contents + offset, length) != 0)) {
		fprintf(stderr, "reader returned bytes that are not the file's at %" G_GUINT64_FORMAT
		        "\n", offset);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GBytes) file = NULL;
	g_autoptr(OtaReader) reader = NULL;
	g_autoptr(GError) error = NULL;
	OtaVerityParams params = {0};
	guint64 tree_offset, read_offset, file_len;
	gsize read_length;
	gboolean tree_ok;
	guint8 flags;
	int fd;

	if (size < HEADER_SIZE)
		return 0;
	memcpy(params.salt, data, OTA_VERITY_SALT_LEN);
	memcpy(params.root, data + 32, OTA_SHA256_LEN);
	params.data_size = le64(data + 64);
	params.tree_size = le64(data + 72);
	tree_offset = le64(data + 80);
	flags = data[88];
	read_offset = le64(data + 89);
	read_length = MIN((gsize)(data[97] | data[98] << 8), (gsize)MAX_READ);

	file = expand_body(data + HEADER_SIZE, size - HEADER_SIZE, flags & COMPACT_BODY);
	if (file == NULL)
		return 0;
	file_len = g_bytes_get_size(file);
	if (flags & FIT_DATA) {
		for (guint64 n = file_len / BLOCK; n >= 2; n--) {
			if (n * BLOCK + ota_verity_tree_size(n * BLOCK) <= file_len) {
				params.data_size = n * BLOCK;
				break;
			}
		}
	}
	if (flags & TREE_SIZE)
		params.tree_size = ota_verity_tree_size(params.data_size);
	if (flags & TREE_AFTER_DATA)
		tree_offset = params.data_size;

	fd = memfd_with(file);
	tree_ok = ota_verity_tree_check(fd, tree_offset, &params, &error);
	g_assert_true(tree_ok || error != NULL);
	g_clear_error(&error);

	reader = ota_verity_reader_new(fd, tree_offset, &params, &error);
	close(fd);
	if (reader == NULL) {
		g_assert_nonnull(error);
		/* A tree the check accepted is one the reader can serve. */
		if (tree_ok)
			abort();
		return 0;
	}
	read_through(reader, file, 0, MIN(reader->size, (guint64)BLOCK), tree_ok);
	read_through(reader, file, BLOCK - 1, 2, tree_ok);
	if (reader->size > 0)
		read_through(reader, file, reader->size - 1, 1, tree_ok);
	read_through(reader, file, reader->size / 2, MIN(reader->size / 2, (guint64)MAX_READ),
	             tree_ok);
	read_through(reader, file, reader->size, 1, tree_ok);
	read_through(reader, file, read_offset, read_length, tree_ok);
	return 0;
}
