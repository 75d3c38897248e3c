/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reporting progress from inside the library (the handler is installed
 * through the public otabundle/progress.h). Not installed.
 *
 * A phase is scoped: it ends as failed when its object is freed unless
 * ota_progress_phase_done() ended it first, so an early error return can't
 * leave it open:
 *
 *   g_autoptr(OtaProgressPhase) phase = ota_progress_begin("verify", size);
 *   if (!check(..., error))
 *           return FALSE;          // FAILED is reported
 *   ota_progress_phase_done(phase); // DONE is reported
 */
#pragma once

#include <otabundle/progress.h>

G_BEGIN_DECLS

typedef struct _OtaProgressPhase OtaProgressPhase;

/* Starts a phase of @total bytes, named @what (copied). Returns NULL, and
 * does nothing, when no handler is installed or another phase is open (it
 * is part of that one's work). Free the result with
 * ota_progress_phase_free() (g_autoptr); NULL is fine for both. */
G_GNUC_WARN_UNUSED_RESULT
OtaProgressPhase *ota_progress_begin(const char *what, guint64 total);

/* Ends @phase as completed; the later free then reports nothing more. */
void ota_progress_phase_done(OtaProgressPhase *phase);

/* Ends @phase as failed unless it was done, and frees it. */
void ota_progress_phase_free(OtaProgressPhase *phase);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaProgressPhase, ota_progress_phase_free)

/* @bytes more done in the open phase, from any thread; cheap, and a no-op
 * when no phase is open. */
void ota_progress_add(guint64 bytes);

/* Raises the bytes done in the open phase to @done (for work measured from
 * outside, such as a child process); never lowers them. */
void ota_progress_set(guint64 done);

/* Whether a phase is open, i.e. whether counting bytes is worth any effort
 * (polling a child process, say). */
gboolean ota_progress_reporting(void);

G_END_DECLS
