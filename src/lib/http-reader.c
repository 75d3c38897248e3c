/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An OtaReader over HTTP(S) range requests (http-private.h).
 *
 * The server is not trusted with anything but availability: every byte
 * handed out is checked later (CMS signature, verity tree). What this file
 * guards is the transport itself: that a range answer is the range asked
 * for of the file first seen (size and validator pinned by the first
 * request), that nothing is downloaded that wasn't asked for (a server
 * ignoring ranges is stopped at its headers), that credentials (URL
 * userinfo, the caller's headers) never leave the origin they were given
 * for, and that a flaky network costs retries, not the install. */
#include "http-private.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cancel-private.h"
#include "curl-private.h"

G_DEFINE_QUARK(ota-http-error-quark, ota_http_error)

#define CHUNK_SIZE (64 * 1024)
#define CHUNK_COUNT 16
#define TRAILER_SIZE 8
#define MAX_REDIRECTS 8 /* RAUC's CURLOPT_MAXREDIRS */
#define MAX_RETRIES 5
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 8000
#define MAX_CONNECT_TIMEOUT 20

/* ------------------------------------------------------------------ */
/* Parsers (pure, for the unit tests and the fuzz target) */

static gboolean is_tchar(char c)
{
	return g_ascii_isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Headers the reader writes itself: a caller's copy would replace it
 * (libcurl lets a custom header override its own) and break the range
 * checks, or ask for an encoding the reader refuses. */
static const char *const reserved_headers[] = {
	"Host", "Range", "If-Range", "Accept-Encoding", "TE", "Content-Length",
	"Transfer-Encoding", "Connection", "Upgrade", "Expect", NULL,
};

gboolean ota_http_check_header(const char *line, GError **error)
{
	const char *colon = strchr(line, ':');
	const char *value;
	g_autofree char *name = NULL;

	for (const char *p = line; *p; p++) {
		if (*p == '\r' || *p == '\n') {
			g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS,
			                    "a header may not contain a line break");
			return FALSE;
		}
	}
	if (colon == NULL || colon == line) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS,
		                    "not a header: expected \"Name: value\"");
		return FALSE;
	}
	for (const char *p = line; p < colon; p++) {
		if (!is_tchar(*p)) {
			g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS,
			                    "not a header: the name before ':' may only have "
			                    "letters, digits and !#$%&'*+-.^_`|~");
			return FALSE;
		}
	}
	name = g_strndup(line, (gsize)(colon - line));
	for (value = colon + 1; *value == ' ' || *value == '\t'; value++)
		;
	if (*value == '\0') {
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS, "header %s has no value",
		            name);
		return FALSE;
	}
	for (const char *p = value; *p; p++) {
		if ((guchar)*p < 0x20 && *p != '\t') {
			g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS,
			            "header %s has a control character in its value", name);
			return FALSE;
		}
		if ((guchar)*p == 0x7f) {
			g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS,
			            "header %s has a control character in its value", name);
			return FALSE;
		}
	}
	for (gsize i = 0; reserved_headers[i]; i++) {
		if (g_ascii_strcasecmp(name, reserved_headers[i]) == 0) {
			g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS,
			            "header %s is set by otabundle itself", reserved_headers[i]);
			return FALSE;
		}
	}
	return TRUE;
}

/* Decimal digits into a guint64, all of [@p, @end) and at least one. */
static gboolean parse_decimal(const char *p, const char *end, guint64 *value)
{
	guint64 v = 0;

	if (p == end)
		return FALSE;
	for (; p < end; p++) {
		if (!g_ascii_isdigit(*p))
			return FALSE;
		if (v > (G_MAXUINT64 - (guint64)(*p - '0')) / 10)
			return FALSE;
		v = v * 10 + (guint64)(*p - '0');
	}
	*value = v;
	return TRUE;
}

gboolean ota_http_parse_content_range(const char *value, guint64 *first, guint64 *last,
                                      guint64 *total)
{
	const char *dash, *slash, *end;
	guint64 a, b, n;

	if (g_ascii_strncasecmp(value, "bytes ", 6) != 0)
		return FALSE;
	value += 6;
	dash = strchr(value, '-');
	slash = dash ? strchr(dash, '/') : NULL;
	if (slash == NULL)
		return FALSE;
	end = slash + strlen(slash);
	if (!parse_decimal(value, dash, &a) || !parse_decimal(dash + 1, slash, &b) ||
	    !parse_decimal(slash + 1, end, &n))
		return FALSE;
	if (a > b || b >= n)
		return FALSE;
	*first = a;
	*last = b;
	*total = n;
	return TRUE;
}

gboolean ota_http_etag_is_strong(const char *etag)
{
	gsize len = strlen(etag);

	if (len < 2 || etag[0] != '"' || etag[len - 1] != '"')
		return FALSE;
	for (gsize i = 1; i + 1 < len; i++) {
		guchar c = (guchar)etag[i];

		/* etagc = %x21 / %x23-7E / obs-text */
		if (c == '"' || c < 0x21 || c == 0x7f)
			return FALSE;
	}
	return TRUE;
}

/* A parsed URL, or NULL. */
static CURLU *url_parse(const char *url)
{
	g_autoptr(CURLU) u = curl_url();

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		return NULL;
	return g_steal_pointer(&u);
}

