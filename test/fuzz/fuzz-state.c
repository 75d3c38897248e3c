/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the device state file (state-private.h). The state
 * holds the security floor and what each slot holds, and a damaged or
 * tampered file must be refused, never half read. The input is tried as a
 * whole file and, so that the parser behind the seal is reached too, with
 * a valid seal appended. Whatever is refused has a one-line reason in
 * OTA_STATE_ERROR; whatever is accepted saves to a file that loads back
 * to the same bytes. */
#include "state-private.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(const GError *error)
{
	if (error == NULL || error->domain != OTA_STATE_ERROR || strchr(error->message, '\n'))
		abort();
}

static void check_round_trip(OtaState *state)
{
	gsize length = 0, again_length = 0;
	g_autofree char *saved = ota_state_to_data(state, &length);
	g_autoptr(OtaState) reloaded = ota_state_parse("/data", saved, length, NULL);
	g_autofree char *again = NULL;

	if (reloaded == NULL)
		abort();
	again = ota_state_to_data(reloaded, &again_length);
	if (length != again_length || memcmp(saved, again, length) != 0)
		abort();
}

static void try_parse(const char *data, gsize length)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaState) state = ota_state_parse("/data", data, length, &error);

	if (state == NULL)
		check_refusal(error);
	else
		check_round_trip(state);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, size);
	g_autoptr(GString) sealed = g_string_new_len((const char *)data, (gssize)size);

	try_parse((const char *)data, size);
	g_string_append_printf(sealed, "\n[integrity]\nsha256=%s\n", sum);
	try_parse(sealed->str, sealed->len);
	return 0;
}
