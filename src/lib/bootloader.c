/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/bootloader.h>
#include <otabundle/output.h>
#include <otabundle/reader.h>

#include <errno.h>
#include <gio/gio.h>
#include <string.h>

G_DEFINE_QUARK(ota-bootloader-error-quark, ota_bootloader_error)

/* RAUC's U-Boot scheme: a primary or freshly good slot gets three boot
 * attempts, which the boot script counts down; 0 means bad. */
#define UBOOT_ATTEMPTS "3"

typedef struct {
	const char *name;
	char *(*get_primary)(OtaBootloader *bl, GError **error);
	char *(*get_booted)(OtaBootloader *bl, GError **error);
	gboolean (*set_primary)(OtaBootloader *bl, const char *bootname, GError **error);
	gboolean (*get_state)(OtaBootloader *bl, const char *bootname, OtaSlotState *state,
	                      GError **error);
	gboolean (*set_state)(OtaBootloader *bl, const char *bootname, OtaSlotState state,
	                      GError **error);
} Backend;

struct OtaBootloader {
	const Backend *backend;
	GStrv bootnames;
	char *state_path;   /* file */
	char *script;       /* custom */
	char *uboot_config; /* uboot, NULL: the tools' default */
	char *grubenv;      /* grub */
};

/* --- shared helpers ------------------------------------------------------ */

static gboolean is_bootname(OtaBootloader *bl, const char *name)
{
	return g_strv_contains((const char *const *)bl->bootnames, name);
}

static char *bootname_list(OtaBootloader *bl)
{
	return g_strjoinv(", ", bl->bootnames);
}

/* @what says where the value came from, e.g. "BOOT_ORDER 'A C'". */
static gboolean check_bootname(OtaBootloader *bl, const char *name, const char *what,
                               GError **error)
{
	g_autofree char *known = NULL;

	if (is_bootname(bl, name))
		return TRUE;
	known = bootname_list(bl);
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "%s names '%s', which is not a configured bootname (%s)", what, name, known);
	return FALSE;
}

static const char *state_name(OtaSlotState state)
{
	return state == OTA_SLOT_STATE_GOOD ? "good" : "bad";
}

/* The last non-empty line of @text, or with @all_lines every one of them
 * joined with "; ". */
static char *stderr_summary(const char *text, gboolean all_lines)
{
	g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);
	g_autoptr(GPtrArray) kept = g_ptr_array_new();

	for (char **l = lines; *l; l++) {
		if (*g_strstrip(*l) != '\0')
			g_ptr_array_add(kept, *l);
	}
	if (kept->len == 0)
		return g_strdup("no error output");
	if (!all_lines)
		return g_strdup(kept->pdata[kept->len - 1]);
	g_ptr_array_add(kept, NULL);
	return g_strjoinv("; ", (char **)kept->pdata);
}

/* Runs @argv without a shell and returns its stdout. A non-zero exit is
 * one line naming @label and the last line the command wrote to stderr
 * (all of them with @all_stderr: libubootenv prints the cause first and a
 * misleading consequence last); @exit_failed (optional) tells that case
 * from a command that never ran. */
static char *run_command(const char *const *argv, const char *label, gboolean all_stderr,
                         gboolean *exit_failed, GError **error)
{
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;
	g_autofree char *reason = NULL;

	if (exit_failed != NULL)
		*exit_failed = FALSE;
	proc = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
	                         &ierror);
	if (proc == NULL || !g_subprocess_communicate_utf8(proc, NULL, NULL, &out, &err, &ierror)) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED, "cannot run %s: %s",
		            label, ierror->message);
		return NULL;
	}
	if (g_subprocess_get_successful(proc))
		return g_steal_pointer(&out);

	if (exit_failed != NULL)
		*exit_failed = TRUE;
	reason = stderr_summary(err, all_stderr);
	if (g_subprocess_get_if_signaled(proc))
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED,
		            "%s was killed by signal %d: %s", label, g_subprocess_get_term_sig(proc),
		            reason);
	else
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED,
		            "%s failed with exit status %d: %s", label, g_subprocess_get_exit_status(proc),
		            reason);
	return NULL;
}