static char *url_get(CURLU *u, CURLUPart part, unsigned int flags)
{
	char *s = NULL;
	char *copy;

	if (curl_url_get(u, part, &s, flags) != CURLUE_OK)
		return NULL;
	copy = g_strdup(s);
	curl_free(s);
	return copy;
}

gboolean ota_http_same_origin(const char *a, const char *b)
{
	g_autoptr(CURLU) ua = url_parse(a);
	g_autoptr(CURLU) ub = url_parse(b);
	g_autofree char *scheme_a = NULL, *scheme_b = NULL, *host_a = NULL, *host_b = NULL;
	g_autofree char *port_a = NULL, *port_b = NULL;

	if (ua == NULL || ub == NULL)
		return FALSE;
	scheme_a = url_get(ua, CURLUPART_SCHEME, 0);
	scheme_b = url_get(ub, CURLUPART_SCHEME, 0);
	host_a = url_get(ua, CURLUPART_HOST, 0);
	host_b = url_get(ub, CURLUPART_HOST, 0);
	port_a = url_get(ua, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	port_b = url_get(ub, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	if (!scheme_a || !scheme_b || !host_a || !host_b || !port_a || !port_b)
		return FALSE;
	return g_ascii_strcasecmp(scheme_a, scheme_b) == 0 &&
	       g_ascii_strcasecmp(host_a, host_b) == 0 && strcmp(port_a, port_b) == 0;
}

gboolean ota_http_is_url(const char *location)
{
	return g_ascii_strncasecmp(location, "http://", 7) == 0 ||
	       g_ascii_strncasecmp(location, "https://", 8) == 0;
}

/* Printable ASCII only, so a message stays one line whatever it quotes. */
static char *printable(const char *text, gsize max)
{
	GString *s = g_string_new(NULL);

	for (const char *p = text; *p && s->len < max; p++)
		g_string_append_c(s, g_ascii_isprint(*p) ? *p : '?');
	if (strlen(text) > max)
		g_string_append(s, "...");
	return g_string_free(s, FALSE);
}

char *ota_http_url_for_display(const char *url)
{
	g_autoptr(CURLU) u = url_parse(url);
	g_autofree char *shown = NULL;
	const char *start, *end, *at, *slash;
	GString *s;

	if (u != NULL && curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK &&
	    (shown = url_get(u, CURLUPART_URL, 0)) != NULL)
		return printable(shown, 512);

	/* Not a URL libcurl takes: cut the same parts by hand. */
	end = url + strcspn(url, "?#");
	s = g_string_new_len(url, end - url);
	start = strstr(s->str, "://");
	start = start ? start + 3 : s->str;
	slash = strchr(start, '/');
	at = memchr(start, '@', (gsize)((slash ? slash : s->str + s->len) - start));
	if (at != NULL)
		g_string_erase(s, start - s->str, at + 1 - start);
	shown = g_string_free(s, FALSE);
	return printable(shown, 512);
}

static gboolean parse_status_line(const char *line, gsize length, guint *status)
{
	gsize i = 5;

	if (length < 5 || memcmp(line, "HTTP/", 5) != 0)
		return FALSE;
	while (i < length && (g_ascii_isdigit(line[i]) || line[i] == '.'))
		i++;
	if (i == 5 || i >= length || line[i] != ' ')
		return FALSE;
	i++;
	if (length - i < 3 || !g_ascii_isdigit(line[i]) || !g_ascii_isdigit(line[i + 1]) ||
	    !g_ascii_isdigit(line[i + 2]) || (length - i > 3 && line[i + 3] != ' '))
		return FALSE;
	*status = (guint)((line[i] - '0') * 100 + (line[i + 1] - '0') * 10 + (line[i + 2] - '0'));
	return *status >= 100;
}

/* Stores @value in *@slot, or marks @a malformed if it is there already. */
static void take_once(OtaHttpAnswer *a, char **slot, const char *value)
{
	if (*slot != NULL) {
		a->malformed = TRUE;
		return;
	}
	*slot = g_strdup(value);
}

void ota_http_answer_clear(OtaHttpAnswer *a)
{
	g_free(a->etag);
	g_free(a->last_modified);
	g_free(a->content_encoding);
	g_free(a->location);
	memset(a, 0, sizeof(*a));
}

void ota_http_answer_add_line(OtaHttpAnswer *a, const char *line, gsize length)
{
	g_autofree char *name = NULL;
	g_autofree char *value = NULL;
	const char *colon;
	guint status;

	if (a->complete)
		return; /* trailers of a chunked body */
	if (length > 0 && line[length - 1] == '\n')
		length--;
	if (length > 0 && line[length - 1] == '\r')
		length--;
	if (memchr(line, '\0', length) != NULL || memchr(line, '\r', length) != NULL ||
	    memchr(line, '\n', length) != NULL) {
		a->malformed = TRUE;
		return;
	}
	if (length >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		/* A new block: an informational one (1xx) is forgotten. */
		gboolean malformed = a->malformed;

		ota_http_answer_clear(a);
		a->malformed = malformed;
		if (!parse_status_line(line, length, &status))
			a->malformed = TRUE;
		else
			a->status = status;
		return;
	}
	if (length == 0) {
		if (a->status == 0)
			a->malformed = TRUE;
		else if (a->status >= 200)
			a->complete = TRUE;
		return;
	}
	colon = memchr(line, ':', length);
	if (a->status == 0 || colon == NULL || colon == line || line[0] == ' ' || line[0] == '\t') {
		/* no status line first, not a header, or obsolete line folding */
		a->malformed = TRUE;
		return;
	}
	for (const char *p = line; p < colon; p++) {
		if (!is_tchar(*p)) {
			a->malformed = TRUE;
			return;
		}
	}
	name = g_strndup(line, (gsize)(colon - line));
	value = g_strndup(colon + 1, (gsize)(line + length - colon - 1));
	g_strstrip(value);

	if (g_ascii_strcasecmp(name, "Content-Range") == 0) {
		if (a->has_range ||
		    !ota_http_parse_content_range(value, &a->first, &a->last, &a->total)) {
			/* 416's "bytes * /N" is no range; a 206 without a
			 * usable one is refused by the check. */
			if (a->has_range || a->status == 206)
				a->malformed = TRUE;
			return;
		}
		a->has_range = TRUE;
	} else if (g_ascii_strcasecmp(name, "ETag") == 0) {
		take_once(a, &a->etag, value);
	} else if (g_ascii_strcasecmp(name, "Last-Modified") == 0) {
		take_once(a, &a->last_modified, value);
	} else if (g_ascii_strcasecmp(name, "Content-Encoding") == 0) {
		take_once(a, &a->content_encoding, value);
	} else if (g_ascii_strcasecmp(name, "Location") == 0) {
		take_once(a, &a->location, value);
	} else if (g_ascii_strcasecmp(name, "Retry-After") == 0) {
		guint64 seconds;

		if (parse_decimal(value, value + strlen(value), &seconds))
			a->retry_after = (guint)MIN(seconds, (guint64)G_MAXUINT);
	}
}

static gboolean is_identity(const char *content_encoding)
{
	return content_encoding == NULL || content_encoding[0] == '\0' ||
	       g_ascii_strcasecmp(content_encoding, "identity") == 0;
}

static gboolean check_validator(const char *what, const char *pinned, const char *now,
                                GError **error)
{
	g_autofree char *was = NULL, *is = NULL;

	if (pinned == NULL || g_strcmp0(pinned, now) == 0)
		return TRUE;
	was = printable(pinned, 64);
	if (now == NULL) {
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_CHANGED,
		            "changed on the server since the first request (its %s %s is gone)",
		            what, was);
		return FALSE;
	}
	is = printable(now, 64);
	g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_CHANGED,
	            "changed on the server since the first request (%s %s, was %s)", what, is,
	            was);
	return FALSE;
}

