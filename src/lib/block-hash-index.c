/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "block-hash-index-private.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "cancel-private.h"
#include "openssl-private.h"
#include "reader-private.h"

G_DEFINE_QUARK(ota-block-hash-index-error-quark, ota_block_hash_index_error)

/* Blocks read at a time while hashing a file or a device. */
#define READ_BLOCKS 256

/* SHA-256 of 4096 zero bytes: RAUC writes such blocks without looking them
 * up anywhere. */
static const guint8 zero_block_hash[OTA_SHA256_LEN] = {
	0xad, 0x7f, 0xac, 0xb2, 0x58, 0x6f, 0xc6, 0xe9, 0x66, 0xc0, 0x04, 0xd7, 0xd1, 0xd1, 0x6b, 0x02,
	0x4f, 0x58, 0x05, 0xff, 0x7c, 0xb4, 0x7c, 0x7a, 0x85, 0xda, 0xbd, 0x8b, 0x48, 0x89, 0x2c, 0xa7,
};

gboolean ota_block_hash_is_zero(const guint8 hash[OTA_SHA256_LEN])
{
	return memcmp(hash, zero_block_hash, OTA_SHA256_LEN) == 0;
}

gboolean ota_block_hash_index_check_image_size(guint64 size, GError **error)
{
	const char *problem = NULL;

	if (size == 0)
		problem = "is empty";
	else if (size % OTA_BLOCK_SIZE != 0)
		problem = "is not a multiple of 4096 bytes";
	else if (size / OTA_BLOCK_SIZE > G_MAXUINT32)
		problem = "has 2^32 blocks or more";
	if (problem == NULL)
		return TRUE;
	g_set_error(error, OTA_BLOCK_HASH_INDEX_ERROR, OTA_BLOCK_HASH_INDEX_ERROR_IMAGE_SIZE,
	            "adaptive=block-hash-index: the image (%" G_GUINT64_FORMAT " bytes) %s", size,
	            problem);
	return FALSE;
}

gboolean ota_block_hash_index_check_size(guint64 image_size, guint64 index_size, GError **error)
{
	if (!ota_block_hash_index_check_image_size(image_size, error))
		return FALSE;
	if (index_size == image_size / OTA_BLOCK_SIZE * OTA_SHA256_LEN)
		return TRUE;
	g_set_error(error, OTA_BLOCK_HASH_INDEX_ERROR, OTA_BLOCK_HASH_INDEX_ERROR_INDEX_SIZE,
	            "%" G_GUINT64_FORMAT " bytes, but a %" G_GUINT64_FORMAT
	            "-byte image needs exactly %" G_GUINT64_FORMAT " (32 per 4 KiB block)",
	            index_size, image_size, image_size / OTA_BLOCK_SIZE * OTA_SHA256_LEN);
	return FALSE;
}

/* --- hashing blocks ------------------------------------------------------------ */

struct OtaBlockHasher {
	EVP_MD_CTX *ctx;
};

OtaBlockHasher *ota_block_hasher_new(GError **error)
{
	g_autoptr(OtaBlockHasher) h = g_new0(OtaBlockHasher, 1);

	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL) {
		ota_set_openssl_error(error, OTA_BLOCK_HASH_INDEX_ERROR,
		                      OTA_BLOCK_HASH_INDEX_ERROR_CRYPTO, "cannot hash blocks");
		return NULL;
	}
	return g_steal_pointer(&h);
}

gboolean ota_block_hasher_hash(OtaBlockHasher *h, const guint8 block[OTA_BLOCK_SIZE],
                               guint8 hash[OTA_SHA256_LEN], GError **error)
{
	unsigned int len = 0;

	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(h->ctx, block, OTA_BLOCK_SIZE) != 1 ||
	    EVP_DigestFinal_ex(h->ctx, hash, &len) != 1 || len != OTA_SHA256_LEN) {
		ota_set_openssl_error(error, OTA_BLOCK_HASH_INDEX_ERROR,
		                      OTA_BLOCK_HASH_INDEX_ERROR_CRYPTO, "cannot hash a block");
		return FALSE;
	}
	return TRUE;
}

void ota_block_hasher_free(OtaBlockHasher *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	g_free(h);
}

/* Calls @each with the hash of every whole block of the first @size bytes
 * of @fd, in order. */
typedef gboolean (*BlockHashFunc)(guint32 block, const guint8 hash[OTA_SHA256_LEN],
                                  gpointer user_data, GError **error);

static gboolean hash_blocks(int fd, guint64 size, BlockHashFunc each, gpointer user_data,
                            GError **error)
{
	g_autoptr(OtaBlockHasher) hasher = ota_block_hasher_new(error);
	g_autofree guint8 *buf = g_malloc(READ_BLOCKS * OTA_BLOCK_SIZE);
	guint64 count = size / OTA_BLOCK_SIZE;

	if (hasher == NULL)
		return FALSE;
	for (guint64 first = 0; first < count; first += READ_BLOCKS) {
		guint n = (guint)MIN((guint64)READ_BLOCKS, count - first);

		if (!ota_cancel_check(error) ||
		    !ota_pread_all(fd, buf, (gsize)n * OTA_BLOCK_SIZE, first * OTA_BLOCK_SIZE, error))
			return FALSE;
		for (guint i = 0; i < n; i++) {
			guint8 hash[OTA_SHA256_LEN];

			if (!ota_block_hasher_hash(hasher, buf + (gsize)i * OTA_BLOCK_SIZE, hash, error) ||
			    !each((guint32)(first + i), hash, user_data, error))
				return FALSE;
		}
	}
	return TRUE;
}

