/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the system.conf parsers (the device's, and the host's
 * reading of [keyring] alone). otabundle-install trusts what
 * it returns (slot devices it will write, keyrings it will trust), so
 * whatever it accepts must be consistent: every slot names an existing
 * policy, and names and devices are unique. */
#include "config-private.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_consistent(const OtaSystemConfig *c)
{
	const OtaPolicyConfig *def = ota_system_config_get_policy(c, "default");

	if (def == NULL || def->threshold < 1 || c->slots->len == 0)
		abort();
	for (guint i = 0; i < c->policies->len; i++) {
		const OtaPolicyConfig *p = g_ptr_array_index(c->policies, i);

		if (strlen(p->name) == 0 || strlen(p->keyring) == 0 || p->threshold < 1)
			abort();
		(void)ota_purpose_to_string(p->purpose);
	}
	for (guint i = 0; i < c->slots->len; i++) {
		const OtaSlotConfig *s = g_ptr_array_index(c->slots, i);

		if (strlen(s->device) == 0 || strlen(s->slotclass) == 0)
			abort();
		if (s->policy != NULL && ota_system_config_get_policy(c, s->policy) == NULL)
			abort();
		for (guint j = 0; j < i; j++) {
			const OtaSlotConfig *t = g_ptr_array_index(c->slots, j);

			if (strcmp(s->name, t->name) == 0 || strcmp(s->device, t->device) == 0)
				abort();
		}
	}
	if (strlen(c->compatible) == 0 || c->data_directory == NULL)
		abort();
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
	return 0;
}
