/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the system.conf parsers (the device's, and the host's
 * reading of [keyring] alone). otabundle-install trusts what
 * it returns (slot devices it will write, keyrings it will trust), so
 * whatever it accepts must be consistent: every slot names an existing
 * policy, names and devices are unique, a parent is a root slot, and no
 * slot the running system uses is ever chosen as an install target. */
#include "config-private.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slot-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_consistent(const OtaSystemConfig *c)
{
	const OtaPolicyConfig *def = ota_system_config_get_policy(c, "default");

	if (def == NULL || def->threshold < 1 || c->slots->len == 0)
		abort();
	for (guint i = 0; i < c->policies->len; i++) {
		const OtaPolicyConfig *p = g_ptr_array_index(c->policies, i);

		if (strlen(p->name) == 0 || (p->keyring == NULL && p->directory == NULL) ||
		    (p->keyring != NULL && strlen(p->keyring) == 0) ||
		    (p->directory != NULL && strlen(p->directory) == 0) || p->threshold < 1)
			abort();
		(void)ota_purpose_to_string(p->purpose);
	}
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		if (strlen(s->device) == 0 || strlen(s->slotclass) == 0)
			abort();
		if (s->policy != NULL && ota_system_config_get_policy(c, s->policy) == NULL)
			abort();
		/* a child has no bootname, and its parent is a root slot */
		if (s->parent != NULL &&
		    (s->parent == s || s->parent->parent != NULL || s->bootname != NULL))
			abort();
		(void)config_slot_type_to_string(s->type);
		for (guint j = 0; j < i; j++) {
			const OtaSlotConfig *t = g_ptr_array_index(c->slots, j);

			if (strcmp(s->name, t->name) == 0)
				abort();
			/* A shared device: never one of an A/B slot. */
			if (strcmp(s->device, t->device) == 0 &&
			    (s->bootname || t->bootname || s->parent || t->parent ||
			     strcmp(s->slotclass, t->slotclass) == 0))
				abort();
		}
	}
	if (strlen(c->compatible) == 0 || c->data_directory == NULL)
		abort();
	if (c->bundle_formats == 0 || (c->bundle_formats & ~7u) != 0)
		abort();
	if ((c->variant_source == OTA_VARIANT_NAME || c->variant_source == OTA_VARIANT_FILE) &&
	    c->variant == NULL)
		abort();
	for (guint i = 0; i < c->loggers->len; i++) {
		const OtaLogConfig *l = g_ptr_array_index(c->loggers, i);

		if (!g_path_is_absolute(l->filename) || l->max_files < 1 || l->max_files > 1000)
			abort();
	}
	(void)config_bootloader_to_string(c->bootloader);
}

/* From every bootable slot, what an install would write is never a slot
 * that runs with it. */
static void check_targets(const OtaSystemConfig *c)
{
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *booted = g_ptr_array_index(c->slots, i);
		const OtaSlotConfig *target;

		if (booted->bootname == NULL)
			continue;
		target = ota_slot_boot_target(c, booted, NULL, NULL);
		if (target == NULL)
			continue;
		if (ota_slot_is_active(c, booted, target))
			abort();
		for (guint j = 0; j < c->slots->len; j++) {
			const OtaSlotConfig *s = g_ptr_array_index(c->slots, j);
			const OtaSlotConfig *slot =
				ota_slot_for_class(c, booted, target, s->slotclass, NULL);

			if (slot != NULL && ota_slot_is_active(c, booted, slot))
				abort();
		}
	}
}

/* The host's reading of [keyring] (rauc -c system.conf): whatever it
 * accepts names a keyring and a threshold of at least 1. */
static void check_keyring_group(const uint8_t *data, size_t size)
{
	g_autoptr(OtaKeyringConfig) keyring = NULL;
	g_autoptr(GError) error = NULL;

	keyring = ota_keyring_config_parse((const char *)data, size, "/nonexistent/fuzz.conf",
	                                   &error);
	if (keyring == NULL) {
		g_assert_nonnull(error);
		return;
	}
	if ((ota_keyring_config_get_path(keyring) == NULL &&
	     ota_keyring_config_get_directory(keyring) == NULL) ||
	    ota_keyring_config_get_threshold(keyring) < 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(OtaSystemConfig) config = NULL;
	g_autoptr(GError) error = NULL;

	check_keyring_group(data, size);

	config = ota_system_config_parse((const char *)data, size, "fuzz.conf", &error);
	if (config == NULL) {
		g_assert_nonnull(error);
		return 0;
	}
	check_consistent(config);
	check_targets(config);
	return 0;
}
