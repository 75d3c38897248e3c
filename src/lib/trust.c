/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Trust lists (otabundle-trust(5)): the document, its signed form, the
 * policies its tiers stand for, and the rule for replacing one. */
#include <otabundle/trust.h>

#include <otabundle/text.h>

#include <errno.h>
#include <openssl/err.h>
#include <string.h>

#include "checksum-private.h"
#include "error-private.h"
#include "keyfile.h"
#include "openssl-private.h"
#include "policy-private.h"
#include "trust-private.h"

G_DEFINE_QUARK(ota-trust-error-quark, ota_trust_error)

static const OtaKeyfileErrors errors = {ota_trust_error_quark, OTA_TRUST_ERROR_MALFORMED,
					OTA_TRUST_ERROR_MALFORMED, OTA_TRUST_ERROR_MALFORMED};

#define DEFAULT_TIER "default"
#define TIER_PREFIX "tier."
#define MAX_THRESHOLD 64 /* as system.conf's [keyring] threshold */

static gboolean malformed(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);
static gboolean malformed(GError **error, const char *format, ...)
{
	va_list args;
	g_autofree char *msg = NULL;

	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error_literal(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED, msg);
	return FALSE;
}

/* --- the parts of a trust list ------------------------------------------------------------ */

static void anchor_free(OtaTrustAnchorEntry *a)
{
	X509_free(a->cert);
	g_free(a->base64);
	g_free(a->subject);
	g_free(a->cert_sha256);
	g_free(a);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaTrustAnchorEntry, anchor_free)

static void tier_free(OtaTrustTierEntry *t)
{
	g_free(t->name);
	g_ptr_array_unref(t->anchors);
	g_ptr_array_unref(t->revoked_spki);
	g_ptr_array_unref(t->revoked_certs);
	g_free(t->canonical);
	g_free(t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaTrustTierEntry, tier_free)

static OtaTrustTierEntry *tier_new(const char *name)
{
	OtaTrustTierEntry *t = g_new0(OtaTrustTierEntry, 1);

	t->name = g_strdup(name);
	t->threshold = 1;
	t->purpose = OTA_PURPOSE_DEFAULT;
	t->check_time = OTA_CHECK_TIME_DEVICE;
	t->anchors = g_ptr_array_new_with_free_func((GDestroyNotify)anchor_free);
	t->revoked_spki = g_ptr_array_new_with_free_func(g_free);
	t->revoked_certs = g_ptr_array_new_with_free_func(g_free);
	return t;
}

void ota_trust_free(OtaTrust *trust)
{
	if (trust == NULL)
		return;
	if (trust->tiers != NULL)
		g_ptr_array_unref(trust->tiers);
	g_strfreev(trust->tier_names);
	if (trust->document != NULL)
		g_bytes_unref(trust->document);
	g_free(trust->document_sha256);
	if (trust->signature_der != NULL)
		g_bytes_unref(trust->signature_der);
	ota_signature_free(trust->signature);
	g_free(trust);
}

guint64 ota_trust_get_version(const OtaTrust *trust)
{
	return trust->version;
}

const char *const *ota_trust_get_tiers(const OtaTrust *trust)
{
	return (const char *const *)trust->tier_names;
}

const char *ota_trust_get_document_sha256(const OtaTrust *trust)
{
	return trust->document_sha256;
}

const OtaSignature *ota_trust_get_signature(const OtaTrust *trust)
{
	return trust->signature;
}

GBytes *ota_trust_get_document(const OtaTrust *trust)
{
	return trust->document;
}

GBytes *ota_trust_get_signed_data(const OtaTrust *trust)
{
	return trust->signature_der;
}

const OtaTrustTierEntry *ota_trust_get_tier(const OtaTrust *trust, const char *name)
{
	for (guint i = 0; i < trust->tiers->len; i++) {
		const OtaTrustTierEntry *t = g_ptr_array_index(trust->tiers, i);

		if (g_strcmp0(t->name, name) == 0)
			return t;
	}
	return NULL;
}

gboolean ota_trust_anchor_is_valid_at(const OtaTrustAnchorEntry *anchor, gint64 now)
{
	return (!anchor->has_not_before || now >= anchor->not_before) &&
	       (!anchor->has_not_after || now <= anchor->not_after);
}

char *ota_trust_format_time(gint64 unix_time)
{
	g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(unix_time);

	return when != NULL ? g_date_time_format(when, "%Y-%m-%dT%H:%M:%SZ") : NULL;
}

/* --- writing a document -------------------------------------------------------------------- */

static void append_anchor(GString *out, const OtaTrustAnchorEntry *a, guint n)
{
	g_autofree char *subject = ota_text_escape_controls(a->subject);

	g_string_append_printf(out, "# %s\nanchor-%u=%s\n", subject, n, a->base64);
	if (a->has_not_before) {
		g_autofree char *t = ota_trust_format_time(a->not_before);

		g_string_append_printf(out, "anchor-%u-not-before=%s\n", n, t);
	}
	if (a->has_not_after) {
		g_autofree char *t = ota_trust_format_time(a->not_after);

		g_string_append_printf(out, "anchor-%u-not-after=%s\n", n, t);
	}
}

static void append_list(GString *out, const char *key, GPtrArray *items)
{
	if (items->len == 0)
		return;
	g_string_append_printf(out, "%s=", key);
	for (guint i = 0; i < items->len; i++)
		g_string_append_printf(out, "%s%s", i ? ";" : "", (const char *)items->pdata[i]);
	g_string_append_c(out, '\n');
}

/* The group of @t, its anchors in @anchors' order. */
static void append_tier(GString *out, const OtaTrustTierEntry *t, GPtrArray *anchors)
{
	g_string_append_printf(out,
			       "[" TIER_PREFIX "%s]\nthreshold=%u\ncheck-purpose=%s\n"
			       "check-time=%s\n",
			       t->name, t->threshold, ota_purpose_to_string(t->purpose),
			       ota_check_time_to_string(t->check_time));
	for (guint i = 0; i < anchors->len; i++)
		append_anchor(out, anchors->pdata[i], i + 1);
	append_list(out, "revoked-spki-sha256", t->revoked_spki);
	append_list(out, "revoked-certificate-sha256", t->revoked_certs);
}

static int compare_anchors(gconstpointer a, gconstpointer b)
{
	const OtaTrustAnchorEntry *x = *(const OtaTrustAnchorEntry *const *)a;
	const OtaTrustAnchorEntry *y = *(const OtaTrustAnchorEntry *const *)b;

	return strcmp(x->base64, y->base64);
}

/* What a tier means, whatever the order of its anchors and revocations:
 * its group as written, with the anchors sorted (revocations are kept
 * sorted). The comments it holds follow from the anchors. */
static char *tier_canonical(const OtaTrustTierEntry *t)
{
	g_autoptr(GPtrArray) sorted = g_ptr_array_sized_new(t->anchors->len);
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < t->anchors->len; i++)
		g_ptr_array_add(sorted, t->anchors->pdata[i]);

	g_ptr_array_sort(sorted, compare_anchors);
	append_tier(out, t, sorted);
	return g_string_free(out, FALSE);
}

