/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <glib.h>

OTA_BEGIN_DECLS

/* Interrupting the library's operations without leaving anything behind.
 *
 * An operation that writes (ota_bundle_create(), ota_bundle_extract(), the
 * signing functions of bundle.h) keeps its work in temporaries until it
 * commits: unnamed files, private scratch directories and a child process
 * (mksquashfs). Killed outright, the process could leave a scratch
 * directory and an orphaned child. After ota_cancel_on_signals(), SIGINT,
 * SIGTERM and SIGHUP instead cancel the operation under way: it stops at
 * its next check (every loop over data checks, so within a fraction of a
 * second), kills and reaps its child process with everything
 * that child started, removes its temporaries and fails with
 * G_IO_ERROR_CANCELLED (from <gio/gio.h>). An output already committed
 * (renamed into place) is complete and stays; nothing is ever half there.
 *
 * While the library holds no temporary, a signal has its default effect at
 * once, so the program stays interruptible everywhere else (a PIN prompt,
 * say). A second signal while a cancelled operation is cleaning up does not
 * cut the cleanup short: it takes milliseconds unless the operation waits
 * for a signing token, and SIGQUIT or SIGKILL still end the process at once.
 * Cancellation is for good: once a signal has cancelled, every later
 * operation that would make a temporary fails the same way, since the
 * program is expected to end with ota_cancel_exit(). */

/* Installs the library's handler for SIGINT, SIGTERM and SIGHUP, except
 * for one the process ignores (nohup, `cmd &` in a script), which stays
 * ignored. SA_RESTART: interrupted reads and writes resume. Call it once,
 * early, from a program that owns its signal handling; it replaces any
 * handler the program had for these. Fails only if the process is out of
 * file descriptors. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_cancel_on_signals(GError **error);

/* The signal that cancelled the library's operations, or 0 if none has.
 * Once it is set, an operation's failure (or a success that came just
 * before the signal) should end the program through ota_cancel_exit(),
 * printing no error: the user asked for the stop. Async-signal-safe. */
int ota_cancel_get_signal(void);

/* If a signal cancelled, flushes stdio and ends the process as that
 * signal would have without the library's handler (default disposition,
 * raised again), so
 * that its parent sees it killed by the signal (a shell reports 128+N and
 * stops a script); returns otherwise. Call it once the operation has
 * returned, when the temporaries are gone. */
void ota_cancel_exit(void);

OTA_END_DECLS