/* Splits a space-separated boot order, every entry a configured bootname. */
static GPtrArray *parse_order(OtaBootloader *bl, const char *var, const char *value,
                              GError **error)
{
	g_autoptr(GPtrArray) order = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) names = g_strsplit_set(value, " \t", -1);
	g_autofree char *what = g_strdup_printf("%s '%s'", var, value);

	for (char **n = names; *n; n++) {
		if (**n == '\0')
			continue;
		if (!check_bootname(bl, *n, what, error))
			return NULL;
		g_ptr_array_add(order, g_strdup(*n));
	}
	return g_steal_pointer(&order);
}

/* The configured bootnames in order; what a backend assumes when the boot
 * order was never written. */
static GPtrArray *default_order(OtaBootloader *bl)
{
	GPtrArray *order = g_ptr_array_new_with_free_func(g_free);

	for (char **n = bl->bootnames; *n; n++)
		g_ptr_array_add(order, g_strdup(*n));
	return order;
}

static gboolean order_contains(GPtrArray *order, const char *bootname)
{
	return g_ptr_array_find_with_equal_func(order, bootname, g_str_equal, NULL);
}

static void order_remove(GPtrArray *order, const char *bootname)
{
	guint index;

	while (g_ptr_array_find_with_equal_func(order, bootname, g_str_equal, &index))
		g_ptr_array_remove_index(order, index);
}

static char *order_join(GPtrArray *order)
{
	g_autoptr(GString) s = g_string_new(NULL);

	for (guint i = 0; i < order->len; i++) {
		if (i > 0)
			g_string_append_c(s, ' ');
		g_string_append(s, order->pdata[i]);
	}
	return g_string_free(g_steal_pointer(&s), FALSE);
}

/* Parses "name=value" lines as fw_printenv and grub-editenv list print them. */
static GHashTable *parse_env_lines(const char *text)
{
	GHashTable *env = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (char **l = lines; *l; l++) {
		const char *eq = strchr(*l, '=');

		if (eq == NULL || eq == *l)
			continue;
		g_hash_table_replace(env, g_strndup(*l, eq - *l), g_strdup(eq + 1));
	}
	return env;
}

/* --- file: a key file in the data directory ------------------------------ */

static GKeyFile *file_load(OtaBootloader *bl, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) ierror = NULL;

	if (g_key_file_load_from_file(kf, bl->state_path, G_KEY_FILE_KEEP_COMMENTS, &ierror))
		return g_steal_pointer(&kf);
	/* No file yet is the first boot: defaults apply. */
	if (g_error_matches(ierror, G_FILE_ERROR, G_FILE_ERROR_NOENT))
		return g_steal_pointer(&kf);
	g_set_error(error, OTA_BOOTLOADER_ERROR,
	            ierror->domain == G_KEY_FILE_ERROR ? OTA_BOOTLOADER_ERROR_INVALID
	                                               : OTA_BOOTLOADER_ERROR_FAILED,
	            "%s: %s", bl->state_path, ierror->message);
	return NULL;
}

static gboolean file_save(OtaBootloader *bl, GKeyFile *kf, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(bl->state_path);
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
	out = ota_output_new(bl->state_path, TRUE, &ierror);
	if (out == NULL || !ota_write_all(ota_output_get_fd(out), data, length, &ierror) ||
	    !ota_output_commit(out, &ierror)) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED,
		            "cannot write bootloader state: %s", ierror->message);
		return FALSE;
	}
	return TRUE;
}

static gboolean file_read_state(OtaBootloader *bl, GKeyFile *kf, const char *bootname,
                                OtaSlotState *state, GError **error)
{
	g_autofree char *group = g_strdup_printf("slot.%s", bootname);
	g_autofree char *value = g_key_file_get_string(kf, group, "state", NULL);

	if (value == NULL || g_str_equal(value, "good")) {
		*state = OTA_SLOT_STATE_GOOD;
		return TRUE;
	}
	if (g_str_equal(value, "bad")) {
		*state = OTA_SLOT_STATE_BAD;
		return TRUE;
	}
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "%s: [%s] state is '%s', not good or bad", bl->state_path, group, value);
	return FALSE;
}