static GBytes *document_to_bytes(guint64 version, GPtrArray *tiers)
{
	GString *out = g_string_new("# otabundle trust list: see otabundle-trust(5)\n");

	g_string_append_printf(out, "[trust]\nversion=%" G_GUINT64_FORMAT "\n", version);
	for (guint i = 0; i < tiers->len; i++) {
		const OtaTrustTierEntry *t = g_ptr_array_index(tiers, i);

		g_string_append_c(out, '\n');
		append_tier(out, t, t->anchors);
	}
	return g_string_free_to_bytes(out);
}

/* --- reading a document -------------------------------------------------------------------- */

/* Only the form the documents are written in ("2026-01-31T00:00:00Z"):
 * one spelling per time, so that two readers cannot disagree. */
static gboolean parse_time(const char *value, gint64 *out)
{
	g_autoptr(GDateTime) when = NULL;
	g_autofree char *again = NULL;

	if (value == NULL || strlen(value) != 20 || value[19] != 'Z')
		return FALSE;
	when = g_date_time_new_from_iso8601(value, NULL);
	if (when == NULL)
		return FALSE;
	*out = g_date_time_to_unix(when);
	again = ota_trust_format_time(*out);
	return g_strcmp0(again, value) == 0;
}

static gboolean take_time(GKeyFile *kf, const char *group, const char *key, gboolean *present,
			  gint64 *out, GError **error)
{
	g_autofree char *value = ota_keyfile_take_string(kf, group, key);
	g_autofree char *escaped = NULL;

	*present = value != NULL;
	if (value == NULL || parse_time(value, out))
		return TRUE;
	escaped = ota_text_escape(value);
	return malformed(error,
			 "invalid %s '%s' in group [%s]: expected a UTC time such as "
			 "2026-01-31T00:00:00Z",
			 key, escaped, group);
}

static gboolean is_base64(const char *s)
{
	gsize n = strlen(s);

	if (n == 0 || n % 4 != 0)
		return FALSE;
	for (gsize i = 0; i < n; i++) {
		gboolean pad = s[i] == '=' && i >= n - 2 && (i == n - 1 || s[n - 1] == '=');

		if (!g_ascii_isalnum(s[i]) && s[i] != '+' && s[i] != '/' && !pad)
			return FALSE;
	}
	return TRUE;
}

/* The certificate of base64 DER @text, in its one canonical spelling. */
static X509 *decode_certificate(const char *text)
{
	g_autofree guint8 *der = NULL;
	g_autofree char *again = NULL;
	const unsigned char *p;
	gsize length = 0;
	X509 *cert;

	if (!is_base64(text))
		return NULL;
	der = g_base64_decode(text, &length);
	again = g_base64_encode(der, length);
	if (length == 0 || length > G_MAXINT || strcmp(again, text) != 0)
		return NULL;
	p = der;
	cert = d2i_X509(NULL, &p, (long)length);
	if (cert == NULL || p != der + length) {
		X509_free(cert);
		ERR_clear_error();
		return NULL;
	}
	return cert;
}

