/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The EFI backend: the firmware's BootOrder and BootNext variables, through
 * efibootmgr as RAUC does: a slot is the boot entry labelled with its
 * bootname; primary is BootNext (or, with efi-use-bootnext=false, the head
 * of BootOrder); good means listed in BootOrder. */
#include "bootloader-private.h"

#include <string.h>

typedef struct {
	char *num;   /* "0001": four hex digits, as efibootmgr prints them */
	char *label; /* the description, without the device path */
} EfiEntry;

/* What one efibootmgr listing says. */
typedef struct {
	GPtrArray *entries; /* EfiEntry*, in listing order */
	GPtrArray *order;   /* char* boot numbers of BootOrder; empty if unset */
	char *next;         /* BootNext, or NULL */
	char *current;      /* BootCurrent, or NULL */
} EfiVars;

static void efi_entry_free(EfiEntry *e)
{
	g_free(e->num);
	g_free(e->label);
	g_free(e);
}

static void efi_vars_free(EfiVars *v)
{
	if (v == NULL)
		return;
	g_clear_pointer(&v->entries, g_ptr_array_unref);
	g_clear_pointer(&v->order, g_ptr_array_unref);
	g_free(v->next);
	g_free(v->current);
	g_free(v);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EfiVars, efi_vars_free)

typedef struct {
	gboolean use_bootnext; /* [system] efi-use-bootnext */
} Efi;

static gboolean efi_open(OtaBootloader *bl, const OtaSystemConfig *config, GError **error)
{
	Efi *efi = g_new0(Efi, 1);

	efi->use_bootnext = config->efi_use_bootnext;
	bl->data = efi;
	return TRUE;
}

static gboolean is_boot_number(const char *s)
{
	if (strlen(s) != 4)
		return FALSE;
	for (const char *c = s; *c; c++) {
		if (!g_ascii_isxdigit(*c))
			return FALSE;
	}
	return TRUE;
}

/* "Boot0001* label\tdevice path" (inactive entries have ' ' for '*'; the
 * path is missing in older efibootmgr): RAUC's reading of it. */
static EfiEntry *parse_entry(const char *line)
{
	EfiEntry *e;
	const char *label;

	if (strlen(line) <= strlen("BootXXXX* ") || !g_str_has_prefix(line, "Boot"))
		return NULL;
	if ((line[8] != '*' && line[8] != ' ') || line[9] != ' ')
		return NULL;
	label = line + strlen("BootXXXX* ");
	e = g_new0(EfiEntry, 1);
	e->num = g_ascii_strup(line + 4, 4);
	if (!is_boot_number(e->num)) {
		efi_entry_free(e);
		return NULL;
	}
	e->label = g_strndup(label, strcspn(label, "\t"));
	return e;
}

/* The value of "@name: value" in @line, or NULL. */
static const char *field(const char *line, const char *name)
{
	gsize n = strlen(name);

	if (strncmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	return line + n + 1 + strspn(line + n + 1, " ");
}

static gboolean parse_boot_number(const char *value, const char *name, char **out,
                                  GError **error)
{
	if (!is_boot_number(value)) {
		g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
		            "efibootmgr printed %s '%s', not a boot number", name, value);
		return FALSE;
	}
	g_free(*out);
	*out = g_ascii_strup(value, -1);
	return TRUE;
}

static EfiVars *parse_listing(const char *listing, GError **error)
{
	g_autoptr(EfiVars) v = g_new0(EfiVars, 1);
	g_auto(GStrv) lines = g_strsplit(listing, "\n", -1);
	const char *value;

	v->entries = g_ptr_array_new_with_free_func((GDestroyNotify)efi_entry_free);
	v->order = g_ptr_array_new_with_free_func(g_free);
	for (char **l = lines; *l; l++) {
		EfiEntry *e;

		g_strchomp(*l);
		if ((value = field(*l, "BootNext")) != NULL) {
			if (!parse_boot_number(value, "BootNext", &v->next, error))
				return NULL;
		} else if ((value = field(*l, "BootCurrent")) != NULL) {
			if (!parse_boot_number(value, "BootCurrent", &v->current, error))
				return NULL;
		} else if ((value = field(*l, "BootOrder")) != NULL) {
			g_auto(GStrv) nums = g_strsplit(value, ",", -1);

			for (char **n = nums; *n; n++) {
				if (**n == '\0')
					continue;
				if (!is_boot_number(*n)) {
					g_set_error(error, OTA_BOOTLOADER_ERROR,
					            OTA_BOOTLOADER_ERROR_INVALID,
					            "efibootmgr printed BootOrder '%s', not boot numbers",
					            value);
					return NULL;
				}
				g_ptr_array_add(v->order, g_ascii_strup(*n, -1));
			}
		} else if ((e = parse_entry(*l)) != NULL) {
			g_ptr_array_add(v->entries, e);
		}
	}
	return g_steal_pointer(&v);
}

