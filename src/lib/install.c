/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running an install plan: hooks, slot writes and the boot switch, in the
 * order that keeps the old system bootable until the new one is complete;
 * and recording the outcome in the state. */
#include "install-private.h"

#include <otabundle/text.h>

#include <string.h>

G_DEFINE_QUARK(ota-install-error-quark, ota_install_error)

/* These messages quote manifest values (compatible, versions, meta), which
 * may hold any character GKeyFile unescapes, newlines included: escaped, so
 * that each message stays one line and can't rewrite a terminal. */
gboolean install_fail(GError **error, OtaInstallError code, const char *format, ...)
{
	g_autofree char *msg = NULL;
	g_autofree char *escaped = NULL;
	va_list args;

	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	escaped = ota_text_escape_controls(msg);
	g_set_error_literal(error, OTA_INSTALL_ERROR, (gint)code, escaped);
	return FALSE;
}

static char *bundle_identity(OtaBundle *b)
{
	char hex[OTA_SHA256_HEX_LEN + 1];

	if (b->format != OTA_BUNDLE_FORMAT_PLAIN)
		return g_strdup(b->manifest->verity_hash);
	ota_checksum_to_hex(b->payload_checksum.sha256, hex);
	return g_strdup(hex);
}

/* What the install wrote, in the state: each slot's record, the pending
 * slot, and the newest trusted timestamp among the bundle's signers (a
 * time that has certainly passed). */
static void record_slots(OtaTarget *t, OtaInstallPlan *p)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	gint64 newest;

	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);
		OtaSlotRecord *r = g_new0(OtaSlotRecord, 1);

		r->slot = g_strdup(step->slot->name);
		r->version = g_strdup(p->bundle->manifest->version);
		r->bundle_sha256 = bundle_identity(p->bundle);
		r->security_version = p->security_version;
		r->installed = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
		r->image_sha256 = g_strdup(step->image->sha256);
		r->image_size = step->image->size;
		ota_state_set_slot(t->state, r);
	}
	if (ota_signature_get_newest_trusted_time(p->bundle->signature, &newest))
		t->state->not_before = MAX(t->state->not_before, newest);
	if (!p->switches_boot)
		return;
	g_free(t->state->pending_slot);
	t->state->pending_slot = g_strdup(p->boot_target->name);
}

/* The last word before a slot becomes primary: what it holds, as
 * recorded, is not below the security floor. */
static gboolean check_not_below_floor(OtaTarget *t, const OtaSlotConfig *slot, GError **error)
{
	const OtaSlotRecord *r = ota_state_get_slot(t->state, slot->name);

	if (r != NULL && r->security_version >= t->state->security_floor)
		return TRUE;
	return install_fail(error, OTA_INSTALL_ERROR_ROLLBACK,
	                    "refusing to boot %s: its recorded security version is below the "
	                    "floor %" G_GUINT64_FORMAT,
	                    slot->name, t->state->security_floor);
}

/* Before a slot is written, its record stops saying which image it
 * holds, on disk: an install cut short must not leave a half-written slot
 * that install-same=false would take for a complete one. */
static gboolean forget_images(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	gboolean changed = FALSE;

	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);
		OtaSlotRecord *r = ota_state_get_slot(t->state, step->slot->name);

		if (step->skip || r == NULL || r->image_sha256 == NULL)
			continue;
		g_clear_pointer(&r->image_sha256, g_free);
		r->image_size = 0;
		changed = TRUE;
	}
	return !changed || ota_state_save(t->state, error);
}

static gboolean write_steps(OtaTarget *t, OtaInstallPlan *p, const InstallHooks *hooks,
                            GError **error)
{
	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);

		if (step->skip)
			continue;
		event_log_slot_written(t->events, step->slot->name);
		if (!install_hooks_run(hooks, "pre-install", step, error) ||
		    !slot_write(t, p, step, error) ||
		    !install_hooks_run(hooks, "post-install", step, error) ||
		    !slot_activate(step, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean run_plan(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	const char *target = p->boot_target->bootname;
	g_auto(InstallHooks) hooks = {0};

	if (!install_hooks_prepare(&hooks, t, p->bundle, error) ||
	    !install_hooks_run(&hooks, "install-check", NULL, error))
		return FALSE;
	/* Until it is complete, the target slot must not be bootable: an
	 * install cut short can never be booted. */
	if ((p->switches_boot &&
	     !ota_bootloader_set_state(t->bootloader, target, OTA_SLOT_STATE_BAD, error)) ||
	    !forget_images(t, p, error) || !write_steps(t, p, &hooks, error))
		return FALSE;
	/* The state first: should power fail before the bootloader switch, the
	 * old system boots and simply knows what the other slot holds. */
	record_slots(t, p);
	if (!ota_state_save(t->state, error))
		return FALSE;
	return !p->switches_boot || (check_not_below_floor(t, p->boot_target, error) &&
	                             ota_bootloader_set_primary(t->bootloader, target, error));
}

static char *describe_plan(const OtaInstallPlan *p)
{
	GString *s = g_string_new(NULL);
	guint skipped = 0;

	g_string_append_printf(s, "installed %s into", p->bundle->manifest->version
	                                                     ? p->bundle->manifest->version
	                                                     : "a bundle");
	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);

		g_string_append_printf(s, "%s %s", i ? "," : "", step->slot->name);
	}
	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);

		if (!step->skip)
			continue;
		g_string_append(s, skipped++ ? ", " : " (not rewritten, as install-same=false and "
		                                      "they held this image already: ");
		g_string_append(s, step->slot->name);
	}
	if (skipped > 0)
		g_string_append_c(s, ')');
	if (!p->switches_boot)
		g_string_append(s, "; no A/B slot written, the boot is not switched");
	return g_string_free(s, FALSE);
}