/* Whether @a is a 206 whose body is the range's bytes themselves (no
 * Content-Encoding but identity). */
static gboolean check_partial_content(const OtaHttpAnswer *a, GError **error)
{
	if (a->status != 206) {
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS, "HTTP status %u",
		            a->status);
		return FALSE;
	}
	if (!is_identity(a->content_encoding)) {
		g_autofree char *coding = printable(a->content_encoding, 32);
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS,
		            "the server encodes the range (Content-Encoding: %s)", coding);
		return FALSE;
	}
	return TRUE;
}

gboolean ota_http_answer_check(const OtaHttpAnswer *a, guint64 first, guint64 last,
                               guint64 total, const char *etag, const char *last_modified,
                               GError **error)
{
	if (!a->complete || a->malformed) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS,
		                    "malformed answer headers");
		return FALSE;
	}
	if (a->status == 200) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_CHANGED,
		                    "changed on the server since the first request (the whole "
		                    "file was sent for a range with If-Range)");
		return FALSE;
	}
	if (a->status == 416) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_CHANGED,
		                    "changed on the server since the first request (a range "
		                    "inside it is not satisfiable now)");
		return FALSE;
	}
	if (a->status >= 300 && a->status < 400) {
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_REDIRECT,
		            "a range request was redirected (HTTP status %u); only the first "
		            "request may be",
		            a->status);
		return FALSE;
	}
	if (!check_partial_content(a, error))
		return FALSE;
	if (!a->has_range) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS,
		                    "a 206 answer without a single Content-Range");
		return FALSE;
	}
	if (a->total != total) {
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_CHANGED,
		            "changed on the server since the first request (%" G_GUINT64_FORMAT
		            " bytes, was %" G_GUINT64_FORMAT ")",
		            a->total, total);
		return FALSE;
	}
	if (a->first != first || a->last != last) {
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS,
		            "asked for bytes %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
		            ", the server sent %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT,
		            first, last, a->first, a->last);
		return FALSE;
	}
	if (etag != NULL)
		return check_validator("ETag", etag, a->etag, error);
	return check_validator("Last-Modified", last_modified, a->last_modified, error);
}

/* ------------------------------------------------------------------ */
/* Header files and header lists */

