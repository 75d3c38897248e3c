/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Deciding an install: the policies a bundle must pass, compatible and
 * hardware revision, anti-rollback, expiry, and which slot each image goes
 * to. Nothing here writes a slot. */
#include "install-private.h"

#include <otabundle/keys.h>
#include <otabundle/version.h>

#include <errno.h>
#include <string.h>

#include "http-private.h"
#include "manifest-private.h"
#include "slot-boot-switch-private.h"
#include "slot-casync-private.h"
#include "slot-fs-private.h"
#include "slot-private.h"

void install_step_free(OtaInstallStep *step)
{
	if (step == NULL)
		return;
	ota_partition_switch_free(step->boot_switch);
	g_free(step);
}

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

/* Policy @name must pass too (once per plan); @why says what asked for it. */
static gboolean check_policy(OtaTarget *t, OtaInstallPlan *p, const char *name, const char *why,
                             GError **error)
{
	OtaBundle *b = p->bundle;
	const OtaChecksum *digest =
		b->format == OTA_BUNDLE_FORMAT_PLAIN ? &b->payload_checksum : NULL;
	g_autoptr(OtaPolicy) tier = NULL;
	g_autoptr(GError) ierror = NULL;

	if (g_ptr_array_find_with_equal_func(p->policies_used, name, g_str_equal, NULL))
		return TRUE;
	tier = target_policy(t, name, &ierror);
	if (tier == NULL) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: policy '%s' of %s: ",
		                           b->path, name, why);
		return FALSE;
	}
	if (!ota_signature_verify_content(b->signature, digest, tier, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: policy '%s' of %s: ",
		                           b->path, name, why);
		return FALSE;
	}
	g_ptr_array_add(p->policies_used, g_strdup(name));
	return TRUE;
}

/* A stricter tier bound to a slot the bundle writes must pass too: a key
 * trusted for the application can't authorize a bootloader. A bundle that
 * runs code of its own (hooks) runs it as root, able to write any slot, so
 * it must pass every policy the device has. */
static gboolean check_tiers(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	g_auto(GStrv) names = NULL;

	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);
		g_autofree char *why = g_strdup_printf("slot %s", step->slot->name);

		if (step->slot->policy != NULL &&
		    !check_policy(t, p, step->slot->policy, why, error))
			return FALSE;
	}
	if (!ota_manifest_runs_code(p->bundle->manifest))
		return TRUE;
	names = target_policy_names(t, error);
	if (names == NULL)
		return FALSE;
	for (char **name = names; *name; name++) {
		if (!check_policy(t, p, *name, "a bundle with hooks", error))
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

/* A version check that can't be made refuses the install: a version
 * without an order (otabundle/version.h) is never guessed at. @whose names
 * the version ("bundle version", "min-bundle-version"). */
static gboolean check_orderable(const char *version, const char *whose, const char *check,
                                GError **error)
{
	g_autoptr(GError) ierror = NULL;

	if (ota_version_check(version, &ierror))
		return TRUE;
	return install_fail(error, OTA_INSTALL_ERROR_ROLLBACK, "%s, and %s %s", check,
	                    whose, ierror->message);
}

/* *@cmp: @a (@whose_a) compared with @b (@whose_b), for @check. */
static gboolean compare_versions(const char *a, const char *whose_a, const char *b,
                                 const char *whose_b, const char *check, int *cmp,
                                 GError **error)
{
	return check_orderable(a, whose_a, check, error) &&
	       check_orderable(b, whose_b, check, error) && ota_version_compare(a, b, cmp, error);
}

/* Only with allow-downgrade may a bundle be older than what it replaces:
 * the installed system (@installed, NULL: none recorded), or for a bundle
 * that switches nothing the version recorded for @slot. A bundle without a
 * version, or with one that has no order, would be recorded as installed
 * and leave nothing to compare the next one with. */
static gboolean check_not_older(const OtaManifest *m, const char *installed,
                                const char *slot, GError **error)
{
	static const char check[] = "downgrades are not allowed";
	g_autofree char *owner = slot ? g_strdup_printf("%s's", slot) : g_strdup("the installed");
	g_autofree char *whose = slot ? g_strdup_printf("%s's version", slot)
	                              : g_strdup("installed version");
	int cmp;

	if (m->version == NULL)
		return installed == NULL ||
		       install_fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		                    "the bundle has no version to compare with %s %s (%s)", owner,
		                    installed, check);
	if (installed == NULL)
		return check_orderable(m->version, "bundle version", check, error);
	if (!compare_versions(m->version, "bundle version", installed, whose, check, &cmp, error))
		return FALSE;
	if (cmp < 0)
		return install_fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		                    "version %s is older than %s %s (%s)", m->version, owner,
		                    installed, check);
	return TRUE;
}