static void file_write_state(GKeyFile *kf, const char *bootname, OtaSlotState state)
{
	g_autofree char *group = g_strdup_printf("slot.%s", bootname);

	g_key_file_set_string(kf, group, "state", state_name(state));
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
	primary = g_key_file_get_string(kf, "bootloader", "primary", NULL);
	if (primary == NULL)
		primary = g_strdup(bl->bootnames[0]);
	what = g_strdup_printf("%s: [bootloader] primary", bl->state_path);
	if (!check_bootname(bl, primary, what, error))
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
		            "%s: no slot is marked good", bl->state_path);
		return NULL;
	}
	return g_strdup(fallback);
}

static char *file_get_booted(OtaBootloader *bl, GError **error)
{
	return NULL;
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
	primary = g_key_file_get_string(kf, "bootloader", "primary", NULL);
	if (primary == NULL)
		primary = g_strdup(bl->bootnames[0]);

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

static const Backend file_backend = {
	.name = "file",
	.get_primary = file_get_primary,
	.get_booted = file_get_booted,
	.set_primary = file_set_primary,
	.get_state = file_get_state,
	.set_state = file_set_state,
};

/* --- custom: a script with RAUC's custom backend arguments --------------- */

/* Runs "<script> <args...>" and returns its stdout, trimmed. */
static char *custom_run(OtaBootloader *bl, const char *const *args, gboolean *exit_failed,
                        GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *label = NULL;
	g_autofree char *joined = g_strjoinv(" ", (char **)args);
	char *out;

	if (!g_file_test(bl->script, G_FILE_TEST_IS_REGULAR) ||
	    !g_file_test(bl->script, G_FILE_TEST_IS_EXECUTABLE)) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED,
		            "custom bootloader backend %s is not an executable file", bl->script);
		return NULL;
	}
	g_ptr_array_add(argv, bl->script);
	for (const char *const *a = args; *a; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	g_ptr_array_add(argv, NULL);

	label = g_strdup_printf("%s %s", bl->script, joined);
	out = run_command((const char *const *)argv->pdata, label, FALSE, exit_failed, error);
	return out ? g_strstrip(out) : NULL;
}

/* The trimmed output of a bootname query, checked against the config. */
static char *custom_get_bootname(OtaBootloader *bl, const char *command, gboolean *exit_failed,
                                 GError **error)
{
	const char *args[] = {command, NULL};
	g_autofree char *out = custom_run(bl, args, exit_failed, error);

	if (out == NULL)
		return NULL;
	if (!is_bootname(bl, out)) {
		g_autofree char *known = bootname_list(bl);

		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		            "%s %s printed '%s', which is not a configured bootname (%s)", bl->script,
		            command, out, known);
		return NULL;
	}
	return g_steal_pointer(&out);
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
	if (g_str_equal(out, "good")) {
		*state = OTA_SLOT_STATE_GOOD;
		return TRUE;
	}
	if (g_str_equal(out, "bad")) {
		*state = OTA_SLOT_STATE_BAD;
		return TRUE;
	}
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "%s get-state %s printed '%s', not good or bad", bl->script, bootname, out);
	return FALSE;
}

static gboolean custom_set_state(OtaBootloader *bl, const char *bootname, OtaSlotState state,
                                 GError **error)
{
	const char *args[] = {"set-state", bootname, state_name(state), NULL};
	g_autofree char *out = custom_run(bl, args, NULL, error);

	return out != NULL;
}

static const Backend custom_backend = {
	.name = "custom",
	.get_primary = custom_get_primary,
	.get_booted = custom_get_booted,
	.set_primary = custom_set_primary,
	.get_state = custom_get_state,
	.set_state = custom_set_state,
};

/* --- uboot: BOOT_ORDER and BOOT_<name>_LEFT via fw_printenv/fw_setenv ----- */

/* The whole environment in one read: one consistent snapshot, and unlike
 * asking for single variables it tells an unset variable from an empty one
 * (libubootenv's fw_printenv prints "NAME=" for both). */
