/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/checksum.h>
#include <otabundle/openssl.h>
#include <otabundle/reader.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(ota-checksum-error-quark, ota_checksum_error)

/* Large enough that syscall overhead vanishes next to SHA-256 cost. */
#define CHUNK_SIZE (1024 * 1024)

static gboolean hash_stream(int in_fd, guint64 offset, guint64 length, int out_fd,
                            OtaChecksum *out, GError **error)
{
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	g_autofree guint8 *buf = g_malloc(CHUNK_SIZE);
	guint64 done = 0;
	unsigned int len = 0;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
		                      "cannot initialise SHA-256");
		return FALSE;
	}
	posix_fadvise(in_fd, (off_t)offset, (off_t)length, POSIX_FADV_SEQUENTIAL);

	while (done < length) {
		gsize n = (gsize)MIN((guint64)CHUNK_SIZE, length - done);

		if (!ota_pread_all(in_fd, buf, n, offset + done, error))
			return FALSE;
		if (EVP_DigestUpdate(ctx, buf, n) != 1) {
			ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
			                      "SHA-256 update failed");
			return FALSE;
		}
		if (out_fd >= 0 && !ota_write_all(out_fd, buf, n, error))
			return FALSE;
		done += n;
	}
	if (EVP_DigestFinal_ex(ctx, out->sha256, &len) != 1 || len != OTA_SHA256_LEN) {
		ota_set_openssl_error(error, OTA_CHECKSUM_ERROR, OTA_CHECKSUM_ERROR_CRYPTO,
		                      "SHA-256 final failed");
		return FALSE;
	}
	out->size = length;
	return TRUE;
}

gboolean ota_checksum_fd(int fd, guint64 offset, guint64 length, OtaChecksum *out,
                         GError **error)
{
	return hash_stream(fd, offset, length, -1, out, error);
}

gboolean ota_checksum_copy_fd(int in_fd, guint64 offset, guint64 length, int out_fd,
                              OtaChecksum *out, GError **error)
{
	return hash_stream(in_fd, offset, length, out_fd, out, error);
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
	ok = ota_checksum_fd(fd, 0, (guint64)st.st_size, out, &ierror);
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
