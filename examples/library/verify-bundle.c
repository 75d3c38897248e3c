/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A minimal bundle verifier on libotabundle, as an update agent would embed
 * it: verifies BUNDLE against the roots in KEYRING (every payload block for
 * verity bundles) and prints what it holds.
 *
 *   cc verify-bundle.c $(pkg-config --cflags --libs otabundle) -o verify-bundle
 *   ./verify-bundle root.pem update.raucb */
#include <otabundle/bundle.h>
#include <otabundle/policy.h>

#include <stdio.h>

int main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(OtaBundle) bundle = NULL;
	const OtaManifest *manifest;

	if (argc != 3) {
		fprintf(stderr, "usage: %s KEYRING BUNDLE\n", argv[0]);
		return 2;
	}
	policy = ota_policy_new(argv[1], NULL, OTA_PURPOSE_DEFAULT, TRUE, 1, &error);
	if (policy != NULL)
		bundle = ota_bundle_open(argv[2], &error);
	if (bundle == NULL ||
	    !ota_bundle_verify(bundle, policy, OTA_BUNDLE_VERIFY_PAYLOAD, NULL, &error) ||
	    !ota_bundle_check_contents(bundle, FALSE, &error)) {
		fprintf(stderr, "verify-bundle: %s\n", error->message);
		return 1;
	}
	manifest = ota_bundle_get_manifest(bundle);
	printf("verified: %s %s\n", manifest->compatible,
	       manifest->version ? manifest->version : "-");
	return 0;
}
