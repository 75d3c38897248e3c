/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Deciding an install: the policies a bundle must pass, compatible and
 * hardware revision, anti-rollback, expiry, and which slot each image goes
 * to. Nothing here writes a slot. */
#include "install-private.h"

#include <errno.h>
#include <string.h>

#include "slot-private.h"

void ota_install_plan_free(OtaInstallPlan *p)
{
	if (p == NULL)
		return;
	ota_bundle_free(p->bundle);
	g_ptr_array_unref(p->steps);
	g_ptr_array_unref(p->policies_used);
	g_free(p);
}

/* What would take the install out of our hands: RAUC's [handler] replaces
 * the whole installation, an image "install" hook the copy. We don't hand a
 * bundle's program the device, so such bundles are refused up front (info
 * says so too), never half-installed. */
static gboolean check_installable(const OtaInstallPlan *p, GError **error)
{
	if (p->bundle->manifest->handler_filename != NULL)
		return install_fail(error, OTA_INSTALL_ERROR_HOOK,
		                    "the bundle has a [handler], which otabundle-install does not run");
	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);

		if (step->image->hooks != NULL &&
		    g_strv_contains((const char *const *)step->image->hooks, "install"))
			return install_fail(error, OTA_INSTALL_ERROR_HOOK,
			                    "image %s has an 'install' hook, which otabundle-install "
			                    "does not run",
			                    step->image->filename);
	}
	return TRUE;
}

static OtaPolicy *policy_for(OtaTarget *t, const char *name, GError **error)
{
	const OtaPolicyConfig *pc = ota_system_config_get_policy(t->config, name);

	g_assert(pc != NULL); /* config.c checked every slot's policy exists */
	return ota_policy_new(pc->keyring, pc->crl, pc->purpose, TRUE, pc->threshold, error);
}

/* Policy @name must pass too (once per plan); @why says what asked for it. */
static gboolean check_policy(OtaTarget *t, OtaInstallPlan *p, const char *name, const char *why,
                             GError **error)
{
	OtaBundle *b = p->bundle;
	const guint8 *digest =
		b->format == OTA_BUNDLE_FORMAT_PLAIN ? b->payload_checksum.sha256 : NULL;
	g_autoptr(OtaPolicy) tier = NULL;
	g_autoptr(GError) ierror = NULL;

	if (g_ptr_array_find_with_equal_func(p->policies_used, name, g_str_equal, NULL))
		return TRUE;
	tier = policy_for(t, name, error);
	if (tier == NULL)
		return FALSE;
	if (!ota_signature_verify(b->signature, digest, tier, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: policy '%s' of %s: ",
		                           b->path, name, why);
		return FALSE;
	}
	g_ptr_array_add(p->policies_used, g_strdup(name));
	return TRUE;
}

static gboolean bundle_runs_code(const OtaManifest *m)
{
	if (m->hook_filename != NULL || m->handler_filename != NULL || m->hooks != NULL)
		return TRUE;
	for (guint i = 0; i < m->images->len; i++) {
		if (((const OtaImage *)g_ptr_array_index(m->images, i))->hooks != NULL)
			return TRUE;
	}
	return FALSE;
}

/* A stricter tier bound to a slot the bundle writes must pass too: a key
 * trusted for the application can't authorize a bootloader. A bundle that
 * runs code of its own (hooks) runs it as root, able to write any slot, so
 * it must pass every policy the device has. */
static gboolean check_tiers(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);
		g_autofree char *why = g_strdup_printf("slot %s", step->slot->name);

		if (step->slot->policy != NULL &&
		    !check_policy(t, p, step->slot->policy, why, error))
			return FALSE;
	}
	if (!bundle_runs_code(p->bundle->manifest))
		return TRUE;
	for (guint i = 0; i < t->config->policies->len; i++) {
		const OtaPolicyConfig *pc = g_ptr_array_index(t->config->policies, i);

		if (!check_policy(t, p, pc->name, "a bundle with hooks", error))
			return FALSE;
	}
	return TRUE;
}

