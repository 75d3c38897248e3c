/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* otabundle-install check-config: a system.conf as the device would read
 * it, and what an install would write from each bootable slot, decided by
 * the same code as an install (config.c, slot.c), without opening a slot
 * device, the bootloader or the state. */
#include "config-private.h"

#include <otabundle/keys.h>
#include <otabundle/manifest.h>
#include <otabundle/trust.h>

#include "slot-private.h"

static void slot_free(OtaConfigSlot *s)
{
	g_free(s->name);
	g_free(s->slotclass);
	g_free(s->device);
	g_free(s->type);
	g_free(s->bootname);
	g_free(s->parent);
	g_free(s->policy);
	g_free(s);
}

static void policy_free(OtaConfigPolicy *p)
{
	g_free(p->name);
	g_strfreev(p->keyrings);
	g_free(p->crl);
	g_free(p->purpose);
	g_free(p->check_time);
	g_free(p->tsa_keyring);
	g_free(p);
}

static void write_free(OtaConfigWrite *w)
{
	g_free(w->slotclass);
	g_free(w->slot);
	g_free(w);
}

static void boot_free(OtaConfigBoot *b)
{
	g_free(b->booted);
	g_free(b->bootname);
	g_free(b->boot_target);
	g_ptr_array_unref(b->writes);
	g_free(b->error);
	g_free(b);
}

void ota_config_report_free(OtaConfigReport *r)
{
	if (r == NULL)
		return;
	g_free(r->path);
	g_free(r->compatible);
	g_free(r->bootloader);
	g_free(r->data_directory);
	g_strfreev(r->bundle_formats);
	g_free(r->variant_source);
	g_free(r->variant);
	g_free(r->encryption_key);
	g_free(r->encryption_cert);
	g_free(r->streaming_tls_ca);
	g_free(r->casync_store_path);
	g_free(r->casync_tmp_path);
	g_free(r->casync_install_args);
	g_free(r->streaming_tls_cert);
	g_free(r->streaming_tls_key);
	g_free(r->streaming_header_file);
	g_strfreev(r->streaming_send_headers);
	if (r->policies != NULL)
		g_ptr_array_unref(r->policies);
	if (r->slots != NULL)
		g_ptr_array_unref(r->slots);
	if (r->boots != NULL)
		g_ptr_array_unref(r->boots);
	g_free(r->trust_initial);
	g_free(r->trust_directory);
	g_strfreev(r->trust_tiers);
	g_free(r);
}

/* A keyring that is there must be usable; one that is not is the image's
 * business (the build host has none of the device's files), and the
 * report says so. */
static OtaConfigPolicy *check_policy(const OtaPolicyConfig *pc, GError **error)
{
	g_autoptr(GPtrArray) keyrings = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(OtaPolicy) policy = NULL;
	OtaConfigPolicy *p;

	if (pc->keyring != NULL)
		g_ptr_array_add(keyrings, g_strdup(pc->keyring));
	if (pc->directory != NULL)
		g_ptr_array_add(keyrings, g_strdup(pc->directory));
	p = g_new0(OtaConfigPolicy, 1);
	p->name = g_strdup(pc->name);
	p->present = TRUE;
	for (guint i = 0; i < keyrings->len; i++)
		p->present = p->present && g_file_test(g_ptr_array_index(keyrings, i), G_FILE_TEST_EXISTS);
	g_ptr_array_add(keyrings, NULL);
	p->keyrings = (char **)g_ptr_array_steal(keyrings, NULL);
	p->crl = g_strdup(pc->crl);
	p->threshold = pc->threshold;
	p->purpose = g_strdup(ota_purpose_to_string(pc->purpose));
	p->check_time = g_strdup(ota_check_time_to_string(pc->check_time));
	p->tsa_keyring = g_strdup(pc->tsa_keyring);
	if (p->present && (pc->crl == NULL || g_file_test(pc->crl, G_FILE_TEST_EXISTS)) &&
	    (pc->tsa_keyring == NULL || g_file_test(pc->tsa_keyring, G_FILE_TEST_EXISTS))) {
		policy = config_policy_new(pc, 0, error);
		if (policy == NULL) {
			policy_free(p);
			return NULL;
		}
	}
	return p;
}

/* The shipped trust list, as a keyring: one that is here must load. */
static gboolean report_trust(const OtaSystemConfig *c, OtaConfigReport *r, GError **error)
{
	g_autoptr(OtaTrust) trust = NULL;

	if (c->trust_initial == NULL)
		return TRUE;
	r->trust_initial = g_strdup(c->trust_initial);
	r->trust_directory = g_strdup(c->trust_directory);
	if (!g_file_test(c->trust_initial, G_FILE_TEST_EXISTS))
		return TRUE;
	trust = ota_trust_load(c->trust_initial, error);
	if (trust == NULL)
		return FALSE;
	r->trust_initial_version = ota_trust_get_version(trust);
	r->trust_tiers = g_strdupv((char **)ota_trust_get_tiers(trust));
	return TRUE;
}

static OtaConfigSlot *report_slot(const OtaSlotConfig *s)
{
	OtaConfigSlot *r = g_new0(OtaConfigSlot, 1);

	r->name = g_strdup(s->name);
	r->slotclass = g_strdup(s->slotclass);
	r->device = g_strdup(s->device);
	r->type = g_strdup(config_slot_type_to_string(s->type));
	r->bootname = g_strdup(s->bootname);
	r->parent = g_strdup(s->parent ? s->parent->name : NULL);
	r->policy = g_strdup(s->policy);
	r->readonly = s->readonly;
	return r;
}

/* The slot of each class an install would write from @booted, as
 * install-plan.c asks slot.c for it: a class with no slot to go with the
 * target is left out (a bundle with an image for it is refused), and so
 * is another bootable slot (an install switches to one slot only). */
