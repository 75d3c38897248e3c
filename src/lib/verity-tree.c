/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "verity-tree-private.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cancel-private.h"
#include "error-private.h"
#include "openssl-private.h"
#include "progress-private.h"

G_DEFINE_QUARK(ota-verity-error-quark, ota_verity_error)

/* Level-0 hash blocks a tree worker claims at a time: 8 MiB of data,
 * long enough for sequential reads, short enough that a worker on a
 * descheduled core doesn't hold up the others at the end. */
#define WORKER_CHUNK 16

gboolean verity_geometry_init(guint64 data_size, VerityGeometry *g)
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
	VerityGeometry g;

	return verity_geometry_init(data_size, &g) ? g.tree_size : 0;
}

/* --- hashing ---------------------------------------------------------------- */

void verity_hasher_clear(VerityHasher *h)
{
	EVP_MD_CTX_free(h->salted);
	EVP_MD_CTX_free(h->work);
}

gboolean verity_hasher_init(VerityHasher *h, const guint8 salt[OTA_VERITY_SALT_LEN],
                            GError **error)
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

gboolean verity_hash_block(VerityHasher *h, const guint8 *block, guint8 out[OTA_SHA256_LEN],
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

gboolean verity_mismatch(GError **error, const char *what, guint64 index)
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
	const VerityGeometry *g;
	const guint8 *salt;
	guint8 *level1_entries; /* one digest per level-0 hash block */
	GMutex lock;
	GError *error;    /* the first failure, under lock */
	gint failed;      /* set once any worker failed, to stop the others */
	gint next_chunk;  /* the next WORKER_CHUNK of level-0 blocks to claim */
} TreeJob;

/* One level-0 hash block: the digests of up to 128 data blocks. */
static gboolean level0_block(TreeJob *job, VerityHasher *h, guint64 index, guint8 *data,
                             guint8 *hashes, guint8 *on_disk, GError **error)
{
	const VerityGeometry *g = job->g;
	guint64 first_block = index * FANOUT;
	guint64 n = MIN((guint64)FANOUT, g->data_blocks - first_block);
	guint64 tree_pos = job->tree_offset + g->offset[0] + index * BLOCK;

	if (!ota_pread_all(job->fd, data, n * BLOCK, first_block * BLOCK, error))
		return FALSE;
	memset(hashes, 0, BLOCK);
	for (guint64 i = 0; i < n; i++) {
		if (!verity_hash_block(h, data + i * BLOCK, hashes + i * OTA_SHA256_LEN, error))
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
	return verity_hash_block(h, hashes, job->level1_entries + index * OTA_SHA256_LEN, error);
}

static void tree_worker_run(gpointer data, gpointer user_data)
{
	TreeJob *job = data;
	guint64 n = job->g->blocks[0];
	g_auto(VerityHasher) h = {0};
	g_autofree guint8 *buf = g_malloc(FANOUT * BLOCK);
	g_autofree guint8 *hashes = g_malloc(BLOCK);
	g_autofree guint8 *on_disk = g_malloc(BLOCK);
	GError *error = NULL;
	gboolean ok = verity_hasher_init(&h, job->salt, &error);

	while (ok && !g_atomic_int_get(&job->failed)) {
		guint64 first = (guint64)g_atomic_int_add(&job->next_chunk, 1) * WORKER_CHUNK;

		for (guint64 i = first; ok && i < MIN(first + WORKER_CHUNK, n); i++) {
			ok = ota_cancel_check(&error) &&
			     level0_block(job, &h, i, buf, hashes, on_disk, &error);
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
static gboolean run_upper_levels(TreeJob *job, VerityHasher *h, guint8 root[OTA_SHA256_LEN],
                                 GError **error)
{
	const VerityGeometry *g = job->g;
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
					return verity_mismatch(error, "hash tree block at level", level);
			}
			if (!verity_hash_block(h, block, next + b * OTA_SHA256_LEN, error))
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
	VerityGeometry g;
	g_auto(VerityHasher) h = {0};
	TreeJob job = {0};
	gboolean ok;

	if (!verity_geometry_init(params->data_size, &g)) {
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
	if (!verity_hasher_init(&h, params->salt, error))
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

gboolean ota_verity_salt_from_data(int fd, guint64 data_size, guint8 salt[OTA_VERITY_SALT_LEN],
                                   GError **error)
{
	static const char key[] = OTA_VERITY_DERIVED_SALT_KEY;
	OtaChecksum data;
	size_t salt_len = 0;

	if (!ota_checksum_fd(fd, 0, data_size, &data, error))
		return FALSE;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, strlen(key), data.sha256,
	              sizeof(data.sha256), salt, OTA_VERITY_SALT_LEN, &salt_len) == NULL ||
	    salt_len != OTA_VERITY_SALT_LEN) {
		ota_set_openssl_error(error, OTA_VERITY_ERROR, OTA_VERITY_ERROR_CRYPTO,
		                      "cannot derive the verity salt");
		return FALSE;
	}
	return TRUE;
}