static OtaTrustAnchorEntry *anchor_new(X509 *cert)
{
	OtaTrustAnchorEntry *a = g_new0(OtaTrustAnchorEntry, 1);
	unsigned char *der = NULL;
	int length;

	length = i2d_X509(cert, &der);
	if (length <= 0) {
		ERR_clear_error();
		g_free(a);
		return NULL;
	}
	a->base64 = g_base64_encode(der, (gsize)length);
	OPENSSL_free(der);
	X509_up_ref(cert);
	a->cert = cert;
	a->subject = ota_x509_name_to_string(X509_get_subject_name(cert));
	a->cert_sha256 = ota_x509_certificate_sha256(cert);
	return a;
}

static gboolean check_window(const OtaTrustAnchorEntry *a, const char *what, GError **error)
{
	if (a->has_not_before && a->has_not_after && a->not_before > a->not_after)
		return malformed(error, "%s: not-before is after not-after", what);
	return TRUE;
}

/* Adds @a to @t, refusing a certificate that is an anchor there already:
 * two windows for one anchor would be read as either. */
static gboolean tier_add_anchor(OtaTrustTierEntry *t, OtaTrustAnchorEntry *a, const char *what,
				GError **error)
{
	for (guint i = 0; i < t->anchors->len; i++) {
		const OtaTrustAnchorEntry *b = g_ptr_array_index(t->anchors, i);

		if (strcmp(a->base64, b->base64) == 0) {
			g_autofree char *subject = ota_text_escape_controls(a->subject);

			anchor_free(a);
			return malformed(error,
					 "%s: certificate %s is already an anchor of tier '%s'",
					 what, subject, t->name);
		}
	}
	g_ptr_array_add(t->anchors, a);
	return TRUE;
}

static gboolean take_anchor(GKeyFile *kf, const char *group, OtaTrustTierEntry *t, guint n,
			    gboolean *found, GError **error)
{
	g_autofree char *key = g_strdup_printf("anchor-%u", n);
	g_autofree char *nb_key = g_strdup_printf("anchor-%u-not-before", n);
	g_autofree char *na_key = g_strdup_printf("anchor-%u-not-after", n);
	g_autofree char *value = ota_keyfile_take_string(kf, group, key);
	g_autofree char *what = g_strdup_printf("%s in group [%s]", key, group);
	g_autoptr(X509) cert = NULL;
	g_autoptr(OtaTrustAnchorEntry) a = NULL;

	*found = value != NULL;
	if (value == NULL)
		return TRUE;
	cert = decode_certificate(value);
	if (cert == NULL)
		return malformed(error, "invalid %s: expected the base64 of a DER certificate",
				 what);
	a = anchor_new(cert);
	if (a == NULL)
		return malformed(error, "invalid %s: cannot encode the certificate", what);
	if (!take_time(kf, group, nb_key, &a->has_not_before, &a->not_before, error) ||
	    !take_time(kf, group, na_key, &a->has_not_after, &a->not_after, error) ||
	    !check_window(a, what, error))
		return FALSE;
	return tier_add_anchor(t, g_steal_pointer(&a), what, error);
}

static int compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static gboolean is_sha256_hex(const char *s)
{
	gsize n = 0;

	for (; s[n] != '\0'; n++) {
		if (!g_ascii_isdigit(s[n]) && !(s[n] >= 'a' && s[n] <= 'f'))
			return FALSE;
	}
	return n == OTA_SHA256_HEX_LEN;
}

/* A ';'-separated list of lower-case hex SHA-256 digests, kept sorted. */
static gboolean take_digest_list(GKeyFile *kf, const char *group, const char *key, GPtrArray *out,
				 GError **error)
{
	g_autofree char *value = ota_keyfile_take_string(kf, group, key);
	g_auto(GStrv) items = NULL;

	if (value == NULL)
		return TRUE;
	items = g_strsplit(value, ";", -1);
	for (char **item = items; *item != NULL; item++) {
		g_autofree char *escaped = NULL;

		/* GKeyFile's own lists end with a ';' */
		if (**item == '\0' && item[1] == NULL && item != items)
			break;
		if (is_sha256_hex(*item)) {
			g_ptr_array_add(out, g_strdup(*item));
			continue;
		}
		escaped = ota_text_escape(*item);
		return malformed(error,
				 "invalid %s entry '%s' in group [%s]: expected a SHA-256 in "
				 "lower-case hex",
				 key, escaped, group);
	}
	g_ptr_array_sort(out, compare_strings);
	for (guint i = 1; i < out->len; i++) {
		if (strcmp(out->pdata[i - 1], out->pdata[i]) == 0)
			return malformed(error, "%s in group [%s] lists %s twice", key, group,
					 (const char *)out->pdata[i]);
	}
	return TRUE;
}

