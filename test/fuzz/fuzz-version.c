/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the version parser and order (otabundle/version.h).
 * The input is up to three versions separated by newlines. Versions come
 * from bundles and decide whether a downgrade is refused, so the order
 * must be one: every version equals itself, swapping two swaps the sign,
 * and it is transitive. Whatever is refused has a one-line reason, and a
 * version is accepted alone exactly when it can be compared. */
#include <otabundle/version.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

/* The sign of @a against @b, or 2 when either is refused. */
static int compare(const char *a, const char *b)
{
	g_autoptr(GError) error = NULL;
	int result = 0;
	gboolean ok = ota_version_compare(a, b, &result, &error);
	gboolean both_valid = ota_version_check(a, NULL) && ota_version_check(b, NULL);

	if (ok != both_valid || ok != (error == NULL))
		abort();
	if (!ok) {
		if (error->domain != OTA_VERSION_ERROR || strchr(error->message, '\n') != NULL)
			abort();
		return 2;
	}
	return sign(result);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *text = g_strndup((const char *)data, size);
	g_auto(GStrv) v = g_strsplit(text, "\n", 3);
	const char *a = v[0] ? v[0] : "";
	const char *b = a[0] && v[1] ? v[1] : a;
	const char *c = v[1] && v[2] ? v[2] : b;
	int ab, ba, bc, ac;

	if (compare(a, a) != (ota_version_check(a, NULL) ? 0 : 2))
		abort();
	ab = compare(a, b);
	ba = compare(b, a);
	if ((ab == 2) != (ba == 2) || (ab != 2 && ab != -ba))
		abort();
	bc = compare(b, c);
	ac = compare(a, c);
	if (ab != 2 && bc != 2 && ab == bc && ac != ab)
		abort();
	if (ab == 0 && bc != 2 && ac != bc)
		abort();
	return 0;
}
