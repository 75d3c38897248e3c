/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cancellation inside the library; a program opts in through the public
 * otabundle/cancel.h. Not installed.
 *
 * Whatever makes a temporary (a scratch directory, an unfinished output, a
 * child process) first takes a hold, and releases it once the temporary is
 * gone: while nothing is held, a signal ends the process at once, as there
 * is nothing to clean up. While something is, the signal only sets the
 * cancellation that the loops check, so the normal error paths (g_autoptr)
 * remove the temporaries in the right order: child killed and reaped, then
 * its scratch directory removed.
 *
 *   g_auto(OtaCancelHold) hold = OTA_CANCEL_HOLD_INIT;
 *   if (!ota_cancel_hold(&hold, error))
 *           return FALSE;               // cancelled already
 *   ...make the temporary, work, checking:
 *   if (!ota_cancel_check(error))
 *           return FALSE;               // the temporary is removed, then the hold released
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	gboolean held;
} OtaCancelHold;

#define OTA_CANCEL_HOLD_INIT {FALSE}

/* Takes a hold, before a temporary is made. Fails with
 * G_IO_ERROR_CANCELLED, taking none, once a signal has cancelled (or is
 * ending the process). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_cancel_hold(OtaCancelHold *hold, GError **error);

/* Releases @hold if it is taken, after its temporary is gone. */
void ota_cancel_release(OtaCancelHold *hold);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(OtaCancelHold, ota_cancel_release)

/* FALSE with G_IO_ERROR_CANCELLED once a signal has cancelled, else TRUE.
 * One atomic load: cheap enough for every buffer of a loop over data, on
 * any thread. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_cancel_check(GError **error);

/* For a wait in a main loop (a child process): a source that calls @func
 * with @data once a signal cancels, and keeps calling it while it returns
 * G_SOURCE_CONTINUE; NULL when the program did not call
 * ota_cancel_on_signals(), so nothing can cancel. */
GSource *ota_cancel_source_new(GSourceFunc func, gpointer data);

G_END_DECLS
