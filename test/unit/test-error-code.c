/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/error.h>

#include <otabundle/bundle.h>
#include <otabundle/policy.h>
#include <otabundle/signature.h>
#include <otabundle/version.h>

#include "verity-private.h"

static void assert_code(GQuark domain, gint code, const char *expected)
{
	g_autoptr(GError) error = g_error_new_literal(domain, code, "x");

	g_assert_cmpstr(ota_error_code(error), ==, expected);
}

/* Whichever module finds it, tampering is one code for a gate to act on. */
static void test_a_failed_signature_and_a_failed_verity_block_are_both_tampered(void)
{
	assert_code(OTA_SIGNATURE_ERROR, OTA_SIGNATURE_ERROR_INVALID, "tampered");
	assert_code(OTA_VERITY_ERROR, OTA_VERITY_ERROR_MISMATCH, "tampered");
}

static void test_codes_name_the_kind_of_failure(void)
{
	assert_code(OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD, "threshold-not-met");
	assert_code(OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED, "bundle-malformed");
	assert_code(OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_IO, "io");
	assert_code(G_FILE_ERROR, G_FILE_ERROR_NOENT, "io");
	assert_code(OTA_VERSION_ERROR, OTA_VERSION_ERROR_INVALID, "invalid-input");
}

static void test_an_unclassified_error_and_no_error_are_failed(void)
{
	assert_code(g_quark_from_static_string("someone-elses-domain"), 3, "failed");
	g_assert_cmpstr(ota_error_code(NULL), ==, "failed");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/error-code/signature-and-verity-block-are-both-tampered",
	                test_a_failed_signature_and_a_failed_verity_block_are_both_tampered);
	g_test_add_func("/error-code/codes-name-the-kind-of-failure",
	                test_codes_name_the_kind_of_failure);
	g_test_add_func("/error-code/unclassified-and-no-error-are-failed",
	                test_an_unclassified_error_and_no_error_are_failed);
	return g_test_run();
}
