/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Version precedence (otabundle/version.h). Where RAUC's r_semver_parse()
 * accepts a version, the order here is RAUC's; a few forms it accepts
 * without meaning (an empty identifier, "1.0+", any byte in a pre-release)
 * are refused, and a '-' inside a pre-release identifier (1.0.0-rc-1,
 * valid SemVer, which RAUC's split at the last '-' refuses) is accepted.
 * Refusing never lets a version pass a check it would fail: the callers
 * turn an unordered version into a refusal. */
#include <otabundle/version.h>

#include <otabundle/text.h>

#include <string.h>

G_DEFINE_QUARK(ota-version-error-quark, ota_version_error)

#define FORM "MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]"

typedef struct {
	guint64 core[3];
	const char *pre; /* the pre-release identifiers, or NULL */
	gsize pre_len;
} Version;

static gboolean version_error(GError **error, const char *version, const char *format, ...)
	G_GNUC_PRINTF(3, 4);
static gboolean version_error(GError **error, const char *version, const char *format, ...)
{
	g_autofree char *escaped = ota_text_escape(version);
	g_autofree char *why = NULL;
	va_list args;

	va_start(args, format);
	why = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error(error, OTA_VERSION_ERROR, OTA_VERSION_ERROR_INVALID,
	            "'%s' is not a semantic version (" FORM "): %s", escaped, why);
	return FALSE;
}

/* "'~' after a number": the character itself if printable ASCII, else
 * its byte. */
static gboolean unexpected_char(GError **error, const char *version, char c, const char *where)
{
	if (g_ascii_isprint(c))
		return version_error(error, version, "'%c' %s", c, where);
	return version_error(error, version, "byte 0x%02x %s", (guchar)c, where);
}

/* Decimal digits at *@p into *@value, leading zeros allowed (as RAUC's
 * g_ascii_string_to_unsigned()); FALSE on overflow. Moves *@p past them. */
static gboolean take_number(const char **p, guint64 *value)
{
	*value = 0;
	for (; g_ascii_isdigit(**p); (*p)++) {
		guint digit = (guint)(**p - '0');

		if (*value > (G_MAXUINT64 - digit) / 10)
			return FALSE;
		*value = *value * 10 + digit;
	}
	return TRUE;
}

static gboolean is_identifier_char(char c)
{
	return g_ascii_isalnum(c) || c == '-';
}

static gboolean is_numeric(const char *id, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isdigit(id[i]))
			return FALSE;
	}
	return TRUE;
}

/* Dot-separated identifiers from *@p up to @end_char or the end of the
 * string, each non-empty; with @numbers_fit, an all-digit one must fit 64
 * bits (it is compared by value). Moves *@p past them. */
static gboolean take_identifiers(const char **p, char end_char, const char *what,
                                 gboolean numbers_fit, const char *version, GError **error)
{
	for (;;) {
		const char *start = *p;

		while (is_identifier_char(**p))
			(*p)++;
		if (*p == start)
			return version_error(error, version, "the %s has an empty identifier", what);
		if (numbers_fit && is_numeric(start, (gsize)(*p - start))) {
			const char *q = start;
			guint64 ignored;

			if (!take_number(&q, &ignored))
				return version_error(error, version, "a number in the %s is too large",
				                     what);
		}
		if (**p == '.') {
			(*p)++;
			continue;
		}
		if (**p != '\0' && **p != end_char) {
			g_autofree char *where =
				g_strdup_printf("in the %s (letters, digits, '-' and '.' only)", what);

			return unexpected_char(error, version, **p, where);
		}
		return TRUE;
	}
}

static gboolean parse_core(const char **p, Version *v, const char *version, GError **error)
{
	for (guint i = 0;; i++) {
		if (!g_ascii_isdigit(**p))
			return version_error(error, version,
			                     i == 0 ? "it does not start with a number"
			                            : "a '.' is not followed by a number");
		if (!take_number(p, &v->core[i]))
			return version_error(error, version, "a number is too large");
		if (**p != '.')
			break;
		if (i == 2)
			return version_error(error, version, "it has more than three numbers");
		(*p)++;
	}
	if (**p != '\0' && **p != '-' && **p != '+')
		return unexpected_char(error, version, **p,
		                       "after a number (expected '.', '-', '+' or the end)");
	return TRUE;
}

static gboolean parse(const char *version, Version *v, GError **error)
{
	const char *p = version;

	g_return_val_if_fail(version != NULL, FALSE);

	memset(v, 0, sizeof(*v));
	if (*p == '\0')
		return version_error(error, version, "it is empty");
	if (!parse_core(&p, v, version, error))
		return FALSE;
	if (*p == '-') {
		v->pre = ++p;
		if (!take_identifiers(&p, '+', "pre-release", TRUE, version, error))
			return FALSE;
		v->pre_len = (gsize)(p - v->pre);
	}
	if (*p == '+') {
		p++;
		if (!take_identifiers(&p, '\0', "build metadata", FALSE, version, error))
			return FALSE;
	}
	return TRUE;
}

gboolean ota_version_check(const char *version, GError **error)
{
	Version v;

	return parse(version, &v, error);
}

static int compare_numbers(guint64 a, guint64 b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

/* Two identifiers of a pre-release, by SemVer's rule 11.4. */
static int compare_identifiers(const char *a, gsize a_len, const char *b, gsize b_len)
{
	gboolean a_num = is_numeric(a, a_len), b_num = is_numeric(b, b_len);
	int cmp;

	if (a_num && b_num) {
		guint64 x, y;

		/* parse() checked that both fit. */
		take_number(&a, &x);
		take_number(&b, &y);
		return compare_numbers(x, y);
	}
	if (a_num != b_num)
		return a_num ? -1 : 1;
	cmp = memcmp(a, b, MIN(a_len, b_len));
	return cmp != 0 ? cmp : compare_numbers(a_len, b_len);
}

static int compare_pre_releases(const Version *a, const Version *b)
{
	const char *p = a->pre, *q = b->pre;
	const char *p_end = a->pre + a->pre_len, *q_end = b->pre + b->pre_len;

	/* A release ranks above any of its pre-releases. */
	if (p == NULL || q == NULL)
		return p == q ? 0 : p == NULL ? 1 : -1;
	while (p < p_end && q < q_end) {
		const char *p_dot = memchr(p, '.', (gsize)(p_end - p));
		const char *q_dot = memchr(q, '.', (gsize)(q_end - q));
		gsize p_len = (gsize)((p_dot ? p_dot : p_end) - p);
		gsize q_len = (gsize)((q_dot ? q_dot : q_end) - q);
		int cmp = compare_identifiers(p, p_len, q, q_len);

		if (cmp != 0)
			return cmp;
		p += p_len + (p_dot ? 1 : 0);
		q += q_len + (q_dot ? 1 : 0);
	}
	/* Equal so far: more identifiers rank higher. */
	return (p < p_end) - (q < q_end);
}

gboolean ota_version_compare(const char *a, const char *b, int *result, GError **error)
{
	Version va, vb;

	g_return_val_if_fail(result != NULL, FALSE);

	if (!parse(a, &va, error) || !parse(b, &vb, error))
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(va.core); i++) {
		int cmp = compare_numbers(va.core[i], vb.core[i]);

		if (cmp != 0) {
			*result = cmp;
			return TRUE;
		}
	}
	*result = compare_pre_releases(&va, &vb);
	return TRUE;
}
