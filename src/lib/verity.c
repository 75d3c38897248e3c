/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "verity-private.h"
#include <otabundle/openssl.h>
#include "progress-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error-private.h"

G_DEFINE_QUARK(ota-verity-error-quark, ota_verity_error)

#define BLOCK OTA_VERITY_BLOCK_SIZE
#define FANOUT OTA_VERITY_DIGESTS_PER_BLOCK
/* Enough for a tree over 2^64 bytes; a real one has 2 to 5 levels. */
#define MAX_LEVELS 12
/* Verified hash blocks the reader keeps: 1 MiB, covering 128 MiB of
 * sequentially read data with its level-0 blocks. */
#define READER_CACHE_BLOCKS 256
/* Level-0 hash blocks a tree worker claims at a time: 8 MiB of data,
 * long enough for sequential reads, short enough that a worker on a
 * descheduled core doesn't hold up the others at the end. */
#define WORKER_CHUNK 16
/* The reader's window: 1 MiB read at once, checked on all cores, then
 * served from memory (the bytes checked are the bytes served). Two level-0
 * hash blocks cover it (three when it straddles). */
#define READER_WINDOW_BLOCKS 256
#define READER_WINDOW_HASH_BLOCKS (READER_WINDOW_BLOCKS / FANOUT + 1)
/* Cores sharing a window's check: more would get parts too small to pay
 * for the hand-off. */
#define MAX_WINDOW_PARTS 16

typedef struct {
	guint n_levels;
	guint64 blocks[MAX_LEVELS]; /* hash blocks per level, level 0 = lowest */
	guint64 offset[MAX_LEVELS]; /* byte offset of each level within the tree */
	guint64 data_blocks;
	guint64 tree_size;
} Geometry;

static gboolean geometry_init(guint64 data_size, Geometry *g)
{
	guint64 entries, position = 0;

	memset(g, 0, sizeof(*g));
	/* One data block would have no hash levels at all (veritysetup makes
	 * the root the block's own digest); RAUC refuses it, and so do we. */
	if (data_size < 2 * BLOCK || data_size % BLOCK != 0)
		return FALSE;
	g->data_blocks = entries = data_size / BLOCK;
	do {
		if (g->n_levels == MAX_LEVELS)
			return FALSE;
		g->blocks[g->n_levels] = (entries + FANOUT - 1) / FANOUT;
		entries = g->blocks[g->n_levels++];
	} while (entries > 1);
	/* The top level comes first in the file. */
	for (gint level = (gint)g->n_levels - 1; level >= 0; level--) {
		g->offset[level] = position;
		position += g->blocks[level] * BLOCK;
	}
	g->tree_size = position;
	return TRUE;
}

guint64 ota_verity_tree_size(guint64 data_size)
{
	Geometry g;

	return geometry_init(data_size, &g) ? g.tree_size : 0;
}

/* --- hashing ---------------------------------------------------------------- */

/* SHA-256(salt || block) with the salt absorbed once into a template. */
typedef struct {
	EVP_MD_CTX *salted;
	EVP_MD_CTX *work;
} Hasher;

static void hasher_clear(Hasher *h)
{
	EVP_MD_CTX_free(h->salted);
	EVP_MD_CTX_free(h->work);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Hasher, hasher_clear)

static gboolean hasher_init(Hasher *h, const guint8 salt[OTA_VERITY_SALT_LEN], GError **error)
{
	h->salted = EVP_MD_CTX_new();
	h->work = EVP_MD_CTX_new();
	if (h->salted == NULL || h->work == NULL ||
	    EVP_DigestInit_ex(h->salted, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(h->salted, salt, OTA_VERITY_SALT_LEN) != 1) {
		ota_set_openssl_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_CRYPTO,
		                      "cannot initialise SHA-256");
		return FALSE;
	}
	return TRUE;
}

static gboolean hash_block(Hasher *h, const guint8 *block, guint8 out[OTA_SHA256_LEN],
                           GError **error)
{
	if (EVP_MD_CTX_copy_ex(h->work, h->salted) != 1 ||
	    EVP_DigestUpdate(h->work, block, BLOCK) != 1 ||
	    EVP_DigestFinal_ex(h->work, out, NULL) != 1) {
		ota_set_openssl_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_CRYPTO,
		                      "SHA-256 failed");
		return FALSE;
	}
	return TRUE;
}

static gboolean io_error(GError **error, const char *what, int err)
{
	return ota_set_io_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_IO, what, NULL, err);
}

