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
	event_log_free(t->events);
	g_free(t->install_summary);
	ota_trust_free(t->trust);
	g_free(t->trust_sha256);
	g_free(t->trust_summary);
	target_url_options_free(t->url_options);
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
	g_free(s->slotclass);
	g_free(s->type);
	g_free(s->parent);
	g_free(s->activity);
	g_free(s->bundle_hash);
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
	g_free(s->variant);
	g_free(s->not_before);
	g_free(s->trust_sha256);
	g_free(s->trust_path);
	g_free(s->trust_error);
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
	/* What runs with the booted slot, as the slot choice sees it (a
	 * bootloader slot of one, switched in place, never does). */
	s->booted = ota_slot_is_active(t->config, t->booted, slot);
	s->state = slot_boot_state(t, slot);
	s->version = g_strdup(r ? r->version : NULL);
	s->installed = g_strdup(r ? r->installed : NULL);
	s->slotclass = g_strdup(slot->slotclass);
	s->type = g_strdup(config_slot_type_to_string(slot->type));
	s->parent = g_strdup(slot->parent ? slot->parent->name : NULL);
	s->activity = g_strdup(slot == t->booted ? "booted" : s->booted ? "active" : "inactive");
	s->bundle_hash = g_strdup(r ? r->bundle_sha256 : NULL);
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
	s->downloaded_bytes = r->downloaded_bytes;
	s->reused_bytes = r->reused_bytes;
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
	if (t->state->not_before > 0) {
		g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(t->state->not_before);

		s->not_before = when ? g_date_time_format_iso8601(when) : NULL;
	}
	s->pending = g_strdup(t->state->pending_slot);
	s->slots = g_ptr_array_new_with_free_func((GDestroyNotify)slot_status_free);
	for (guint i = 0; i < t->config->slots->len; i++)
		g_ptr_array_add(s->slots, slot_status(t, g_ptr_array_index(t->config->slots, i)));
	s->results = g_ptr_array_new_with_free_func((GDestroyNotify)result_status_free);
	for (guint i = 0; i < t->state->results->len; i++)
		g_ptr_array_add(s->results, result_status(g_ptr_array_index(t->state->results, i)));
	target_trust_status(t, s);
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
	/* After rauc.slot=, as in RAUC: barebox's bootchooser.active=. */
	if (name == NULL) {
		name = ota_bootloader_booted_from_cmdline(t->bootloader, cmdline_path, &ierror);
		if (ierror != NULL) {
			g_propagate_error(error, g_steal_pointer(&ierror));
			return FALSE;
		}
	}
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
	t->events = event_log_new(t->config->loggers);
	return g_steal_pointer(&t);
}

const char *ota_target_get_event_log_error(const OtaTarget *t)
{
	return event_log_get_error(t->events);
}

/* The kernel's ID of this boot, or NULL where it has none. */
static char *read_boot_id(void)
{
	g_autofree char *id = NULL;

	if (!g_file_get_contents("/proc/sys/kernel/random/boot_id", &id, NULL, NULL))
		return NULL;
	return g_strdup(g_strstrip(id));
}

void target_note_boot(OtaTarget *t)
{
	g_autofree char *boot_id = read_boot_id();
	g_autofree char *boot = g_strdup_printf("%s %s", boot_id ? boot_id : "-", t->booted->name);
	const OtaSlotRecord *r;

	if (g_strcmp0(t->state->last_boot, boot) == 0)
		return;
	r = ota_state_get_slot(t->state, t->booted->name);
	event_log_booted(t->events, t->booted->name, t->booted->bootname, boot_id,
	                 r ? r->bundle_sha256 : NULL);
	g_free(t->state->last_boot);
	t->state->last_boot = g_steal_pointer(&boot);
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

/* RAUC's slot identifiers (src/mark.c): "booted", "other" (the other
 * bootable root slot of the booted slot's class) or a slot's name. Only a
 * bootable slot can be marked: marks are the bootloader's. */
static const OtaSlotConfig *slot_by_identifier(OtaTarget *t, const char *which, GError **error)
{
	const OtaSlotConfig *slot = NULL;

	if (which == NULL || g_str_equal(which, "booted"))
		return t->booted;
	if (g_str_equal(which, "other")) {
		for (guint i = 0; i < t->config->slots->len && slot == NULL; i++) {
			const OtaSlotConfig *s = g_ptr_array_index(t->config->slots, i);

			if (s != t->booted && s->bootname != NULL && s->parent == NULL &&
			    g_str_equal(s->slotclass, t->booted->slotclass))
				slot = s;
		}
		if (slot == NULL)
			install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
			             "no other bootable slot of class %s", t->booted->slotclass);
		return slot;
	}
	for (guint i = 0; i < t->config->slots->len && slot == NULL; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(t->config->slots, i);

		if (g_str_equal(s->name, which))
			slot = s;
	}
	if (slot == NULL) {
		install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
		             "no slot '%s' in %s (give booted, other or a slot name such as %s)", which,
		             t->config->path, t->booted->name);
		return NULL;
	}
	if (slot->bootname == NULL) {
		install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
		             "slot %s has no bootname: the bootloader does not boot it", slot->name);
		return NULL;
	}
	return slot;
}