static OtaConfigBoot *report_boot(const OtaSystemConfig *c, const OtaSlotConfig *booted)
{
	OtaConfigBoot *b = g_new0(OtaConfigBoot, 1);
	g_autoptr(GHashTable) classes = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GError) error = NULL;
	const OtaSlotConfig *target;

	b->booted = g_strdup(booted->name);
	b->bootname = g_strdup(booted->bootname);
	b->writes = g_ptr_array_new_with_free_func((GDestroyNotify)write_free);
	target = ota_slot_boot_target(c, booted, NULL, &error);
	if (target == NULL) {
		b->error = g_strdup(error->message);
		return b;
	}
	b->boot_target = g_strdup(target->name);
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);
		const OtaSlotConfig *slot;
		OtaConfigWrite *w;

		if (!g_hash_table_add(classes, s->slotclass))
			continue;
		slot = ota_slot_for_class(c, booted, target, s->slotclass, NULL);
		if (slot == NULL || slot->readonly || (slot->bootname != NULL && slot != target))
			continue;
		w = g_new0(OtaConfigWrite, 1);
		w->slotclass = g_strdup(s->slotclass);
		w->slot = g_strdup(slot->name);
		g_ptr_array_add(b->writes, w);
	}
	return b;
}

static char **bundle_formats(guint mask)
{
	static const char *const names[] = {[OTA_BUNDLE_FORMAT_PLAIN] = "plain",
	                                    [OTA_BUNDLE_FORMAT_VERITY] = "verity",
	                                    [OTA_BUNDLE_FORMAT_CRYPT] = "crypt"};
	GPtrArray *list = g_ptr_array_new();

	for (guint f = 0; f < G_N_ELEMENTS(names); f++) {
		if (mask & (1u << f))
			g_ptr_array_add(list, g_strdup(names[f]));
	}
	g_ptr_array_add(list, NULL);
	return (char **)g_ptr_array_free(list, FALSE);
}

static char *shown_key(const char *value)
{
	return value ? ota_keys_uri_for_display(value) : NULL;
}

static void report_streaming(const OtaSystemConfig *c, OtaConfigReport *r)
{
	const OtaStreamingConfig *s = &c->streaming;
	GPtrArray *names = g_ptr_array_new();

	r->streaming_tls_ca = g_strdup(s->tls_ca);
	r->streaming_tls_cert = shown_key(s->tls_cert);
	r->streaming_tls_key = shown_key(s->tls_key);
	r->streaming_header_file = g_strdup(s->header_file);
	for (guint bit = 1; bit <= OTA_SEND_HEADER_UPTIME; bit <<= 1) {
		if (s->send_headers & bit)
			g_ptr_array_add(names, g_strdup(config_send_header_name(bit)));
	}
	g_ptr_array_add(names, NULL);
	r->streaming_send_headers = (char **)g_ptr_array_free(names, FALSE);
	r->streaming_timeout = s->timeout;
	r->streaming_max_size = c->max_bundle_download_size_set ? c->max_bundle_download_size : 0;
}

OtaConfigReport *ota_config_check(const char *path, GError **error)
{
	static const char *const variant_sources[] = {[OTA_VARIANT_NONE] = "none",
	                                              [OTA_VARIANT_NAME] = "name",
	                                              [OTA_VARIANT_FILE] = "file",
	                                              [OTA_VARIANT_DTB] = "dtb"};
	g_autoptr(OtaSystemConfig) c = ota_system_config_load(path, error);
	g_autoptr(OtaConfigReport) r = NULL;
	g_autoptr(GError) ierror = NULL;

	if (c == NULL)
		return NULL;
	r = g_new0(OtaConfigReport, 1);
	r->path = g_strdup(path);
	r->compatible = g_strdup(c->compatible);
	r->bootloader = g_strdup(config_bootloader_to_string(c->bootloader));
	r->data_directory = g_strdup(c->data_directory);
	r->encryption_key = c->encryption_key ? ota_keys_uri_for_display(c->encryption_key) : NULL;
	r->encryption_cert = c->encryption_cert ? ota_keys_uri_for_display(c->encryption_cert) : NULL;
	r->bundle_formats = bundle_formats(c->bundle_formats);
	report_streaming(c, r);
	r->casync_store_path = g_strdup(c->casync_store_path);
	r->casync_tmp_path = g_strdup(c->casync_tmp_path);
	r->casync_install_args = g_strdup(c->casync_install_args);
	r->variant_source = g_strdup(variant_sources[c->variant_source]);
	r->variant = g_strdup(c->variant);
	r->policies = g_ptr_array_new_with_free_func((GDestroyNotify)policy_free);
	r->slots = g_ptr_array_new_with_free_func((GDestroyNotify)slot_free);
	r->boots = g_ptr_array_new_with_free_func((GDestroyNotify)boot_free);
	for (guint i = 0; i < c->policies->len; i++) {
		const OtaPolicyConfig *pc = g_ptr_array_index(c->policies, i);
		OtaConfigPolicy *p = check_policy(pc, &ierror);

		if (p == NULL) {
			g_autofree char *group = g_str_equal(pc->name, "default")
			                                 ? g_strdup("keyring")
			                                 : g_strdup_printf("policy.%s", pc->name);

			g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: [%s]: ", path,
			                           group);
			return NULL;
		}
		g_ptr_array_add(r->policies, p);
	}
	if (!report_trust(c, r, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: [trust]: ", path);
		return NULL;
	}
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		g_ptr_array_add(r->slots, report_slot(s));
		if (s->bootname != NULL)
			g_ptr_array_add(r->boots, report_boot(c, s));
	}
	return g_steal_pointer(&r);
}
