/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libotabundle; not installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define OTA_READER_ERROR ota_reader_error_quark()
GQuark ota_reader_error_quark(void);

typedef enum {
	OTA_READER_ERROR_IO,
	OTA_READER_ERROR_OUT_OF_BOUNDS, /* a read past the end of the window */
	OTA_READER_ERROR_TRUNCATED,     /* the file ended before the window did */
	OTA_READER_ERROR_TOO_LARGE,     /* a recording reader's limit was reached */
	OTA_READER_ERROR_NOT_RECORDED,  /* a replay reader has no such bytes */
} OtaReaderError;

/* Random access to a bounded byte range. Everything that parses payload
 * reads through one of these, so the same parser runs over a bundle file,
 * a private verified copy or (for verity) a block-checking reader. */
typedef struct OtaReader OtaReader;
struct OtaReader {
	gboolean (*read_at)(OtaReader *self, guint64 offset, void *buffer, gsize size,
	                    GError **error);
	void (*free)(OtaReader *self);
	guint64 size;
};

/* Reads [offset, offset + size) of @fd; @fd is duplicated, so the caller
 * keeps ownership of its own descriptor. */
OtaReader *ota_reader_new_fd(int fd, guint64 offset, guint64 size, GError **error);

G_GNUC_WARN_UNUSED_RESULT
gboolean ota_reader_read_at(OtaReader *reader, guint64 offset, void *buffer, gsize size,
                            GError **error);
void ota_reader_free(OtaReader *reader);

/* pread() until @size bytes are read; a short file is an error. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_pread_all(int fd, void *buffer, gsize size, guint64 offset, GError **error);
/* write() until @size bytes are written. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_write_all(int fd, const void *buffer, gsize size, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaReader, ota_reader_free)

G_END_DECLS