static gboolean pwrite_all(int fd, const guint8 *buf, gsize size, guint64 offset, GError **error)
{
	while (size > 0) {
		ssize_t n = pwrite(fd, buf, size, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return io_error(error, "cannot write hash tree", errno);
		buf += n;
		size -= (gsize)n;
		offset += (guint64)n;
	}
	return TRUE;
}

static gboolean mismatch(GError **error, const char *what, guint64 index)
{
	g_set_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_MISMATCH,
	            "%s %" G_GUINT64_FORMAT " does not match the verity hash tree (modified after "
	            "signing?)", what, index);
	return FALSE;
}

/* --- build and check: level 0 in parallel, the small upper levels after ---- */

typedef struct {
	int fd;
	gboolean build; /* write the tree, else compare with it */
	guint64 tree_offset;
	const Geometry *g;
	const guint8 *salt;
	guint8 *level1_entries; /* one digest per level-0 hash block */
	GMutex lock;
	GError *error;    /* the first failure, under lock */
	gint failed;      /* set once any worker failed, to stop the others */
	gint next_chunk;  /* the next WORKER_CHUNK of level-0 blocks to claim */
} TreeJob;

/* One level-0 hash block: the digests of up to 128 data blocks. */
static gboolean level0_block(TreeJob *job, Hasher *h, guint64 index, guint8 *data,
                             guint8 *hashes, guint8 *on_disk, GError **error)
{
	const Geometry *g = job->g;
	guint64 first_block = index * FANOUT;
	guint64 n = MIN((guint64)FANOUT, g->data_blocks - first_block);
	guint64 tree_pos = job->tree_offset + g->offset[0] + index * BLOCK;

	if (!ota_pread_all(job->fd, data, n * BLOCK, first_block * BLOCK, error))
		return FALSE;
	memset(hashes, 0, BLOCK);
	for (guint64 i = 0; i < n; i++) {
		if (!hash_block(h, data + i * BLOCK, hashes + i * OTA_SHA256_LEN, error))
			return FALSE;
	}
	if (job->build) {
		if (!pwrite_all(job->fd, hashes, BLOCK, tree_pos, error))
			return FALSE;
	} else {
		if (!ota_pread_all(job->fd, on_disk, BLOCK, tree_pos, error))
			return FALSE;
		if (memcmp(hashes, on_disk, BLOCK) != 0) {
			for (guint64 i = 0; i < FANOUT; i++) {
				/* Either the block or its stored digest changed;
				 * at level 0 the two can't be told apart. */
				if (memcmp(hashes + i * OTA_SHA256_LEN, on_disk + i * OTA_SHA256_LEN,
				           OTA_SHA256_LEN) != 0) {
					g_set_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_MISMATCH,
					            "payload block %" G_GUINT64_FORMAT " or its digest in the "
					            "verity hash tree was modified after signing",
					            first_block + i);
					return FALSE;
				}
			}
		}
	}
	return hash_block(h, hashes, job->level1_entries + index * OTA_SHA256_LEN, error);
}

static void tree_worker_run(gpointer data, gpointer user_data)
{
	TreeJob *job = data;
	guint64 n = job->g->blocks[0];
	g_auto(Hasher) h = {0};
	g_autofree guint8 *buf = g_malloc(FANOUT * BLOCK);
	g_autofree guint8 *hashes = g_malloc(BLOCK);
	g_autofree guint8 *on_disk = g_malloc(BLOCK);
	GError *error = NULL;
	gboolean ok = hasher_init(&h, job->salt, &error);

	while (ok && !g_atomic_int_get(&job->failed)) {
		guint64 first = (guint64)g_atomic_int_add(&job->next_chunk, 1) * WORKER_CHUNK;

		for (guint64 i = first; ok && i < MIN(first + WORKER_CHUNK, n); i++) {
			ok = level0_block(job, &h, i, buf, hashes, on_disk, &error);
			/* Data covered by one level-0 block (the last may cover less;
			 * progress is clamped to its total). */
			ota_progress_add(FANOUT * BLOCK);
		}
		if (first + WORKER_CHUNK >= n)
			break;
	}
	if (ok)
		return;
	g_atomic_int_set(&job->failed, 1);
	g_mutex_lock(&job->lock);
	if (job->error == NULL)
		job->error = error;
	else
		g_error_free(error);
	g_mutex_unlock(&job->lock);
}

