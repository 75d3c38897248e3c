/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The public bootloader functions: the backend chosen from the config, the
 * calls dispatched through its table (bootloader-private.h), every bootname
 * checked on the way in and out. The backends are bootloader-<name>.c. */
#include "bootloader-private.h"

#include <string.h>

#include "config-private.h"

G_DEFINE_QUARK(ota-bootloader-error-quark, ota_bootloader_error)

static const OtaBootloaderBackend *const backends[] = {
	[OTA_BOOTLOADER_FILE] = &ota_bootloader_backend_file,
	[OTA_BOOTLOADER_CUSTOM] = &ota_bootloader_backend_custom,
	[OTA_BOOTLOADER_UBOOT] = &ota_bootloader_backend_uboot,
	[OTA_BOOTLOADER_GRUB] = &ota_bootloader_backend_grub,
	[OTA_BOOTLOADER_BAREBOX] = &ota_bootloader_backend_barebox,
	[OTA_BOOTLOADER_EFI] = &ota_bootloader_backend_efi,
	[OTA_BOOTLOADER_NOOP] = &ota_bootloader_backend_noop,
};

/* --- for the backends ---------------------------------------------------- */

gboolean bootloader_is_bootname(OtaBootloader *bl, const char *name)
{
	return g_strv_contains((const char *const *)bl->bootnames, name);
}

char *bootloader_bootname_list(OtaBootloader *bl)
{
	return g_strjoinv(", ", bl->bootnames);
}

gboolean bootloader_check_bootname(OtaBootloader *bl, const char *name, const char *what,
                                   GError **error)
{
	g_autofree char *known = NULL;

	if (bootloader_is_bootname(bl, name))
		return TRUE;
	known = bootloader_bootname_list(bl);
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "%s names '%s', which is not a configured bootname (%s)", what, name, known);
	return FALSE;
}

const char *bootloader_state_name(OtaSlotState state)
{
	return state == OTA_SLOT_STATE_GOOD ? "good" : "bad";
}

gboolean bootloader_state_parse(const char *name, OtaSlotState *state)
{
	if (g_str_equal(name, "good"))
		*state = OTA_SLOT_STATE_GOOD;
	else if (g_str_equal(name, "bad"))
		*state = OTA_SLOT_STATE_BAD;
	else
		return FALSE;
	return TRUE;
}

char *bootloader_run_tool(const char *const *argv, const OtaSubprocessOptions *options,
                          gboolean *exit_failed, GError **error)
{
	g_autoptr(GError) ierror = NULL;
	char *out = NULL;

	if (exit_failed != NULL)
		*exit_failed = FALSE;
	if (ota_subprocess_run(argv, options, &out, &ierror))
		return out;
	if (exit_failed != NULL)
		*exit_failed = g_error_matches(ierror, OTA_SUBPROCESS_ERROR, OTA_SUBPROCESS_ERROR_FAILED);
	g_set_error_literal(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED,
	                    ierror->message);
	return NULL;
}

/* --- choosing the backend ------------------------------------------------ */

static GStrv checked_bootnames(const char *const *bootnames, GError **error)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

	if (bootnames == NULL || bootnames[0] == NULL) {
		g_set_error_literal(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		                    "no slot has a bootname");
		return NULL;
	}
	for (const char *const *n = bootnames; *n; n++) {
		if (!config_bootname_is_valid(*n)) {
			g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
			            "bootname '%s' is invalid (letters, digits and _ only)", *n);
			return NULL;
		}
		if (g_ptr_array_find_with_equal_func(names, *n, g_str_equal, NULL)) {
			g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
			            "bootname '%s' is given to more than one slot", *n);
			return NULL;
		}
		g_ptr_array_add(names, g_strdup(*n));
	}
	g_ptr_array_add(names, NULL);
	return (GStrv)g_ptr_array_free(g_steal_pointer(&names), FALSE);
}

/* The backend for @config, once it has the settings that backend needs. */
static const OtaBootloaderBackend *backend_for(const OtaSystemConfig *config, GError **error)
{
	OtaBootloaderKind kind = config->bootloader;
	const char *missing;

	if ((guint)kind >= G_N_ELEMENTS(backends) || backends[kind] == NULL) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		            "unknown bootloader kind %d", (int)kind);
		return NULL;
	}
	missing = config_bootloader_missing_setting(config);
	if (missing != NULL) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		            "bootloader=%s needs %s", backends[kind]->name, missing);
		return NULL;
	}
	return backends[kind];
}

