/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Boot orders and NAME=value environments, shared by the backends that
 * keep their state in bootloader variables (U-Boot, GRUB). */
#include "bootloader-private.h"

#include <string.h>

static GHashTable *parse_vars(const char *listing)
{
	GHashTable *vars = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_auto(GStrv) lines = g_strsplit(listing, "\n", -1);

	for (char **l = lines; *l; l++) {
		const char *eq = strchr(*l, '=');

		if (eq == NULL || eq == *l)
			continue;
		g_hash_table_replace(vars, g_strndup(*l, eq - *l), g_strdup(eq + 1));
	}
	return vars;
}

/* Splits the space-separated @value of @var, every entry a configured
 * bootname. */
static GPtrArray *parse_order(OtaBootloader *bl, const char *var, const char *value,
                              GError **error)
{
	g_autoptr(GPtrArray) order = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) names = g_strsplit_set(value, " \t", -1);
	g_autofree char *what = g_strdup_printf("%s '%s'", var, value);

	for (char **n = names; *n; n++) {
		if (**n == '\0')
			continue;
		if (!bootloader_check_bootname(bl, *n, what, error))
			return NULL;
		g_ptr_array_add(order, g_strdup(*n));
	}
	return g_steal_pointer(&order);
}

static GPtrArray *default_order(OtaBootloader *bl)
{
	GPtrArray *order = g_ptr_array_new_with_free_func(g_free);

	for (char **n = bl->bootnames; *n; n++)
		g_ptr_array_add(order, g_strdup(*n));
	return order;
}

BootloaderEnv *bootloader_env_parse(OtaBootloader *bl, const char *listing, const char *order_var,
                                    gboolean use_default, const char *where, GError **error)
{
	g_autoptr(BootloaderEnv) env = g_new0(BootloaderEnv, 1);
	const char *value;

	env->order_var = order_var;
	env->vars = parse_vars(listing);
	value = g_hash_table_lookup(env->vars, order_var);
	if (value != NULL)
		env->order = parse_order(bl, order_var, value, error);
	else if (use_default)
		env->order = default_order(bl);
	else
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		            "%s is not set in %s", order_var, where);
	if (env->order == NULL)
		return NULL;
	return g_steal_pointer(&env);
}

void bootloader_env_free(BootloaderEnv *env)
{
	if (env == NULL)
		return;
	g_clear_pointer(&env->vars, g_hash_table_unref);
	g_clear_pointer(&env->order, g_ptr_array_unref);
	g_free(env);
}

char *bootloader_env_get_primary(BootloaderEnv *env, BootloaderSlotBootable bootable,
                                 const char *bootable_means, GError **error)
{
	g_autofree char *joined = NULL;

	for (guint i = 0; i < env->order->len; i++) {
		gboolean yes;

		if (!bootable(env->vars, env->order->pdata[i], &yes, error))
			return NULL;
		if (yes)
			return g_strdup(env->order->pdata[i]);
	}
	joined = bootloader_order_join(env->order);
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "no slot in %s '%s' %s", env->order_var, joined, bootable_means);
	return NULL;
}

gboolean bootloader_env_get_state(BootloaderEnv *env, const char *bootname,
                                  BootloaderSlotBootable bootable, OtaSlotState *state,
                                  GError **error)
{
	gboolean yes;

	if (!bootable(env->vars, bootname, &yes, error))
		return FALSE;
	*state = bootloader_order_contains(env->order, bootname) && yes ? OTA_SLOT_STATE_GOOD
	                                                                : OTA_SLOT_STATE_BAD;
	return TRUE;
}

gboolean bootloader_order_contains(GPtrArray *order, const char *bootname)
{
	return g_ptr_array_find_with_equal_func(order, bootname, g_str_equal, NULL);
}

void bootloader_order_remove(GPtrArray *order, const char *bootname)
{
	guint index;

	while (g_ptr_array_find_with_equal_func(order, bootname, g_str_equal, &index))
		g_ptr_array_remove_index(order, index);
}

void bootloader_order_put_first(GPtrArray *order, const char *bootname)
{
	bootloader_order_remove(order, bootname);
	g_ptr_array_insert(order, 0, g_strdup(bootname));
}

char *bootloader_order_join(GPtrArray *order)
{
	g_autoptr(GString) s = g_string_new(NULL);

	for (guint i = 0; i < order->len; i++) {
		if (i > 0)
			g_string_append_c(s, ' ');
		g_string_append(s, order->pdata[i]);
	}
	return g_string_free(g_steal_pointer(&s), FALSE);
}