char **ota_http_read_header_file(const char *path, GError **error)
{
	g_autoptr(GPtrArray) headers = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	gsize length;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		int saved = errno;
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS, "%s: %s", path,
		            g_strerror(saved));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS, "%s: not a regular file",
		            path);
		return NULL;
	}
	close(fd);
	/* Headers carry tokens: a file others may read or change is one
	 * whose secrets are not. */
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS,
		            "%s: group or others may access it (mode %04o): it may hold secrets; "
		            "chmod 600 it",
		            path, (unsigned)(st.st_mode & 07777));
		return NULL;
	}
	if (!g_file_get_contents(path, &text, &length, NULL)) {
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS, "%s: cannot be read",
		            path);
		return NULL;
	}
	if (memchr(text, '\0', length) != NULL) {
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS,
		            "%s: not a text file (a NUL byte)", path);
		return NULL;
	}
	lines = g_strsplit(text, "\n", -1);
	for (gsize i = 0; lines[i]; i++) {
		g_autoptr(GError) ierror = NULL;
		const char *line = lines[i];
		const char *p = line;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (!ota_http_check_header(line, &ierror)) {
			g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS, "%s: line %zu: %s",
			            path, i + 1, ierror->message);
			return NULL;
		}
		g_ptr_array_add(headers, g_strdup(line));
	}
	g_ptr_array_add(headers, NULL);
	return (char **)g_ptr_array_free(g_steal_pointer(&headers), FALSE);
}

/* ------------------------------------------------------------------ */
/* The reader */

typedef struct {
	guint64 index; /* offset / CHUNK_SIZE */
	guint8 *data;  /* NULL: unused */
	gsize length;
	guint64 used;
} Chunk;

struct HttpReader;

/* One request in flight. */
typedef struct {
	struct HttpReader *r;
	gboolean probe;
	guint64 first, last; /* asked for (not for the probe) */
	guint8 *dest;
	gsize capacity;
	gsize got;
	OtaHttpAnswer answer;
	gboolean accepted;  /* headers checked: the body goes to dest */
	gboolean redirect;  /* the probe's answer is a redirect */
	GError *error;      /* why a callback stopped the transfer */
	gboolean transient; /* ...and whether a retry may help */
} Transfer;

typedef struct HttpReader {
	OtaReader base;
	GMutex lock;
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	char *given_url; /* as given, without userinfo: the origin of credentials */
	char *url;       /* where the range requests go (after redirects), without userinfo */
	char *display;
	char *username, *password; /* from the given URL's userinfo */
	char **headers;
	char **info_headers;
	char *etag; /* the pinned validator: a strong ETag, */
	char *last_modified; /* else Last-Modified, else none */
	guint timeout;
	guint64 max_size;
	guint64 downloaded;
	guint8 trailer[TRAILER_SIZE];
	gsize trailer_length;
	Chunk chunks[CHUNK_COUNT];
	guint64 clock;
	OtaKeyStore *key_store;
	X509 *cert;
	EVP_PKEY *key;
} HttpReader;

static void http_reader_free(OtaReader *self)
{
	HttpReader *r = (HttpReader *)self;

	if (r->curl != NULL)
		curl_easy_cleanup(r->curl);
	g_free(r->given_url);
	g_free(r->url);
	g_free(r->display);
	if (r->password != NULL)
		explicit_bzero(r->password, strlen(r->password));
	g_free(r->username);
	g_free(r->password);
	g_strfreev(r->headers);
	g_strfreev(r->info_headers);
	g_free(r->etag);
	g_free(r->last_modified);
	for (gsize i = 0; i < CHUNK_COUNT; i++)
		g_free(r->chunks[i].data);
	X509_free(r->cert);
	EVP_PKEY_free(r->key);
	if (r->key_store != NULL)
		ota_key_store_unref(r->key_store);
	g_mutex_clear(&r->lock);
	g_free(r);
}

static void http_reader_destroy(HttpReader *r)
{
	http_reader_free(&r->base);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HttpReader, http_reader_destroy)

/* Records why a callback stops the transfer (the first reason wins). */
static void transfer_fail(Transfer *t, gboolean transient, GError *error)
{
	if (t->error == NULL) {
		t->error = error;
		t->transient = transient;
	} else {
		g_error_free(error);
	}
}

static gboolean check_probe_answer(HttpReader *r, const OtaHttpAnswer *a, GError **error)
{
	if (a->malformed) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS,
		                    "malformed answer headers");
		return FALSE;
	}
	if (a->status == 200) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_NO_RANGES,
		                    "the server ignores range requests (200 for a range), which "
		                    "streaming needs");
		return FALSE;
	}
	if (!check_partial_content(a, error))
		return FALSE;
	if (!a->has_range || a->last != a->total - 1 ||
	    a->first != a->total - MIN((guint64)TRAILER_SIZE, a->total)) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS,
		                    "the answer to a request for the last 8 bytes has no "
		                    "Content-Range naming them");
		return FALSE;
	}
	if (r->max_size != 0 && a->total > r->max_size) {
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TOO_LARGE,
		            "%" G_GUINT64_FORMAT " bytes, more than the limit of %" G_GUINT64_FORMAT
		            " (max-bundle-download-size)",
		            a->total, r->max_size);
		return FALSE;
	}
	return TRUE;
}

static gboolean is_transient_status(guint status)
{
	return status == 408 || status == 429 || (status >= 500 && status < 600);
}

/* Judges a complete header block; FALSE stops the transfer. */
static gboolean on_headers_complete(Transfer *t)
{
	HttpReader *r = t->r;
	OtaHttpAnswer *a = &t->answer;
	GError *error = NULL;

	if (t->probe && a->status >= 300 && a->status < 400 && a->status != 304 &&
	    a->location != NULL && !a->malformed) {
		t->redirect = TRUE;
		return FALSE; /* its body is of no interest */
	}
	if (t->probe ? !check_probe_answer(r, a, &error)
	             : !ota_http_answer_check(a, t->first, t->last, r->base.size, r->etag,
	                                      r->last_modified, &error)) {
		transfer_fail(t, error->code == OTA_HTTP_ERROR_STATUS && is_transient_status(a->status),
		              error);
		return FALSE;
	}
	if (t->probe)
		t->capacity = (gsize)(a->last - a->first + 1);
	t->accepted = TRUE;
	return TRUE;
}