static gboolean check_downgrade(OtaTarget *t, const OtaInstallPlan *p, GError **error)
{
	const OtaManifest *m = p->bundle->manifest;

	if (t->config->allow_downgrade)
		return TRUE;
	if (p->switches_boot)
		return check_not_older(m, t->state->installed_version, NULL, error);
	for (guint i = 0; i < p->steps->len; i++) {
		const OtaInstallStep *step = g_ptr_array_index(p->steps, i);
		const OtaSlotRecord *r = ota_state_get_slot(t->state, step->slot->name);

		if (!check_not_older(m, r ? r->version : NULL, step->slot->name, error))
			return FALSE;
	}
	return TRUE;
}

/* The bundle's [meta.otabundle] min-installed-version: what must run
 * before it (a migration step), whatever allow-downgrade says. */
static gboolean check_min_installed(OtaTarget *t, const OtaManifest *m, GError **error)
{
	static const char check[] = "the bundle needs a minimum installed version";
	g_autofree char *min = ota_manifest_get_meta(m, "otabundle", "min-installed-version");
	const char *installed = t->state->installed_version;
	int cmp;

	if (min == NULL)
		return TRUE;
	if (installed == NULL)
		return check_orderable(min, "min-installed-version", check, error) &&
		       install_fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		                    "bundle needs installed version %s or later, this device has "
		                    "none recorded",
		                    min);
	if (!compare_versions(installed, "installed version", min, "min-installed-version",
	                      check, &cmp, error))
		return FALSE;
	if (cmp < 0)
		return install_fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		                    "bundle needs installed version %s or later, this device has %s",
		                    min, installed);
	return TRUE;
}

/* RAUC's [system] min-bundle-version: no bundle older than it, whatever
 * allow-downgrade says (RAUC's --ignore-version-limit is not offered). */
static gboolean check_min_bundle_version(OtaTarget *t, const OtaManifest *m, GError **error)
{
	static const char check[] = "this system has a min-bundle-version";
	const char *min = t->config->min_bundle_version;
	int cmp;

	if (min == NULL)
		return TRUE;
	if (m->version == NULL)
		return install_fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		                    "the bundle has no version, this system's min-bundle-version is %s",
		                    min);
	if (!compare_versions(m->version, "bundle version", min, "min-bundle-version", check, &cmp,
	                      error))
		return FALSE;
	if (cmp < 0)
		return install_fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		                    "version %s is below this system's min-bundle-version %s",
		                    m->version, min);
	return TRUE;
}

/* Two locks: the security floor always holds; a lower version only with
 * allow-downgrade. Versions are ordered by otabundle/version.h. */
static gboolean check_rollback(OtaTarget *t, const OtaInstallPlan *p, GError **error)
{
	const OtaManifest *m = p->bundle->manifest;
	guint64 security_version = p->security_version;

	if (security_version < t->state->security_floor)
		return install_fail(error, OTA_INSTALL_ERROR_ROLLBACK,
		                    "security version %" G_GUINT64_FORMAT " is below this device's "
		                    "floor %" G_GUINT64_FORMAT,
		                    security_version, t->state->security_floor);
	return check_min_bundle_version(t, m, error) && check_downgrade(t, p, error) &&
	       check_min_installed(t, m, error);
}