static gboolean take_tier_settings(GKeyFile *kf, const char *group, OtaTrustTierEntry *t,
				   GError **error)
{
	g_autofree char *purpose = ota_keyfile_take_string(kf, group, "check-purpose");
	g_autofree char *check_time = ota_keyfile_take_string(kf, group, "check-time");
	guint64 threshold = 1;
	gboolean present;

	if (!ota_keyfile_take_uint64(kf, group, "threshold", 1, MAX_THRESHOLD, &present, &threshold,
				     &errors, error))
		return FALSE;
	t->threshold = (guint)threshold;
	if (purpose != NULL && !ota_purpose_from_string(purpose, &t->purpose)) {
		g_autofree char *escaped = ota_text_escape(purpose);

		return malformed(error,
				 "invalid check-purpose '%s' in group [%s]: expected any, "
				 "smimesign or codesign",
				 escaped, group);
	}
	if (check_time != NULL && !ota_check_time_from_string(check_time, &t->check_time)) {
		g_autofree char *escaped = ota_text_escape(check_time);

		return malformed(error,
				 "invalid check-time '%s' in group [%s]: expected device, "
				 "timestamp, signing-time or none",
				 escaped, group);
	}
	return TRUE;
}

static OtaTrustTierEntry *parse_tier(GKeyFile *kf, const char *group, GError **error)
{
	const char *name = group + strlen(TIER_PREFIX);
	g_autoptr(OtaTrustTierEntry) t = NULL;
	gboolean found = TRUE;

	if (!ota_keyfile_name_is_valid(name)) {
		g_autofree char *escaped = ota_text_escape(group);

		malformed(error, "invalid tier name in group [%s]", escaped);
		return NULL;
	}
	t = tier_new(name);
	if (!take_tier_settings(kf, group, t, error))
		return NULL;
	for (guint n = 1; found; n++) {
		if (!take_anchor(kf, group, t, n, &found, error))
			return NULL;
	}
	/* A tier that trusts no one could never be changed again: its
	 * current threshold could not be met. */
	if (t->anchors->len == 0) {
		malformed(error, "tier '%s' has no anchor (anchor-1 in group [%s])", name, group);
		return NULL;
	}
	if (!take_digest_list(kf, group, "revoked-spki-sha256", t->revoked_spki, error) ||
	    !take_digest_list(kf, group, "revoked-certificate-sha256", t->revoked_certs, error))
		return NULL;
	return g_steal_pointer(&t);
}

/* GKeyFile merges a repeated group header into the first group, where
 * another reader might take one of them only: a document that means two
 * things is refused (ota_keyfile_check_no_duplicates() sees a repeated
 * key only). */
static gboolean check_no_repeated_groups(const char *data, gsize length, GError **error)
{
	g_autofree char *text = g_strndup(data, length);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (char **line = lines; *line != NULL; line++) {
		const char *p = *line;
		const char *end;

		while (g_ascii_isspace(*p))
			p++;
		if (*p != '[' || (end = strchr(p, ']')) == NULL)
			continue;
		if (!g_hash_table_add(seen, g_strndup(p + 1, (gsize)(end - p - 1)))) {
			g_autofree char *name = g_strndup(p + 1, (gsize)(end - p - 1));
			g_autofree char *escaped = ota_text_escape(name);

			return malformed(error, "group [%s] appears twice", escaped);
		}
	}
	return TRUE;
}

static gboolean parse_groups(GKeyFile *kf, OtaTrust *trust, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	OtaTrustTierEntry *def = NULL;

	trust->tiers = g_ptr_array_new_with_free_func((GDestroyNotify)tier_free);
	for (char **g = groups; *g != NULL; g++) {
		OtaTrustTierEntry *t;

		if (g_str_equal(*g, "trust"))
			continue;
		if (!g_str_has_prefix(*g, TIER_PREFIX)) {
			g_autofree char *escaped = ota_text_escape(*g);

			return malformed(error, "unknown group [%s]", escaped);
		}
		t = parse_tier(kf, *g, error);
		if (t == NULL)
			return FALSE;
		t->canonical = tier_canonical(t);
		if (g_str_equal(t->name, DEFAULT_TIER))
			def = t;
		g_ptr_array_add(trust->tiers, t);
	}
	if (def == NULL)
		return malformed(error,
				 "no [" TIER_PREFIX DEFAULT_TIER "] group: the default tier is "
				 "required");
	/* "default" first, the others in document order */
	for (guint i = 0; i < trust->tiers->len; i++) {
		if (trust->tiers->pdata[i] == def) {
			g_ptr_array_insert(trust->tiers, 0,
					   g_ptr_array_steal_index(trust->tiers, i));
			break;
		}
	}
	trust->tier_names = g_new0(char *, trust->tiers->len + 1);
	for (guint i = 0; i < trust->tiers->len; i++)
		trust->tier_names[i] =
			g_strdup(((OtaTrustTierEntry *)trust->tiers->pdata[i])->name);
	return TRUE;
}

