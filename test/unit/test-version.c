/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The order of bundle versions (otabundle/version.h), as tables. */
#include <otabundle/version.h>

static int compare(const char *a, const char *b)
{
	g_autoptr(GError) error = NULL;
	int result = 42;

	if (!ota_version_compare(a, b, &result, &error))
		g_error("%s vs %s: %s", a, b, error->message);
	return result < 0 ? -1 : result > 0 ? 1 : 0;
}

/* Each ranks below every later one: SemVer 2.0.0's own example (11.4),
 * numbers by value, and the calendar versions RAUC users ship. */
static const char *const ascending[] = {
	"0.0.1",
	"0.9",
	"0.10",
	"1.0.0-0.3.7",
	"1.0.0-alpha",
	"1.0.0-alpha.1",
	"1.0.0-alpha.beta",
	"1.0.0-beta",
	"1.0.0-beta.2",
	"1.0.0-beta.11",
	"1.0.0-rc.1",
	"1.0.0-rc-1", /* '-' belongs to the identifier: "rc-1" is longer than "rc" */
	"1.0.0-x-y-z.--",
	"1.0.0",
	"1.0.1",
	"1.9",
	"1.10",
	"5.0",
	"2024.06.1",
	"2024.07.0-rc1",
	/* "rc10" is one identifier, text, so below "rc2", as SemVer and RAUC
	 * say (write rc.10 to have it compared by value). */
	"2024.07.0-rc10",
	"2024.07.0-rc2",
	"2024.07.0",
	"18446744073709551615",
};

static void test_versions_rank_in_semver_precedence(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(ascending); i++) {
		g_assert_cmpint(compare(ascending[i], ascending[i]), ==, 0);
		for (gsize j = i + 1; j < G_N_ELEMENTS(ascending); j++) {
			if (compare(ascending[i], ascending[j]) != -1 ||
			    compare(ascending[j], ascending[i]) != 1)
				g_error("expected %s < %s", ascending[i], ascending[j]);
		}
	}
}

/* Pairs of the same precedence. */
static const char *const equal[][2] = {
	{"1.2", "1.2.0"},                 /* missing MINOR/PATCH are 0, as in RAUC */
	{"1", "1.0.0"},
	{"2024.07.0", "2024.7.0"},        /* leading zeros: by value, as in RAUC */
	{"1.0.0+build.1", "1.0.0+build.2"}, /* build metadata does not rank */
	{"1.0.0-rc.1+x", "1.0.0-rc.1"},
	{"1.0.0-rc.01", "1.0.0-rc.1"},    /* a numeric identifier by value, as in RAUC */
};

static void test_equal_precedence(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(equal); i++) {
		if (compare(equal[i][0], equal[i][1]) != 0 || compare(equal[i][1], equal[i][0]) != 0)
			g_error("expected %s == %s", equal[i][0], equal[i][1]);
	}
}

/* Not ordered at all, with the reason the message gives. */
static const struct {
	const char *version;
	const char *reason;
} refused[] = {
	{"", "empty"},
	{"v1.0", "does not start with a number"},
	{"-1.0", "does not start with a number"},
	{" 1.0", "does not start with a number"},
	{"1.0 ", "' ' after a number"},
	{"1.0~rc1", "'~' after a number"},
	{"1.2.3.4", "more than three numbers"},
	{"1..2", "'.' is not followed by a number"},
	{"1.", "'.' is not followed by a number"},
	{"1.0.0-", "pre-release has an empty identifier"},
	{"1.0.0-rc..1", "pre-release has an empty identifier"},
	{"1.0.0-rc.", "pre-release has an empty identifier"},
	{"1.0.0-rc_1", "'_' in the pre-release"},
	{"1.0.0-rc\xc3\xa9" "1", "byte 0xc3 in the pre-release"},
	{"1.0.0+", "build metadata has an empty identifier"},
	{"1.0.0+a+b", "'+' in the build metadata"},
	{"18446744073709551616", "too large"},
	{"1.0.0-rc.18446744073709551616", "number in the pre-release is too large"},
};

static void test_what_is_not_semver_like_is_refused_with_the_reason(void)
{
	for (gsize i = 0; i < G_N_ELEMENTS(refused); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GError) error2 = NULL;
		int result = 42;

		if (ota_version_check(refused[i].version, &error))
			g_error("'%s' was accepted", refused[i].version);
		g_assert_error(error, OTA_VERSION_ERROR, OTA_VERSION_ERROR_INVALID);
		if (strstr(error->message, refused[i].reason) == NULL)
			g_error("'%s': expected \"%s\" in: %s", refused[i].version, refused[i].reason,
			        error->message);
		g_assert_false(ota_version_compare("1.0.0", refused[i].version, &result, &error2));
		g_assert_cmpint(result, ==, 42);
	}
}

/* What the issue found with strverscmp: a release refused as a downgrade
 * of its own release candidate, and "v1.0" above "5.0". */
static void test_a_release_ranks_above_its_release_candidate(void)
{
	g_assert_cmpint(compare("2024.07.0", "2024.07.0-rc1"), ==, 1);
}

static void test_a_v_prefixed_version_is_not_ranked_above_anything(void)
{
	g_autoptr(GError) error = NULL;
	int result = 42;

	g_assert_false(ota_version_compare("v1.0", "5.0", &result, &error));
	g_assert_error(error, OTA_VERSION_ERROR, OTA_VERSION_ERROR_INVALID);
	g_assert_cmpstr(error->message, ==,
	                "'v1.0' is not a semantic version (MAJOR[.MINOR[.PATCH]][-PRERELEASE]"
	                "[+BUILD]): it does not start with a number");
}

static void test_the_error_names_the_version_that_is_refused(void)
{
	g_autoptr(GError) error = NULL;
	int result;

	g_assert_false(ota_version_compare("1.0", "2.0-rc_1", &result, &error));
	g_assert_nonnull(strstr(error->message, "'2.0-rc_1'"));
}

/* A version comes from a bundle: the message quoting it stays one line
 * and can't drive a terminal. */
static void test_a_refused_version_is_quoted_escaped_on_one_line(void)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_version_check("1.0\n\x1b[2Jok", &error));
	g_assert_null(strchr(error->message, '\n'));
	g_assert_null(strchr(error->message, '\x1b'));
	g_assert_nonnull(strstr(error->message, "'1.0\\n\\x1b[2Jok'"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/version/rank-in-semver-precedence", test_versions_rank_in_semver_precedence);
	g_test_add_func("/version/equal-precedence", test_equal_precedence);
	g_test_add_func("/version/not-semver-like-is-refused-with-the-reason",
	                test_what_is_not_semver_like_is_refused_with_the_reason);
	g_test_add_func("/version/release-ranks-above-its-release-candidate",
	                test_a_release_ranks_above_its_release_candidate);
	g_test_add_func("/version/v-prefixed-version-is-not-ranked",
	                test_a_v_prefixed_version_is_not_ranked_above_anything);
	g_test_add_func("/version/error-names-the-refused-version",
	                test_the_error_names_the_version_that_is_refused);
	g_test_add_func("/version/refused-version-quoted-escaped-on-one-line",
	                test_a_refused_version_is_quoted_escaped_on_one_line);
	return g_test_run();
}