static gboolean check_expiry(OtaTarget *t, const OtaManifest *m, GError **error)
{
	g_autofree char *expires = ota_manifest_get_meta(m, "otabundle", "expires");
	g_autoptr(GDateTime) when = NULL;
	g_autoptr(GDateTime) now = g_date_time_new_from_unix_utc(target_now(t));

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

/* Installing switches the boot to the other slot, so a bundle that writes
 * any slot of the A/B groups must be what boots there: one that leaves the
 * boot slot as it is (an application image only, or the system image only
 * for a variant) would make the previous, older system primary and let
 * mark-good commit it. Refused; RAUC's habit of writing such a bundle
 * without switching is of no use here, where every class moves with the
 * boot slot. A bundle that writes only slots outside the groups (a
 * bootloader, a boot-*-switch slot) switches nothing, as in RAUC. */
static gboolean plan_boot_switch(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	gboolean standalone = TRUE;

	for (guint i = 0; i < p->steps->len; i++) {
		const OtaSlotConfig *slot = ((const OtaInstallStep *)g_ptr_array_index(p->steps, i))->slot;

		if (slot == p->boot_target) {
			p->switches_boot = TRUE;
			return TRUE;
		}
		standalone = standalone && ota_slot_is_standalone(t->config, t->booted, slot);
	}
	if (standalone)
		return TRUE;
	return install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
	                    "the bundle has no image for the boot slot class '%s': installing it "
	                    "would boot %s with the older system it holds",
	                    t->booted->slotclass, p->boot_target->name);
}

/* RAUC's choice of image for a class: the one for this device's variant
 * ([image.<class>.<variant>]), else the one for every variant; a class
 * with images for other variants only is an error, not skipped. */
static const OtaImage *image_for_class(const OtaManifest *m, const char *slotclass,
                                       const char *variant, GError **error)
{
	const OtaImage *fallback = NULL;

	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);

		if (!g_str_equal(image->slotclass, slotclass))
			continue;
		if (image->variant == NULL && fallback == NULL)
			fallback = image;
		else if (image->variant != NULL && g_strcmp0(image->variant, variant) == 0)
			return image;
	}
	if (fallback == NULL)
		install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
		             "the bundle has images for slot class '%s' only for other variants than "
		             "this device's (%s)",
		             slotclass, variant ? variant : "none");
	return fallback;
}

static gboolean add_step(OtaTarget *t, OtaInstallPlan *p, const OtaImage *image, GError **error)
{
	OtaInstallStep *step = g_new0(OtaInstallStep, 1);

	step->image = image;
	g_ptr_array_add(p->steps, step);
	step->slot = ota_slot_for_class(t->config, t->booted, p->boot_target, image->slotclass,
	                                error);
	if (step->slot == NULL)
		return FALSE;
	if (step->slot->readonly)
		return install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
		                    "the slot for image %s, %s, is readonly", image->filename,
		                    step->slot->name);
	/* RAUC switches the boot to one slot per install, never two */
	if (step->slot != p->boot_target && step->slot->bootname != NULL)
		return install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
		                    "the bundle writes two bootable slots, %s and %s",
		                    p->boot_target->name, step->slot->name);
	return ota_slot_check_not_booted(t->config, t->booted, step->slot, error);
}

static gboolean plan_steps(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	const OtaManifest *m = p->bundle->manifest;
	g_autoptr(GHashTable) classes = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree char *variant = config_read_variant(t->config, error);

	if (variant == NULL && t->config->variant_source != OTA_VARIANT_NONE)
		return FALSE;
	p->boot_target = ota_slot_boot_target(t->config, t->booted, t->state, error);
	if (p->boot_target == NULL)
		return FALSE;
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);

		if (!g_hash_table_add(classes, image->slotclass))
			continue; /* one image per class */
		image = image_for_class(m, image->slotclass, variant, error);
		if (image == NULL || !add_step(t, p, image, error))
			return FALSE;
	}
	if (p->steps->len == 0)
		return install_fail(error, OTA_INSTALL_ERROR_NO_SLOT,
		                    "the bundle has no image for this system");
	return plan_boot_switch(t, p, error);
}

/* RAUC's install-same=false: a slot whose record says it holds this very
 * image (sha256 and size) already is not written again. The record is
 * trusted, as RAUC trusts its status file: it is sealed (state.c), set
 * only once a write completed and hash-checked, and cleared before a slot
 * is written; a slot's bytes could not be checked instead, as a tar image
 * becomes a filesystem and resize changes one. Whatever else writes the
 * slot is not seen: hence RAUC's default, install-same=true. */
