/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The noop backend, as RAUC's: for devices where something other than
 * otabundle selects the slot to boot. Making a slot primary, good or bad
 * changes nothing (the install and mark-good/mark-bad are still recorded in
 * the state); the primary and the slots' states are unknown. */
#include "bootloader-private.h"

static gboolean noop_open(OtaBootloader *bl, const OtaSystemConfig *config, GError **error)
{
	return TRUE;
}

static gboolean noop_unknown(const char *what, GError **error)
{
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_NOT_SUPPORTED,
	            "bootloader=noop does not know the %s", what);
	return FALSE;
}

static char *noop_get_primary(OtaBootloader *bl, GError **error)
{
	noop_unknown("primary slot", error);
	return NULL;
}

static gboolean noop_set_primary(OtaBootloader *bl, const char *bootname, GError **error)
{
	return TRUE;
}

static gboolean noop_get_state(OtaBootloader *bl, const char *bootname, OtaSlotState *state,
                               GError **error)
{
	return noop_unknown("slots' states", error);
}

static gboolean noop_set_state(OtaBootloader *bl, const char *bootname, OtaSlotState state,
                               GError **error)
{
	return TRUE;
}

const OtaBootloaderBackend ota_bootloader_backend_noop = {
	.name = "noop",
	.open = noop_open,
	.free_data = g_free, /* never called: it keeps no data */
	.get_primary = noop_get_primary,
	.set_primary = noop_set_primary,
	.get_state = noop_get_state,
	.set_state = noop_set_state,
};
