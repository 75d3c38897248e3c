/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libotabundle; not installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define OTA_STATE_ERROR ota_state_error_quark()
GQuark ota_state_error_quark(void);

typedef enum {
	OTA_STATE_ERROR_IO,
	OTA_STATE_ERROR_CORRUPTED, /* unparsable, incomplete or failing its integrity check */
	OTA_STATE_ERROR_BUSY,      /* another process holds the data directory's lock */
} OtaStateError;

/* How many install and mark results are kept. */
#define OTA_STATE_MAX_RESULTS 20

typedef struct {
	char *time;      /* UTC, RFC 3339 */
	char *operation; /* install, mark-good, mark-bad */
	char *bundle;    /* path, or NULL */
	gboolean ok;
	char *reason;    /* why it failed, or what it did */
	/* install: bytes of the bundle fetched from a server, and image bytes
	 * taken from slots on the device instead (both 0 for a local file
	 * without adaptive images) */
	guint64 downloaded_bytes;
	guint64 reused_bytes;
} OtaResult;

/* What is installed in one slot, as far as we wrote it. */
typedef struct {
	char *slot;    /* "<class>.<index>" */
	char *version; /* the bundle's [update] version */
	char *bundle_sha256;
	guint64 security_version;
	char *installed; /* UTC time */
	/* The image written, as RAUC records it: the manifest's sha256 and
	 * size. NULL while the slot is being written (cleared and saved
	 * first), so that install-same=false never skips a slot that a cut
	 * short install left half-written. */
	char *image_sha256;
	guint64 image_size;
} OtaSlotRecord;

/* The device's persistent state, in <data-directory>/state. Saved whole
 * and atomically: a power cut leaves the old or the new file, never a mix. */
typedef struct {
	char *path;
	char *installed_version;  /* of the system last marked good */
	guint64 security_floor;   /* bundles below it are refused, always */
	char *pending_slot;       /* installed, not yet marked good or bad */
	char *last_boot;          /* "<boot ID> <booted slot>" when a command last ran */
	/* The newest trusted RFC 3161 time of a bundle installed here (seconds
	 * since the epoch; 0: none): a time that has certainly passed, so a
	 * clock behind it is wrong. It only rises. */
	gint64 not_before;
	/* The trust list in effect ([trust] in system.conf): 0 while it is the
	 * one shipped in the image; else the version a trust update installed,
	 * kept as <trust directory>/trust-<N>, and the SHA-256 (hex) of its
	 * document. This record is the trust update's commit point
	 * (trust-store-private.h). */
	guint64 trust_version;
	char *trust_sha256;
	GPtrArray *slots;         /* OtaSlotRecord* */
	GPtrArray *results;       /* OtaResult*, oldest first */
} OtaState;

/* A missing file is a fresh device: empty state. A present file must be
 * whole: it ends in the SHA-256 of what precedes it, which ota_state_save()
 * writes, and it has [system] security-floor; anything else, including a
 * file written before that line existed, is OTA_STATE_ERROR_CORRUPTED. */
OtaState *ota_state_load(const char *data_directory, GError **error);
/* ota_state_load() of a file's @data; and the sealed file that
 * ota_state_save() writes (@length set, NUL-terminated). */
OtaState *ota_state_parse(const char *data_directory, const char *data, gsize length,
                          GError **error);
char *ota_state_to_data(OtaState *state, gsize *length);
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_state_save(OtaState *state, GError **error);

/* The exclusive lock of a data directory (its file "lock"): every command
 * that changes the state, a slot or the boot selection holds it for its
 * whole duration. */
typedef struct _OtaStateLock OtaStateLock;

/* Takes the lock of @state's data directory (creating both if missing)
 * without waiting: OTA_STATE_ERROR_BUSY when another process holds it. Then
 * reloads @state in place, as the state loaded before the lock may have
 * been changed by the previous holder and must not be saved over it. The
 * lock ends with ota_state_lock_free() or with the process, crash included:
 * it can't go stale. */
G_GNUC_WARN_UNUSED_RESULT
OtaStateLock *ota_state_lock(OtaState *state, GError **error);
void ota_state_lock_free(OtaStateLock *lock);

OtaSlotRecord *ota_state_get_slot(OtaState *state, const char *slot);
/* Replaces the record of @record->slot; takes ownership. */
void ota_state_set_slot(OtaState *state, OtaSlotRecord *record);
void ota_slot_record_free(OtaSlotRecord *record);
/* Appends a result, dropping the oldest beyond OTA_STATE_MAX_RESULTS;
 * returns it (owned by @state) for the caller's counters. */
OtaResult *ota_state_add_result(OtaState *state, const char *operation, const char *bundle,
                          gboolean ok, const char *reason);

void ota_state_free(OtaState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaState, ota_state_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaSlotRecord, ota_slot_record_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaStateLock, ota_state_lock_free)

G_END_DECLS
