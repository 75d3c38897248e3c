/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "checksum-private.h"

#include <otabundle/openssl.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cancel-private.h"
#include "openssl-private.h"
#include "progress-private.h"
#include "reader-private.h"

G_DEFINE_QUARK(ota-checksum-error-quark, ota_checksum_error)

/* A hash pipe's buffer: large enough that handing it to the worker costs
 * nothing next to hashing it. */
#define CHUNK_SIZE (256 * 1024)
/* Small enough that a chunk is still in this core's L2 cache when it is
 * hashed right after being read: 128 KiB was measured ~7 % faster than
 * 1 MiB, and faster than `openssl dgst`. */
#define READ_SIZE (128 * 1024)

/* --- hash pipe --------------------------------------------------------------- */

/* Bounded: the producer waits for a free buffer, so memory stays at
 * PIPE_BUFFERS * CHUNK_SIZE whatever the stream's length. */
#define PIPE_BUFFERS 8
/* Start writeback every this many bytes, so the final fsync() finds
 * little left to write and the disk works while the CPUs do. */
#define WRITEBACK_STEP (16 * 1024 * 1024)
/* What O_DIRECT needs of lengths and offsets on the filesystems we write:
 * the page size covers every logical block size in use. */
#define DIRECT_ALIGNMENT 4096

typedef struct {
	guint8 *data;
	gsize len; /* 0: end of stream */
} PipeBuffer;

struct OtaHashPipe {
	int out_fd;
	OtaHashPipeFlags flags;
	gboolean direct; /* out_fd has O_DIRECT now */
	GThread *worker;
	GAsyncQueue *free_buffers;
	GAsyncQueue *full_buffers;
	PipeBuffer *filling;
	PipeBuffer buffers[PIPE_BUFFERS];
	EVP_MD_CTX *md;
	guint64 written;
	guint64 writeback_done;
	gint failed;  /* atomic: the worker met an error */
	GError *error; /* the worker's, read after it is joined */
	gboolean finished;
};

static gboolean is_zero(const guint8 *data, gsize len)
{
	return len == 0 || (data[0] == 0 && memcmp(data, data + 1, len - 1) == 0);
}

static gboolean pipe_io_error(GError **error, const char *what, int err)
{
	g_set_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_IO, "%s: %s", what,
	            g_strerror(err));
	return FALSE;
}

static gboolean pipe_set_direct(OtaHashPipe *p, gboolean direct)
{
	int flags = fcntl(p->out_fd, F_GETFL);

	if (flags < 0 ||
	    fcntl(p->out_fd, F_SETFL, direct ? flags | O_DIRECT : flags & ~O_DIRECT) < 0)
		return FALSE;
	p->direct = direct;
	return TRUE;
}

static gboolean pipe_consume(OtaHashPipe *p, const PipeBuffer *b, GError **error)
{
	if (p->md != NULL && EVP_DigestUpdate(p->md, b->data, b->len) != 1) {
		ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
		                      "SHA-256 update failed");
		return FALSE;
	}
	if (p->out_fd >= 0) {
		if ((p->flags & OTA_HASH_PIPE_SPARSE) && is_zero(b->data, b->len)) {
			if (lseek(p->out_fd, (off_t)b->len, SEEK_CUR) < 0)
				return pipe_io_error(error, "seek failed", errno);
		} else {
			/* O_DIRECT takes whole blocks only: the tail goes through the
			 * page cache. */
			if (p->direct && b->len % DIRECT_ALIGNMENT != 0 && !pipe_set_direct(p, FALSE))
				return pipe_io_error(error, "cannot leave O_DIRECT", errno);
			if (!ota_write_all(p->out_fd, b->data, b->len, error))
				return FALSE;
		}
		p->written += b->len;
		if ((p->flags & OTA_HASH_PIPE_WRITEBACK) &&
		    p->written - p->writeback_done >= WRITEBACK_STEP) {
			/* Advisory: fails harmlessly where unsupported. */
			(void)sync_file_range(p->out_fd, (off64_t)p->writeback_done,
			                      (off64_t)(p->written - p->writeback_done),
			                      SYNC_FILE_RANGE_WRITE);
			p->writeback_done = p->written;
		}
	}
	if (p->flags & OTA_HASH_PIPE_PROGRESS)
		ota_progress_add(b->len);
	return TRUE;
}