static gboolean parse_document(OtaTrust *trust, GError **error)
{
	gsize length = 0;
	const char *data = g_bytes_get_data(trust->document, &length);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) ierror = NULL;
	gboolean present;

	if (memchr(data, '\0', length) != NULL || !g_utf8_validate(data, (gssize)length, NULL))
		return malformed(error, "not a trust document: not UTF-8 text");
	if (!g_key_file_load_from_data(kf, data, length, G_KEY_FILE_NONE, &ierror))
		return malformed(error, "not a trust document: %s", ierror->message);
	if (!g_key_file_has_group(kf, "trust"))
		return malformed(error, "not a trust document: no [trust] group");
	if (!ota_keyfile_check_no_duplicates(kf, &errors, error) ||
	    !ota_keyfile_check_no_locale_keys(data, length, &errors, error) ||
	    !check_no_repeated_groups(data, length, error))
		return FALSE;
	if (!g_key_file_has_key(kf, "trust", "version", NULL))
		return malformed(error, "missing key 'version' in group [trust]");
	if (!ota_keyfile_take_uint64(kf, "trust", "version", 1, G_MAXINT64, &present,
				     &trust->version, &errors, error) ||
	    !parse_groups(kf, trust, error))
		return FALSE;
	return ota_keyfile_check_nothing_left(kf, &errors, error);
}

static gboolean set_document(OtaTrust *trust, GBytes *document, GError **error)
{
	guint8 digest[OTA_SHA256_LEN];
	char hex[OTA_SHA256_HEX_LEN + 1];

	trust->document = g_bytes_ref(document);
	if (!ota_checksum_bytes(document, digest, error))
		return FALSE;
	ota_checksum_to_hex(digest, hex);
	trust->document_sha256 = g_strdup(hex);
	return parse_document(trust, error);
}

static gboolean parse_signed(OtaTrust *trust, const guint8 *data, gsize length, GError **error)
{
	g_autoptr(GBytes) content = NULL;
	g_autoptr(GError) ierror = NULL;

	trust->signature = ota_signature_parse(data, length, &ierror);
	if (trust->signature == NULL)
		return malformed(error, "signature: %s", ierror->message);
	if (ota_signature_is_detached(trust->signature))
		return malformed(error, "a detached signature, not a trust list (its document is "
					"not embedded; see 'otabundle trust merge')");
	content = ota_signature_get_content(trust->signature);
	if (content == NULL)
		return malformed(error, "the signature embeds no trust document");
	trust->signature_der = g_bytes_new(data, length);
	return set_document(trust, content, error);
}

static gboolean starts_with_text(const guint8 *data, gsize length, const char *prefix)
{
	gsize i = 0;

	while (i < length && g_ascii_isspace(data[i]))
		i++;
	return length - i >= strlen(prefix) && memcmp(data + i, prefix, strlen(prefix)) == 0;
}

/* A bare document starts with a comment, a blank line or a group. */
static gboolean looks_like_document(const guint8 *data, gsize length)
{
	gsize i = 0;

	while (i < length && g_ascii_isspace(data[i]))
		i++;
	return i < length && (data[i] == '#' || data[i] == '[');
}

OtaTrust *ota_trust_parse(const guint8 *data, gsize length, const char *name, GError **error)
{
	g_autoptr(OtaTrust) trust = g_new0(OtaTrust, 1);
	g_autoptr(GError) ierror = NULL;
	gboolean ok;

	if (length > OTA_TRUST_MAX_SIZE) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED,
			    "%s: too large for a trust list (over %u bytes)", name,
			    OTA_TRUST_MAX_SIZE);
		return NULL;
	}
	if (starts_with_text(data, length, "-----BEGIN")) {
		g_set_error(
			error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED,
			"%s: PEM-armoured; a trust list is DER (as 'otabundle trust sign' writes "
			"it) or a bare trust document",
			name);
		return NULL;
	}
	if (length > 0 && data[0] == 0x30) {
		ok = parse_signed(trust, data, length, &ierror);
	} else if (looks_like_document(data, length)) {
		g_autoptr(GBytes) document = g_bytes_new(data, length);

		ok = set_document(trust, document, &ierror);
	} else {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED,
			    "%s: not a trust list (neither a signed trust list in DER nor a trust "
			    "document)",
			    name);
		return NULL;
	}
	if (!ok) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror), "%s: ", name);
		return NULL;
	}
	return g_steal_pointer(&trust);
}

OtaTrust *ota_trust_load(const char *path, GError **error)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) ierror = NULL;
	gsize length = 0;

	if (!g_file_get_contents(path, &data, &length, &ierror)) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_IO, "%s", ierror->message);
		return NULL;
	}
	return ota_trust_parse((const guint8 *)data, length, path, error);
}

/* --- policies ------------------------------------------------------------------------------ */

