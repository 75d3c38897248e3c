/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device an install runs on: its configuration, bootloader, state and
 * booted slot; and what happens after the reboot (mark-good, mark-bad). */
#include "install-private.h"

#include "slot-private.h"

void ota_target_free(OtaTarget *t)
{
	if (t == NULL)
		return;
	ota_bootloader_free(t->bootloader);
	ota_state_free(t->state);
	ota_system_config_free(t->config);
	g_free(t->install_summary);
	g_free(t);
}

const char *ota_target_get_booted(const OtaTarget *t)
{
	return t->booted->name;
}

const char *ota_target_get_pending(const OtaTarget *t)
{
	return t->state->pending_slot;
}

/* --- status ------------------------------------------------------------------------ */

static void slot_status_free(OtaSlotStatus *s)
{
	g_free(s->name);
	g_free(s->device);
	g_free(s->bootname);
	g_free(s->state);
	g_free(s->version);
	g_free(s->installed);
	g_free(s);
}

static void result_status_free(OtaResultStatus *r)
{
	g_free(r->time);
	g_free(r->operation);
	g_free(r->bundle);
	g_free(r->reason);
	g_free(r);
}

void ota_status_free(OtaStatus *s)
{
	if (s == NULL)
		return;
	g_free(s->compatible);
	g_free(s->booted);
	g_free(s->booted_bootname);
	g_free(s->primary);
	g_free(s->installed_version);
	g_free(s->pending);
	g_ptr_array_unref(s->slots);
	g_ptr_array_unref(s->results);
	g_free(s);
}

/* The bootloader's word on a bootable slot; "unknown" when it has none. */
static char *slot_boot_state(OtaTarget *t, const OtaSlotConfig *slot)
{
	OtaSlotState state;

	if (slot->bootname == NULL)
		return NULL;
	if (!ota_bootloader_get_state(t->bootloader, slot->bootname, &state, NULL))
		return g_strdup("unknown");
	return g_strdup(state == OTA_SLOT_STATE_GOOD ? "good" : "bad");
}

static OtaSlotStatus *slot_status(OtaTarget *t, const OtaSlotConfig *slot)
{
	OtaSlotStatus *s = g_new0(OtaSlotStatus, 1);
	const OtaSlotRecord *r = ota_state_get_slot(t->state, slot->name);

	s->name = g_strdup(slot->name);
	s->device = g_strdup(slot->device);
	s->bootname = g_strdup(slot->bootname);
	/* Every class's slot of the booted index runs with the booted one. */
	s->booted = slot->index == t->booted->index;
	s->state = slot_boot_state(t, slot);
	s->version = g_strdup(r ? r->version : NULL);
	s->installed = g_strdup(r ? r->installed : NULL);
	return s;
}

static OtaResultStatus *result_status(const OtaResult *r)
{
	OtaResultStatus *s = g_new0(OtaResultStatus, 1);

	s->time = g_strdup(r->time);
	s->operation = g_strdup(r->operation);
	s->bundle = g_strdup(r->bundle);
	s->ok = r->ok;
	s->reason = g_strdup(r->reason);
	return s;
}

OtaStatus *ota_target_get_status(OtaTarget *t)
{
	OtaStatus *s = g_new0(OtaStatus, 1);

	s->compatible = g_strdup(t->config->compatible);
	s->booted = g_strdup(t->booted->name);
	s->booted_bootname = g_strdup(t->booted->bootname);
	s->primary = ota_bootloader_get_primary(t->bootloader, NULL);
	s->installed_version = g_strdup(t->state->installed_version);
	s->security_floor = t->state->security_floor;
	s->pending = g_strdup(t->state->pending_slot);
	s->slots = g_ptr_array_new_with_free_func((GDestroyNotify)slot_status_free);
	for (guint i = 0; i < t->config->slots->len; i++)
		g_ptr_array_add(s->slots, slot_status(t, g_ptr_array_index(t->config->slots, i)));
	s->results = g_ptr_array_new_with_free_func((GDestroyNotify)result_status_free);
	for (guint i = 0; i < t->state->results->len; i++)
		g_ptr_array_add(s->results, result_status(g_ptr_array_index(t->state->results, i)));
	return s;
}

