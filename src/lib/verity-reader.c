/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "verity-tree-private.h"

#include <string.h>

/* Verified hash blocks the reader keeps: 1 MiB, covering 128 MiB of
 * sequentially read data with its level-0 blocks. */
#define READER_CACHE_BLOCKS 256
/* The reader's window: up to 1 MiB read at once, checked on all cores,
 * then served from memory (the bytes checked are the bytes served). Two
 * level-0 hash blocks cover it (three when it straddles). */
#define READER_WINDOW_BLOCKS 256
#define READER_WINDOW_HASH_BLOCKS (READER_WINDOW_BLOCKS / FANOUT + 1)
/* Cores sharing a window's check: more would get parts too small to pay
 * for the hand-off. */
#define MAX_WINDOW_PARTS 16

typedef struct VerityReader VerityReader;

/* One core's share of checking the window's data blocks. */
typedef struct {
	VerityReader *reader;
	guint64 begin, end; /* window-relative block indices */
	GError *error;
} WindowPart;

struct VerityReader {
	OtaReader base;
	OtaReader *file;       /* data at 0, the tree at tree_offset */
	OtaReader *owned_file; /* file, when the reader made it (fd constructor) */
	guint64 tree_offset;
	/* Where the previous read ended: a read that starts there continues a
	 * stream, which gets windows growing to READER_WINDOW_BLOCKS; any
	 * other read loads only the blocks it needs, so that scattered reads
	 * (adaptive updates over HTTP) fetch no more than they use. */
	guint64 next_offset;
	guint64 stream_blocks; /* the size of the last window loaded */
	VerityGeometry g;
	OtaVerityParams params;
	VerityHasher hasher;
	GHashTable *verified; /* (level << 56 | index) -> verified hash block */
	/* The window: blocks [window_first, window_first + window_n), verified. */
	guint8 *window;
	guint64 window_first;
	guint64 window_n;
	/* Verified level-0 hash blocks covering the window, back to back. */
	guint8 *window_hashes;
	/* Workers for all cores but this one (NULL on one core), and the
	 * parts they have not finished yet. */
	GThreadPool *pool;
	guint n_workers;
	GMutex lock;
	GCond done;
	guint pending;
};

/* A hash block, read from disk and checked against its parent (and so on
 * up to the root) unless already verified. The pointer is valid until the
 * next call. */
static const guint8 *verified_hash_block(VerityReader *r, guint level, guint64 index,
                                         GError **error)
{
	guint64 key = (guint64)level << 56 | index;
	g_autofree guint8 *block = NULL;
	guint8 digest[OTA_SHA256_LEN];
	const guint8 *expected;
	guint8 *cached = g_hash_table_lookup(r->verified, &key);
	guint64 *stored_key;

	if (cached != NULL)
		return cached;
	block = g_malloc(BLOCK);
	if (!ota_reader_read_at(r->file, r->tree_offset + r->g.offset[level] + index * BLOCK, block,
	                        BLOCK, error) ||
	    !verity_hash_block(&r->hasher, block, digest, error))
		return NULL;
	if (level + 1 == r->g.n_levels) {
		expected = r->params.root;
	} else {
		const guint8 *parent = verified_hash_block(r, level + 1, index / FANOUT, error);

		if (parent == NULL)
			return NULL;
		expected = parent + (index % FANOUT) * OTA_SHA256_LEN;
	}
	if (memcmp(digest, expected, OTA_SHA256_LEN) != 0) {
		verity_mismatch(error, "hash tree block at level", level);
		return NULL;
	}
	/* Bounded memory: forget everything when full; re-verifying a path
	 * costs a few hashes. */
	if (g_hash_table_size(r->verified) >= READER_CACHE_BLOCKS)
		g_hash_table_remove_all(r->verified);
	stored_key = g_new(guint64, 1);
	*stored_key = key;
	cached = g_steal_pointer(&block);
	g_hash_table_insert(r->verified, stored_key, cached);
	return cached;
}