/* Making a slot primary is installing what it holds: not below the floor.
 * The booted slot runs already, and a slot otabundle-install never wrote
 * holds what the device shipped with, which only matters once a floor
 * exists. */
static gboolean check_may_activate(OtaTarget *t, const OtaSlotConfig *slot, GError **error)
{
	const OtaSlotRecord *r = ota_state_get_slot(t->state, slot->name);
	guint64 floor = t->state->security_floor;

	if (slot == t->booted || (r == NULL && floor == 0) ||
	    (r != NULL && r->security_version >= floor))
		return TRUE;
	return install_fail(error, OTA_INSTALL_ERROR_ROLLBACK,
	                    "refusing to activate %s: %s below the security floor %" G_GUINT64_FORMAT,
	                    slot->name,
	                    r ? "its recorded security version is" : "nothing recorded for it, so it may be",
	                    floor);
}

static const char *const mark_names[] = {
	[OTA_MARK_GOOD] = "good",
	[OTA_MARK_BAD] = "bad",
	[OTA_MARK_ACTIVE] = "active",
};

static const EventLogMark event_marks[] = {
	[OTA_MARK_GOOD] = EVENT_LOG_MARKED_GOOD,
	[OTA_MARK_BAD] = EVENT_LOG_MARKED_BAD,
	[OTA_MARK_ACTIVE] = EVENT_LOG_MARKED_ACTIVE,
};

/* The bootloader's part of @mark, and what it means for the pending
 * install; returns what was committed (mark-good of the booted, pending
 * slot), for the result. */
static gboolean apply_mark(OtaTarget *t, OtaMark mark, const OtaSlotConfig *slot,
                           char **committed, GError **error)
{
	gboolean pending = g_strcmp0(t->state->pending_slot, slot->name) == 0;
	const OtaSlotRecord *r = ota_state_get_slot(t->state, slot->name);

	if (mark == OTA_MARK_ACTIVE) {
		if (!check_may_activate(t, slot, error) ||
		    !ota_bootloader_set_primary(t->bootloader, slot->bootname, error))
			return FALSE;
		g_free(t->state->pending_slot);
		t->state->pending_slot = slot == t->booted ? NULL : g_strdup(slot->name);
		return TRUE;
	}
	if (!ota_bootloader_set_state(t->bootloader, slot->bootname,
	                              mark == OTA_MARK_GOOD ? OTA_SLOT_STATE_GOOD : OTA_SLOT_STATE_BAD,
	                              error))
		return FALSE;
	if (slot != t->booted) {
		if (mark == OTA_MARK_BAD && pending)
			g_clear_pointer(&t->state->pending_slot, g_free);
		return TRUE;
	}
	if (mark == OTA_MARK_GOOD && pending && r != NULL)
		*committed = commit_booted(t->state, r);
	if (pending || pending_slot_failed(t))
		g_clear_pointer(&t->state->pending_slot, g_free);
	return TRUE;
}

static void record_mark(OtaTarget *t, OtaMark mark, const OtaSlotConfig *slot,
                        const char *committed)
{
	g_autofree char *operation = g_strdup_printf("mark-%s", mark_names[mark]);
	g_autofree char *what = g_strdup_printf("%s marked %s%s", slot->name, mark_names[mark],
	                                        committed ? committed : "");
	const OtaSlotRecord *r = ota_state_get_slot(t->state, slot->name);

	ota_state_add_result(t->state, operation, NULL, TRUE, what);
	event_log_marked(t->events, event_marks[mark], slot->name, slot->bootname,
	                 r ? r->bundle_sha256 : NULL);
}

gboolean ota_target_mark_slot(OtaTarget *t, OtaMark mark, const char *which,
                              const char **marked, GError **error)
{
	/* First: the declarations below read the state it reloads. */
	g_autoptr(OtaStateLock) lock = ota_state_lock(t->state, error);
	const OtaSlotConfig *slot;
	g_autofree char *committed = NULL;

	g_return_val_if_fail(mark <= OTA_MARK_ACTIVE, FALSE);
	if (lock == NULL)
		return FALSE;
	slot = slot_by_identifier(t, which, error);
	if (slot == NULL)
		return FALSE;
	target_note_boot(t);
	if (!apply_mark(t, mark, slot, &committed, error))
		return FALSE;
	record_mark(t, mark, slot, committed);
	/* RAUC's prevent-late-fallback: once the booted slot is good, the old
	 * one must not come back should the bootloader give up on this one. */
	if (mark == OTA_MARK_GOOD && slot == t->booted && t->config->prevent_late_fallback) {
		g_autoptr(GError) ierror = NULL;
		const OtaSlotConfig *other = slot_by_identifier(t, "other", &ierror);

		if (other != NULL) {
			if (!apply_mark(t, OTA_MARK_BAD, other, NULL, error))
				return FALSE;
			record_mark(t, OTA_MARK_BAD, other, NULL);
		}
	}
	if (marked != NULL)
		*marked = slot->name;
	return ota_state_save(t->state, error);
}

gboolean ota_target_mark(OtaTarget *t, gboolean good, GError **error)
{
	return ota_target_mark_slot(t, good ? OTA_MARK_GOOD : OTA_MARK_BAD, "booted", NULL, error);
}