OtaBootloader *ota_bootloader_new(const OtaSystemConfig *config, const char *const *bootnames,
                                  GError **error)
{
	g_autoptr(OtaBootloader) bl = g_new0(OtaBootloader, 1);

	g_return_val_if_fail(config != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	bl->bootnames = checked_bootnames(bootnames, error);
	if (bl->bootnames == NULL)
		return NULL;
	bl->backend = backend_for(config, error);
	if (bl->backend == NULL || !bl->backend->open(bl, config, error))
		return NULL;
	return g_steal_pointer(&bl);
}

void ota_bootloader_free(OtaBootloader *bl)
{
	if (bl == NULL)
		return;
	if (bl->data != NULL)
		bl->backend->free_data(bl->data);
	g_strfreev(bl->bootnames);
	g_free(bl);
}

/* --- dispatch ------------------------------------------------------------ */

static gboolean check_argument(OtaBootloader *bl, const char *bootname, GError **error)
{
	g_autofree char *known = NULL;

	if (bootname != NULL && bootloader_is_bootname(bl, bootname))
		return TRUE;
	known = bootloader_bootname_list(bl);
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "'%s' is not a configured bootname (%s)", bootname ? bootname : "(null)", known);
	return FALSE;
}

/* Every backend answer is checked here once more, so no backend can hand
 * the installer a slot that isn't configured. */
static char *checked_answer(OtaBootloader *bl, char *bootname, GError **error)
{
	g_autofree char *owned = bootname;
	g_autofree char *what = NULL;

	if (owned == NULL)
		return NULL;
	what = g_strdup_printf("the %s bootloader backend", bl->backend->name);
	if (!bootloader_check_bootname(bl, owned, what, error))
		return NULL;
	return g_steal_pointer(&owned);
}

char *ota_bootloader_get_primary(OtaBootloader *bl, GError **error)
{
	g_return_val_if_fail(bl != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	return checked_answer(bl, bl->backend->get_primary(bl, error), error);
}

char *ota_bootloader_get_booted(OtaBootloader *bl, GError **error)
{
	g_return_val_if_fail(bl != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (bl->backend->get_booted == NULL)
		return NULL;
	return checked_answer(bl, bl->backend->get_booted(bl, error), error);
}

char *ota_bootloader_booted_from_cmdline(OtaBootloader *bl, const char *cmdline_path,
                                         GError **error)
{
	g_autofree char *cmdline = NULL;
	g_auto(GStrv) words = NULL;

	g_return_val_if_fail(bl != NULL, NULL);
	g_return_val_if_fail(cmdline_path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (bl->backend->cmdline_keys == NULL ||
	    !g_file_get_contents(cmdline_path, &cmdline, NULL, NULL))
		return NULL;
	words = g_strsplit_set(cmdline, " \t\n", -1);
	for (char **w = words; *w; w++) {
		for (const char *const *k = bl->backend->cmdline_keys; *k; k++) {
			gsize n = strlen(*k);

			if (strncmp(*w, *k, n) == 0 && (*w)[n] == '=')
				return checked_answer(bl, g_strdup(*w + n + 1), error);
		}
	}
	return NULL;
}

gboolean ota_bootloader_set_primary(OtaBootloader *bl, const char *bootname, GError **error)
{
	g_return_val_if_fail(bl != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!check_argument(bl, bootname, error))
		return FALSE;
	return bl->backend->set_primary(bl, bootname, error);
}

gboolean ota_bootloader_get_state(OtaBootloader *bl, const char *bootname, OtaSlotState *state,
                                  GError **error)
{
	g_return_val_if_fail(bl != NULL, FALSE);
	g_return_val_if_fail(state != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!check_argument(bl, bootname, error))
		return FALSE;
	return bl->backend->get_state(bl, bootname, state, error);
}

gboolean ota_bootloader_set_state(OtaBootloader *bl, const char *bootname, OtaSlotState state,
                                  GError **error)
{
	g_return_val_if_fail(bl != NULL, FALSE);
	g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

	if (!check_argument(bl, bootname, error))
		return FALSE;
	if (state != OTA_SLOT_STATE_GOOD && state != OTA_SLOT_STATE_BAD) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		            "slot state %d is neither good nor bad", (int)state);
		return FALSE;
	}
	return bl->backend->set_state(bl, bootname, state, error);
}