static gboolean check_window_part(WindowPart *part)
{
	VerityReader *r = part->reader;
	g_auto(VerityHasher) h = {0};
	guint64 first_hash_block = r->window_first / FANOUT;

	if (!verity_hasher_init(&h, r->params.salt, &part->error))
		return FALSE;
	for (guint64 i = part->begin; i < part->end; i++) {
		guint64 index = r->window_first + i;
		const guint8 *expected = r->window_hashes +
		                         (index / FANOUT - first_hash_block) * BLOCK +
		                         (index % FANOUT) * OTA_SHA256_LEN;
		guint8 digest[OTA_SHA256_LEN];

		if (!verity_hash_block(&h, r->window + i * BLOCK, digest, &part->error))
			return FALSE;
		if (memcmp(digest, expected, OTA_SHA256_LEN) != 0)
			return verity_mismatch(&part->error, "payload block", index);
	}
	return TRUE;
}

static void window_worker_run(gpointer data, gpointer user_data)
{
	WindowPart *part = data;
	VerityReader *r = part->reader;

	(void)check_window_part(part);
	g_mutex_lock(&r->lock);
	if (--r->pending == 0)
		g_cond_signal(&r->done);
	g_mutex_unlock(&r->lock);
}

/* Reads blocks [first, first + n) into the window and checks each against
 * the tree: the parts go to the workers, the first one is done here. */
static gboolean load_window(VerityReader *r, guint64 first, guint64 n, GError **error)
{
	WindowPart parts[MAX_WINDOW_PARTS];
	guint n_parts = r->n_workers + 1;
	guint64 last_hash_block = (first + n - 1) / FANOUT;
	gboolean ok = TRUE;

	r->window_n = 0; /* nothing in it is verified until the end */
	if (!ota_reader_read_at(r->file, first * BLOCK, r->window, n * BLOCK, error))
		return FALSE;
	/* Copied: the cache may forget a hash block while the next is read. */
	for (guint64 h = first / FANOUT; h <= last_hash_block; h++) {
		const guint8 *hashes = verified_hash_block(r, 0, h, error);

		if (hashes == NULL)
			return FALSE;
		memcpy(r->window_hashes + (h - first / FANOUT) * BLOCK, hashes, BLOCK);
	}
	r->window_first = first;
	n_parts = (guint)MIN((guint64)n_parts, n);
	for (guint i = 0; i < n_parts; i++)
		parts[i] = (WindowPart){r, n * i / n_parts, n * (i + 1) / n_parts, NULL};
	r->pending = n_parts - 1;
	for (guint i = 1; i < n_parts; i++)
		g_thread_pool_push(r->pool, &parts[i], NULL);
	(void)check_window_part(&parts[0]);
	g_mutex_lock(&r->lock);
	while (r->pending > 0)
		g_cond_wait(&r->done, &r->lock);
	g_mutex_unlock(&r->lock);
	/* The first failing part names the lowest bad block. */
	for (guint i = 0; i < n_parts; i++) {
		if (parts[i].error != NULL && ok) {
			g_propagate_error(error, g_steal_pointer(&parts[i].error));
			ok = FALSE;
		}
		g_clear_error(&parts[i].error);
	}
	if (ok)
		r->window_n = n;
	return ok;
}