static size_t on_header(char *data, size_t size, size_t n, void *user_data)
{
	Transfer *t = user_data;
	gsize length = size * n;
	gboolean was_complete = t->answer.complete;

	ota_http_answer_add_line(&t->answer, data, length);
	if (!was_complete && t->answer.complete && !on_headers_complete(t))
		return 0;
	return length;
}

static size_t on_body(char *data, size_t size, size_t n, void *user_data)
{
	Transfer *t = user_data;
	HttpReader *r = t->r;
	gsize length = size * n;

	if (!t->accepted) {
		/* A body before any header we checked (HTTP/0.9 or worse). */
		transfer_fail(t, FALSE,
		              g_error_new_literal(OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS,
		                                  "an answer without headers"));
		return 0;
	}
	if (length > t->capacity - t->got) {
		transfer_fail(t, FALSE,
		              g_error_new_literal(OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS,
		                                  "the server sent more than the range asked for"));
		return 0;
	}
	if (r->max_size != 0 && length > r->max_size - MIN(r->downloaded, r->max_size)) {
		transfer_fail(t, FALSE,
		              g_error_new(OTA_HTTP_ERROR, OTA_HTTP_ERROR_TOO_LARGE,
		                          "more than the limit of %" G_GUINT64_FORMAT
		                          " bytes downloaded, retries included "
		                          "(max-bundle-download-size)",
		                          r->max_size));
		return 0;
	}
	memcpy(t->dest + t->got, data, length);
	t->got += length;
	r->downloaded += length;
	return length;
}

static int on_progress(void *user_data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	return ota_cancel_check(NULL) ? 0 : 1;
}

static CURLcode on_ssl_ctx(CURL *curl, void *ssl_ctx, void *user_data)
{
	HttpReader *r = user_data;
	SSL_CTX *ctx = ssl_ctx;

	if (SSL_CTX_use_certificate(ctx, r->cert) != 1 || SSL_CTX_use_PrivateKey(ctx, r->key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		return CURLE_SSL_CERTPROBLEM;
	}
	return CURLE_OK;
}

static gboolean is_tls_error(CURLcode res)
{
	switch (res) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_USE_SSL_FAILED:
		return TRUE;
	default:
		return FALSE;
	}
}

static gboolean is_transient_error(CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
	case CURLE_QUIC_CONNECT_ERROR:
		return TRUE;
	default:
		return FALSE;
	}
}

/* The "Name: value" list of one request. Headers and the URL's userinfo
 * only go where they were given for. */
static OtaCurlList *request_headers(HttpReader *r, const char *url, gboolean probe)
{
	OtaCurlList *list = NULL;
	gboolean home = ota_http_same_origin(url, r->given_url);
	g_autofree char *if_range = NULL;

	for (gsize i = 0; home && r->headers && r->headers[i]; i++)
		list = curl_slist_append(list, r->headers[i]);
	for (gsize i = 0; home && probe && r->info_headers && r->info_headers[i]; i++)
		list = curl_slist_append(list, r->info_headers[i]);
	if (!probe && (r->etag != NULL || r->last_modified != NULL)) {
		if_range = g_strdup_printf("If-Range: %s", r->etag ? r->etag : r->last_modified);
		list = curl_slist_append(list, if_range);
	}
	return list;
}

/* One request of @url. FALSE with @error when it did not bring all of the
 * range (or, for the probe, a final answer); *@transient says whether a
 * retry may. */
static gboolean perform(HttpReader *r, const char *url, Transfer *t, gboolean *transient,
                        GError **error)
{
	g_autoptr(OtaCurlList) headers = request_headers(r, url, t->probe);
	g_autofree char *range = NULL;
	gboolean home = ota_http_same_origin(url, r->given_url);
	CURLcode res;

	*transient = FALSE;
	if (t->probe)
		range = g_strdup_printf("-%d", TRAILER_SIZE);
	else
		range = g_strdup_printf("%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT, t->first,
		                        t->last);
	r->errbuf[0] = '\0';
	curl_easy_setopt(r->curl, CURLOPT_URL, url);
	curl_easy_setopt(r->curl, CURLOPT_RANGE, range);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(r->curl, CURLOPT_USERNAME, home ? r->username : NULL);
	curl_easy_setopt(r->curl, CURLOPT_PASSWORD, home ? r->password : NULL);
	curl_easy_setopt(r->curl, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, t);
	res = curl_easy_perform(r->curl);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, NULL);

	if (t->error != NULL) {
		*transient = t->transient;
		g_propagate_error(error, g_steal_pointer(&t->error));
		return FALSE;
	}
	if (t->redirect)
		return TRUE;
	if (res == CURLE_ABORTED_BY_CALLBACK) {
		if (!ota_cancel_check(error))
			return FALSE;
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TRANSFER, "aborted");
		return FALSE;
	}
	if (res == CURLE_OPERATION_TIMEDOUT) {
		/* libcurl's "Connection timed out after N ms" or "Resolving
		 * timed out...", else its low-speed limit: no byte for timeout s */
		gboolean connecting = strstr(r->errbuf, "onnection timed out") != NULL ||
		                      strstr(r->errbuf, "esolving timed out") != NULL;

		*transient = TRUE;
		if (connecting)
			g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STALLED,
			            "no connection within %u s", MIN(r->timeout, MAX_CONNECT_TIMEOUT));
		else
			g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STALLED, "no data for %u s",
			            r->timeout);
		return FALSE;
	}
	if (res != CURLE_OK) {
		const char *what = r->errbuf[0] ? r->errbuf : curl_easy_strerror(res);
		g_autofree char *shown = printable(what, 256);

		/* A TLS 1.3 server refuses a client certificate after the
		 * handshake: the alert arrives as a receive error. */
		gboolean alert = (res == CURLE_RECV_ERROR || res == CURLE_SEND_ERROR) &&
		                 strstr(what, " alert ") != NULL;

		*transient = is_transient_error(res) && !alert;
		if (is_tls_error(res) || alert)
			g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TLS, "TLS: %s", shown);
		else
			g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TRANSFER, "%s", shown);
		return FALSE;
	}
	if (!t->answer.complete || !t->accepted) {
		*transient = TRUE;
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TRANSFER,
		                    "the answer ended in its headers");
		return FALSE;
	}
	if (t->got != t->capacity) {
		*transient = TRUE;
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TRANSFER,
		            "the answer ended after %zu of %zu bytes", t->got, t->capacity);
		return FALSE;
	}
	return TRUE;
}

