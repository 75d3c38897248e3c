/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The barebox backend: bootchooser's bootstate.<bootname>.priority and
 * .remaining_attempts state variables, read and written with barebox-state
 * as RAUC does (the same variables, values and options). */
#include "bootloader-private.h"

/* RAUC's values: a primary gets priority 20, every other enabled slot 10,
 * a bad one 0 (bootchooser never boots it); boot-attempts and
 * boot-attempts-primary default to 3. */
#define BAREBOX_PRIORITY_PRIMARY 20
#define BAREBOX_PRIORITY_DEFAULT 10
#define BAREBOX_DEFAULT_ATTEMPTS 3

typedef struct {
	char *statename; /* -n: NULL for barebox-state's default */
	char *dtbpath;   /* -i: NULL for the running device tree */
	guint attempts;  /* set by mark-good */
	guint attempts_primary;
} Barebox;

typedef struct {
	guint64 priority;
	guint64 attempts;
} BareboxSlot;

static void barebox_free(gpointer data)
{
	Barebox *bb = data;

	g_free(bb->statename);
	g_free(bb->dtbpath);
	g_free(bb);
}

static gboolean barebox_open(OtaBootloader *bl, const OtaSystemConfig *config, GError **error)
{
	Barebox *bb = g_new0(Barebox, 1);

	bb->statename = g_strdup(config->barebox_statename);
	bb->dtbpath = g_strdup(config->barebox_dtbpath);
	bb->attempts = config->boot_attempts ? config->boot_attempts : BAREBOX_DEFAULT_ATTEMPTS;
	bb->attempts_primary = config->boot_attempts_primary ? config->boot_attempts_primary
	                                                     : BAREBOX_DEFAULT_ATTEMPTS;
	bl->data = bb;
	return TRUE;
}

/* Runs "barebox-state [-n NAME] @ops... [-i DTB]" (RAUC's order), @ops
 * being "-g VAR" or "-s VAR=VALUE" pairs, and returns its stdout. */
static char *barebox_state(OtaBootloader *bl, GPtrArray *ops, GError **error)
{
	Barebox *bb = bl->data;
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *label = bb->statename
	                                 ? g_strdup_printf("barebox-state -n %s", bb->statename)
	                                 : g_strdup("barebox-state");
	OtaSubprocessOptions options = {.label = label,
	                                .stderr_lines = OTA_SUBPROCESS_STDERR_ALL_LINES};

	g_ptr_array_add(argv, "barebox-state");
	if (bb->statename != NULL) {
		g_ptr_array_add(argv, "-n");
		g_ptr_array_add(argv, bb->statename);
	}
	for (guint i = 0; i < ops->len; i++)
		g_ptr_array_add(argv, ops->pdata[i]);
	if (bb->dtbpath != NULL) {
		g_ptr_array_add(argv, "-i");
		g_ptr_array_add(argv, bb->dtbpath);
	}
	g_ptr_array_add(argv, NULL);
	return bootloader_run_tool((const char *const *)argv->pdata, &options, NULL, error);
}

static char *variable(const char *bootname, const char *what)
{
	return g_strdup_printf("bootstate.%s.%s", bootname, what);
}

static gboolean parse_value(const char *line, const char *var, guint64 *value, GError **error)
{
	if (line != NULL && g_ascii_string_to_unsigned(line, 10, 0, G_MAXUINT32, value, NULL))
		return TRUE;
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "barebox-state printed '%s' for %s, not a number", line ? line : "", var);
	return FALSE;
}

/* Every configured slot's priority and attempts, in bootname order, in one
 * call: one consistent snapshot of the state. */
static BareboxSlot *barebox_read(OtaBootloader *bl, GError **error)
{
	guint n = g_strv_length(bl->bootnames);
	g_autoptr(GPtrArray) ops = g_ptr_array_new_with_free_func(g_free);
	g_autofree BareboxSlot *slots = g_new0(BareboxSlot, n);
	g_autofree char *out = NULL;
	g_auto(GStrv) lines = NULL;

	for (guint i = 0; i < n; i++) {
		g_ptr_array_add(ops, g_strdup("-g"));
		g_ptr_array_add(ops, variable(bl->bootnames[i], "priority"));
		g_ptr_array_add(ops, g_strdup("-g"));
		g_ptr_array_add(ops, variable(bl->bootnames[i], "remaining_attempts"));
	}
	out = barebox_state(bl, ops, error);
	if (out == NULL)
		return NULL;
	/* One value per line, in the order asked. */
	lines = g_strsplit(out, "\n", -1);
	if (g_strv_length(lines) < 2 * n) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		            "barebox-state printed fewer values than the %u variables asked for",
		            2 * n);
		return NULL;
	}
	for (guint i = 0; i < n; i++) {
		const char *priority_var = ops->pdata[4 * i + 1];
		const char *attempts_var = ops->pdata[4 * i + 3];

		if (!parse_value(g_strstrip(lines[2 * i]), priority_var, &slots[i].priority, error) ||
		    !parse_value(g_strstrip(lines[2 * i + 1]), attempts_var, &slots[i].attempts, error))
			return NULL;
	}
	return g_steal_pointer(&slots);
}