static GHashTable *uboot_read_env(OtaBootloader *bl, GError **error)
{
	const char *argv[] = {"fw_printenv", NULL, NULL, NULL};
	g_autofree char *label = NULL;
	g_autofree char *out = NULL;

	/* Else libubootenv says "Configuration file wrong or corrupted". */
	if (bl->uboot_config != NULL && !g_file_test(bl->uboot_config, G_FILE_TEST_EXISTS)) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED,
		            "U-Boot environment configuration %s does not exist", bl->uboot_config);
		return NULL;
	}
	if (bl->uboot_config != NULL) {
		argv[1] = "-c";
		argv[2] = bl->uboot_config;
	}
	label = bl->uboot_config ? g_strdup_printf("fw_printenv -c %s", bl->uboot_config)
	                         : g_strdup("fw_printenv");
	out = run_command(argv, label, TRUE, NULL, error);
	if (out == NULL)
		return NULL;
	return parse_env_lines(out);
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

	if (bl->uboot_config != NULL) {
		argv[i++] = "-c";
		argv[i++] = bl->uboot_config;
	}
	argv[i++] = name;
	argv[i++] = value;
	label = bl->uboot_config ? g_strdup_printf("fw_setenv -c %s %s", bl->uboot_config, name)
	                         : g_strdup_printf("fw_setenv %s", name);
	out = run_command(argv, label, TRUE, NULL, error);
	return out != NULL;
}

/* BOOT_ORDER, or with @use_default the configured order when it is unset
 * (a writer then creates it, as RAUC does). */
static GPtrArray *uboot_order(OtaBootloader *bl, GHashTable *env, gboolean use_default,
                              GError **error)
{
	const char *value = g_hash_table_lookup(env, "BOOT_ORDER");

	if (value != NULL)
		return parse_order(bl, "BOOT_ORDER", value, error);
	if (use_default)
		return default_order(bl);
	g_set_error_literal(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	                    "BOOT_ORDER is not set in the U-Boot environment");
	return NULL;
}

/* Remaining boot attempts; unset counts as 0, as in RAUC. */
static gboolean uboot_attempts(GHashTable *env, const char *bootname, guint64 *attempts,
                               GError **error)
{
	g_autofree char *key = g_strdup_printf("BOOT_%s_LEFT", bootname);
	const char *value = g_hash_table_lookup(env, key);
	g_autoptr(GError) ierror = NULL;

	*attempts = 0;
	if (value == NULL || *value == '\0')
		return TRUE;
	if (!g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT32, attempts, &ierror)) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		            "%s is '%s', not a number of boot attempts", key, value);
		return FALSE;
	}
	return TRUE;
}

static char *uboot_get_primary(OtaBootloader *bl, GError **error)
{
	g_autoptr(GHashTable) env = uboot_read_env(bl, error);
	g_autoptr(GPtrArray) order = NULL;
	g_autofree char *joined = NULL;

	if (env == NULL)
		return NULL;
	order = uboot_order(bl, env, FALSE, error);
	if (order == NULL)
		return NULL;
	/* The boot script skips a slot without attempts left. */
	for (guint i = 0; i < order->len; i++) {
		guint64 attempts;

		if (!uboot_attempts(env, order->pdata[i], &attempts, error))
			return NULL;
		if (attempts > 0)
			return g_strdup(order->pdata[i]);
	}
	joined = order_join(order);
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "no slot in BOOT_ORDER '%s' has boot attempts left", joined);
	return NULL;
}

static char *uboot_get_booted(OtaBootloader *bl, GError **error)
{
	return NULL;
}

static gboolean uboot_write_order(OtaBootloader *bl, GHashTable *env, GPtrArray *order,
                                  GError **error)
{
	g_autofree char *value = order_join(order);

	if (g_strcmp0(g_hash_table_lookup(env, "BOOT_ORDER"), value) == 0)
		return TRUE;
	return uboot_set_var(bl, "BOOT_ORDER", value, error);
}

static gboolean uboot_set_primary(OtaBootloader *bl, const char *bootname, GError **error)
{
	g_autoptr(GHashTable) env = uboot_read_env(bl, error);
	g_autoptr(GPtrArray) order = NULL;
	g_autofree char *key = g_strdup_printf("BOOT_%s_LEFT", bootname);

	if (env == NULL)
		return FALSE;
	order = uboot_order(bl, env, TRUE, error);
	if (order == NULL)
		return FALSE;
	order_remove(order, bootname);
	g_ptr_array_insert(order, 0, g_strdup(bootname));

	/* Attempts first: interrupted here, the slot is merely bootable. */
	if (!uboot_set_var(bl, key, UBOOT_ATTEMPTS, error))
		return FALSE;
	return uboot_write_order(bl, env, order, error);
}

