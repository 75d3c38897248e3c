/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The GRUB backend: RAUC's ORDER, <name>_OK and <name>_TRY variables in a
 * GRUB environment block, through grub-editenv. */
#include "bootloader-private.h"

static const char *grubenv(OtaBootloader *bl)
{
	return bl->data;
}

static gboolean grub_open(OtaBootloader *bl, const OtaSystemConfig *config, GError **error)
{
	bl->data = g_strdup(config->grubenv);
	return TRUE;
}

/* grub-editenv creates a missing file even for "list", so a wrong path
 * would silently read as an empty environment. */
static gboolean grub_check_env_exists(OtaBootloader *bl, GError **error)
{
	if (g_file_test(grubenv(bl), G_FILE_TEST_IS_REGULAR))
		return TRUE;
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED,
	            "GRUB environment %s does not exist", grubenv(bl));
	return FALSE;
}

/* Runs "grub-editenv <grubenv> <command> [@args...]". */
static char *grub_editenv(OtaBootloader *bl, const char *command, GPtrArray *args, GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *label = g_strdup_printf("grub-editenv %s %s", grubenv(bl), command);
	OtaSubprocessOptions options = {.label = label,
	                                .stderr_lines = OTA_SUBPROCESS_STDERR_ALL_LINES};

	if (!grub_check_env_exists(bl, error))
		return NULL;
	g_ptr_array_add(argv, "grub-editenv");
	g_ptr_array_add(argv, (gpointer)grubenv(bl));
	g_ptr_array_add(argv, (gpointer)command);
	for (guint i = 0; args != NULL && i < args->len; i++)
		g_ptr_array_add(argv, args->pdata[i]);
	g_ptr_array_add(argv, NULL);
	return bootloader_run_tool((const char *const *)argv->pdata, &options, NULL, error);
}

/* An unset ORDER is the configured order with @use_default. */
static BootloaderEnv *grub_read_env(OtaBootloader *bl, gboolean use_default, GError **error)
{
	g_autofree char *out = grub_editenv(bl, "list", NULL, error);
	g_autofree char *where = NULL;

	if (out == NULL)
		return NULL;
	where = g_strdup_printf("GRUB environment %s", grubenv(bl));
	return bootloader_env_parse(bl, out, "ORDER", use_default, where, error);
}

/* All "NAME=value" @assignments in one call, so grub-editenv rewrites the
 * block once. */
static gboolean grub_set_vars(OtaBootloader *bl, GPtrArray *assignments, GError **error)
{
	g_autofree char *out = grub_editenv(bl, "set", assignments, error);

	return out != NULL;
}

/* A flag variable: unset counts as 0, as in RAUC. */
static gboolean grub_flag(GHashTable *env, const char *bootname, const char *suffix,
                          gboolean *flag, GError **error)
{
	g_autofree char *key = g_strdup_printf("%s_%s", bootname, suffix);
	const char *value = g_hash_table_lookup(env, key);

	*flag = FALSE;
	if (value == NULL || *value == '\0' || g_str_equal(value, "0"))
		return TRUE;
	if (g_str_equal(value, "1")) {
		*flag = TRUE;
		return TRUE;
	}
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "%s is '%s', not 0 or 1", key, value);
	return FALSE;
}

/* As RAUC defines it: OK and not being tried. */
static gboolean grub_slot_bootable(GHashTable *vars, const char *bootname, gboolean *bootable,
                                   GError **error)
{
	gboolean ok, trying;

	if (!grub_flag(vars, bootname, "OK", &ok, error) ||
	    !grub_flag(vars, bootname, "TRY", &trying, error))
		return FALSE;
	*bootable = ok && !trying;
	return TRUE;
}

static char *grub_get_primary(OtaBootloader *bl, GError **error)
{
	g_autoptr(BootloaderEnv) env = grub_read_env(bl, FALSE, error);

	if (env == NULL)
		return NULL;
	return bootloader_env_get_primary(env, grub_slot_bootable, "is OK", error);
}

static gboolean grub_set_primary(OtaBootloader *bl, const char *bootname, GError **error)
{
	g_autoptr(BootloaderEnv) env = grub_read_env(bl, TRUE, error);
	g_autoptr(GPtrArray) vars = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *joined = NULL;

	if (env == NULL)
		return FALSE;
	bootloader_order_put_first(env->order, bootname);
	joined = bootloader_order_join(env->order);
	g_ptr_array_add(vars, g_strdup_printf("%s_OK=1", bootname));
	g_ptr_array_add(vars, g_strdup_printf("%s_TRY=0", bootname));
	g_ptr_array_add(vars, g_strdup_printf("ORDER=%s", joined));
	return grub_set_vars(bl, vars, error);
}

static gboolean grub_get_state(OtaBootloader *bl, const char *bootname, OtaSlotState *state,
                               GError **error)
{
	g_autoptr(BootloaderEnv) env = grub_read_env(bl, FALSE, error);

	if (env == NULL)
		return FALSE;
	return bootloader_env_get_state(env, bootname, grub_slot_bootable, state, error);
}

static gboolean grub_set_state(OtaBootloader *bl, const char *bootname, OtaSlotState state,
                               GError **error)
{
	g_autoptr(BootloaderEnv) env = grub_read_env(bl, TRUE, error);
	g_autoptr(GPtrArray) vars = g_ptr_array_new_with_free_func(g_free);

	if (env == NULL)
		return FALSE;
	g_ptr_array_add(vars, g_strdup_printf("%s_OK=%d", bootname, state == OTA_SLOT_STATE_GOOD));
	g_ptr_array_add(vars, g_strdup_printf("%s_TRY=0", bootname));
	/* A good slot missing from ORDER would never boot: list it last. */
	if (state == OTA_SLOT_STATE_GOOD && !bootloader_order_contains(env->order, bootname)) {
		g_autofree char *joined = NULL;

		g_ptr_array_add(env->order, g_strdup(bootname));
		joined = bootloader_order_join(env->order);
		g_ptr_array_add(vars, g_strdup_printf("ORDER=%s", joined));
	}
	return grub_set_vars(bl, vars, error);
}

const OtaBootloaderBackend ota_bootloader_backend_grub = {
	.name = "grub",
	.open = grub_open,
	.free_data = g_free,
	.get_primary = grub_get_primary,
	.set_primary = grub_set_primary,
	.get_state = grub_get_state,
	.set_state = grub_set_state,
};
