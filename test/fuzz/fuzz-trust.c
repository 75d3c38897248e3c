/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: trust lists (ota_trust_parse()), signed (DER CMS) or
 * bare documents. A device stores what it accepts and builds its policies
 * from it, so whatever is accepted must be consistent: a "default" tier
 * first, each tier with an anchor and a threshold it can have, a policy
 * for every tier, and a document that reads back, bare, as the same list
 * (the signed and the stored form of a list must never mean two things). */
#include "trust-private.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tiers(const OtaTrust *trust)
{
	const char *const *names = ota_trust_get_tiers(trust);

	if (names == NULL || g_strcmp0(names[0], "default") != 0)
		abort();
	for (const char *const *name = names; *name != NULL; name++) {
		const OtaTrustTierEntry *t = ota_trust_get_tier(trust, *name);
		g_autoptr(OtaPolicy) policy = NULL;

		if (t == NULL || t->anchors->len == 0 || t->threshold < 1 || t->threshold > 64 ||
		    t->canonical == NULL)
			abort();
		for (guint i = 0; i < t->anchors->len; i++) {
			const OtaTrustAnchorEntry *a = g_ptr_array_index(t->anchors, i);

			if (a->cert == NULL ||
			    (a->has_not_before && a->has_not_after && a->not_before > a->not_after))
				abort();
		}
		policy = ota_trust_policy_new(trust, *name, 1700000000, NULL);
		if (policy == NULL || ota_policy_get_threshold(policy) != t->threshold)
			abort();
	}
}

static void check_reads_back(const OtaTrust *trust)
{
	GBytes *document = ota_trust_get_document(trust);
	g_autoptr(OtaTrust) again = NULL;
	g_autoptr(GError) error = NULL;
	const char *const *names = ota_trust_get_tiers(trust);

	again = ota_trust_parse(g_bytes_get_data(document, NULL), g_bytes_get_size(document),
				"document", &error);
	if (again == NULL) {
		fprintf(stderr, "the document of an accepted trust list is refused: %s\n",
			error->message);
		abort();
	}
	if (ota_trust_get_version(again) != ota_trust_get_version(trust) ||
	    g_strv_length((char **)names) != g_strv_length((char **)ota_trust_get_tiers(again)) ||
	    strcmp(ota_trust_get_document_sha256(again), ota_trust_get_document_sha256(trust)) != 0)
		abort();
	for (const char *const *name = names; *name != NULL; name++) {
		const OtaTrustTierEntry *t = ota_trust_get_tier(again, *name);

		if (t == NULL ||
		    strcmp(t->canonical, ota_trust_get_tier(trust, *name)->canonical) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(OtaTrust) trust = NULL;
	g_autoptr(GError) error = NULL;

	trust = ota_trust_parse(data, size, "fuzz.trust", &error);
	if (trust == NULL) {
		if (error == NULL)
			abort();
		return 0;
	}
	if (ota_trust_get_version(trust) < 1 || ota_trust_get_document_sha256(trust) == NULL)
		abort();
	check_tiers(trust);
	check_reads_back(trust);
	/* A list never follows itself. */
	if (ota_trust_check_update(trust, trust, 1700000000, NULL))
		abort();
	return 0;
}
