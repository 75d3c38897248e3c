/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libotabundle; not installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define OTA_OUTPUT_ERROR ota_output_error_quark()
GQuark ota_output_error_quark(void);

typedef enum {
	OTA_OUTPUT_ERROR_EXISTS,
	OTA_OUTPUT_ERROR_IO,
} OtaOutputError;

/* A file that appears at its path only when complete. Until
 * ota_output_commit() it is an unnamed file (O_TMPFILE) in the target
 * directory, so a failure or even SIGKILL leaves nothing behind; freeing an
 * uncommitted output discards it. */
typedef struct OtaOutput OtaOutput;

/* Fails early with OTA_OUTPUT_ERROR_EXISTS if @path exists and !@force,
 * and with G_IO_ERROR_CANCELLED once a signal has cancelled; so does
 * ota_output_commit(), until the output is in place (cancel-private.h). */
OtaOutput *ota_output_new(const char *path, gboolean force, GError **error);
int ota_output_get_fd(OtaOutput *output);
/* A path through which another process can open the same file. */
const char *ota_output_get_proc_path(OtaOutput *output);
/* fsync, then link/rename into place, then fsync the directory. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_output_commit(OtaOutput *output, GError **error);
void ota_output_free(OtaOutput *output);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaOutput, ota_output_free)

G_END_DECLS