static void plan_skips(OtaTarget *t, OtaInstallPlan *p)
{
	for (guint i = 0; i < p->steps->len; i++) {
		OtaInstallStep *step = g_ptr_array_index(p->steps, i);
		const OtaSlotRecord *r = ota_state_get_slot(t->state, step->slot->name);

		step->skip = !step->slot->install_same && r != NULL && r->image_sha256 != NULL &&
		             g_strcmp0(r->image_sha256, step->image->sha256) == 0 &&
		             r->image_size == step->image->size;
	}
}

/* Whether each image can go into its slot, before anything is written. */
static gboolean check_slot_images(OtaTarget *t, OtaInstallPlan *p, GError **error)
{
	for (guint i = 0; i < p->steps->len; i++) {
		OtaInstallStep *step = g_ptr_array_index(p->steps, i);

		if (slot_fs_type_is_filesystem(step->slot->type) &&
		    !slot_fs_check_image(step->slot, step->image, error))
			return FALSE;
		if (slot_boot_switch_type(step->slot->type) && !slot_boot_switch_plan(step, error))
			return FALSE;
		if (!slot_casync_plan(t, p, step, error))
			return FALSE;
	}
	plan_skips(t, p);
	return TRUE;
}

/* [system] bundle-formats and max-bundle-signature-size (which can lower
 * otabundle's own limit, OTA_BUNDLE_MAX_SIGNATURE_SIZE, not raise it). */
static gboolean check_bundle_allowed(OtaTarget *t, const OtaBundle *b, GError **error)
{
	static const char *const names[] = {[OTA_BUNDLE_FORMAT_PLAIN] = "plain",
	                                    [OTA_BUNDLE_FORMAT_VERITY] = "verity",
	                                    [OTA_BUNDLE_FORMAT_CRYPT] = "crypt"};

	if (!(t->config->bundle_formats & (1u << b->format)))
		return install_fail(error, OTA_INSTALL_ERROR_INCOMPATIBLE,
		                    "%s: the %s format is not allowed by bundle-formats in %s", b->path,
		                    names[b->format], t->config->path);
	if (b->layout.signature_size > t->config->max_bundle_signature_size)
		return install_fail(error, OTA_INSTALL_ERROR_INCOMPATIBLE,
		                    "%s: its signature of %" G_GUINT64_FORMAT " bytes is larger than "
		                    "max-bundle-signature-size in %s",
		                    b->path, (guint64)b->layout.signature_size, t->config->path);
	return TRUE;
}

/* --- bundles over HTTP(S) ------------------------------------------------------- */

struct TargetUrlOptions {
	OtaBundleUrlOptions options; /* pointing into the copies below */
	char *tls_ca, *tls_cert, *tls_key, *header_file;
	char **headers;
};

void target_url_options_free(TargetUrlOptions *o)
{
	if (o == NULL)
		return;
	g_free(o->tls_ca);
	g_free(o->tls_cert);
	g_free(o->tls_key);
	g_free(o->header_file);
	g_strfreev(o->headers);
	g_free(o);
}

void ota_target_set_url_options(OtaTarget *t, const OtaBundleUrlOptions *options)
{
	TargetUrlOptions *o = NULL;

	g_clear_pointer(&t->url_options, target_url_options_free);
	if (options == NULL)
		return;
	o = g_new0(TargetUrlOptions, 1);
	o->options = *options;
	o->options.tls_ca = o->tls_ca = g_strdup(options->tls_ca);
	o->options.tls_cert = o->tls_cert = g_strdup(options->tls_cert);
	o->options.tls_key = o->tls_key = g_strdup(options->tls_key);
	o->options.header_file = o->header_file = g_strdup(options->header_file);
	o->headers = g_strdupv((char **)options->headers);
	o->options.headers = (const char *const *)o->headers;
	t->url_options = o;
}

/* The command line's options where it gives them, else [streaming]'s. A
 * client certificate and its key come from the same place. */