/* Good if listed in BOOT_ORDER with attempts left, as in RAUC. */
static gboolean uboot_get_state(OtaBootloader *bl, const char *bootname, OtaSlotState *state,
                                GError **error)
{
	g_autoptr(GHashTable) env = uboot_read_env(bl, error);
	g_autoptr(GPtrArray) order = NULL;
	guint64 attempts;

	if (env == NULL)
		return FALSE;
	order = uboot_order(bl, env, FALSE, error);
	if (order == NULL || !uboot_attempts(env, bootname, &attempts, error))
		return FALSE;
	*state = order_contains(order, bootname) && attempts > 0 ? OTA_SLOT_STATE_GOOD
	                                                         : OTA_SLOT_STATE_BAD;
	return TRUE;
}

static gboolean uboot_set_state(OtaBootloader *bl, const char *bootname, OtaSlotState state,
                                GError **error)
{
	g_autoptr(GHashTable) env = uboot_read_env(bl, error);
	g_autoptr(GPtrArray) order = NULL;
	g_autofree char *key = g_strdup_printf("BOOT_%s_LEFT", bootname);

	if (env == NULL)
		return FALSE;
	order = uboot_order(bl, env, TRUE, error);
	if (order == NULL)
		return FALSE;

	if (state == OTA_SLOT_STATE_GOOD) {
		if (!uboot_set_var(bl, key, UBOOT_ATTEMPTS, error))
			return FALSE;
		/* A slot missing from BOOT_ORDER would never boot: list it last. */
		if (!order_contains(order, bootname))
			g_ptr_array_add(order, g_strdup(bootname));
		return uboot_write_order(bl, env, order, error);
	}

	/* Attempts first: interrupted here, the slot already won't boot. */
	if (!uboot_set_var(bl, key, "0", error))
		return FALSE;
	order_remove(order, bootname);
	g_ptr_array_add(order, g_strdup(bootname));
	return uboot_write_order(bl, env, order, error);
}

static const Backend uboot_backend = {
	.name = "uboot",
	.get_primary = uboot_get_primary,
	.get_booted = uboot_get_booted,
	.set_primary = uboot_set_primary,
	.get_state = uboot_get_state,
	.set_state = uboot_set_state,
};

/* --- grub: ORDER, <name>_OK and <name>_TRY via grub-editenv --------------- */

/* grub-editenv creates a missing file even for "list", so a wrong path
 * would silently read as an empty environment. */
static gboolean grub_check_env_exists(OtaBootloader *bl, GError **error)
{
	if (g_file_test(bl->grubenv, G_FILE_TEST_IS_REGULAR))
		return TRUE;
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_FAILED,
	            "GRUB environment %s does not exist", bl->grubenv);
	return FALSE;
}

static GHashTable *grub_read_env(OtaBootloader *bl, GError **error)
{
	const char *argv[] = {"grub-editenv", bl->grubenv, "list", NULL};
	g_autofree char *label = g_strdup_printf("grub-editenv %s list", bl->grubenv);
	g_autofree char *out = NULL;

	if (!grub_check_env_exists(bl, error))
		return NULL;
	out = run_command(argv, label, TRUE, NULL, error);
	if (out == NULL)
		return NULL;
	return parse_env_lines(out);
}

/* All "NAME=value" @assignments in one call, so grub-editenv rewrites the
 * block once. */
static gboolean grub_set_vars(OtaBootloader *bl, GPtrArray *assignments, GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *label = g_strdup_printf("grub-editenv %s set", bl->grubenv);
	g_autofree char *out = NULL;

	if (!grub_check_env_exists(bl, error))
		return FALSE;
	g_ptr_array_add(argv, "grub-editenv");
	g_ptr_array_add(argv, bl->grubenv);
	g_ptr_array_add(argv, "set");
	for (guint i = 0; i < assignments->len; i++)
		g_ptr_array_add(argv, assignments->pdata[i]);
	g_ptr_array_add(argv, NULL);
	out = run_command((const char *const *)argv->pdata, label, TRUE, NULL, error);
	return out != NULL;
}

