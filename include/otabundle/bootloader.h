/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <otabundle/config.h>

OTA_BEGIN_DECLS

#define OTA_BOOTLOADER_ERROR ota_bootloader_error_quark()
GQuark ota_bootloader_error_quark(void);

typedef enum {
	OTA_BOOTLOADER_ERROR_FAILED,  /* the backend (tool, script, file) failed */
	OTA_BOOTLOADER_ERROR_INVALID, /* it answered something we can't use */
} OtaBootloaderError;

typedef enum {
	OTA_SLOT_STATE_GOOD,
	OTA_SLOT_STATE_BAD,
} OtaSlotState;

/* The boot-selection interface every backend implements, addressed by the
 * slots' bootnames ("A", "B", ...). RAUC's semantics:
 *   primary:   the slot the bootloader will try first;
 *   set_primary(B): try B next (once: if B fails to boot or is marked bad,
 *              the bootloader falls back to the other good slot);
 *   state:     good or bad; a bad slot is never booted;
 *   booted:    the slot running now, if the backend knows it. */
typedef struct OtaBootloader OtaBootloader;

/* @config: which backend and its settings; @bootnames: every bootname in
 * the slot configuration (NULL-terminated). */
OtaBootloader *ota_bootloader_new(const OtaSystemConfig *config, const char *const *bootnames,
                                  GError **error);
void ota_bootloader_free(OtaBootloader *bootloader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaBootloader, ota_bootloader_free)

/* Each returns a g_malloc'd bootname, or NULL with @error. */
char *ota_bootloader_get_primary(OtaBootloader *bootloader, GError **error);
/* NULL without error when the backend can't tell (the caller falls back to
 * the kernel command line). */
char *ota_bootloader_get_booted(OtaBootloader *bootloader, GError **error);

G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bootloader_set_primary(OtaBootloader *bootloader, const char *bootname,
                                    GError **error);
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bootloader_get_state(OtaBootloader *bootloader, const char *bootname,
                                  OtaSlotState *state, GError **error);
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_bootloader_set_state(OtaBootloader *bootloader, const char *bootname,
                                  OtaSlotState state, GError **error);

OTA_END_DECLS