static gint64 resolve_now(gint64 now)
{
	return now != 0 ? now : g_get_real_time() / G_USEC_PER_SEC;
}

static char **strv_of(GPtrArray *strings)
{
	char **v = g_new0(char *, strings->len + 1);

	for (guint i = 0; i < strings->len; i++)
		v[i] = g_strdup(strings->pdata[i]);
	return v;
}

OtaPolicy *ota_trust_policy_new(const OtaTrust *trust, const char *tier, gint64 now, GError **error)
{
	const OtaTrustTierEntry *t = ota_trust_get_tier(trust, tier);
	g_autoptr(OtaX509Stack) anchors = sk_X509_new_null();
	g_autoptr(OtaPolicy) policy = NULL;
	g_autofree char *reason = NULL;
	g_auto(GStrv) spki = NULL;
	g_auto(GStrv) certs = NULL;

	if (t == NULL) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_NO_TIER,
			    "trust list version %" G_GUINT64_FORMAT " has no tier '%s'",
			    trust->version, tier);
		return NULL;
	}
	if (anchors == NULL) {
		ota_set_openssl_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED,
				      "cannot allocate a certificate stack");
		return NULL;
	}
	now = resolve_now(now);
	for (guint i = 0; i < t->anchors->len; i++) {
		const OtaTrustAnchorEntry *a = g_ptr_array_index(t->anchors, i);

		if (!ota_trust_anchor_is_valid_at(a, now))
			continue;
		if (!sk_X509_push(anchors, a->cert)) {
			ota_set_openssl_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED,
					      "cannot allocate a certificate stack");
			return NULL;
		}
		X509_up_ref(a->cert);
	}
	policy = ota_policy_new_from_anchors(
		anchors, t->purpose, t->check_time != OTA_CHECK_TIME_NONE, t->threshold, error);
	if (policy == NULL)
		return NULL;
	ota_policy_set_check_time(policy, t->check_time);
	ota_policy_set_now(policy, now);
	reason =
		g_strdup_printf("revoked by trust list version %" G_GUINT64_FORMAT, trust->version);
	spki = strv_of(t->revoked_spki);
	certs = strv_of(t->revoked_certs);
	ota_policy_set_revoked(policy, (const char *const *)spki, (const char *const *)certs,
			       reason);
	return g_steal_pointer(&policy);
}

/* --- updates ------------------------------------------------------------------------------- */

/* The signers of @sig that were not counted, and why. */
static char *uncounted_signers(const OtaSignature *sig)
{
	g_autoptr(GString) why = g_string_new(NULL);

	for (guint i = 0; i < ota_signature_get_n_signers(sig); i++) {
		const OtaSignerInfo *info = ota_signature_get_signer(sig, i);
		const char *reason = ota_signer_info_get_reason(info);

		if (ota_signer_info_get_status(info) == OTA_SIGNER_COUNTED)
			continue;
		g_string_append_printf(why, "%s%s: %s", why->len ? "; " : "",
				       ota_signer_info_get_subject(info),
				       reason ? reason : "not counted");
	}
	return g_string_free(g_steal_pointer(&why), FALSE);
}

/* One threshold an update must meet: that of tier @tier of @side. */
typedef struct {
	const char *tier; /* the tier changed, added or removed */
	const char *change; /* "changed", "added", "removed" */
	const OtaTrust *side; /* whose policy */
	const char *side_tier; /* which of its tiers */
	const char *what; /* "its current threshold", ... */
} Requirement;

static gboolean meet(const OtaTrust *update, const Requirement *r, gint64 now, GError **error)
{
	gsize length = 0;
	const guint8 *der = g_bytes_get_data(update->signature_der, &length);
	g_autoptr(OtaSignature) sig = NULL;
	g_autoptr(OtaPolicy) policy = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *why = NULL;

	policy = ota_trust_policy_new(r->side, r->side_tier, now, error);
	if (policy == NULL)
		return FALSE;
	/* Parsed again for each policy: verification records its verdicts
	 * in the signature, and the one of the update stays as parsed. */
	sig = ota_signature_parse(der, length, &ierror);
	if (sig == NULL) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED, "signature: %s",
			    ierror->message);
		return FALSE;
	}
	if (ota_signature_verify(sig, NULL, policy, &ierror))
		return TRUE;
	if (!g_error_matches(ierror, OTA_POLICY_ERROR, OTA_POLICY_ERROR_THRESHOLD)) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED, "signature: %s",
			    ierror->message);
		return FALSE;
	}
	why = uncounted_signers(sig);
	g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_UNSIGNED,
		    "tier '%s' %s, but the update is not signed by %s (%u of %u)%s%s", r->tier,
		    r->change, r->what, ota_signature_get_counted(sig),
		    ota_policy_get_threshold(policy), *why ? ": " : "", why);
	return FALSE;
}

/* The thresholds @update must meet over @current (see trust.h), in the
 * order of @update's tiers, then the removed ones. */