/* Bounds were checked by ota_reader_read_at(). */
static gboolean verity_reader_read_at(OtaReader *self, guint64 offset, void *buffer, gsize size,
                                      GError **error)
{
	VerityReader *r = (VerityReader *)self;
	guint8 *out = buffer;
	guint64 pos = offset, end = offset + size;
	gboolean stream = offset == r->next_offset && offset > 0;

	r->next_offset = end;
	while (pos < end) {
		guint64 block = pos / BLOCK;
		guint64 window_end;

		if (block < r->window_first || block >= r->window_first + r->window_n) {
			/* The blocks this read needs; a stream reads ahead, twice
			 * as far as last time (the local hot path reaches full
			 * windows after a few reads). */
			guint64 n = (end - 1) / BLOCK + 1 - block;

			if (stream)
				n = MAX(n, 2 * r->stream_blocks);
			n = MIN(n, MIN((guint64)READER_WINDOW_BLOCKS, r->g.data_blocks - block));
			if (!load_window(r, block, n, error))
				return FALSE;
			r->stream_blocks = n;
			stream = TRUE; /* the rest of a large read continues it */
		}
		window_end = MIN(end, (r->window_first + r->window_n) * BLOCK);
		memcpy(out, r->window + (pos - r->window_first * BLOCK), window_end - pos);
		out += window_end - pos;
		pos = window_end;
	}
	return TRUE;
}

static void verity_reader_free(OtaReader *self)
{
	VerityReader *r = (VerityReader *)self;

	if (r->pool != NULL)
		g_thread_pool_free(r->pool, FALSE, TRUE);
	ota_reader_free(r->owned_file);
	verity_hasher_clear(&r->hasher);
	g_hash_table_unref(r->verified);
	g_free(r->window);
	g_free(r->window_hashes);
	g_mutex_clear(&r->lock);
	g_cond_clear(&r->done);
	g_free(r);
}

OtaReader *ota_verity_reader_new_for(OtaReader *file, guint64 tree_offset,
                                     const OtaVerityParams *params, GError **error)
{
	VerityReader *r = g_new0(VerityReader, 1);

	r->file = file;
	r->base.read_at = verity_reader_read_at;
	r->base.free = verity_reader_free;
	r->base.size = params->data_size;
	r->tree_offset = tree_offset;
	r->params = *params;
	r->verified = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	r->window = g_malloc(READER_WINDOW_BLOCKS * BLOCK);
	r->window_hashes = g_malloc(READER_WINDOW_HASH_BLOCKS * BLOCK);
	g_mutex_init(&r->lock);
	g_cond_init(&r->done);
	r->n_workers = MIN(g_get_num_processors(), MAX_WINDOW_PARTS) - 1;
	if (r->n_workers > 0)
		r->pool = g_thread_pool_new(window_worker_run, NULL, (gint)r->n_workers, FALSE, NULL);
	if (!verity_geometry_init(params->data_size, &r->g) || r->g.tree_size != params->tree_size) {
		g_set_error_literal(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_INVALID,
		                    "verity parameters do not describe a valid tree");
		verity_reader_free(&r->base);
		return NULL;
	}
	if (params->data_size > file->size || tree_offset > file->size ||
	    params->tree_size > file->size - tree_offset) {
		g_set_error_literal(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_INVALID,
		                    "the verity data and tree do not fit the file");
		verity_reader_free(&r->base);
		return NULL;
	}
	if (!verity_hasher_init(&r->hasher, params->salt, error)) {
		verity_reader_free(&r->base);
		return NULL;
	}
	return &r->base;
}

OtaReader *ota_verity_reader_new(int fd, guint64 tree_offset, const OtaVerityParams *params,
                                 GError **error)
{
	g_autoptr(OtaReader) file = NULL;
	VerityReader *r;

	/* Written so that the sum cannot overflow. */
	if (params->tree_size > G_MAXUINT64 - tree_offset) {
		g_set_error_literal(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_INVALID,
		                    "verity parameters do not describe a valid tree");
		return NULL;
	}
	file = ota_reader_new_fd(fd, 0, tree_offset + params->tree_size, error);
	if (file == NULL) {
		g_prefix_error(error, "verity: ");
		return NULL;
	}
	r = (VerityReader *)ota_verity_reader_new_for(file, tree_offset, params, error);
	if (r == NULL)
		return NULL;
	r->owned_file = g_steal_pointer(&file);
	return &r->base;
}
