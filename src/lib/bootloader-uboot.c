/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The U-Boot backend: RAUC's BOOT_ORDER and BOOT_<name>_LEFT variables,
 * read with fw_printenv and written with fw_setenv. */
#include "bootloader-private.h"

/* RAUC's U-Boot scheme: a primary gets boot-attempts-primary boot
 * attempts, a slot marked good boot-attempts (both 3 by default), which the
 * boot script counts down; 0 means bad. */
#define UBOOT_DEFAULT_ATTEMPTS 3

typedef struct {
	char *env_config; /* fw_env.config, or NULL: the tools' default */
	guint attempts;
	guint attempts_primary;
} Uboot;

static void uboot_free(gpointer data)
{
	Uboot *u = data;

	g_free(u->env_config);
	g_free(u);
}

static const char *env_config(OtaBootloader *bl)
{
	return ((Uboot *)bl->data)->env_config;
}

static gboolean uboot_open(OtaBootloader *bl, const OtaSystemConfig *config, GError **error)
{
	Uboot *u = g_new0(Uboot, 1);

	u->env_config = g_strdup(config->uboot_config);
	u->attempts = config->boot_attempts ? config->boot_attempts : UBOOT_DEFAULT_ATTEMPTS;
	u->attempts_primary = config->boot_attempts_primary ? config->boot_attempts_primary
	                                                    : UBOOT_DEFAULT_ATTEMPTS;
	bl->data = u;
	return TRUE;
}

/* libubootenv prints the cause first and a misleading consequence last. */
static char *uboot_run(const char *const *argv, const char *label, GError **error)
{
	OtaSubprocessOptions options = {.label = label,
	                                .stderr_lines = OTA_SUBPROCESS_STDERR_ALL_LINES};

	return bootloader_run_tool(argv, &options, NULL, error);
}

/* The whole environment in one read: one consistent snapshot, and unlike
 * asking for single variables it tells an unset variable from an empty one
 * (libubootenv's fw_printenv prints "NAME=" for both). An unset BOOT_ORDER
 * is the configured order with @use_default. */
static BootloaderEnv *uboot_read_env(OtaBootloader *bl, gboolean use_default, GError **error)
{
	const char *argv[] = {"fw_printenv", NULL, NULL, NULL};
	g_autofree char *label = NULL;
	g_autofree char *out = NULL;

	/* Else libubootenv says "Configuration file wrong or corrupted". */
	if (env_config(bl) != NULL && !g_file_test(env_config(bl), G_FILE_TEST_EXISTS)) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED,
		            "U-Boot environment configuration %s does not exist", env_config(bl));
		return NULL;
	}
	if (env_config(bl) != NULL) {
		argv[1] = "-c";
		argv[2] = env_config(bl);
	}
	label = env_config(bl) ? g_strdup_printf("fw_printenv -c %s", env_config(bl))
	                       : g_strdup("fw_printenv");
	out = uboot_run(argv, label, error);
	if (out == NULL)
		return NULL;
	return bootloader_env_parse(bl, out, "BOOT_ORDER", use_default, "the U-Boot environment",
	                            error);
}

/* One variable per call, as RAUC does: name and value as separate
 * arguments mean the same to U-Boot's fw_setenv and libubootenv's, whose
 * script formats differ. */
static gboolean uboot_set_var(OtaBootloader *bl, const char *name, const char *value,
                              GError **error)
{
	const char *argv[] = {"fw_setenv", NULL, NULL, NULL, NULL, NULL};
	g_autofree char *label = NULL;
	g_autofree char *out = NULL;
	int i = 1;

	if (env_config(bl) != NULL) {
		argv[i++] = "-c";
		argv[i++] = env_config(bl);
	}
	argv[i++] = name;
	argv[i++] = value;
	label = env_config(bl) ? g_strdup_printf("fw_setenv -c %s %s", env_config(bl), name)
	                       : g_strdup_printf("fw_setenv %s", name);
	out = uboot_run(argv, label, error);
	return out != NULL;
}

/* Remaining boot attempts, hexadecimal as U-Boot's setexpr counts them
 * down (and RAUC writes and reads them); unset counts as 0, as in RAUC. */