static OtaBundleUrlOptions url_options(OtaTarget *t)
{
	const OtaStreamingConfig *s = &t->config->streaming;
	const OtaBundleUrlOptions *cli = t->url_options ? &t->url_options->options : NULL;
	gboolean cli_cert = cli && (cli->tls_cert || cli->tls_key);

	return (OtaBundleUrlOptions){
		.tls_ca = cli && cli->tls_ca ? cli->tls_ca : s->tls_ca,
		.tls_cert = cli_cert ? cli->tls_cert : s->tls_cert,
		.tls_key = cli_cert ? cli->tls_key : s->tls_key,
		.key_store = cli ? cli->key_store : NULL,
		.tls_no_verify = cli && cli->tls_no_verify,
		.headers = cli ? cli->headers : NULL,
		.header_file = cli && cli->header_file ? cli->header_file : s->header_file,
		.timeout = cli && cli->timeout ? cli->timeout : s->timeout,
		/* RAUC: no effect on streaming; here a cap once it is given. */
		.max_size = t->config->max_bundle_download_size_set
		                    ? t->config->max_bundle_download_size
		                    : 0,
	};
}

/* The first line of @path, or NULL. */
static char *read_first_line(const char *path)
{
	g_autofree char *data = NULL;

	if (!g_file_get_contents(path, &data, NULL, NULL))
		return NULL;
	data[strcspn(data, " \n")] = '\0';
	return *data ? g_steal_pointer(&data) : NULL;
}

/* RAUC's send-headers, sent with the first request only: what is known of
 * this device. system-version and serial come from a system-info handler
 * in RAUC, which otabundle-install does not run: not sent, as RAUC sends
 * them only when it has a handler. */
static char **info_headers(OtaTarget *t)
{
	static const struct {
		OtaSendHeader bit;
		const char *header;
	} names[] = {
		{OTA_SEND_HEADER_BOOT_ID, "RAUC-Boot-ID"},
		{OTA_SEND_HEADER_MACHINE_ID, "RAUC-Machine-ID"},
		{OTA_SEND_HEADER_VARIANT, "RAUC-Variant"},
		{OTA_SEND_HEADER_TRANSACTION_ID, "RAUC-Transaction-ID"},
		{OTA_SEND_HEADER_UPTIME, "RAUC-Uptime"},
	};
	g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func(g_free);
	guint wanted = t->config->streaming.send_headers;

	for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *value = NULL;

		if (!(wanted & names[i].bit))
			continue;
		switch (names[i].bit) {
		case OTA_SEND_HEADER_BOOT_ID:
			value = read_first_line("/proc/sys/kernel/random/boot_id");
			break;
		case OTA_SEND_HEADER_MACHINE_ID:
			value = read_first_line("/etc/machine-id");
			break;
		case OTA_SEND_HEADER_VARIANT:
			value = config_read_variant(t->config, NULL);
			break;
		case OTA_SEND_HEADER_TRANSACTION_ID:
			value = g_strdup(t->transaction);
			break;
		default: /* uptime, in seconds as /proc/uptime has it */
			value = read_first_line("/proc/uptime");
			break;
		}
		/* A value that could split the header is not sent. */
		if (value != NULL && value[strcspn(value, "\r\n")] == '\0')
			g_ptr_array_add(all, g_strdup_printf("%s: %s", names[i].header, value));
	}
	g_ptr_array_add(all, NULL);
	return (char **)g_ptr_array_free(g_steal_pointer(&all), FALSE);
}

/* The bundle at @location: an http:// or https:// URL (fetched as it is
 * read), or a file. */
static OtaBundle *open_location(OtaTarget *t, const char *location, GError **error)
{
	OtaBundleUrlOptions options;
	g_auto(GStrv) headers = NULL;

	if (!ota_bundle_check_location(location, error))
		return NULL;
	if (!ota_bundle_is_url(location))
		return ota_bundle_open(location, error);
	options = url_options(t);
	headers = info_headers(t);
	return bundle_open_url(location, &options, (const char *const *)headers, error);
}

/* An encrypted bundle, decrypted with this system's [encryption] key (a
 * pkcs11: URI through $OTABUNDLE_PKCS11_MODULE and _PIN, as on the host);
 * any other bundle as it is. */