static GArray *requirements(const OtaTrust *current, const OtaTrust *update)
{
	GArray *reqs = g_array_new(FALSE, TRUE, sizeof(Requirement));

	for (guint i = 0; i < update->tiers->len; i++) {
		const OtaTrustTierEntry *t = g_ptr_array_index(update->tiers, i);
		const OtaTrustTierEntry *old = ota_trust_get_tier(current, t->name);

		if (old == NULL) {
			Requirement add[] = {
				{t->name, "added", update, t->name, "its new threshold"},
				{t->name, "added", current, DEFAULT_TIER,
				 "the current '" DEFAULT_TIER "' threshold"},
			};
			g_array_append_vals(reqs, add, G_N_ELEMENTS(add));
		} else if (strcmp(old->canonical, t->canonical) != 0) {
			Requirement change[] = {
				{t->name, "changed", current, t->name, "its current threshold"},
				{t->name, "changed", update, t->name, "its new threshold"},
			};
			g_array_append_vals(reqs, change, G_N_ELEMENTS(change));
		}
	}
	for (guint i = 0; i < current->tiers->len; i++) {
		const OtaTrustTierEntry *old = g_ptr_array_index(current->tiers, i);

		if (ota_trust_get_tier(update, old->name) == NULL) {
			Requirement remove[] = {
				{old->name, "removed", current, old->name, "its current threshold"},
				{old->name, "removed", update, DEFAULT_TIER,
				 "the new '" DEFAULT_TIER "' threshold"},
			};
			g_array_append_vals(reqs, remove, G_N_ELEMENTS(remove));
		}
	}
	return reqs;
}

gboolean ota_trust_check_update(const OtaTrust *current, const OtaTrust *update, gint64 now,
				GError **error)
{
	g_autoptr(GArray) reqs = NULL;

	if (current->version == (guint64)G_MAXINT64 || update->version != current->version + 1) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_VERSION,
			    "trust list version %" G_GUINT64_FORMAT
			    " does not follow the current %" G_GUINT64_FORMAT,
			    update->version, current->version);
		return FALSE;
	}
	reqs = requirements(current, update);
	/* Unsigned, it would let anyone take the next version number, and
	 * the real next update would no longer follow. */
	if (reqs->len == 0) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_UNCHANGED,
			    "trust list version %" G_GUINT64_FORMAT
			    " changes no tier of version %" G_GUINT64_FORMAT,
			    update->version, current->version);
		return FALSE;
	}
	if (update->signature_der == NULL) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_UNSIGNED,
			    "trust list version %" G_GUINT64_FORMAT " is not signed",
			    update->version);
		return FALSE;
	}
	now = resolve_now(now);
	for (guint i = 0; i < reqs->len; i++) {
		if (!meet(update, &g_array_index(reqs, Requirement, i), now, error))
			return FALSE;
	}
	return TRUE;
}

/* --- making documents (host) --------------------------------------------------------------- */

static OtaTrustTierEntry *find_tier(GPtrArray *tiers, const char *name)
{
	for (guint i = 0; i < tiers->len; i++) {
		OtaTrustTierEntry *t = g_ptr_array_index(tiers, i);

		if (strcmp(t->name, name) == 0)
			return t;
	}
	return NULL;
}

static OtaTrustTierEntry *tier_for(GPtrArray *tiers, const char *name, GError **error)
{
	OtaTrustTierEntry *t;

	if (!ota_keyfile_name_is_valid(name)) {
		g_autofree char *escaped = ota_text_escape(name ? name : "");

		malformed(error, "invalid tier name '%s' (letters, digits, '_' and '-')", escaped);
		return NULL;
	}
	t = find_tier(tiers, name);
	if (t == NULL) {
		t = tier_new(name);
		if (strcmp(name, DEFAULT_TIER) == 0)
			g_ptr_array_insert(tiers, 0, t);
		else
			g_ptr_array_add(tiers, t);
	}
	return t;
}

static gboolean parse_input_time(const char *value, const char *what, gint64 *out, GError **error)
{
	g_autoptr(GDateTime) when = NULL;

	if (value == NULL)
		return TRUE;
	when = g_date_time_new_from_iso8601(value, NULL);
	if (when == NULL || strchr(value, 'T') == NULL) {
		g_autofree char *escaped = ota_text_escape(value);

		return malformed(error,
				 "%s '%s' is not an RFC 3339 time (such as "
				 "2026-01-31T00:00:00Z)",
				 what, escaped);
	}
	*out = g_date_time_to_unix(when);
	return TRUE;
}