static GPtrArray *grub_order(OtaBootloader *bl, GHashTable *env, gboolean use_default,
                             GError **error)
{
	const char *value = g_hash_table_lookup(env, "ORDER");

	if (value != NULL)
		return parse_order(bl, "ORDER", value, error);
	if (use_default)
		return default_order(bl);
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "ORDER is not set in GRUB environment %s", bl->grubenv);
	return NULL;
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

/* Good as RAUC defines it: OK and not being tried. */
static gboolean grub_slot_good(GHashTable *env, const char *bootname, gboolean *good,
                               GError **error)
{
	gboolean ok, trying;

	if (!grub_flag(env, bootname, "OK", &ok, error) ||
	    !grub_flag(env, bootname, "TRY", &trying, error))
		return FALSE;
	*good = ok && !trying;
	return TRUE;
}

static char *grub_get_primary(OtaBootloader *bl, GError **error)
{
	g_autoptr(GHashTable) env = grub_read_env(bl, error);
	g_autoptr(GPtrArray) order = NULL;
	g_autofree char *joined = NULL;

	if (env == NULL)
		return NULL;
	order = grub_order(bl, env, FALSE, error);
	if (order == NULL)
		return NULL;
	for (guint i = 0; i < order->len; i++) {
		gboolean good;

		if (!grub_slot_good(env, order->pdata[i], &good, error))
			return NULL;
		if (good)
			return g_strdup(order->pdata[i]);
	}
	joined = order_join(order);
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "no slot in ORDER '%s' is OK", joined);
	return NULL;
}

static char *grub_get_booted(OtaBootloader *bl, GError **error)
{
	return NULL;
}

static gboolean grub_set_primary(OtaBootloader *bl, const char *bootname, GError **error)
{
	g_autoptr(GHashTable) env = grub_read_env(bl, error);
	g_autoptr(GPtrArray) vars = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) order = NULL;
	g_autofree char *joined = NULL;

	if (env == NULL)
		return FALSE;
	order = grub_order(bl, env, TRUE, error);
	if (order == NULL)
		return FALSE;
	order_remove(order, bootname);
	g_ptr_array_insert(order, 0, g_strdup(bootname));
	joined = order_join(order);
	g_ptr_array_add(vars, g_strdup_printf("%s_OK=1", bootname));
	g_ptr_array_add(vars, g_strdup_printf("%s_TRY=0", bootname));
	g_ptr_array_add(vars, g_strdup_printf("ORDER=%s", joined));
	return grub_set_vars(bl, vars, error);
}

/* Good if listed in ORDER, OK and not being tried, as in RAUC. */
static gboolean grub_get_state(OtaBootloader *bl, const char *bootname, OtaSlotState *state,
                               GError **error)
{
	g_autoptr(GHashTable) env = grub_read_env(bl, error);
	g_autoptr(GPtrArray) order = NULL;
	gboolean good;

	if (env == NULL)
		return FALSE;
	order = grub_order(bl, env, FALSE, error);
	if (order == NULL || !grub_slot_good(env, bootname, &good, error))
		return FALSE;
	*state = order_contains(order, bootname) && good ? OTA_SLOT_STATE_GOOD : OTA_SLOT_STATE_BAD;
	return TRUE;
}

static gboolean grub_set_state(OtaBootloader *bl, const char *bootname, OtaSlotState state,
                               GError **error)
{
	g_autoptr(GHashTable) env = grub_read_env(bl, error);
	g_autoptr(GPtrArray) vars = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) order = NULL;

	if (env == NULL)
		return FALSE;
	order = grub_order(bl, env, TRUE, error);
	if (order == NULL)
		return FALSE;
	g_ptr_array_add(vars, g_strdup_printf("%s_OK=%d", bootname, state == OTA_SLOT_STATE_GOOD));
	g_ptr_array_add(vars, g_strdup_printf("%s_TRY=0", bootname));
	/* A good slot missing from ORDER would never boot: list it last. */
	if (state == OTA_SLOT_STATE_GOOD && !order_contains(order, bootname)) {
		g_autofree char *joined = NULL;

		g_ptr_array_add(order, g_strdup(bootname));
		joined = order_join(order);
		g_ptr_array_add(vars, g_strdup_printf("ORDER=%s", joined));
	}
	return grub_set_vars(bl, vars, error);
}