static gboolean meta_uint(const OtaManifest *m, const char *key, guint64 *out, GError **error)
{
	g_autofree char *value = ota_manifest_get_meta(m, "otabundle", key);

	*out = 0;
	if (value == NULL || g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64, out, NULL))
		return TRUE;
	return install_fail(error, OTA_INSTALL_ERROR_INVALID,
	                    "[meta.otabundle] %s '%s' is not a decimal number", key, value);
}

static gboolean check_compatible(OtaTarget *t, const OtaManifest *m, GError **error)
{
	g_autofree char *revisions = ota_manifest_get_meta(m, "otabundle", "hardware-revisions");
	g_auto(GStrv) list = NULL;

	if (!g_str_equal(m->compatible, t->config->compatible))
		return install_fail(error, OTA_INSTALL_ERROR_INCOMPATIBLE,
		                    "bundle is for '%s', this system is '%s'", m->compatible,
		                    t->config->compatible);
	if (revisions == NULL)
		return TRUE;
	list = g_strsplit(revisions, ",", -1);
	for (char **r = list; *r; r++) {
		if (g_strcmp0(g_strstrip(*r), t->config->hardware_revision) == 0)
			return TRUE;
	}
	return install_fail(error, OTA_INSTALL_ERROR_INCOMPATIBLE,
	                    "bundle is for hardware revisions %s, this device is %s", revisions,
	                    t->config->hardware_revision ? t->config->hardware_revision : "unknown");
}

/* Two locks: the security floor always holds; a lower version only with
 * allow-downgrade. Versions compare like strverscmp (1.10 > 1.9). */
static gboolean check_rollback(OtaTarget *t, const OtaManifest *m, guint64 security_version,
                               GError **error)
{
	const char *installed = t->state->installed_version;
	g_autofree char *min = ota_manifest_get_meta(m, "otabundle", "min-installed-version");

	if (security_version < t->state->security_floor)
		return install_fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		                    "security version %" G_GUINT64_FORMAT " is below this device's "
		                    "floor %" G_GUINT64_FORMAT,
		                    security_version, t->state->security_floor);
	if (installed != NULL && m->version != NULL && strverscmp(m->version, installed) < 0 &&
	    !t->config->allow_downgrade)
		return install_fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		                    "version %s is older than the installed %s (downgrades are not "
		                    "allowed)",
		                    m->version, installed);
	if (min != NULL && (installed == NULL || strverscmp(installed, min) < 0))
		return install_fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		                    "bundle needs installed version %s or later, this device has %s",
		                    min, installed ? installed : "none recorded");
	return TRUE;
}

static gboolean check_expiry(const OtaManifest *m, GError **error)
{
	g_autofree char *expires = ota_manifest_get_meta(m, "otabundle", "expires");
	g_autoptr(GDateTime) when = NULL;
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();

	if (expires == NULL)
		return TRUE;
	when = g_date_time_new_from_iso8601(expires, NULL);
	if (when == NULL)
		return install_fail(error, OTA_INSTALL_ERROR_INVALID,
		                    "[meta.otabundle] expires '%s' is not an RFC 3339 time", expires);
	if (g_date_time_compare(now, when) >= 0)
		return install_fail(error, OTA_INSTALL_ERROR_EXPIRED, "bundle expired at %s", expires);
	return TRUE;
}

/* Installing switches the boot to the other slot, so the bundle must be
 * what boots there: one that leaves the boot slot as it is (an application
 * image only, or the system image only for a variant) would make the
 * previous, older system primary and let mark-good commit it. Refused;
 * RAUC's habit of writing such a bundle without switching is of no use
 * here, where every class moves with the boot slot. */
static gboolean check_writes_boot_target(OtaTarget *t, const OtaInstallPlan *p, GError **error)
{
	for (guint i = 0; i < p->steps->len; i++) {
		if (((const OtaInstallStep *)g_ptr_array_index(p->steps, i))->slot == p->boot_target)
			return TRUE;
	}
	return install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
	                    "the bundle has no image for the boot slot class '%s': installing it "
	                    "would boot %s with the older system it holds",
	                    t->booted->slotclass, p->boot_target->name);
}

