/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RAUC's event log: the [log.<name>] files of system.conf, written as RAUC
 * writes them (src/event_log.c of RAUC 1.11-1.15): the same events, message
 * IDs, fields, formats and rotation, so that tools reading a RAUC device's
 * log read ours. Not installed. */
#pragma once

#include "config-private.h"

G_BEGIN_DECLS

/* The loggers of one command. Writing never fails the command: like RAUC,
 * a logger that can't be written is switched off (for this process) and
 * the failure is kept for the caller to report. */
typedef struct OtaEventLog OtaEventLog;

/* @loggers: OtaLogConfig* of the system.conf (borrowed: they must outlive
 * the event log); none: every call below does nothing. */
OtaEventLog *event_log_new(const GPtrArray *loggers);
void event_log_free(OtaEventLog *log);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaEventLog, event_log_free)

/* The first failure ("event log 'NAME': PATH: reason"), or NULL. */
const char *event_log_get_error(const OtaEventLog *log);

/* A new install's transaction ID, as RAUC makes it (a random UUID). */
char *event_log_new_transaction(void);

/* "Installation 1a2b3c4d started". */
void event_log_install_started(OtaEventLog *log, const char *transaction);
/* "... succeeded" without @error; "... rejected: why" when @rejected (the
 * bundle was refused before any slot was written), else "... failed: why".
 * @bundle_hash, @description and @version may be NULL (unknown). */
void event_log_install_done(OtaEventLog *log, const char *transaction, const char *bundle_hash,
                            const char *description, const char *version, const GError *error,
                            gboolean rejected);
/* "Updating slot rootfs.1" (the writeslot event). */
void event_log_slot_written(OtaEventLog *log, const char *slot);

typedef enum {
	EVENT_LOG_MARKED_GOOD,
	EVENT_LOG_MARKED_BAD,
	EVENT_LOG_MARKED_ACTIVE,
} EventLogMark;

/* "Marked slot rootfs.1 as good"; @bundle_hash only for ACTIVE, as RAUC. */
void event_log_marked(OtaEventLog *log, EventLogMark mark, const char *slot, const char *bootname,
                      const char *bundle_hash);
/* "Booted into rootfs.1 (B)"; @bundle_hash NULL: "unknown". */
void event_log_booted(OtaEventLog *log, const char *slot, const char *bootname,
                      const char *boot_id, const char *bundle_hash);

/* otabundle's own event type "trust" (events=trust), in RAUC's form: "Trust
 * list updated from version 1 to 3" (@to, its document's @sha256), or with
 * @error "Trust update rejected: why" (@to 0, @sha256 NULL). */
void event_log_trust_updated(OtaEventLog *log, guint64 from, guint64 to, const char *sha256,
                             const GError *error);

G_END_DECLS