static gpointer pipe_worker(gpointer data)
{
	OtaHashPipe *p = data;

	for (;;) {
		PipeBuffer *b = g_async_queue_pop(p->full_buffers);
		gsize len = b->len;

		/* After an error, keep returning buffers so the producer never
		 * waits forever; it sees `failed` on its next push. */
		if (len > 0 && !g_atomic_int_get(&p->failed) && !pipe_consume(p, b, &p->error))
			g_atomic_int_set(&p->failed, 1);
		g_async_queue_push(p->free_buffers, b);
		if (len == 0)
			return NULL;
	}
}

OtaHashPipe *ota_hash_pipe_new(int out_fd, OtaHashPipeFlags flags, GError **error)
{
	g_autoptr(OtaHashPipe) p = g_new0(OtaHashPipe, 1);
	gboolean hash = (flags & OTA_HASH_PIPE_HASH) != 0;

	g_return_val_if_fail(hash || out_fd >= 0, NULL);
	p->out_fd = out_fd;
	p->flags = flags;
	p->free_buffers = g_async_queue_new();
	p->full_buffers = g_async_queue_new();
	if (hash && ((p->md = EVP_MD_CTX_new()) == NULL ||
	             EVP_DigestInit_ex(p->md, EVP_sha256(), NULL) != 1)) {
		ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
		                      "cannot initialise SHA-256");
		return NULL;
	}
	for (guint i = 0; i < PIPE_BUFFERS; i++) {
		/* Page-aligned, as O_DIRECT requires. */
		if (posix_memalign((void **)&p->buffers[i].data, 4096, CHUNK_SIZE) != 0)
			g_error("out of memory");
		g_async_queue_push(p->free_buffers, &p->buffers[i]);
	}
	/* Where the filesystem refuses O_DIRECT, writes stay buffered. */
	if ((flags & OTA_HASH_PIPE_DIRECT) && out_fd >= 0)
		(void)pipe_set_direct(p, TRUE);
	p->worker = g_thread_new("ota-hash-pipe", pipe_worker, p);
	return g_steal_pointer(&p);
}

static void pipe_flush(OtaHashPipe *p)
{
	if (p->filling != NULL && p->filling->len > 0) {
		g_async_queue_push(p->full_buffers, p->filling);
		p->filling = NULL;
	}
}

static gboolean pipe_failed(OtaHashPipe *p, GError **error)
{
	if (!g_atomic_int_get(&p->failed))
		return FALSE;
	/* The worker no longer touches p->error once `failed` is set. */
	g_propagate_error(error, g_error_copy(p->error));
	return TRUE;
}

/* The buffer being filled, taking a free one if needed; NULL once the
 * worker has failed or a signal has cancelled. */
static PipeBuffer *pipe_reserve(OtaHashPipe *p, GError **error)
{
	if (pipe_failed(p, error) || !ota_cancel_check(error))
		return NULL;
	if (p->filling == NULL) {
		p->filling = g_async_queue_pop(p->free_buffers);
		p->filling->len = 0;
	}
	return p->filling;
}

gboolean ota_hash_pipe_push(OtaHashPipe *p, const guint8 *data, gsize len, GError **error)
{
	g_return_val_if_fail(!p->finished, FALSE);

	while (len > 0) {
		gsize n;

		if (pipe_reserve(p, error) == NULL)
			return FALSE;
		n = MIN(len, CHUNK_SIZE - p->filling->len);
		memcpy(p->filling->data + p->filling->len, data, n);
		p->filling->len += n;
		data += n;
		len -= n;
		if (p->filling->len == CHUNK_SIZE)
			pipe_flush(p);
	}
	return TRUE;
}

/* Ends the stream and waits for the worker. */
static void pipe_stop(OtaHashPipe *p)
{
	PipeBuffer *end;

	if (p->worker == NULL)
		return;
	pipe_flush(p);
	end = p->filling ? p->filling : g_async_queue_pop(p->free_buffers);
	p->filling = NULL;
	end->len = 0;
	g_async_queue_push(p->full_buffers, end);
	g_thread_join(p->worker);
	p->worker = NULL;
}

