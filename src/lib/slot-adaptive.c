/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Adaptive updates (RAUC's adaptive=block-hash-index): an image is put
 * together from the blocks the device already has, and only the rest is
 * read from the bundle (over HTTP, only the rest is downloaded).
 *
 * Write order: the image is written front to back in batches. A block of
 * the slot's old contents is used only while its offset is at or past the
 * first block not yet written, so nothing is read after it was overwritten
 * and the slot is never truncated before the end (RAUC's order, with no
 * staging: memory stays at one batch plus the lookup tables, 12 bytes per
 * 4 KiB block of each device, and the index, 32 bytes per block). */
#include "slot-adaptive-private.h"

#include <otabundle/text.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block-hash-index-private.h"
#include "openssl-private.h"
#include "progress-private.h"
#include "slot-private.h"

/* Blocks per batch: 1 MiB. */
#define BATCH_BLOCKS 256
/* Candidates tried per source before the block is taken from elsewhere:
 * a device full of one repeated block that fails its re-hash must not make
 * each lookup walk all of them. */
#define MAX_CANDIDATES 4
/* The index is held in memory whole: up to 1 GiB (a 128 GiB image). */
#define MAX_INDEX_SIZE (G_GUINT64_CONSTANT(1) << 30)

typedef enum {
	FROM_BUNDLE,
	FROM_DEVICE,
	IN_PLACE, /* the slot holds it at this offset already: not written */
	ZERO,
} BlockSource;

typedef struct {
	int fd; /* the target slot */
	const char *path;
	int active_fd; /* the active slot of the class, or -1 */
	guint32 count; /* blocks of the image */
	GBytes *index;
	const guint8 *hashes;
	OtaBlockTable *written; /* the new image: valid below @flushed */
	OtaBlockTable *old;     /* the target as it was: valid from @flushed on */
	OtaBlockTable *active;
	OtaSquashfsFile *image;
	OtaBlockHasher *hasher;
	EVP_MD_CTX *sha;
	guint32 flushed; /* blocks [0, flushed) of the target hold the new image */
	guint8 *batch;
	BlockSource source[BATCH_BLOCKS];
	guint64 reused;
} Adaptive;

static void adaptive_clear(Adaptive *a)
{
	if (a->active_fd >= 0)
		close(a->active_fd);
	g_clear_pointer(&a->index, g_bytes_unref);
	g_clear_pointer(&a->written, ota_block_table_free);
	g_clear_pointer(&a->old, ota_block_table_free);
	g_clear_pointer(&a->active, ota_block_table_free);
	g_clear_pointer(&a->image, ota_squashfs_file_free);
	g_clear_pointer(&a->hasher, ota_block_hasher_free);
	g_clear_pointer(&a->sha, EVP_MD_CTX_free);
	g_clear_pointer(&a->batch, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Adaptive, adaptive_clear)

gboolean slot_adaptive_applies(OtaBundle *b, const OtaInstallStep *step)
{
	return ota_image_has_adaptive_method(step->image, OTA_BLOCK_HASH_INDEX_METHOD) &&
	       !b->payload_recorded;
}

/* The index, exactly as long as the image needs, whatever the squashfs
 * says about it. */
static gboolean load_index(Adaptive *a, OtaSquashfs *sq, const OtaImage *image, GError **error)
{
	g_autofree char *name = g_strconcat(image->filename, OTA_BLOCK_HASH_INDEX_SUFFIX, NULL);
	guint64 want = image->size / OTA_BLOCK_SIZE * OTA_SHA256_LEN;

	if (!ota_block_hash_index_check_image_size(image->size, error))
		return FALSE;
	if (want > MAX_INDEX_SIZE) {
		g_set_error(error, OTA_BLOCK_HASH_INDEX_ERROR, OTA_BLOCK_HASH_INDEX_ERROR_INDEX_SIZE,
		            "block hash index of %" G_GUINT64_FORMAT " bytes is too large to hold",
		            want);
		return FALSE;
	}
	a->index = ota_squashfs_read_small_file(sq, name, (gsize)want, error);
	if (a->index == NULL ||
	    !ota_block_hash_index_check_size(image->size, g_bytes_get_size(a->index), error)) {
		g_autofree char *escaped = ota_text_escape(name);

		g_prefix_error(error, "%s: ", escaped);
		return FALSE;
	}
	a->count = (guint32)(image->size / OTA_BLOCK_SIZE);
	a->hashes = g_bytes_get_data(a->index, NULL);
	/* Without it, duplicates inside the image come from elsewhere. */
	a->written = ota_block_table_new_from_index(a->hashes, a->count, NULL);
	return TRUE;
}

/* The active member of the target's class (RAUC's seed slot), if it is a
 * file or a block device this process can read. */
static int open_active(OtaTarget *t, const OtaSlotConfig *target)
{
	if (t->booted == NULL)
		return -1;
	for (guint i = 0; i < t->config->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(t->config->slots, i);
		struct stat st;
		int fd;

		if (s == target || !g_str_equal(s->slotclass, target->slotclass) ||
		    !ota_slot_is_active(t->config, t->booted, s))
			continue;
		fd = open(s->device, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
			return fd;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return -1;
}

/* lseek() gives a block device's size too. */
static guint64 device_size(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);

	return end > 0 ? (guint64)end : 0;
}

typedef struct {
	int fd;
	OtaBlockTable *table;
	GError *error;
} TableJob;

static gpointer table_job_run(gpointer data)
{
	TableJob *job = data;

	job->table = ota_block_table_new_from_fd(job->fd, device_size(job->fd), &job->error);
	return NULL;
}

/* The target's and the active slot's blocks, hashed on two cores. A
 * device that can't be read is no source (the bundle has every block);
 * only cancellation stops the install. */
static gboolean hash_devices(Adaptive *a, GError **error)
{
	TableJob active = {a->active_fd, NULL, NULL};
	g_autoptr(GError) ierror = NULL;
	GThread *thread = NULL;

	if (a->active_fd >= 0)
		thread = g_thread_new("ota-adaptive-hash", table_job_run, &active);
	a->old = ota_block_table_new_from_fd(a->fd, device_size(a->fd), &ierror);
	if (thread != NULL)
		g_thread_join(thread);
	a->active = active.table;
	if (g_error_matches(active.error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_propagate_error(error, active.error);
		return FALSE;
	}
	g_clear_error(&active.error);
	if (g_error_matches(ierror, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		g_propagate_error(error, g_steal_pointer(&ierror));
		return FALSE;
	}
	return TRUE;
}

/* The first of @table's candidates for @hash in [@lo, @hi) that @fd still
 * holds: read into @dst and re-hashed. A read error is a miss. */
static gboolean take_from(Adaptive *a, const OtaBlockTable *table, int fd,
                          const guint8 *hash, guint32 lo, guint32 hi, guint8 *dst,
                          GError **error)
{
	guint32 blocks[MAX_CANDIDATES];
	guint n;

	if (table == NULL || fd < 0 || lo >= hi)
		return FALSE;
	n = ota_block_table_find(table, hash, lo, hi, blocks, MAX_CANDIDATES);
	for (guint i = 0; i < n; i++) {
		guint8 got[OTA_SHA256_LEN];

		if (!ota_pread_all(fd, dst, OTA_BLOCK_SIZE, (guint64)blocks[i] * OTA_BLOCK_SIZE, NULL))
			continue;
		if (!ota_block_hasher_hash(a->hasher, dst, got, error))
			return FALSE;
		if (memcmp(got, hash, OTA_SHA256_LEN) == 0)
			return TRUE;
	}
	return FALSE;
}

/* Where block @i comes from, its bytes in @dst unless FROM_BUNDLE. */
static gboolean find_block(Adaptive *a, guint32 i, guint8 *dst, BlockSource *source,
                           GError **error)
{
	const guint8 *hash = a->hashes + (gsize)i * OTA_SHA256_LEN;
	GError *ierror = NULL;

	if (take_from(a, a->old, a->fd, hash, i, i + 1, dst, &ierror))
		*source = IN_PLACE;
	else if (ierror == NULL && ota_block_hash_is_zero(hash)) {
		memset(dst, 0, OTA_BLOCK_SIZE);
		*source = ZERO;
	} else if (ierror == NULL &&
	           (take_from(a, a->written, a->fd, hash, 0, a->flushed, dst, &ierror) ||
	            (ierror == NULL &&
	             take_from(a, a->old, a->fd, hash, a->flushed, G_MAXUINT32, dst, &ierror)) ||
	            (ierror == NULL &&
	             take_from(a, a->active, a->active_fd, hash, 0, G_MAXUINT32, dst, &ierror))))
		*source = FROM_DEVICE;
	else
		*source = FROM_BUNDLE;
	if (ierror != NULL) {
		g_propagate_error(error, ierror);
		return FALSE;
	}
	/* Zeros cost nothing to make, wherever they came from. */
	if ((*source == IN_PLACE || *source == FROM_DEVICE) && !ota_block_hash_is_zero(hash))
		a->reused += OTA_BLOCK_SIZE;
	return TRUE;
}

static gboolean pwrite_all(int fd, const guint8 *data, gsize size, guint64 offset,
                           const char *path, GError **error)
{
	while (size > 0) {
		ssize_t n = pwrite(fd, data, size, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", path,
			                    n < 0 ? g_strerror(errno) : "short write");
		data += n;
		size -= (gsize)n;
		offset += (guint64)n;
	}
	return TRUE;
}

/* Calls @each for every run of blocks in [0, @n) whose source is @match
 * (or, with @invert, is not). */
typedef gboolean (*RunFunc)(Adaptive *a, guint32 first, guint k, guint n, GError **error);

static gboolean for_each_run(Adaptive *a, guint32 first, guint n, BlockSource match,
                             gboolean invert, RunFunc each, GError **error)
{
	for (guint k = 0; k < n;) {
		guint end = k;

		while (end < n && ((a->source[end] == match) != invert))
			end++;
		if (end > k) {
			if (!each(a, first, k, end - k, error))
				return FALSE;
			k = end;
		} else {
			k++;
		}
	}
	return TRUE;
}

static gboolean read_run(Adaptive *a, guint32 first, guint k, guint n, GError **error)
{
	return ota_squashfs_file_read_at(a->image, (guint64)(first + k) * OTA_BLOCK_SIZE,
	                                 a->batch + (gsize)k * OTA_BLOCK_SIZE,
	                                 (gsize)n * OTA_BLOCK_SIZE, error);
}

static gboolean write_run(Adaptive *a, guint32 first, guint k, guint n, GError **error)
{
	return pwrite_all(a->fd, a->batch + (gsize)k * OTA_BLOCK_SIZE, (gsize)n * OTA_BLOCK_SIZE,
	                  (guint64)(first + k) * OTA_BLOCK_SIZE, a->path, error);
}

/* Blocks [@first, @first + @n): found, the rest read from the bundle,
 * hashed in order, written (but for those in place). */
static gboolean write_batch(Adaptive *a, OtaBundle *b, guint32 first, guint n, GError **error)
{
	gsize bytes = (gsize)n * OTA_BLOCK_SIZE;

	if (!ota_cancel_check(error))
		return FALSE;
	for (guint k = 0; k < n; k++) {
		if (!find_block(a, first + k, a->batch + (gsize)k * OTA_BLOCK_SIZE, &a->source[k],
		                error))
			return FALSE;
	}
	if (!for_each_run(a, first, n, FROM_BUNDLE, FALSE, read_run, error)) {
		g_prefix_error(error, "%s: ", b->path);
		return FALSE;
	}
	if (EVP_DigestUpdate(a->sha, a->batch, bytes) != 1) {
		ota_set_openssl_error(error, OTA_BLOCK_HASH_INDEX_ERROR,
		                      OTA_BLOCK_HASH_INDEX_ERROR_CRYPTO, "cannot hash the image");
		return FALSE;
	}
	if (!for_each_run(a, first, n, IN_PLACE, TRUE, write_run, error))
		return FALSE;
	/* Writeback as the slot fills, so that the final fsync() is short. */
	(void)sync_file_range(a->fd, (off_t)first * OTA_BLOCK_SIZE, (off_t)bytes,
	                      SYNC_FILE_RANGE_WRITE);
	a->flushed = first + n;
	ota_progress_add(bytes);
	return TRUE;
}

static gboolean check_digest(Adaptive *a, OtaBundle *b, const OtaImage *image, GError **error)
{
	guint8 digest[OTA_SHA256_LEN];
	char hex[OTA_SHA256_HEX_LEN + 1];
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(a->sha, digest, &len) != 1 || len != OTA_SHA256_LEN) {
		ota_set_openssl_error(error, OTA_BLOCK_HASH_INDEX_ERROR,
		                      OTA_BLOCK_HASH_INDEX_ERROR_CRYPTO, "cannot hash the image");
		return FALSE;
	}
	ota_checksum_to_hex(digest, hex);
	if (strcmp(hex, image->sha256) != 0) {
		g_autofree char *filename = ota_text_escape(image->filename);

		g_set_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MISMATCH,
		            "%s: image '%s': sha256 %s does not match the manifest's %s", b->path,
		            filename, hex, image->sha256);
		return FALSE;
	}
	return TRUE;
}

static gboolean truncate_regular(int fd, guint64 size, const char *path, GError **error)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || (S_ISREG(st.st_mode) && ftruncate(fd, (off_t)size) < 0))
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s", path, g_strerror(errno));
	return TRUE;
}

gboolean slot_adaptive_write(OtaTarget *t, OtaInstallPlan *plan, const OtaInstallStep *step,
                             int fd, gboolean truncate_file, GError **error)
{
	OtaBundle *b = plan->bundle;
	const OtaImage *image = step->image;
	g_auto(Adaptive) a = {.fd = fd, .path = step->slot->device, .active_fd = -1};
	OtaSquashfs *sq = bundle_squashfs(b, error);

	if (sq == NULL)
		return FALSE;
	if (!load_index(&a, sq, image, error)) {
		g_autofree char *filename = ota_text_escape(image->filename);

		g_prefix_error(error, "%s: image '%s': ", b->path, filename);
		return FALSE;
	}
	a.image = ota_squashfs_file_open(sq, image->filename, error);
	if (a.image == NULL) {
		g_prefix_error(error, "%s: ", b->path);
		return FALSE;
	}
	a.hasher = ota_block_hasher_new(error);
	a.sha = EVP_MD_CTX_new();
	if (a.hasher == NULL)
		return FALSE;
	if (a.sha == NULL || EVP_DigestInit_ex(a.sha, EVP_sha256(), NULL) != 1) {
		ota_set_openssl_error(error, OTA_BLOCK_HASH_INDEX_ERROR,
		                      OTA_BLOCK_HASH_INDEX_ERROR_CRYPTO, "cannot hash the image");
		return FALSE;
	}
	a.active_fd = open_active(t, step->slot);
	if (!hash_devices(&a, error))
		return FALSE;
	a.batch = g_malloc((gsize)BATCH_BLOCKS * OTA_BLOCK_SIZE);
	for (guint32 first = 0; first < a.count; first += BATCH_BLOCKS) {
		if (!write_batch(&a, b, first, MIN(BATCH_BLOCKS, a.count - first), error))
			return FALSE;
	}
	if (truncate_file && !truncate_regular(fd, image->size, a.path, error))
		return FALSE;
	if (!check_digest(&a, b, image, error))
		return FALSE;
	plan->reused_bytes += a.reused;
	return TRUE;
}
