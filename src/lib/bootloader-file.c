/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The file backend: primary and slot states in a key file in the data
 * directory, for devices whose boot loader reads nothing else (or tests). */
#include "bootloader-private.h"

#include <errno.h>

#include "output-private.h"
#include "reader-private.h"

static const char *state_path(OtaBootloader *bl)
{
	return bl->data;
}

static gboolean file_open(OtaBootloader *bl, const OtaSystemConfig *config, GError **error)
{
	bl->data = g_build_filename(config->data_directory, "bootloader.state", NULL);
	return TRUE;
}

static GKeyFile *file_load(OtaBootloader *bl, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) ierror = NULL;

	if (g_key_file_load_from_file(kf, state_path(bl), G_KEY_FILE_KEEP_COMMENTS, &ierror))
		return g_steal_pointer(&kf);
	/* No file yet is the first boot: defaults apply. */
	if (g_error_matches(ierror, G_FILE_ERROR, G_FILE_ERROR_NOENT))
		return g_steal_pointer(&kf);
	g_set_error(error, OTA_BOOTLOADER_ERROR,
	            ierror->domain == G_KEY_FILE_ERROR ? OTA_BOOTLOADER_ERROR_INVALID
	                                               : OTA_BOOTLOADER_ERROR_FAILED,
	            "%s: %s", state_path(bl), ierror->message);
	return NULL;
}

static gboolean file_save(OtaBootloader *bl, GKeyFile *kf, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(state_path(bl));
	g_autoptr(OtaOutput) out = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *data = NULL;
	gsize length;

	if (g_mkdir_with_parents(dir, 0755) < 0) {
		int saved = errno;

		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED,
		            "cannot create data directory %s: %s", dir, g_strerror(saved));
		return FALSE;
	}
	data = g_key_file_to_data(kf, &length, NULL);
	out = ota_output_new(state_path(bl), TRUE, &ierror);
	if (out == NULL || !ota_write_all(ota_output_get_fd(out), data, length, &ierror) ||
	    !ota_output_commit(out, &ierror)) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED,
		            "cannot write bootloader state: %s", ierror->message);
		return FALSE;
	}
	return TRUE;
}

/* The primary as written, or the first bootname before anything was. */
static char *file_read_primary(OtaBootloader *bl, GKeyFile *kf)
{
	char *primary = g_key_file_get_string(kf, "bootloader", "primary", NULL);

	return primary ? primary : g_strdup(bl->bootnames[0]);
}

static gboolean file_read_state(OtaBootloader *bl, GKeyFile *kf, const char *bootname,
                                OtaSlotState *state, GError **error)
{
	g_autofree char *group = g_strdup_printf("slot.%s", bootname);
	g_autofree char *value = g_key_file_get_string(kf, group, "state", NULL);

	if (value == NULL) {
		*state = OTA_SLOT_STATE_GOOD;
		return TRUE;
	}
	if (bootloader_state_parse(value, state))
		return TRUE;
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "%s: [%s] state is '%s', not good or bad", state_path(bl), group, value);
	return FALSE;
}

static void file_write_state(GKeyFile *kf, const char *bootname, OtaSlotState state)
{
	g_autofree char *group = g_strdup_printf("slot.%s", bootname);

	g_key_file_set_string(kf, group, "state", bootloader_state_name(state));
}

/* The first good slot other than @except, in configured order, or NULL. */
static const char *file_first_good(OtaBootloader *bl, GKeyFile *kf, const char *except,
                                   GError **error)
{
	for (char **n = bl->bootnames; *n; n++) {
		OtaSlotState state;

		if (g_strcmp0(*n, except) == 0)
			continue;
		if (!file_read_state(bl, kf, *n, &state, error))
			return NULL;
		if (state == OTA_SLOT_STATE_GOOD)
			return *n;
	}
	return NULL;
}

static char *file_get_primary(OtaBootloader *bl, GError **error)
{
	g_autoptr(GKeyFile) kf = file_load(bl, error);
	g_autofree char *primary = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *what = NULL;
	const char *fallback;
	OtaSlotState state;

	if (kf == NULL)
		return NULL;
	primary = file_read_primary(bl, kf);
	what = g_strdup_printf("%s: [bootloader] primary", state_path(bl));
	if (!bootloader_check_bootname(bl, primary, what, error))
		return NULL;
	if (!file_read_state(bl, kf, primary, &state, error))
		return NULL;
	if (state == OTA_SLOT_STATE_GOOD)
		return g_steal_pointer(&primary);

	/* Like a boot loader, skip a primary that was marked bad. */
	fallback = file_first_good(bl, kf, primary, &ierror);
	if (ierror != NULL) {
		g_propagate_error(error, g_steal_pointer(&ierror));
		return NULL;
	}
	if (fallback == NULL) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		            "%s: no slot is marked good", state_path(bl));
		return NULL;
	}
	return g_strdup(fallback);
}

static gboolean file_set_primary(OtaBootloader *bl, const char *bootname, GError **error)
{
	g_autoptr(GKeyFile) kf = file_load(bl, error);

	if (kf == NULL)
		return FALSE;
	g_key_file_set_string(kf, "bootloader", "primary", bootname);
	file_write_state(kf, bootname, OTA_SLOT_STATE_GOOD);
	return file_save(bl, kf, error);
}

static gboolean file_get_state(OtaBootloader *bl, const char *bootname, OtaSlotState *state,
                               GError **error)
{
	g_autoptr(GKeyFile) kf = file_load(bl, error);

	if (kf == NULL)
		return FALSE;
	return file_read_state(bl, kf, bootname, state, error);
}

static gboolean file_set_state(OtaBootloader *bl, const char *bootname, OtaSlotState state,
                               GError **error)
{
	g_autoptr(GKeyFile) kf = file_load(bl, error);
	g_autofree char *primary = NULL;
	g_autoptr(GError) ierror = NULL;
	const char *fallback;

	if (kf == NULL)
		return FALSE;
	primary = file_read_primary(bl, kf);

	/* A bad slot loses primary to the next good one, in the same write, as
	 * the U-Boot scheme moves it to the end of BOOT_ORDER. */
	if (state == OTA_SLOT_STATE_BAD && g_str_equal(primary, bootname)) {
		fallback = file_first_good(bl, kf, bootname, &ierror);
		if (ierror != NULL) {
			g_propagate_error(error, g_steal_pointer(&ierror));
			return FALSE;
		}
		if (fallback != NULL)
			g_key_file_set_string(kf, "bootloader", "primary", fallback);
	}
	file_write_state(kf, bootname, state);
	return file_save(bl, kf, error);
}

const OtaBootloaderBackend ota_bootloader_backend_file = {
	.name = "file",
	.open = file_open,
	.free_data = g_free,
	.get_primary = file_get_primary,
	.set_primary = file_set_primary,
	.get_state = file_get_state,
	.set_state = file_set_state,
};