static OtaBundle *open_decrypted(OtaTarget *t, const char *bundle_path, GError **error)
{
	g_autoptr(OtaBundle) b = open_location(t, bundle_path, error);
	g_autoptr(OtaKeyStore) store = NULL;

	if (b == NULL || !ota_bundle_is_encrypted(b))
		return g_steal_pointer(&b);
	if (!check_bundle_allowed(t, b, error))
		return NULL;
	if (t->config->encryption_key == NULL) {
		install_fail(error, OTA_INSTALL_ERROR_INCOMPATIBLE,
		             "%s: the bundle is encrypted, and %s has no [encryption] key to decrypt "
		             "it",
		             b->path, t->config->path);
		return NULL;
	}
	store = ota_key_store_new(&(OtaKeyStoreOptions){0});
	if (!ota_bundle_decrypt(b, t->config->encryption_key, t->config->encryption_cert, store,
	                        error))
		return NULL;
	return g_steal_pointer(&b);
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
	policy = target_policy(t, "default", error);
	if (policy == NULL)
		return FALSE;
	p->bundle = open_decrypted(t, bundle_path, error);
	if (p->bundle == NULL ||
	    !ota_bundle_verify(p->bundle, policy, OTA_BUNDLE_VERIFY_PAYLOAD,
	                       t->config->data_directory, error) ||
	    !check_bundle_allowed(t, p->bundle, error) ||
	    !ota_bundle_check_contents(p->bundle, FALSE, error))
		return FALSE;
	g_ptr_array_add(p->policies_used, g_strdup("default"));
	return TRUE;
}

/* Over a URL, nothing of the payload is fetched yet: the signature and the
 * manifest it embeds (verity and crypt: plain bundles are refused when
 * opened) are all that is checked here; the blocks are checked against the
 * signed tree as they arrive. */
static gboolean open_signed(OtaTarget *t, OtaInstallPlan *p, const char *url, GError **error)
{
	g_autoptr(OtaPolicy) policy = target_policy(t, "default", error);

	if (policy == NULL)
		return FALSE;
	p->bundle = open_decrypted(t, url, error);
	if (p->bundle == NULL || !ota_bundle_verify(p->bundle, policy, 0, NULL, error) ||
	    !check_bundle_allowed(t, p->bundle, error))
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
	       check_rollback(t, p, error) && check_expiry(t, m, error) &&
	       check_slot_images(t, p, error);
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
	const OtaSlotConfig *target = p->switches_boot ? p->boot_target : NULL;

	if (bootname != NULL)
		*bootname = target ? target->bootname : NULL;
	return target ? target->name : NULL;
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

OtaBundle *ota_target_open_bundle_for_info(OtaTarget *t, const char *bundle_path,
                                           GError **error)
{
	g_autoptr(OtaPolicy) policy = target_policy(t, "default", error);
	g_autoptr(OtaBundle) b = NULL;

	if (policy == NULL)
		return NULL;
	b = open_decrypted(t, bundle_path, error);
	if (b == NULL || !ota_bundle_check_for_info(b, policy, error))
		return NULL;
	return g_steal_pointer(&b);
}

OtaBundle *ota_target_open_bundle_unverified(OtaTarget *t, const char *location,
                                             GError **error)
{
	g_autoptr(OtaBundle) b = open_location(t, location, error);

	if (b == NULL || !ota_bundle_load_unverified(b, error))
		return NULL;
	return g_steal_pointer(&b);
}

OtaInstallPlan *ota_install_plan(OtaTarget *t, const char *bundle_path, GError **error)
{
	g_autoptr(OtaInstallPlan) p = g_new0(OtaInstallPlan, 1);
	g_autoptr(GError) ierror = NULL;

	gboolean remote = ota_bundle_is_url(bundle_path);

	p->steps = g_ptr_array_new_with_free_func((GDestroyNotify)install_step_free);
	p->policies_used = g_ptr_array_new_with_free_func(g_free);
	/* Over a URL: signature, manifest and every check of the plan before
	 * the first payload byte is fetched (the squashfs's tables, by
	 * check_contents). */
	if (remote ? !open_signed(t, p, bundle_path, error)
	           : !open_verified(t, p, bundle_path, error))
		return NULL;
	if (!check_plan(t, p, &ierror)) {
		/* Other modules' errors already name the bundle. */
		if (ierror->domain == OTA_INSTALL_ERROR || ierror->domain == OTA_SLOT_ERROR)
			g_prefix_error(&ierror, "%s: ", p->bundle->path);
		g_propagate_error(error, g_steal_pointer(&ierror));
		return NULL;
	}
	if (remote && !ota_bundle_check_contents(p->bundle, FALSE, error))
		return NULL;
	return g_steal_pointer(&p);
}