typedef struct {
	int out_fd;
	GByteArray *pending;
} IndexWriter;

static gboolean index_writer_add(guint32 block, const guint8 hash[OTA_SHA256_LEN],
                                 gpointer user_data, GError **error)
{
	IndexWriter *w = user_data;

	g_byte_array_append(w->pending, hash, OTA_SHA256_LEN);
	if (w->pending->len < READ_BLOCKS * OTA_SHA256_LEN)
		return TRUE;
	if (!ota_write_all(w->out_fd, w->pending->data, w->pending->len, error))
		return FALSE;
	g_byte_array_set_size(w->pending, 0);
	return TRUE;
}

gboolean ota_block_hash_index_write(int fd, guint64 size, int out_fd, GError **error)
{
	g_autoptr(GByteArray) pending = g_byte_array_sized_new(READ_BLOCKS * OTA_SHA256_LEN);
	IndexWriter w = {out_fd, pending};

	g_return_val_if_fail(size % OTA_BLOCK_SIZE == 0, FALSE);

	return hash_blocks(fd, size, index_writer_add, &w, error) &&
	       ota_write_all(out_fd, pending->data, pending->len, error);
}

/* --- lookup tables --------------------------------------------------------------- */

typedef struct __attribute__((packed)) {
	guint64 prefix; /* the hash's first 8 bytes, big-endian: sorts as memcmp() would */
	guint32 block;
} Entry;

struct OtaBlockTable {
	Entry *entries;
	guint32 count; /* blocks covered */
	guint32 n_entries;
};

static guint64 hash_prefix(const guint8 hash[OTA_SHA256_LEN])
{
	guint64 prefix;

	memcpy(&prefix, hash, sizeof(prefix));
	return GUINT64_FROM_BE(prefix);
}

static int entry_compare(const void *pa, const void *pb)
{
	const Entry *a = pa, *b = pb;

	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	return a->block < b->block ? -1 : a->block > b->block;
}

/* NULL where the memory isn't there (a huge device): no table, rather
 * than an abort. */
static OtaBlockTable *table_new(guint32 count, GError **error)
{
	OtaBlockTable *t = g_new0(OtaBlockTable, 1);

	t->entries = g_try_new(Entry, MAX(count, 1));
	if (t->entries == NULL) {
		g_free(t);
		g_set_error(error, OTA_BLOCK_HASH_INDEX_ERROR, OTA_BLOCK_HASH_INDEX_ERROR_IO,
		            "no memory for a lookup table of %u blocks", count);
		return NULL;
	}
	t->count = count;
	return t;
}

static void table_add(OtaBlockTable *t, guint32 block, const guint8 hash[OTA_SHA256_LEN])
{
	t->entries[t->n_entries].prefix = hash_prefix(hash);
	t->entries[t->n_entries].block = block;
	t->n_entries++;
}

static void table_sort(OtaBlockTable *t)
{
	qsort(t->entries, t->n_entries, sizeof(Entry), entry_compare);
}

OtaBlockTable *ota_block_table_new_from_index(const guint8 *hashes, guint32 count,
                                              GError **error)
{
	OtaBlockTable *t = table_new(count, error);

	if (t == NULL)
		return NULL;
	for (guint32 i = 0; i < count; i++)
		table_add(t, i, hashes + (gsize)i * OTA_SHA256_LEN);
	table_sort(t);
	return t;
}

static gboolean table_add_hash(guint32 block, const guint8 hash[OTA_SHA256_LEN],
                               gpointer user_data, GError **error)
{
	table_add(user_data, block, hash);
	return TRUE;
}

OtaBlockTable *ota_block_table_new_from_fd(int fd, guint64 size, GError **error)
{
	guint64 count = MIN(size / OTA_BLOCK_SIZE, (guint64)G_MAXUINT32);
	g_autoptr(OtaBlockTable) t = table_new((guint32)count, error);

	if (t == NULL || !hash_blocks(fd, count * OTA_BLOCK_SIZE, table_add_hash, t, error))
		return NULL;
	table_sort(t);
	return g_steal_pointer(&t);
}

void ota_block_table_free(OtaBlockTable *t)
{
	if (t == NULL)
		return;
	g_free(t->entries);
	g_free(t);
}

guint32 ota_block_table_get_count(const OtaBlockTable *t)
{
	return t->count;
}

/* The first entry not less than (@prefix, @block). */
static guint32 lower_bound(const OtaBlockTable *t, guint64 prefix, guint32 block)
{
	guint32 lo = 0, hi = t->n_entries;

	while (lo < hi) {
		guint32 mid = lo + (hi - lo) / 2;
		const Entry *e = &t->entries[mid];

		if (e->prefix < prefix || (e->prefix == prefix && e->block < block))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

guint ota_block_table_find(const OtaBlockTable *t, const guint8 hash[OTA_SHA256_LEN], guint32 lo,
                           guint32 hi, guint32 *blocks, guint max)
{
	guint64 prefix = hash_prefix(hash);
	guint n = 0;

	for (guint32 i = lower_bound(t, prefix, lo);
	     n < max && i < t->n_entries && t->entries[i].prefix == prefix &&
	     t->entries[i].block < hi;
	     i++)
		blocks[n++] = t->entries[i].block;
	return n;
}
