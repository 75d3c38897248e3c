/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <glib.h>

OTA_BEGIN_DECLS

/* Progress of long operations, one line on stderr, rewritten in place:
 *
 *   verify: 612.0 MiB of 1.2 GiB (49%), 1.1 GiB/s, 0:01 left
 *
 * Process-wide, like a log handler: the CLI enables it (when stderr is a
 * terminal and --quiet is not given) and the library reports bytes from
 * whatever thread does the work. Disabled, every call is a no-op. */
void ota_progress_enable(gboolean enable);
gboolean ota_progress_enabled(void);

/* Starts a phase of @total bytes. Begun while another phase is open, it
 * is part of that one (whose total includes its work) and shows nothing. */
void ota_progress_begin(const char *what, guint64 total);
/* @bytes more done; thread-safe and cheap (the line is redrawn at most
 * a few times a second). */
void ota_progress_add(guint64 bytes);
/* Raises the bytes done to @done (for work measured from outside, such
 * as a child process); never lowers them. */
void ota_progress_set(guint64 done);
/* Ends the phase last begun; an outermost one prints its final line:
 * total and average rate. */
void ota_progress_end(void);
/* Erases the line of an unfinished phase (before an error is printed). */
void ota_progress_cancel(void);

OTA_END_DECLS