static gboolean uboot_attempts(GHashTable *env, const char *bootname, guint64 *attempts,
                               GError **error)
{
	g_autofree char *key = g_strdup_printf("BOOT_%s_LEFT", bootname);
	const char *value = g_hash_table_lookup(env, key);

	*attempts = 0;
	if (value == NULL || *value == '\0')
		return TRUE;
	if (!g_ascii_string_to_unsigned(value, 16, 0, G_MAXUINT32, attempts, NULL)) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		            "%s is '%s', not a number of boot attempts", key, value);
		return FALSE;
	}
	return TRUE;
}

/* The boot script boots a slot with attempts left. */
static gboolean uboot_slot_bootable(GHashTable *vars, const char *bootname, gboolean *bootable,
                                    GError **error)
{
	guint64 attempts;

	if (!uboot_attempts(vars, bootname, &attempts, error))
		return FALSE;
	*bootable = attempts > 0;
	return TRUE;
}

static char *uboot_get_primary(OtaBootloader *bl, GError **error)
{
	g_autoptr(BootloaderEnv) env = uboot_read_env(bl, FALSE, error);

	if (env == NULL)
		return NULL;
	return bootloader_env_get_primary(env, uboot_slot_bootable, "has boot attempts left", error);
}

static gboolean uboot_write_order(OtaBootloader *bl, BootloaderEnv *env, GError **error)
{
	g_autofree char *value = bootloader_order_join(env->order);

	if (g_strcmp0(g_hash_table_lookup(env->vars, "BOOT_ORDER"), value) == 0)
		return TRUE;
	return uboot_set_var(bl, "BOOT_ORDER", value, error);
}

static gboolean uboot_set_attempts(OtaBootloader *bl, const char *bootname, guint attempts,
                                   GError **error)
{
	g_autofree char *key = g_strdup_printf("BOOT_%s_LEFT", bootname);
	g_autofree char *value = g_strdup_printf("%x", attempts);

	return uboot_set_var(bl, key, value, error);
}

static gboolean uboot_set_primary(OtaBootloader *bl, const char *bootname, GError **error)
{
	g_autoptr(BootloaderEnv) env = uboot_read_env(bl, TRUE, error);

	if (env == NULL)
		return FALSE;
	bootloader_order_put_first(env->order, bootname);
	/* Attempts first: interrupted here, the slot is merely bootable. */
	if (!uboot_set_attempts(bl, bootname, ((Uboot *)bl->data)->attempts_primary, error))
		return FALSE;
	return uboot_write_order(bl, env, error);
}

static gboolean uboot_get_state(OtaBootloader *bl, const char *bootname, OtaSlotState *state,
                                GError **error)
{
	g_autoptr(BootloaderEnv) env = uboot_read_env(bl, FALSE, error);

	if (env == NULL)
		return FALSE;
	return bootloader_env_get_state(env, bootname, uboot_slot_bootable, state, error);
}

static gboolean uboot_set_state(OtaBootloader *bl, const char *bootname, OtaSlotState state,
                                GError **error)
{
	g_autoptr(BootloaderEnv) env = uboot_read_env(bl, TRUE, error);

	if (env == NULL)
		return FALSE;
	if (state == OTA_SLOT_STATE_GOOD) {
		if (!uboot_set_attempts(bl, bootname, ((Uboot *)bl->data)->attempts, error))
			return FALSE;
		/* A slot missing from BOOT_ORDER would never boot: list it last. */
		if (!bootloader_order_contains(env->order, bootname))
			g_ptr_array_add(env->order, g_strdup(bootname));
		return uboot_write_order(bl, env, error);
	}

	/* Attempts first: interrupted here, the slot already won't boot. */
	if (!uboot_set_attempts(bl, bootname, 0, error))
		return FALSE;
	bootloader_order_remove(env->order, bootname);
	g_ptr_array_add(env->order, g_strdup(bootname));
	return uboot_write_order(bl, env, error);
}

const OtaBootloaderBackend ota_bootloader_backend_uboot = {
	.name = "uboot",
	.open = uboot_open,
	.free_data = uboot_free,
	.get_primary = uboot_get_primary,
	.set_primary = uboot_set_primary,
	.get_state = uboot_get_state,
	.set_state = uboot_set_state,
};