static const Backend grub_backend = {
	.name = "grub",
	.get_primary = grub_get_primary,
	.get_booted = grub_get_booted,
	.set_primary = grub_set_primary,
	.get_state = grub_get_state,
	.set_state = grub_set_state,
};

/* --- public interface ---------------------------------------------------- */

/* Bootnames become parts of variable names in U-Boot and GRUB scripts and
 * arguments of the custom script, so keep them to what all of them accept. */
static gboolean bootname_is_valid(const char *name)
{
	if (*name == '\0')
		return FALSE;
	for (const char *c = name; *c; c++) {
		if (!g_ascii_isalnum(*c) && *c != '_')
			return FALSE;
	}
	return TRUE;
}

static gboolean require_setting(const char *value, const char *backend, const char *setting,
                                GError **error)
{
	if (value != NULL && *value != '\0')
		return TRUE;
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "bootloader=%s needs %s", backend, setting);
	return FALSE;
}

OtaBootloader *ota_bootloader_new(const OtaSystemConfig *config, const char *const *bootnames,
                                  GError **error)
{
	g_autoptr(OtaBootloader) bl = g_new0(OtaBootloader, 1);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

	g_return_val_if_fail(config != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (bootnames == NULL || bootnames[0] == NULL) {
		g_set_error_literal(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		                    "no slot has a bootname");
		return NULL;
	}
	for (const char *const *n = bootnames; *n; n++) {
		if (!bootname_is_valid(*n)) {
			g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
			            "bootname '%s' is invalid (letters, digits and _ only)", *n);
			return NULL;
		}
		if (order_contains(names, *n)) {
			g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
			            "bootname '%s' is given to more than one slot", *n);
			return NULL;
		}
		g_ptr_array_add(names, g_strdup(*n));
	}
	g_ptr_array_add(names, NULL);
	bl->bootnames = (GStrv)g_ptr_array_free(g_steal_pointer(&names), FALSE);

	switch (config->bootloader) {
	case OTA_BOOTLOADER_FILE:
		if (!require_setting(config->data_directory, "file", "[system] data-directory", error))
			return NULL;
		bl->backend = &file_backend;
		bl->state_path = g_build_filename(config->data_directory, "bootloader.state", NULL);
		break;
	case OTA_BOOTLOADER_CUSTOM:
		if (!require_setting(config->custom_backend, "custom",
		                     "[handlers] bootloader-custom-backend", error))
			return NULL;
		bl->backend = &custom_backend;
		bl->script = g_strdup(config->custom_backend);
		break;
	case OTA_BOOTLOADER_UBOOT:
		bl->backend = &uboot_backend;
		bl->uboot_config = g_strdup(config->uboot_config);
		break;
	case OTA_BOOTLOADER_GRUB:
		if (!require_setting(config->grubenv, "grub", "[system] grubenv", error))
			return NULL;
		bl->backend = &grub_backend;
		bl->grubenv = g_strdup(config->grubenv);
		break;
	default:
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		            "unknown bootloader kind %d", (int)config->bootloader);
		return NULL;
	}
	return g_steal_pointer(&bl);
}

void ota_bootloader_free(OtaBootloader *bl)
{
	if (bl == NULL)
		return;
	g_strfreev(bl->bootnames);
	g_free(bl->state_path);
	g_free(bl->script);
	g_free(bl->uboot_config);
	g_free(bl->grubenv);
	g_free(bl);
}

static gboolean check_argument(OtaBootloader *bl, const char *bootname, GError **error)
{
	g_autofree char *known = NULL;

	if (bootname != NULL && is_bootname(bl, bootname))
		return TRUE;
	known = bootname_list(bl);
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
	if (!check_bootname(bl, owned, what, error))
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

	return checked_answer(bl, bl->backend->get_booted(bl, error), error);
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