static gboolean find_booted(OtaTarget *t, const char *override, const char *cmdline_path,
                            GError **error)
{
	g_autofree char *name = override ? g_strdup(override) : NULL;
	g_autoptr(GError) ierror = NULL;

	if (name == NULL) {
		name = ota_bootloader_get_booted(t->bootloader, &ierror);
		if (ierror != NULL) {
			g_propagate_error(error, g_steal_pointer(&ierror));
			return FALSE;
		}
	}
	if (name == NULL)
		name = ota_slot_booted_from_cmdline(cmdline_path);
	if (name == NULL)
		return install_fail(error, OTA_INSTALL_ERROR_BOOTED,
		                    "cannot tell which slot is booted (no otabundle.slot= or rauc.slot= "
		                    "on %s)",
		                    cmdline_path);
	t->booted = ota_slot_find(t->config, name);
	if (t->booted == NULL || t->booted->bootname == NULL)
		return install_fail(error, OTA_INSTALL_ERROR_BOOTED,
		                    "booted slot '%s' is not a bootable slot of %s", name,
		                    t->config->path);
	return TRUE;
}

static OtaBootloader *open_bootloader(const OtaSystemConfig *config, GError **error)
{
	g_autoptr(GPtrArray) bootnames = g_ptr_array_new();

	for (guint i = 0; i < config->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(config->slots, i);

		if (s->bootname != NULL)
			g_ptr_array_add(bootnames, s->bootname);
	}
	g_ptr_array_add(bootnames, NULL);
	return ota_bootloader_new(config, (const char *const *)bootnames->pdata, error);
}

OtaTarget *ota_target_open(const char *conf_path, const char *override_boot_slot,
                           const char *cmdline_path, GError **error)
{
	g_autoptr(OtaTarget) t = g_new0(OtaTarget, 1);

	t->config = ota_system_config_load(conf_path, error);
	if (t->config == NULL)
		return NULL;
	t->bootloader = open_bootloader(t->config, error);
	if (t->bootloader == NULL)
		return NULL;
	t->state = ota_state_load(t->config->data_directory, error);
	if (t->state == NULL || !find_booted(t, override_boot_slot, cmdline_path, error))
		return NULL;
	return g_steal_pointer(&t);
}

/* Another slot is pending while this one runs: either we haven't rebooted
 * yet (the pending slot is still good and primary: keep it pending), or it
 * failed and the bootloader fell back (it reports it bad: settle it). */
static gboolean pending_slot_failed(OtaTarget *t)
{
	const OtaSlotConfig *s;
	OtaSlotState state;

	if (t->state->pending_slot == NULL)
		return FALSE;
	s = ota_slot_find(t->config, t->state->pending_slot);
	return s != NULL && s->bootname != NULL &&
	       ota_bootloader_get_state(t->bootloader, s->bootname, &state, NULL) &&
	       state == OTA_SLOT_STATE_BAD;
}

/* Committed: this is now the installed system (the pending slot's record is
 * the installed bundle's own: install refuses a bundle that does not write
 * it), and nothing older than it security-wise may ever be installed
 * again. Returns what was committed, for the result. */
static char *commit_booted(OtaState *state, const OtaSlotRecord *r)
{
	g_free(state->installed_version);
	state->installed_version = g_strdup(r->version);
	state->security_floor = MAX(state->security_floor, r->security_version);
	return g_strdup_printf(", version %s committed, security floor %" G_GUINT64_FORMAT,
	                       r->version ? r->version : "(none)", state->security_floor);
}

gboolean ota_target_mark(OtaTarget *t, gboolean good, GError **error)
{
	/* First: the declarations below read the state it reloads. */
	g_autoptr(OtaStateLock) lock = ota_state_lock(t->state, error);
	const char *slot = t->booted->name;
	const OtaSlotRecord *r = ota_state_get_slot(t->state, slot);
	gboolean pending = g_strcmp0(t->state->pending_slot, slot) == 0;
	g_autofree char *committed = NULL;
	g_autofree char *what = NULL;

	if (lock == NULL)
		return FALSE;

	if (!ota_bootloader_set_state(t->bootloader, t->booted->bootname,
	                              good ? OTA_SLOT_STATE_GOOD : OTA_SLOT_STATE_BAD, error))
		return FALSE;
	if (good && pending && r != NULL)
		committed = commit_booted(t->state, r);
	if (pending || pending_slot_failed(t))
		g_clear_pointer(&t->state->pending_slot, g_free);
	what = g_strdup_printf("%s marked %s%s", slot, good ? "good" : "bad",
	                       committed ? committed : "");
	ota_state_add_result(t->state, good ? "mark-good" : "mark-bad", NULL, TRUE, what);
	return ota_state_save(t->state, error);
}