/* Sleeps @ms in slices, so that a signal still stops the wait. */
static gboolean sleep_cancellable(guint ms, GError **error)
{
	for (guint slept = 0; slept < ms; slept += 100) {
		if (!ota_cancel_check(error))
			return FALSE;
		g_usleep(MIN(100, ms - slept) * 1000);
	}
	return ota_cancel_check(error);
}

static guint backoff_ms(guint failures, guint retry_after)
{
	guint ms = MIN((guint)BACKOFF_FIRST_MS << MIN(failures, 10u), (guint)BACKOFF_MAX_MS);

	if (retry_after > 0)
		ms = MAX(ms, MIN(retry_after, (guint)BACKOFF_MAX_MS / 1000) * 1000);
	return ms;
}

/* Retries @error's request after a back-off, or gives up: FALSE with
 * @error (amended) when it may not be retried or the retries are used. */
static gboolean retry_or_fail(guint *failures, gboolean transient, guint retry_after,
                              GError **error, GError *ierror)
{
	if (!transient) {
		g_propagate_error(error, ierror);
		return FALSE;
	}
	if (*failures >= MAX_RETRIES) {
		g_set_error(error, ierror->domain, ierror->code, "%s (gave up after %d retries)",
		            ierror->message, MAX_RETRIES);
		g_error_free(ierror);
		return FALSE;
	}
	g_error_free(ierror);
	if (!sleep_cancellable(backoff_ms(*failures, retry_after), error))
		return FALSE;
	(*failures)++;
	return TRUE;
}

/* Fetches [@offset, @offset + @length) into @dest, resuming where a
 * failed attempt stopped. */
static gboolean fetch(HttpReader *r, guint64 offset, guint8 *dest, gsize length, GError **error)
{
	gsize done = 0;
	guint failures = 0;

	while (done < length) {
		GError *ierror = NULL;
		gboolean transient;
		Transfer t = {
			.r = r,
			.first = offset + done,
			.last = offset + length - 1,
			.dest = dest + done,
			.capacity = length - done,
		};
		gboolean ok = perform(r, r->url, &t, &transient, &ierror);
		guint retry_after = t.answer.retry_after;

		done += t.got;
		ota_http_answer_clear(&t.answer);
		if (ok)
			break;
		if (t.got > 0)
			failures = 0; /* progress: the next stall gets all retries */
		if (!retry_or_fail(&failures, transient, retry_after, error, ierror))
			return FALSE;
	}
	return TRUE;
}

/* Where a Location leads from @base: an absolute http(s) URL without
 * userinfo, or NULL with @error. */
static char *redirect_target(const char *base, const char *location, GError **error)
{
	g_autoptr(CURLU) u = url_parse(base);
	g_autofree char *scheme = NULL;
	g_autofree char *base_scheme = NULL;
	char *target;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0) != CURLUE_OK ||
	    (scheme = url_get(u, CURLUPART_SCHEME, 0)) == NULL ||
	    (target = url_get(u, CURLUPART_URL, 0)) == NULL) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_REDIRECT,
		                    "redirected to something that is not a URL");
		return NULL;
	}
	base_scheme = g_uri_parse_scheme(base);
	if (g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0) {
		g_autofree char *shown = ota_http_url_for_display(target);
		g_free(target);
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_REDIRECT,
		            "redirected to %s: only http:// and https:// are followed", shown);
		return NULL;
	}
	if (g_ascii_strcasecmp(base_scheme, "https") == 0 &&
	    g_ascii_strcasecmp(scheme, "http") == 0) {
		g_autofree char *shown = ota_http_url_for_display(target);
		g_free(target);
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_REDIRECT,
		            "redirected from https to %s: refused, it would drop TLS", shown);
		return NULL;
	}
	return target;
}

/* The first request: the trailer, the size and the validator, following
 * redirects by hand. */