gboolean ota_hash_pipe_finish(OtaHashPipe *p, guint8 digest[OTA_SHA256_LEN], GError **error)
{
	unsigned int len = 0;

	g_return_val_if_fail(!p->finished, FALSE);
	p->finished = TRUE;
	pipe_stop(p);
	if (p->error != NULL) {
		g_propagate_error(error, g_steal_pointer(&p->error));
		return FALSE;
	}
	/* A hole at the end has no bytes to give the file its size. */
	if ((p->flags & OTA_HASH_PIPE_SPARSE) && ftruncate(p->out_fd, (off_t)p->written) < 0)
		return pipe_io_error(error, "truncate failed", errno);
	if (p->md == NULL) {
		if (digest != NULL)
			memset(digest, 0, OTA_SHA256_LEN);
	} else if (EVP_DigestFinal_ex(p->md, digest, &len) != 1 || len != OTA_SHA256_LEN) {
		ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
		                      "SHA-256 final failed");
		return FALSE;
	}
	return TRUE;
}

void ota_hash_pipe_free(OtaHashPipe *p)
{
	if (p == NULL)
		return;
	pipe_stop(p);
	for (guint i = 0; i < PIPE_BUFFERS; i++)
		free(p->buffers[i].data);
	g_async_queue_unref(p->free_buffers);
	g_async_queue_unref(p->full_buffers);
	EVP_MD_CTX_free(p->md);
	g_clear_error(&p->error);
	g_free(p);
}

/* The chunk just read is hashed on this thread while it is still in this
 * core's cache. (Handing chunks to a hashing thread was measured slower:
 * the hasher then waits for another core's cache.) */
static gboolean hash_stream(int in_fd, guint64 offset, guint64 length, int out_fd,
                            gboolean report, OtaChecksumObserver observer, gpointer user_data,
                            gboolean with_sha512, OtaChecksum *out, GError **error)
{
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	g_autoptr(EVP_MD_CTX) ctx512 = with_sha512 ? EVP_MD_CTX_new() : NULL;
	g_autofree guint8 *buf = g_malloc(READ_SIZE);
	/* A copy is written on a second core while this one hashes. */
	g_autoptr(OtaHashPipe) writer = out_fd >= 0 ? ota_hash_pipe_new(out_fd, 0, error) : NULL;
	guint64 done = 0;
	unsigned int len = 0;

	if (out_fd >= 0 && writer == NULL)
		return FALSE;
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
		                      "cannot initialise SHA-256");
		return FALSE;
	}
	if (with_sha512 && (ctx512 == NULL || EVP_DigestInit_ex(ctx512, EVP_sha512(), NULL) != 1)) {
		ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
		                      "cannot initialise SHA-512");
		return FALSE;
	}
	posix_fadvise(in_fd, (off_t)offset, (off_t)length, POSIX_FADV_SEQUENTIAL);

	while (done < length) {
		gsize n = (gsize)MIN((guint64)READ_SIZE, length - done);

		if (!ota_cancel_check(error) || !ota_pread_all(in_fd, buf, n, offset + done, error))
			return FALSE;
		if (EVP_DigestUpdate(ctx, buf, n) != 1 ||
		    (ctx512 != NULL && EVP_DigestUpdate(ctx512, buf, n) != 1)) {
			ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
			                      "digest update failed");
			return FALSE;
		}
		if (observer != NULL && !observer(offset + done, buf, n, user_data, error))
			return FALSE;
		if (writer != NULL && !ota_hash_pipe_push(writer, buf, n, error))
			return FALSE;
		done += n;
		if (report)
			ota_progress_add(n);
	}
	if (writer != NULL && !ota_hash_pipe_finish(writer, NULL, error))
		return FALSE;
	if (EVP_DigestFinal_ex(ctx, out->sha256, &len) != 1 || len != OTA_SHA256_LEN) {
		ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
		                      "SHA-256 final failed");
		return FALSE;
	}
	out->has_sha512 = FALSE;
	if (ctx512 != NULL) {
		if (EVP_DigestFinal_ex(ctx512, out->sha512, &len) != 1 || len != OTA_SHA512_LEN) {
			ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
			                      "SHA-512 final failed");
			return FALSE;
		}
		out->has_sha512 = TRUE;
	}
	out->size = length;
	return TRUE;
}

gboolean ota_checksum_fd(int fd, guint64 offset, guint64 length, OtaChecksum *out,
                         GError **error)
{
	return hash_stream(fd, offset, length, -1, TRUE, NULL, NULL, FALSE, out, error);
}

gboolean ota_checksum_fd_observed(int fd, guint64 offset, guint64 length,
                                  OtaChecksumObserver observer, gpointer user_data,
                                  gboolean with_sha512, OtaChecksum *out, GError **error)
{
	return hash_stream(fd, offset, length, -1, TRUE, observer, user_data, with_sha512, out,
	                   error);
}