static gboolean run_level0(TreeJob *job, GError **error)
{
	guint64 chunks = (job->g->blocks[0] + WORKER_CHUNK - 1) / WORKER_CHUNK;
	guint threads = (guint)MIN((guint64)MAX(1u, g_get_num_processors()), chunks);
	GThreadPool *pool;

	if (chunks > G_MAXINT) {
		g_set_error_literal(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_INVALID,
		                    "payload too large");
		return FALSE;
	}
	pool = g_thread_pool_new(tree_worker_run, NULL, (gint)threads, FALSE, NULL);
	posix_fadvise(job->fd, 0, (off_t)(job->g->data_blocks * BLOCK), POSIX_FADV_SEQUENTIAL);
	for (guint t = 0; t < threads; t++)
		g_thread_pool_push(pool, job, NULL);
	g_thread_pool_free(pool, FALSE, TRUE);
	if (job->error != NULL) {
		g_propagate_error(error, job->error);
		job->error = NULL;
		return FALSE;
	}
	return TRUE;
}

/* Levels 1..top from the digests of the level below, held in memory (they
 * are 1/16384 of the data); then the root. */
static gboolean run_upper_levels(TreeJob *job, Hasher *h, guint8 root[OTA_SHA256_LEN],
                                 GError **error)
{
	const Geometry *g = job->g;
	g_autofree guint8 *entries = g_steal_pointer(&job->level1_entries);
	guint8 block[BLOCK], on_disk[BLOCK];
	guint64 n_entries = g->blocks[0];

	for (guint level = 1; level < g->n_levels; level++) {
		g_autofree guint8 *next = g_malloc(g->blocks[level] * OTA_SHA256_LEN);

		for (guint64 b = 0; b < g->blocks[level]; b++) {
			guint64 n = MIN((guint64)FANOUT, n_entries - b * FANOUT);
			guint64 pos = job->tree_offset + g->offset[level] + b * BLOCK;

			memset(block, 0, BLOCK);
			memcpy(block, entries + b * FANOUT * OTA_SHA256_LEN, n * OTA_SHA256_LEN);
			if (job->build && !pwrite_all(job->fd, block, BLOCK, pos, error))
				return FALSE;
			if (!job->build) {
				if (!ota_pread_all(job->fd, on_disk, BLOCK, pos, error))
					return FALSE;
				if (memcmp(block, on_disk, BLOCK) != 0)
					return mismatch(error, "hash tree block at level", level);
			}
			if (!hash_block(h, block, next + b * OTA_SHA256_LEN, error))
				return FALSE;
		}
		g_free(entries);
		entries = g_steal_pointer(&next);
		n_entries = g->blocks[level];
	}
	/* The single top block's digest is the root. */
	memcpy(root, entries, OTA_SHA256_LEN);
	return TRUE;
}

/* The data (and, to check a tree, the tree after it) must really be in the
 * file before we size anything by them: parameters may be forged, and the
 * level-1 digests take 32 bytes per 512 KiB claimed. */
static gboolean check_file_holds(int fd, guint64 offset, guint64 length, GError **error)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return io_error(error, "cannot stat", errno);
	if (offset > G_MAXUINT64 - length || (guint64)st.st_size < offset + length) {
		g_set_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_INVALID,
		            "file of %" G_GUINT64_FORMAT " bytes is too short for the verity layout",
		            (guint64)st.st_size);
		return FALSE;
	}
	return TRUE;
}

static gboolean run_tree(int fd, guint64 tree_offset, gboolean build, OtaVerityParams *params,
                         guint8 root[OTA_SHA256_LEN], GError **error)
{
	Geometry g;
	g_auto(Hasher) h = {0};
	TreeJob job = {0};
	gboolean ok;

	if (!geometry_init(params->data_size, &g)) {
		g_set_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_INVALID,
		            "data size %" G_GUINT64_FORMAT " is not a multiple of %d larger than %d",
		            params->data_size, BLOCK, BLOCK);
		return FALSE;
	}
	if (!build && params->tree_size != g.tree_size) {
		g_set_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_INVALID,
		            "hash tree is %" G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT
		            " expected for %" G_GUINT64_FORMAT " bytes of data",
		            params->tree_size, g.tree_size, params->data_size);
		return FALSE;
	}
	if (!check_file_holds(fd, 0, params->data_size, error) ||
	    (!build && !check_file_holds(fd, tree_offset, g.tree_size, error)))
		return FALSE;
	if (!hasher_init(&h, params->salt, error))
		return FALSE;

	job.fd = fd;
	job.build = build;
	job.tree_offset = tree_offset;
	job.g = &g;
	job.salt = params->salt;
	job.level1_entries = g_malloc(g.blocks[0] * OTA_SHA256_LEN);
	g_mutex_init(&job.lock);
	ok = run_level0(&job, error) && run_upper_levels(&job, &h, root, error);
	g_free(job.level1_entries);
	g_mutex_clear(&job.lock);
	if (ok)
		params->tree_size = g.tree_size;
	return ok;
}

