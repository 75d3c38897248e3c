/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pins the on-disk trailer: a refactor must not change the format RAUC reads. */
#include <otabundle/bundle.h>

#include "bundle-private.h"

#include <string.h>

static void test_format_constants_match_rauc(void)
{
	g_assert_cmpint(OTA_BUNDLE_TRAILER_SIZE, ==, 8);
	g_assert_cmpint(OTA_BUNDLE_MAX_SIGNATURE_SIZE, ==, 65536);
	g_assert_cmpint(OTA_BUNDLE_PAYLOAD_ALIGNMENT, ==, 4096);
}

static void test_trailer_is_big_endian_u64(void)
{
	guint8 t[OTA_BUNDLE_TRAILER_SIZE];
	const guint8 expected[] = {0, 0, 0, 0, 0, 0, 0x02, 0xb1};

	ota_bundle_trailer_encode(0x2b1, t);
	g_assert_cmpmem(t, sizeof(t), expected, sizeof(expected));
}

static void test_layout_splits_payload_signature_trailer(void)
{
	g_autoptr(GError) error = NULL;
	guint8 t[OTA_BUNDLE_TRAILER_SIZE];
	OtaBundleLayout l;

	ota_bundle_trailer_encode(689, t);
	g_assert_true(ota_bundle_layout_parse(102400 + 689 + 8, t, &l, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(l.payload_size, ==, 102400);
	g_assert_cmpuint(l.signature_offset, ==, 102400);
	g_assert_cmpuint(l.signature_size, ==, 689);
	g_assert_cmpuint(l.file_size, ==, 102400 + 689 + 8);
}

static void assert_malformed(guint64 file_size, guint64 sig_size, const char *needle)
{
	g_autoptr(GError) error = NULL;
	guint8 t[OTA_BUNDLE_TRAILER_SIZE];
	OtaBundleLayout l;

	ota_bundle_trailer_encode(sig_size, t);
	g_assert_false(ota_bundle_layout_parse(file_size, t, &l, &error));
	g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED);
	if (strstr(error->message, needle) == NULL)
		g_error("'%s' does not mention '%s'", error->message, needle);
}

static void test_rejects_zero_signature_size(void)
{
	assert_malformed(8192, 0, "is 0");
}

static void test_rejects_signature_larger_than_maximum(void)
{
	assert_malformed(G_MAXUINT64, OTA_BUNDLE_MAX_SIGNATURE_SIZE + 1, "maximum");
}

static void test_rejects_signature_size_near_2_pow_64(void)
{
	assert_malformed(8192, G_MAXUINT64, "maximum");
}

static void test_rejects_signature_past_start_of_file(void)
{
	assert_malformed(1000, 999, "no payload");
}

static void test_rejects_signature_filling_whole_file(void)
{
	assert_malformed(1008, 1000, "no payload");
}

/* A text file's last 8 bytes, read as a trailer: the error says what the
 * file is, not a signature size of 7218742722598088202. */
static void test_text_trailer_says_not_a_bundle_without_its_value(void)
{
	g_autoptr(GError) error = NULL;
	const guint8 *t = (const guint8 *)"d. Bye.\n";
	OtaBundleLayout l;

	g_assert_false(ota_bundle_layout_parse(100000, t, &l, &error));
	g_assert_error(error, OTA_BUNDLE_ERROR, OTA_BUNDLE_ERROR_MALFORMED);
	g_assert_true(g_str_has_prefix(error->message, "not a bundle ("));
	g_assert_null(strstr(error->message, "7218742722598088202"));
}

static void test_zero_trailer_says_not_a_bundle(void)
{
	assert_malformed(8192, 0, "not a bundle (");
}

static void test_rejects_unaligned_payload(void)
{
	assert_malformed(4095 + 100 + 8, 100, "multiple of 4096");
}

/* RAUC 1.15.2 refuses a plain payload when its size exceeds INT32_MAX. */
static void test_plain_limit_is_rauc_int32_max(void)
{
	g_assert_cmpuint(OTA_BUNDLE_PLAIN_MAX_PAYLOAD, ==, 2147483647);
	g_assert_false(bundle_plain_payload_too_large(0));
	g_assert_false(bundle_plain_payload_too_large(G_GUINT64_CONSTANT(2147483647)));
	g_assert_false(bundle_plain_payload_too_large(G_GUINT64_CONSTANT(2147483648) - 4096));
	g_assert_true(bundle_plain_payload_too_large(G_GUINT64_CONSTANT(2147483648)));
	g_assert_true(bundle_plain_payload_too_large(G_MAXUINT64));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/bundle-layout/format-constants-match-rauc", test_format_constants_match_rauc);
	g_test_add_func("/bundle-layout/trailer-is-big-endian-u64", test_trailer_is_big_endian_u64);
	g_test_add_func("/bundle-layout/layout-splits-payload-signature-trailer",
	                test_layout_splits_payload_signature_trailer);
	g_test_add_func("/bundle-layout/rejects-zero-signature-size", test_rejects_zero_signature_size);
	g_test_add_func("/bundle-layout/rejects-signature-larger-than-maximum",
	                test_rejects_signature_larger_than_maximum);
	g_test_add_func("/bundle-layout/rejects-signature-size-near-2-pow-64",
	                test_rejects_signature_size_near_2_pow_64);
	g_test_add_func("/bundle-layout/rejects-signature-past-start-of-file",
	                test_rejects_signature_past_start_of_file);
	g_test_add_func("/bundle-layout/rejects-signature-filling-whole-file",
	                test_rejects_signature_filling_whole_file);
	g_test_add_func("/bundle-layout/rejects-unaligned-payload", test_rejects_unaligned_payload);
	g_test_add_func("/bundle-layout/text-trailer-says-not-a-bundle-without-its-value",
	                test_text_trailer_says_not_a_bundle_without_its_value);
	g_test_add_func("/bundle-layout/zero-trailer-says-not-a-bundle",
	                test_zero_trailer_says_not_a_bundle);
	g_test_add_func("/bundle-layout/plain-limit-is-rauc-int32-max",
	                test_plain_limit_is_rauc_int32_max);
	return g_test_run();
}