static char *efibootmgr(const char *const *args, GError **error)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *joined = g_strjoinv(" ", (char **)args);
	g_autofree char *label = *args ? g_strdup_printf("efibootmgr %s", joined)
	                               : g_strdup("efibootmgr");
	OtaSubprocessOptions options = {.label = label,
	                                .stderr_lines = OTA_SUBPROCESS_STDERR_ALL_LINES};

	g_ptr_array_add(argv, "efibootmgr");
	for (const char *const *a = args; *a; a++)
		g_ptr_array_add(argv, (gpointer)*a);
	g_ptr_array_add(argv, NULL);
	return bootloader_run_tool((const char *const *)argv->pdata, &options, NULL, error);
}

/* Runs efibootmgr to make one change: @option, with @value unless NULL. */
static gboolean efibootmgr_set(const char *option, const char *value, GError **error)
{
	const char *args[] = {option, value, NULL};
	g_autofree char *out = efibootmgr(args, error);

	return out != NULL;
}

static EfiVars *efi_read(GError **error)
{
	const char *args[] = {NULL};
	g_autofree char *out = efibootmgr(args, error);

	if (out == NULL)
		return NULL;
	return parse_listing(out, error);
}

/* The first entry numbered @num, or NULL. */
static const EfiEntry *entry_by_number(EfiVars *v, const char *num)
{
	for (guint i = 0; num != NULL && i < v->entries->len; i++) {
		const EfiEntry *e = v->entries->pdata[i];

		if (g_ascii_strcasecmp(e->num, num) == 0)
			return e;
	}
	return NULL;
}

/* The configured bootname the entry numbered @num is labelled with, or NULL. */
static const char *slot_of(OtaBootloader *bl, EfiVars *v, const char *num)
{
	const EfiEntry *e = entry_by_number(v, num);

	return e != NULL && bootloader_is_bootname(bl, e->label) ? e->label : NULL;
}

/* The boot number of @bootname's entry: the first labelled with it. */
static const char *number_of(EfiVars *v, const char *bootname, GError **error)
{
	for (guint i = 0; i < v->entries->len; i++) {
		const EfiEntry *e = v->entries->pdata[i];

		if (g_str_equal(e->label, bootname))
			return e->num;
	}
	g_set_error(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	            "efibootmgr lists no boot entry labelled '%s'", bootname);
	return NULL;
}

static gboolean in_order(OtaBootloader *bl, EfiVars *v, const char *bootname)
{
	for (guint i = 0; i < v->order->len; i++) {
		if (g_strcmp0(slot_of(bl, v, v->order->pdata[i]), bootname) == 0)
			return TRUE;
	}
	return FALSE;
}

/* BootNext if it is a slot's (the firmware boots it once), else the first
 * slot in BootOrder, as RAUC reads it. */
static char *efi_get_primary(OtaBootloader *bl, GError **error)
{
	g_autoptr(EfiVars) v = efi_read(error);
	const char *slot;

	if (v == NULL)
		return NULL;
	if ((slot = slot_of(bl, v, v->next)) != NULL)
		return g_strdup(slot);
	for (guint i = 0; i < v->order->len; i++) {
		if ((slot = slot_of(bl, v, v->order->pdata[i])) != NULL)
			return g_strdup(slot);
	}
	g_set_error_literal(error, OTA_BOOTLOADER_ERROR, OTA_BOOTLOADER_ERROR_INVALID,
	                    "no boot entry in BootNext or BootOrder is labelled with a slot's "
	                    "bootname");
	return NULL;
}