gboolean ota_verity_tree_build(int fd, guint64 tree_offset, OtaVerityParams *params,
                               GError **error)
{
	return run_tree(fd, tree_offset, TRUE, params, params->root, error);
}

gboolean ota_verity_tree_check(int fd, guint64 tree_offset, const OtaVerityParams *params,
                               GError **error)
{
	OtaVerityParams copy = *params;
	guint8 root[OTA_SHA256_LEN];

	if (!run_tree(fd, tree_offset, FALSE, &copy, root, error))
		return FALSE;
	if (memcmp(root, params->root, OTA_SHA256_LEN) != 0) {
		g_set_error_literal(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_MISMATCH,
		                    "hash tree does not match the signed root hash");
		return FALSE;
	}
	return TRUE;
}

/* --- verified reader ------------------------------------------------------------- */

typedef struct VerityReader VerityReader;

/* One core's share of checking the window's data blocks. */
typedef struct {
	VerityReader *reader;
	guint64 begin, end; /* window-relative block indices */
	GError *error;
} WindowPart;

struct VerityReader {
	OtaReader base;
	int fd;
	guint64 tree_offset;
	Geometry g;
	OtaVerityParams params;
	Hasher hasher;
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
	if (!ota_pread_all(r->fd, block, BLOCK, r->tree_offset + r->g.offset[level] + index * BLOCK,
	                   error) ||
	    !hash_block(&r->hasher, block, digest, error))
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
		mismatch(error, "hash tree block at level", level);
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
	g_auto(Hasher) h = {0};
	guint64 first_hash_block = r->window_first / FANOUT;

	if (!hasher_init(&h, r->params.salt, &part->error))
		return FALSE;
	for (guint64 i = part->begin; i < part->end; i++) {
		guint64 index = r->window_first + i;
		const guint8 *expected = r->window_hashes +
		                         (index / FANOUT - first_hash_block) * BLOCK +
		                         (index % FANOUT) * OTA_SHA256_LEN;
		guint8 digest[OTA_SHA256_LEN];

		if (!hash_block(&h, r->window + i * BLOCK, digest, &part->error))
			return FALSE;
		if (memcmp(digest, expected, OTA_SHA256_LEN) != 0)
			return mismatch(&part->error, "payload block", index);
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
	if (!ota_pread_all(r->fd, r->window, n * BLOCK, first * BLOCK, error))
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

	while (pos < end) {
		guint64 block = pos / BLOCK;
		guint64 window_end;

		if (block < r->window_first || block >= r->window_first + r->window_n) {
			guint64 n = MIN((guint64)READER_WINDOW_BLOCKS, r->g.data_blocks - block);

			if (!load_window(r, block, n, error))
				return FALSE;
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
	if (r->fd >= 0)
		close(r->fd);
	hasher_clear(&r->hasher);
	g_hash_table_unref(r->verified);
	g_free(r->window);
	g_free(r->window_hashes);
	g_mutex_clear(&r->lock);
	g_cond_clear(&r->done);
	g_free(r);
}

OtaReader *ota_verity_reader_new(int fd, guint64 tree_offset, const OtaVerityParams *params,
                                 GError **error)
{
	VerityReader *r = g_new0(VerityReader, 1);

	r->fd = -1;
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
	if (!geometry_init(params->data_size, &r->g) || r->g.tree_size != params->tree_size) {
		g_set_error_literal(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_INVALID,
		                    "verity parameters do not describe a valid tree");
		verity_reader_free(&r->base);
		return NULL;
	}
	r->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (r->fd < 0) {
		io_error(error, "dup failed", errno);
		verity_reader_free(&r->base);
		return NULL;
	}
	if (!hasher_init(&r->hasher, params->salt, error)) {
		verity_reader_free(&r->base);
		return NULL;
	}
	return &r->base;
}