static gboolean plan_steps(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	const OtaManifest *m = p->bundle->manifest;

	p->boot_target = ota_slot_boot_target(t->config, t->booted, error);
	if (p->boot_target == NULL)
		return FALSE;
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);
		OtaInstallStep *step;

		/* This system has no variants: images for one are not for it. */
		if (image->variant != NULL)
			continue;
		step = g_new0(OtaInstallStep, 1);
		step->image = image;
		step->slot = ota_slot_for_class(t->config, t->booted, p->boot_target, image->slotclass,
		                                error);
		g_ptr_array_add(p->steps, step);
		if (step->slot == NULL ||
		    !ota_slot_check_not_booted(t->config, t->booted, step->slot, error))
			return FALSE;
	}
	if (p->steps->len == 0)
		return install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
		                    "the bundle has no image for this system");
	return check_writes_boot_target(t, p, error);
}

/* Every block, and for plain bundles a private copy that is all we read
 * from now on: the file can't change under the install. */
static gboolean open_verified(OtaTarget *t, OtaInstallPlan *p, const char *bundle_path,
                              GError **error)
{
	g_autoptr(OtaPolicy) policy = NULL;

	if (g_mkdir_with_parents(t->config->data_directory, 0700) < 0)
		return install_fail(error, OTA_INSTALL_ERROR_WRITE, "%s: %s",
		                    t->config->data_directory, g_strerror(errno));
	policy = policy_for(t, "default", error);
	if (policy == NULL)
		return FALSE;
	p->bundle = ota_bundle_open(bundle_path, error);
	if (p->bundle == NULL ||
	    !ota_bundle_verify(p->bundle, policy, OTA_BUNDLE_VERIFY_PAYLOAD,
	                       t->config->data_directory, error) ||
	    !ota_bundle_check_contents(p->bundle, FALSE, error))
		return FALSE;
	g_ptr_array_add(p->policies_used, g_strdup("default"));
	return TRUE;
}

static gboolean check_plan(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	const OtaManifest *m = p->bundle->manifest;

	return plan_steps(t, p, error) && check_installable(p, error) &&
	       check_tiers(t, p, error) && check_compatible(t, m, error) &&
	       meta_uint(m, "security-version", &p->security_version, error) &&
	       check_rollback(t, m, p->security_version, error) && check_expiry(m, error);
}

const OtaManifest *ota_install_plan_get_manifest(const OtaInstallPlan *p)
{
	return ota_bundle_get_manifest(p->bundle);
}

guint ota_install_plan_get_n_steps(const OtaInstallPlan *p)
{
	return p->steps->len;
}

void ota_install_plan_get_step(const OtaInstallPlan *p, guint index, const char **image,
                               const char **slot, const char **device)
{
	const OtaInstallStep *step;

	g_return_if_fail(index < p->steps->len);
	step = g_ptr_array_index(p->steps, index);
	if (image != NULL)
		*image = step->image->filename;
	if (slot != NULL)
		*slot = step->slot->name;
	if (device != NULL)
		*device = step->slot->device;
}

const char *ota_install_plan_get_boot_target(const OtaInstallPlan *p, const char **bootname)
{
	if (bootname != NULL)
		*bootname = p->boot_target->bootname;
	return p->boot_target->name;
}

guint ota_install_plan_get_n_policies(const OtaInstallPlan *p)
{
	return p->policies_used->len;
}

const char *ota_install_plan_get_policy(const OtaInstallPlan *p, guint index)
{
	g_return_val_if_fail(index < p->policies_used->len, NULL);
	return g_ptr_array_index(p->policies_used, index);
}

OtaInstallPlan *ota_install_plan(OtaTarget *t, const char *bundle_path, GError **error)
{
	g_autoptr(OtaInstallPlan) p = g_new0(OtaInstallPlan, 1);
	g_autoptr(GError) ierror = NULL;

	p->steps = g_ptr_array_new_with_free_func(g_free);
	p->policies_used = g_ptr_array_new_with_free_func(g_free);
	if (!open_verified(t, p, bundle_path, error))
		return NULL;
	if (!check_plan(t, p, &ierror)) {
		/* Other modules' errors already name the bundle. */
		if (ierror->domain == OTA_INSTALL_ERROR || ierror->domain == OTA_SLOT_ERROR)
			g_prefix_error(&ierror, "%s: ", bundle_path);
		g_propagate_error(error, g_steal_pointer(&ierror));
		return NULL;
	}
	return g_steal_pointer(&p);
}
