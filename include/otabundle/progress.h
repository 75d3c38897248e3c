/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <glib.h>

OTA_BEGIN_DECLS

/* Progress of long operations (create, verify, extract, resign, install),
 * told to a handler the program installs; the library itself never prints
 * it. The otabundle CLIs draw it as one line on stderr.
 *
 * The work is counted in phases ("verify", "pack", "install rootfs.0").
 * A phase begun while another is open is part of that one (whose total
 * counts its work) and is not reported, so the handler sees one phase at a
 * time: BEGIN, then UPDATEs, then exactly one DONE or FAILED, which the
 * library sends on every path, errors included. */

typedef enum {
	OTA_PROGRESS_BEGIN,  /* a phase starts: @done is 0 */
	OTA_PROGRESS_UPDATE, /* more is done; at most a few per second */
	OTA_PROGRESS_DONE,   /* the phase completed */
	OTA_PROGRESS_FAILED, /* the phase was left early: an error follows */
} OtaProgressKind;

/* One report. The library fills it in and may add fields at the end in a
 * later version (callers only ever read one it hands them). */
typedef struct {
	OtaProgressKind kind;
	const char *phase; /* e.g. "verify"; owned by the library, valid during the call */
	guint64 done;      /* bytes done so far, never more than @total */
	guint64 total;     /* bytes the phase will do */
	gint64 elapsed_us; /* since the phase began (monotonic clock) */
} OtaProgressEvent;

/* Called with each report, with @event valid for the call only. Calls are
 * never concurrent, but may come from any thread the library works on
 * (worker threads included), while the library holds its progress lock:
 * the handler must be quick and must not call into libotabundle. */
typedef void (*OtaProgressFunc)(const OtaProgressEvent *event, gpointer user_data);

/* Installs @func (with @user_data, which the caller owns and keeps valid
 * while it is installed and until the phases begun under it have ended) as
 * the handler of the whole process; NULL removes it. Without a handler,
 * which is the default, the library does no progress work at all.
 * Install it before the operation it is to report: a phase reports to the
 * handler installed when it began, from its BEGIN to its end. Thread-safe;
 * cannot fail. */
void ota_progress_set_handler(OtaProgressFunc func, gpointer user_data);

OTA_END_DECLS