gboolean ota_checksum_copy_fd(int in_fd, guint64 offset, guint64 length, int out_fd,
                              gboolean with_sha512, OtaChecksum *out, GError **error)
{
	return hash_stream(in_fd, offset, length, out_fd, TRUE, NULL, NULL, with_sha512, out,
	                   error);
}

gboolean ota_checksum_file(const char *path, OtaChecksum *out, GError **error)
{
	g_autoptr(GError) ierror = NULL;
	struct stat st;
	gboolean ok;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		int saved = errno;
		g_set_error(error, OTA_CHECKSUM_ERROR,
		            saved == ELOOP ? OTA_CHECKSUM_ERROR_NOT_REGULAR : OTA_CHECKSUM_ERROR_IO,
		            "%s: %s", path,
		            saved == ELOOP ? "is a symbolic link, not a regular file" : g_strerror(saved));
		return FALSE;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		g_set_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_NOT_REGULAR,
		            "%s: not a regular file", path);
		return FALSE;
	}
	/* Not reported as progress: create measures its progress by what
	 * mksquashfs has read, which this runs beside. */
	ok = hash_stream(fd, 0, (guint64)st.st_size, -1, FALSE, NULL, NULL, FALSE, out, &ierror);
	close(fd);
	if (!ok) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", path);
		return FALSE;
	}
	return TRUE;
}

typedef struct {
	const char *path;
	OtaChecksum *out;
	GError *error;
} FileJob;

static void checksum_job(gpointer data, gpointer user_data)
{
	FileJob *job = data;

	/* The outcome is job->error; the caller collects it after the join. */
	if (!ota_checksum_file(job->path, job->out, &job->error))
		return;
}

gboolean ota_checksum_files(const char *const *paths, gsize n, OtaChecksum *out,
                            GError **error)
{
	g_autofree FileJob *jobs = g_new0(FileJob, n);
	GThreadPool *pool;
	gboolean ok = TRUE;

	if (n == 1)
		return ota_checksum_file(paths[0], &out[0], error);

	pool = g_thread_pool_new(checksum_job, NULL, (gint)MAX(1u, g_get_num_processors()),
	                         FALSE, NULL);
	for (gsize i = 0; i < n; i++) {
		jobs[i].path = paths[i];
		jobs[i].out = &out[i];
		g_thread_pool_push(pool, &jobs[i], NULL);
	}
	g_thread_pool_free(pool, FALSE, TRUE);

	for (gsize i = 0; i < n; i++) {
		if (jobs[i].error == NULL)
			continue;
		if (ok)
			g_propagate_error(error, jobs[i].error);
		else
			g_error_free(jobs[i].error);
		ok = FALSE;
	}
	return ok;
}

gboolean ota_checksum_bytes(GBytes *data, guint8 out[OTA_SHA256_LEN], GError **error)
{
	gsize size = 0;
	const void *bytes = g_bytes_get_data(data, &size);

	if (EVP_Digest(bytes, size, out, NULL, EVP_sha256(), NULL) != 1) {
		ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
		                      "cannot compute SHA-256");
		return FALSE;
	}
	return TRUE;
}

gboolean ota_checksum_bytes_all(GBytes *data, OtaChecksum *out, GError **error)
{
	gsize size = 0;
	const void *bytes = g_bytes_get_data(data, &size);

	out->size = size;
	if (!ota_checksum_bytes(data, out->sha256, error))
		return FALSE;
	if (EVP_Digest(bytes, size, out->sha512, NULL, EVP_sha512(), NULL) != 1) {
		ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
		                      "cannot compute SHA-512");
		return FALSE;
	}
	out->has_sha512 = TRUE;
	return TRUE;
}

void ota_checksum_to_hex(const guint8 digest[OTA_SHA256_LEN], char hex[OTA_SHA256_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (gsize i = 0; i < OTA_SHA256_LEN; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 0xf];
	}
	hex[OTA_SHA256_HEX_LEN] = '\0';
}

gboolean ota_checksum_from_hex(const char *hex, guint8 digest[OTA_SHA256_LEN])
{
	if (hex == NULL || strlen(hex) != OTA_SHA256_HEX_LEN)
		return FALSE;
	for (gsize i = 0; i < OTA_SHA256_LEN; i++) {
		int hi = g_ascii_xdigit_value(hex[2 * i]);
		int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return FALSE;
		digest[i] = (guint8)(hi << 4 | lo);
	}
	return TRUE;
}
