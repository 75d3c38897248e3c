/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library's one way to report a failed system call on a file. The
 * function that knows the path names it, once: callers above add their own
 * context, never the path again. Not installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sets "@path: strerror(@saved_errno)" in @domain with @code, or "@path:
 * @action: strerror(@saved_errno)" when @action (e.g. "fsync failed") is
 * not NULL. Returns FALSE, for `return ota_set_io_error(...)`. */
gboolean ota_set_io_error(GError **error, GQuark domain, gint code, const char *path,
                          const char *action, int saved_errno);

G_END_DECLS