/* RAUC's record of how an install ended: @p, the bundle as far as it was
 * verified (NULL: it was refused before that). */
static void log_install_done(OtaTarget *t, const char *transaction, const OtaInstallPlan *p,
                             const GError *error, gboolean rejected)
{
	const OtaManifest *m = p ? p->bundle->manifest : NULL;
	g_autofree char *hash = p ? bundle_identity(p->bundle) : NULL;

	event_log_install_done(t->events, transaction, hash, m ? m->description : NULL,
	                       m ? m->version : NULL, error, rejected);
}

/* Takes @ierror; recording the failure must not hide it. @p: NULL when the
 * bundle was refused (nothing written), else the plan that failed. */
static gboolean record_failure(OtaTarget *t, const char *bundle_path, const char *transaction,
                               const OtaInstallPlan *p, GError *ierror, GError **error)
{
	g_autofree char *first_line = g_strndup(ierror->message, strcspn(ierror->message, "\n"));
	OtaResult *r;

	log_install_done(t, transaction, p, ierror, p == NULL);
	r = ota_state_add_result(t->state, "install", bundle_path, FALSE, first_line);
	if (p != NULL) {
		r->downloaded_bytes = p->downloaded_bytes;
		r->reused_bytes = p->reused_bytes;
	}
	if (!ota_state_save(t->state, NULL))
		g_prefix_error(&ierror, "(state not saved) ");
	g_propagate_error(error, ierror);
	return FALSE;
}

/* The plan's counters, as the plan ran (or stopped). */
static gboolean run_counted(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	gboolean ok = run_plan(t, p, error);

	p->downloaded_bytes = ota_bundle_get_downloaded(p->bundle);
	t->install_downloaded = p->downloaded_bytes;
	t->install_reused = p->reused_bytes;
	return ok;
}

static gboolean install(OtaTarget *t, const char *bundle_path, const char *transaction,
                        GError **error)
{
	g_autoptr(OtaStateLock) lock = ota_state_lock(t->state, error);
	g_autoptr(OtaInstallPlan) p = NULL;
	g_autoptr(GError) ierror = NULL;
	/* A URL's user, password and query may carry credentials: never in
	 * the state or the event log. */
	g_autofree char *shown = ota_bundle_location_for_display(bundle_path);
	OtaResult *r;

	if (lock == NULL)
		return FALSE;
	target_note_boot(t);
	event_log_install_started(t->events, transaction);
	g_clear_pointer(&t->install_summary, g_free);
	t->install_downloaded = t->install_reused = 0;
	p = ota_install_plan(t, bundle_path, &ierror);
	if (p == NULL)
		return record_failure(t, shown, transaction, NULL, g_steal_pointer(&ierror), error);
	if (!run_counted(t, p, &ierror))
		return record_failure(t, shown, transaction, p, g_steal_pointer(&ierror), error);
	log_install_done(t, transaction, p, NULL, FALSE);
	t->install_summary = describe_plan(p);
	r = ota_state_add_result(t->state, "install", shown, TRUE, t->install_summary);
	r->downloaded_bytes = p->downloaded_bytes;
	r->reused_bytes = p->reused_bytes;
	return ota_state_save(t->state, error);
}

gboolean ota_install(OtaTarget *t, const char *bundle_path, GError **error)
{
	g_autofree char *transaction = event_log_new_transaction();
	gboolean ok;

	/* For send-headers=transaction-id. */
	t->transaction = transaction;
	ok = install(t, bundle_path, transaction, error);
	t->transaction = NULL;
	return ok;
}

void ota_target_get_install_bytes(const OtaTarget *t, guint64 *downloaded, guint64 *reused)
{
	if (downloaded != NULL)
		*downloaded = t->install_downloaded;
	if (reused != NULL)
		*reused = t->install_reused;
}

const char *ota_target_get_install_summary(const OtaTarget *t)
{
	return t->install_summary;
}