static gboolean probe(HttpReader *r, GError **error)
{
	g_autofree char *url = g_strdup(r->given_url);
	guint redirects = 0;
	guint failures = 0;

	for (;;) {
		GError *ierror = NULL;
		gboolean transient;
		Transfer t = {
			.r = r,
			.probe = TRUE,
			.dest = r->trailer,
			.capacity = TRAILER_SIZE,
		};
		gboolean ok = perform(r, url, &t, &transient, &ierror);

		if (ok && t.redirect) {
			char *next;

			if (redirects == MAX_REDIRECTS) {
				ota_http_answer_clear(&t.answer);
				g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_REDIRECT,
				            "more than %d redirects", MAX_REDIRECTS);
				return FALSE;
			}
			next = redirect_target(url, t.answer.location, error);
			ota_http_answer_clear(&t.answer);
			if (next == NULL)
				return FALSE;
			g_free(url);
			url = next;
			redirects++;
			failures = 0;
			continue;
		}
		if (ok) {
			r->trailer_length = t.got;
			r->base.size = t.answer.total;
			if (t.answer.etag != NULL && ota_http_etag_is_strong(t.answer.etag))
				r->etag = g_strdup(t.answer.etag);
			else if (t.answer.last_modified != NULL)
				r->last_modified = g_strdup(t.answer.last_modified);
			else
				g_debug("%s: neither a strong ETag nor Last-Modified: a change on the "
				        "server is only found by the signature and verity checks",
				        r->display);
			ota_http_answer_clear(&t.answer);
			break;
		}
		{
			guint retry_after = t.answer.retry_after;

			ota_http_answer_clear(&t.answer);
			if (!retry_or_fail(&failures, transient, retry_after, error, ierror))
				return FALSE;
		}
	}
	g_free(r->url);
	r->url = g_steal_pointer(&url);
	return TRUE;
}

static Chunk *chunk_get(HttpReader *r, guint64 index, GError **error)
{
	Chunk *victim = &r->chunks[0];
	guint64 start = index * CHUNK_SIZE;
	gsize length = (gsize)MIN((guint64)CHUNK_SIZE, r->base.size - start);

	for (gsize i = 0; i < CHUNK_COUNT; i++) {
		Chunk *c = &r->chunks[i];

		if (c->data != NULL && c->index == index) {
			c->used = ++r->clock;
			return c;
		}
		if (c->data == NULL || (victim->data != NULL && c->used < victim->used))
			victim = c;
	}
	if (victim->data == NULL)
		victim->data = g_malloc(CHUNK_SIZE);
	victim->used = 0;
	victim->length = 0;
	victim->index = G_MAXUINT64;
	if (!fetch(r, start, victim->data, length, error))
		return NULL;
	victim->index = index;
	victim->length = length;
	victim->used = ++r->clock;
	return victim;
}

static gboolean read_locked(HttpReader *r, guint64 offset, guint8 *buffer, gsize size,
                            GError **error)
{
	guint64 trailer_start = r->base.size - r->trailer_length;

	if (size == 0)
		return TRUE;
	if (offset >= trailer_start) {
		memcpy(buffer, r->trailer + (offset - trailer_start), size);
		return TRUE;
	}
	if (size >= CHUNK_SIZE)
		return fetch(r, offset, buffer, size, error);
	while (size > 0) {
		Chunk *c = chunk_get(r, offset / CHUNK_SIZE, error);
		gsize skip = (gsize)(offset % CHUNK_SIZE);
		gsize n;

		if (c == NULL)
			return FALSE;
		n = MIN(size, c->length - skip);
		memcpy(buffer, c->data + skip, n);
		buffer += n;
		offset += n;
		size -= n;
	}
	return TRUE;
}

/* OTA_HTTP_ERROR messages begin with the URL (http-private.h). */
static void prefix_http_error(HttpReader *r, GError **dest, GError *src)
{
	if (src->domain == OTA_HTTP_ERROR)
		g_propagate_prefixed_error(dest, src, "%s: ", r->display);
	else
		g_propagate_error(dest, src);
}

static gboolean http_reader_read_at(OtaReader *self, guint64 offset, void *buffer, gsize size,
                                    GError **error)
{
	HttpReader *r = (HttpReader *)self;
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&r->lock);
	g_autoptr(GError) ierror = NULL;

	if (read_locked(r, offset, buffer, size, &ierror))
		return TRUE;
	prefix_http_error(r, error, g_steal_pointer(&ierror));
	return FALSE;
}

guint64 ota_http_reader_get_downloaded(OtaReader *reader)
{
	HttpReader *r = (HttpReader *)reader;
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&r->lock);

	return r->downloaded;
}

static char **checked_headers(const char *const *headers, GError **error)
{
	g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);

	for (gsize i = 0; headers && headers[i]; i++) {
		if (!ota_http_check_header(headers[i], error))
			return NULL;
		g_ptr_array_add(list, g_strdup(headers[i]));
	}
	g_ptr_array_add(list, NULL);
	return (char **)g_ptr_array_free(g_steal_pointer(&list), FALSE);
}

/* The URL's own userinfo moves to r->username/password, sent by libcurl
 * only while the request goes to the URL's origin. */