static gboolean add_anchors(GPtrArray *tiers, const OtaTrustAnchor *in, GError **error)
{
	OtaTrustTierEntry *t = tier_for(tiers, in->tier, error);
	g_autoptr(OtaX509Stack) certs = NULL;
	gint64 not_before = 0, not_after = 0;

	if (t == NULL || !parse_input_time(in->not_before, "not-before", &not_before, error) ||
	    !parse_input_time(in->not_after, "not-after", &not_after, error))
		return FALSE;
	certs = ota_keys_load_certificates(in->certificate, error);
	if (certs == NULL)
		return FALSE;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		OtaTrustAnchorEntry *a = anchor_new(sk_X509_value(certs, i));

		if (a == NULL)
			return malformed(error, "%s: cannot encode certificate %d", in->certificate,
					 i + 1);
		a->has_not_before = in->not_before != NULL;
		a->not_before = not_before;
		a->has_not_after = in->not_after != NULL;
		a->not_after = not_after;
		if (!check_window(a, in->certificate, error)) {
			anchor_free(a);
			return FALSE;
		}
		if (!tier_add_anchor(t, a, in->certificate, error))
			return FALSE;
	}
	return TRUE;
}

static void add_unique(GPtrArray *list, const char *hex)
{
	for (guint i = 0; i < list->len; i++) {
		if (strcmp(list->pdata[i], hex) == 0)
			return;
	}
	g_ptr_array_add(list, g_strdup(hex));
	g_ptr_array_sort(list, compare_strings);
}

static gboolean add_revocation(GPtrArray *tiers, const OtaTrustRevocation *in, GError **error)
{
	g_autoptr(OtaX509Stack) certs = NULL;
	OtaTrustTierEntry *only = NULL;

	if (in->tier != NULL) {
		only = find_tier(tiers, in->tier);
		if (only == NULL) {
			g_autofree char *escaped = ota_text_escape(in->tier);

			g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_NO_TIER,
				    "%s: revoked in tier '%s', which has no anchor", in->what,
				    escaped);
			return FALSE;
		}
	}
	certs = ota_keys_load_certificates(in->what, error);
	if (certs == NULL)
		return FALSE;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		g_autofree char *cert_sha256 = ota_x509_certificate_sha256(sk_X509_value(certs, i));
		g_autofree char *spki_sha256 = ota_x509_spki_sha256(sk_X509_value(certs, i));

		if (!is_sha256_hex(cert_sha256) || !is_sha256_hex(spki_sha256))
			return malformed(error, "%s: cannot digest certificate %d", in->what,
					 i + 1);
		for (guint j = 0; j < tiers->len; j++) {
			OtaTrustTierEntry *t = g_ptr_array_index(tiers, j);

			if (only != NULL && t != only)
				continue;
			add_unique(t->revoked_certs, cert_sha256);
			add_unique(t->revoked_spki, spki_sha256);
		}
	}
	return TRUE;
}

static gboolean apply_settings(GPtrArray *tiers, const OtaTrustTier *in, GError **error)
{
	OtaTrustTierEntry *t = find_tier(tiers, in->name ? in->name : "");

	if (t == NULL) {
		g_autofree char *escaped = ota_text_escape(in->name ? in->name : "");

		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_NO_TIER,
			    "tier '%s' has no anchor", escaped);
		return FALSE;
	}
	if (in->threshold < 1 || in->threshold > MAX_THRESHOLD)
		return malformed(error, "tier '%s': threshold %u is not from 1 to %u", t->name,
				 in->threshold, MAX_THRESHOLD);
	t->threshold = in->threshold;
	t->purpose = in->purpose;
	t->check_time = in->check_time;
	return TRUE;
}

GBytes *ota_trust_document_new(guint64 version, const OtaTrustTier *tiers, gsize n_tiers,
			       const OtaTrustAnchor *anchors, gsize n_anchors,
			       const OtaTrustRevocation *revocations, gsize n_revocations,
			       GError **error)
{
	g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)tier_free);
	g_autoptr(GBytes) document = NULL;
	g_autoptr(OtaTrust) check = NULL;
	g_autoptr(GError) ierror = NULL;

	if (version < 1 || version > (guint64)G_MAXINT64) {
		malformed(error, "version %" G_GUINT64_FORMAT " is not from 1 to %" G_GINT64_FORMAT,
			  version, G_MAXINT64);
		return NULL;
	}
	for (gsize i = 0; i < n_anchors; i++) {
		if (!add_anchors(list, &anchors[i], error))
			return NULL;
	}
	if (find_tier(list, DEFAULT_TIER) == NULL) {
		malformed(error, "no anchor for the '" DEFAULT_TIER "' tier, which is required");
		return NULL;
	}
	for (gsize i = 0; i < n_tiers; i++) {
		if (!apply_settings(list, &tiers[i], error))
			return NULL;
	}
	for (gsize i = 0; i < n_revocations; i++) {
		if (!add_revocation(list, &revocations[i], error))
			return NULL;
	}
	document = document_to_bytes(version, list);
	/* Whatever is written must read back. */
	check = ota_trust_parse(g_bytes_get_data(document, NULL), g_bytes_get_size(document),
				"trust document", &ierror);
	if (check == NULL) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_MALFORMED, "internal error: %s",
			    ierror->message);
		return NULL;
	}
	return g_steal_pointer(&document);
}