/* Writes every "VAR=VALUE" of @assignments in one call: barebox-state
 * saves the state once, so the switch is all or nothing. */
static gboolean barebox_write(OtaBootloader *bl, GPtrArray *assignments, GError **error)
{
	g_autoptr(GPtrArray) ops = g_ptr_array_new();
	g_autofree char *out = NULL;

	for (guint i = 0; i < assignments->len; i++) {
		g_ptr_array_add(ops, "-s");
		g_ptr_array_add(ops, assignments->pdata[i]);
	}
	out = barebox_state(bl, ops, error);
	return out != NULL;
}

static void assign(GPtrArray *assignments, const char *bootname, const char *what, guint value)
{
	g_ptr_array_add(assignments, g_strdup_printf("bootstate.%s.%s=%u", bootname, what, value));
}

static guint index_of(OtaBootloader *bl, const char *bootname)
{
	guint i = 0;

	while (!g_str_equal(bl->bootnames[i], bootname))
		i++;
	return i;
}

/* As bootchooser and RAUC see it: enabled (priority > 0) with attempts left. */
static gboolean bootable(const BareboxSlot *s)
{
	return s->priority > 0 && s->attempts > 0;
}

/* Bootchooser's choice: the highest priority with attempts left; on a tie
 * the first in configured order. */
static char *barebox_get_primary(OtaBootloader *bl, GError **error)
{
	g_autofree BareboxSlot *slots = barebox_read(bl, error);
	const char *primary = NULL;
	guint64 top = 0;

	if (slots == NULL)
		return NULL;
	for (guint i = 0; bl->bootnames[i]; i++) {
		if (bootable(&slots[i]) && slots[i].priority > top) {
			primary = bl->bootnames[i];
			top = slots[i].priority;
		}
	}
	if (primary == NULL) {
		g_set_error_literal(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		                    "no slot in the barebox state has a priority and boot attempts "
		                    "left");
		return NULL;
	}
	return g_strdup(primary);
}

static gboolean barebox_get_state(OtaBootloader *bl, const char *bootname, OtaSlotState *state,
                                  GError **error)
{
	g_autofree BareboxSlot *slots = barebox_read(bl, error);

	if (slots == NULL)
		return FALSE;
	*state = bootable(&slots[index_of(bl, bootname)]) ? OTA_SLOT_STATE_GOOD : OTA_SLOT_STATE_BAD;
	return TRUE;
}

/* RAUC's: @bootname priority 20 and boot-attempts-primary attempts, every
 * other enabled slot priority 10; a disabled one stays 0. */
static gboolean barebox_set_primary(OtaBootloader *bl, const char *bootname, GError **error)
{
	Barebox *bb = bl->data;
	g_autofree BareboxSlot *slots = barebox_read(bl, error);
	g_autoptr(GPtrArray) assignments = g_ptr_array_new_with_free_func(g_free);

	if (slots == NULL)
		return FALSE;
	for (guint i = 0; bl->bootnames[i]; i++) {
		guint priority = BAREBOX_PRIORITY_PRIMARY;

		if (!g_str_equal(bl->bootnames[i], bootname))
			priority = slots[i].priority == 0 ? 0 : BAREBOX_PRIORITY_DEFAULT;
		assign(assignments, bl->bootnames[i], "priority", priority);
	}
	assign(assignments, bootname, "remaining_attempts", bb->attempts_primary);
	return barebox_write(bl, assignments, error);
}

/* Bad: priority and attempts 0, as RAUC. Good: boot-attempts attempts, as
 * RAUC; a slot disabled before (priority 0) also gets the default priority,
 * where RAUC leaves it disabled, so that marking it good makes it a
 * fallback again (it does not become primary: only set-primary does that). */
static gboolean barebox_set_state(OtaBootloader *bl, const char *bootname, OtaSlotState state,
                                  GError **error)
{
	Barebox *bb = bl->data;
	g_autoptr(GPtrArray) assignments = g_ptr_array_new_with_free_func(g_free);

	if (state == OTA_SLOT_STATE_BAD) {
		assign(assignments, bootname, "priority", 0);
		assign(assignments, bootname, "remaining_attempts", 0);
	} else {
		g_autofree BareboxSlot *slots = barebox_read(bl, error);

		if (slots == NULL)
			return FALSE;
		if (slots[index_of(bl, bootname)].priority == 0)
			assign(assignments, bootname, "priority", BAREBOX_PRIORITY_DEFAULT);
		assign(assignments, bootname, "remaining_attempts", bb->attempts);
	}
	return barebox_write(bl, assignments, error);
}

/* Bootchooser passes the target it booted as bootchooser.active= (older
 * barebox: bootstate.active=); RAUC reads both. */
static const char *const barebox_cmdline_keys[] = {"bootchooser.active", "bootstate.active",
                                                   NULL};

const OtaBootloaderBackend ota_bootloader_backend_barebox = {
	.name = "barebox",
	.open = barebox_open,
	.free_data = barebox_free,
	.cmdline_keys = barebox_cmdline_keys,
	.get_primary = barebox_get_primary,
	.set_primary = barebox_set_primary,
	.get_state = barebox_get_state,
	.set_state = barebox_set_state,
};