static gboolean take_url(HttpReader *r, const char *url, GError **error)
{
	g_autoptr(CURLU) u = NULL;
	g_autofree char *scheme = NULL;

	if (!ota_http_is_url(url)) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_URL,
		                    "unsupported URL scheme (http:// and https:// are)");
		return FALSE;
	}
	u = url_parse(url);
	if (u == NULL) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_URL, "not a valid URL");
		return FALSE;
	}
	r->username = url_get(u, CURLUPART_USER, CURLU_URLDECODE);
	r->password = url_get(u, CURLUPART_PASSWORD, CURLU_URLDECODE);
	if (r->password != NULL && r->username == NULL)
		r->username = g_strdup("");
	if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0) != CURLUE_OK ||
	    (r->given_url = url_get(u, CURLUPART_URL, 0)) == NULL) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_URL, "not a valid URL");
		return FALSE;
	}
	return TRUE;
}

static gboolean setup_client_key(HttpReader *r, const OtaHttpOptions *o, GError **error)
{
	const char *cert = o->tls_cert;
	const char *key = o->tls_key ? o->tls_key : o->tls_cert;
	const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);

	if (cert == NULL && key == NULL)
		return TRUE;
	if (cert == NULL) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TLS,
		                    "a TLS client key needs its certificate (tls-cert)");
		return FALSE;
	}
	if (!ota_keys_is_pkcs11_uri(cert) && !ota_keys_is_pkcs11_uri(key)) {
		curl_easy_setopt(r->curl, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(r->curl, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(r->curl, CURLOPT_SSLKEY, key);
		curl_easy_setopt(r->curl, CURLOPT_SSLKEYTYPE, "PEM");
		return TRUE;
	}
	/* A token's key never leaves it: OpenSSL (through libp11) signs the
	 * handshake with it, so libcurl must use the OpenSSL we use. */
	if (info->ssl_version == NULL || !g_str_has_prefix(info->ssl_version, "OpenSSL")) {
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TLS,
		            "a pkcs11: TLS client key needs libcurl built with OpenSSL, not %s",
		            info->ssl_version ? info->ssl_version : "without TLS");
		return FALSE;
	}
	r->key_store = o->key_store ? ota_key_store_ref(o->key_store) : ota_key_store_new(NULL);
	r->cert = ota_key_store_load_certificate(r->key_store, cert, error);
	if (r->cert == NULL)
		return FALSE;
	r->key = ota_key_store_load_private_key(r->key_store, key, error);
	if (r->key == NULL)
		return FALSE;
	if (X509_check_private_key(r->cert, r->key) != 1) {
		g_autofree char *shown = ota_keys_uri_for_display(key);
		ERR_clear_error();
		g_set_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TLS,
		            "the TLS client key %s does not belong to its certificate", shown);
		return FALSE;
	}
	curl_easy_setopt(r->curl, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	curl_easy_setopt(r->curl, CURLOPT_SSL_CTX_DATA, r);
	return TRUE;
}

static gboolean setup(HttpReader *r, const char *url, const OtaHttpOptions *o, GError **error)
{
	guint timeout = o->timeout ? o->timeout : OTA_HTTP_DEFAULT_TIMEOUT;

	r->timeout = timeout;
	r->max_size = o->max_size;
	if (!take_url(r, url, error))
		return FALSE;
	r->headers = checked_headers(o->headers, error);
	if (r->headers == NULL)
		return FALSE;
	r->info_headers = checked_headers(o->info_headers, error);
	if (r->info_headers == NULL)
		return FALSE;

	ota_curl_init_once();
	r->curl = curl_easy_init();
	if (r->curl == NULL) {
		g_set_error_literal(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_TRANSFER,
		                    "cannot set up an HTTP transfer");
		return FALSE;
	}
	/* Each setopt below takes a value it knows: failures are out of memory
	 * or a libcurl without HTTPS, which perform() reports. */
	curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->curl, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->curl, CURLOPT_USERAGENT, "otabundle");
	curl_easy_setopt(r->curl, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	curl_easy_setopt(r->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	/* A stall, not a slow link, is an error: no total timeout. */
	curl_easy_setopt(r->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(r->curl, CURLOPT_LOW_SPEED_TIME, (long)timeout);
	curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT, (long)MIN(timeout, MAX_CONNECT_TIMEOUT));
	curl_easy_setopt(r->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(r->curl, CURLOPT_NOPROGRESS, 0L);
	if (o->tls_ca != NULL) {
		/* These CAs only, not the system's as well. */
		curl_easy_setopt(r->curl, CURLOPT_CAINFO, o->tls_ca);
		curl_easy_setopt(r->curl, CURLOPT_CAPATH, NULL);
	}
	if (o->tls_no_verify) {
		curl_easy_setopt(r->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(r->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (!setup_client_key(r, o, error))
		return FALSE;
	return probe(r, error);
}

OtaReader *ota_http_reader_new(const char *url, const OtaHttpOptions *options, GError **error)
{
	static const OtaHttpOptions defaults = {0};
	g_autoptr(HttpReader) r = g_new0(HttpReader, 1);
	g_autoptr(GError) ierror = NULL;

	g_mutex_init(&r->lock);
	r->base.read_at = http_reader_read_at;
	r->base.free = http_reader_free;
	r->display = ota_http_url_for_display(url);
	if (!setup(r, url, options ? options : &defaults, &ierror)) {
		prefix_http_error(r, error, g_steal_pointer(&ierror));
		return NULL;
	}
	return &g_steal_pointer(&r)->base;
}
