/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the manifest parser, and the promise that whatever it
 * accepts serialises to a manifest it accepts again, byte for byte the
 * same the second time. A bundle signs the serialised form, so a manifest
 * that changes meaning on a round trip would sign something else than
 * what create was given. */
#include <otabundle/manifest.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches what `otabundle info` prints, so every field a parse hands out
 * is read at least once (ASan sees a dangling or unterminated one). */
static void read_fields(const OtaManifest *m)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *security = ota_manifest_get_meta(m, "otabundle", "security-version");
	gsize total = strlen(m->compatible);

	total += m->version ? strlen(m->version) : 0;
	total += security ? strlen(security) : 0;
	total += ota_bundle_format_to_string(m->format) ? 1 : 0;
	for (guint i = 0; i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);

		total += strlen(image->slotclass) + strlen(image->filename);
		total += image->sha256 ? strlen(image->sha256) : 0;
		for (char **h = image->hooks; h && *h; h++)
			total += strlen(*h);
		if (!ota_manifest_filename_is_safe(image->filename))
			abort(); /* the parser let a path through */
	}
	(void)total;
	if (!ota_manifest_check_complete(m, &error))
		g_assert_nonnull(error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(OtaManifest) first = NULL;
	g_autoptr(OtaManifest) second = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *out1 = NULL;
	g_autofree char *out2 = NULL;
	gsize len1 = 0, len2 = 0;

	first = ota_manifest_parse((const char *)data, size, &error);
	if (first == NULL) {
		g_assert_nonnull(error);
		return 0;
	}
	read_fields(first);

	out1 = ota_manifest_to_data(first, &len1);
	second = ota_manifest_parse(out1, len1, &error);
	if (second == NULL) {
		fprintf(stderr, "round trip: serialised manifest is rejected: %s\n--- serialised\n%.*s",
		        error->message, (int)len1, out1);
		abort();
	}
	out2 = ota_manifest_to_data(second, &len2);
	if (len1 != len2 || memcmp(out1, out2, len1) != 0) {
		fprintf(stderr, "round trip: serialisation is not stable\n--- first\n%.*s--- second\n%.*s",
		        (int)len1, out1, (int)len2, out2);
		abort();
	}
	return 0;
}
