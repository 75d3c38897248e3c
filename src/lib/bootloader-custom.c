/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The custom backend: a script taking RAUC's custom backend arguments
 * (get-primary, set-primary <name>, get-state <name>, set-state <name>
 * good|bad, get-current), so scripts written for RAUC work unchanged. */
#include "bootloader-private.h"

static const char *script(OtaBootloader *bl)
{
	return bl->data;
}

static gboolean custom_open(OtaBootloader *bl, const OtaSystemConfig *config, GError **error)
{
	bl->data = g_strdup(config->custom_backend);
	return TRUE;
}

/* Runs "<script> <args...>" and returns its stdout, trimmed. */
static char *custom_run(OtaBootloader *bl, const char *const *args, gboolean *exit_failed,
                        GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *joined = g_strjoinv(" ", (char **)args);
	g_autofree char *label = g_strdup_printf("%s %s", script(bl), joined);
	OtaSubprocessOptions options = {.label = label};
	char *out;

	if (!g_file_test(script(bl), G_FILE_TEST_IS_REGULAR) ||
	    !g_file_test(script(bl), G_FILE_TEST_IS_EXECUTABLE)) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED,
		            "custom bootloader backend %s is not an executable file", script(bl));
		return NULL;
	}
	g_ptr_array_add(argv, (gpointer)script(bl));
	for (const char *const *a = args; *a; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	g_ptr_array_add(argv, NULL);

	out = bootloader_run_tool((const char *const *)argv->pdata, &options, exit_failed, error);
	return out ? g_strstrip(out) : NULL;
}

/* The trimmed output of a bootname query, checked against the config. */
static char *custom_get_bootname(OtaBootloader *bl, const char *command, gboolean *exit_failed,
                                 GError **error)
{
	const char *args[] = {command, NULL};
	g_autofree char *out = custom_run(bl, args, exit_failed, error);
	g_autofree char *known = NULL;

	if (out == NULL)
		return NULL;
	if (bootloader_is_bootname(bl, out))
		return g_steal_pointer(&out);
	known = bootloader_bootname_list(bl);
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "%s %s printed '%s', which is not a configured bootname (%s)", script(bl),
	            command, out, known);
	return NULL;
}

static char *custom_get_primary(OtaBootloader *bl, GError **error)
{
	return custom_get_bootname(bl, "get-primary", NULL, error);
}

static char *custom_get_booted(OtaBootloader *bl, GError **error)
{
	g_autoptr(GError) ierror = NULL;
	gboolean exit_failed;
	char *booted = custom_get_bootname(bl, "get-current", &exit_failed, &ierror);

	/* As in RAUC, a failing get-current means the script can't tell; the
	 * caller then asks the kernel command line. */
	if (booted == NULL && exit_failed)
		return NULL;
	if (booted == NULL)
		g_propagate_error(error, g_steal_pointer(&ierror));
	return booted;
}

static gboolean custom_set_primary(OtaBootloader *bl, const char *bootname, GError **error)
{
	const char *args[] = {"set-primary", bootname, NULL};
	g_autofree char *out = custom_run(bl, args, NULL, error);

	return out != NULL;
}

static gboolean custom_get_state(OtaBootloader *bl, const char *bootname, OtaSlotState *state,
                                 GError **error)
{
	const char *args[] = {"get-state", bootname, NULL};
	g_autofree char *out = custom_run(bl, args, NULL, error);

	if (out == NULL)
		return FALSE;
	if (bootloader_state_parse(out, state))
		return TRUE;
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "%s get-state %s printed '%s', not good or bad", script(bl), bootname, out);
	return FALSE;
}

static gboolean custom_set_state(OtaBootloader *bl, const char *bootname, OtaSlotState state,
                                 GError **error)
{
	const char *args[] = {"set-state", bootname, bootloader_state_name(state), NULL};
	g_autofree char *out = custom_run(bl, args, NULL, error);

	return out != NULL;
}

const OtaBootloaderBackend ota_bootloader_backend_custom = {
	.name = "custom",
	.open = custom_open,
	.free_data = g_free,
	.get_primary = custom_get_primary,
	.get_booted = custom_get_booted,
	.set_primary = custom_set_primary,
	.get_state = custom_get_state,
	.set_state = custom_set_state,
};
