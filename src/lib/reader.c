/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "reader-private.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

G_DEFINE_QUARK(ota-reader-error-quark, ota_reader_error)

typedef struct {
	OtaReader base;
	int fd;
	guint64 offset;
} FdReader;

gboolean ota_pread_all(int fd, void *buffer, gsize size, guint64 offset, GError **error)
{
	guint8 *p = buffer;

	while (size > 0) {
		ssize_t n = pread(fd, p, size, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			g_set_error(error, OTA_READER_ERROR, OTA_READER_ERROR_IO, "read failed: %s",
			            g_strerror(saved));
			return FALSE;
		}
		if (n == 0) {
			g_set_error_literal(error, OTA_READER_ERROR, OTA_READER_ERROR_TRUNCATED,
			                    "unexpected end of file");
			return FALSE;
		}
		p += n;
		size -= (gsize)n;
		offset += (guint64)n;
	}
	return TRUE;
}

gboolean ota_write_all(int fd, const void *buffer, gsize size, GError **error)
{
	const guint8 *p = buffer;

	while (size > 0) {
		ssize_t n = write(fd, p, size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			g_set_error(error, OTA_READER_ERROR, OTA_READER_ERROR_IO, "write failed: %s",
			            g_strerror(saved));
			return FALSE;
		}
		p += n;
		size -= (gsize)n;
	}
	return TRUE;
}

static gboolean fd_reader_read_at(OtaReader *self, guint64 offset, void *buffer, gsize size,
                                  GError **error)
{
	FdReader *r = (FdReader *)self;

	return ota_pread_all(r->fd, buffer, size, r->offset + offset, error);
}

static void fd_reader_free(OtaReader *self)
{
	FdReader *r = (FdReader *)self;

	close(r->fd);
	g_free(r);
}

OtaReader *ota_reader_new_fd(int fd, guint64 offset, guint64 size, GError **error)
{
	FdReader *r;
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (dup_fd < 0) {
		int saved = errno;
		g_set_error(error, OTA_READER_ERROR, OTA_READER_ERROR_IO, "dup failed: %s",
		            g_strerror(saved));
		return NULL;
	}
	r = g_new0(FdReader, 1);
	r->base.read_at = fd_reader_read_at;
	r->base.free = fd_reader_free;
	r->base.size = size;
	r->fd = dup_fd;
	r->offset = offset;
	return &r->base;
}

gboolean ota_reader_read_at(OtaReader *reader, guint64 offset, void *buffer, gsize size,
                            GError **error)
{
	/* Written so that offset + size cannot overflow. */
	if (offset > reader->size || size > reader->size - offset) {
		g_set_error(error, OTA_READER_ERROR, OTA_READER_ERROR_OUT_OF_BOUNDS,
		            "read of %" G_GSIZE_FORMAT " bytes at offset %" G_GUINT64_FORMAT
		            " is outside the %" G_GUINT64_FORMAT "-byte payload",
		            size, offset, reader->size);
		return FALSE;
	}
	return reader->read_at(reader, offset, buffer, size, error);
}

void ota_reader_free(OtaReader *reader)
{
	if (reader != NULL)
		reader->free(reader);
}