/* BootCurrent's label; NULL without error when it is not a slot's entry
 * (or not shown): the caller then asks the kernel command line, as RAUC
 * falls back to it. */
static char *efi_get_booted(OtaBootloader *bl, GError **error)
{
	g_autoptr(EfiVars) v = efi_read(error);
	const char *slot;

	if (v == NULL)
		return NULL;
	slot = slot_of(bl, v, v->current);
	return slot ? g_strdup(slot) : NULL;
}

/* Good as RAUC defines it, listed in BootOrder; and also when it is
 * BootNext, which the firmware boots next: a slot just installed is not
 * bad before it has even been tried. */
static gboolean efi_get_state(OtaBootloader *bl, const char *bootname, OtaSlotState *state,
                              GError **error)
{
	g_autoptr(EfiVars) v = efi_read(error);

	if (v == NULL)
		return FALSE;
	*state = in_order(bl, v, bootname) || g_strcmp0(slot_of(bl, v, v->next), bootname) == 0
	                 ? OTA_SLOT_STATE_GOOD
	                 : OTA_SLOT_STATE_BAD;
	return TRUE;
}

static gboolean same_order(GPtrArray *a, GPtrArray *b)
{
	if (a->len != b->len)
		return FALSE;
	for (guint i = 0; i < a->len; i++) {
		if (!g_str_equal(a->pdata[i], b->pdata[i]))
			return FALSE;
	}
	return TRUE;
}

/* Writes BootOrder without @bootname's entries, with @first (if any) in
 * front; nothing if that is what it holds. */
static gboolean write_order(OtaBootloader *bl, EfiVars *v, const char *bootname,
                            const char *first, GError **error)
{
	g_autoptr(GPtrArray) order = g_ptr_array_new();
	g_autofree char *joined = NULL;

	if (first != NULL)
		g_ptr_array_add(order, (gpointer)first);
	for (guint i = 0; i < v->order->len; i++) {
		if (g_strcmp0(slot_of(bl, v, v->order->pdata[i]), bootname) != 0)
			g_ptr_array_add(order, v->order->pdata[i]);
	}
	if (same_order(order, v->order))
		return TRUE;
	if (order->len == 0)
		return efibootmgr_set("--delete-bootorder", NULL, error);
	g_ptr_array_add(order, NULL);
	joined = g_strjoinv(",", (char **)order->pdata);
	return efibootmgr_set("--bootorder", joined, error);
}

static gboolean efi_set_primary(OtaBootloader *bl, const char *bootname, GError **error)
{
	g_autoptr(EfiVars) v = efi_read(error);
	const char *num;

	if (v == NULL || (num = number_of(v, bootname, error)) == NULL)
		return FALSE;
	if (!((Efi *)bl->data)->use_bootnext)
		return write_order(bl, v, bootname, num, error);
	return g_strcmp0(v->next, num) == 0 || efibootmgr_set("--bootnext", num, error);
}

/* Good: to the front of BootOrder, as RAUC (this is what makes a slot
 * booted once through BootNext stay). Bad: out of BootOrder, as RAUC, and
 * out of BootNext too, where RAUC leaves it: an install marks its target
 * bad before writing it, and a BootNext left from an earlier install must
 * not boot a half-written slot. */
static gboolean efi_set_state(OtaBootloader *bl, const char *bootname, OtaSlotState state,
                              GError **error)
{
	g_autoptr(EfiVars) v = efi_read(error);
	const char *num;

	if (v == NULL || (num = number_of(v, bootname, error)) == NULL)
		return FALSE;
	if (state == OTA_SLOT_STATE_GOOD)
		return write_order(bl, v, bootname, num, error);
	if (g_strcmp0(slot_of(bl, v, v->next), bootname) == 0 &&
	    !efibootmgr_set("--delete-bootnext", NULL, error))
		return FALSE;
	return write_order(bl, v, bootname, NULL, error);
}

const OtaBootloaderBackend ota_bootloader_backend_efi = {
	.name = "efi",
	.open = efi_open,
	.free_data = g_free,
	.get_primary = efi_get_primary,
	.get_booted = efi_get_booted,
	.set_primary = efi_set_primary,
	.get_state = efi_get_state,
	.set_state = efi_set_state,
};
