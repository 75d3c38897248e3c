/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a bundle from an HTTP(S) server with range requests
 * (http-reader.c); not installed. The transport only delivers bytes:
 * everything it hands out is checked by the bundle layer (signature,
 * verity tree) before it is trusted. */
#pragma once

#include "keys-private.h"
#include "reader-private.h"

G_BEGIN_DECLS

#define OTA_HTTP_ERROR ota_http_error_quark()
GQuark ota_http_error_quark(void);

typedef enum {
	OTA_HTTP_ERROR_URL,       /* not an http:// or https:// URL we can use */
	OTA_HTTP_ERROR_TRANSFER,  /* connection failed, dropped, retries exhausted */
	OTA_HTTP_ERROR_STATUS,    /* an HTTP status other than the one expected */
	OTA_HTTP_ERROR_NO_RANGES, /* the server ignores range requests (200 for 206) */
	OTA_HTTP_ERROR_CHANGED,   /* size, ETag or Last-Modified changed since the start */
	OTA_HTTP_ERROR_STALLED,   /* no progress for the timeout */
	OTA_HTTP_ERROR_TOO_LARGE, /* larger than max_size, or more downloaded than that */
	OTA_HTTP_ERROR_TLS,       /* certificate, key or handshake */
	OTA_HTTP_ERROR_REDIRECT,  /* too many, to another scheme, or where not allowed */
	OTA_HTTP_ERROR_HEADERS,   /* a header file or header that can't be used */
} OtaHttpError;

/* The default of [streaming] timeout= and --timeout, seconds. */
#define OTA_HTTP_DEFAULT_TIMEOUT 60
#define OTA_HTTP_MAX_TIMEOUT 3600

typedef struct {
	const char *tls_ca;   /* PEM CA file used instead of the system store, or NULL */
	const char *tls_cert; /* client certificate: PEM file or pkcs11: URI, or NULL */
	const char *tls_key;  /* client key: PEM file or pkcs11: URI, or NULL */
	OtaKeyStore *key_store; /* for pkcs11: URIs (borrowed), or NULL */
	gboolean tls_no_verify; /* RAUC's --tls-no-verify: integrity still comes
	                         * from the signature */
	/* "Name: value" lines sent with every request while the request goes
	 * to the scheme, host and port of the URL given (never after a
	 * redirect elsewhere); NULL-terminated, or NULL. */
	const char *const *headers;
	/* Sent with the first request only (RAUC's send-headers). */
	const char *const *info_headers;
	guint timeout;    /* seconds without progress before giving up; 0: default */
	guint64 max_size; /* the bundle's size and the bytes downloaded in all
	                   * (retries included) may not exceed it; 0: no limit */
} OtaHttpOptions;

/* Whether @location is an http:// or https:// URL (else a path). */
gboolean ota_http_is_url(const char *location);

/* A reader of the whole bundle at @url. Makes the first request (the last
 * 8 bytes: the trailer, a range request that pins the size and the ETag or
 * Last-Modified), following up to 8 redirects by hand; every later read is
 * a range request of the final URL with If-Range, its answer checked
 * (206, Content-Range exactly as asked, same size and validator) before a
 * body byte is accepted. Bounded retries with back-off resume a dropped
 * transfer where it stopped. Reads of at least 64 KiB go straight to the
 * server; smaller ones are served from a small cache of aligned 64 KiB
 * chunks. Cancellable (cancel-private.h). Every error message of the
 * OTA_HTTP_ERROR domain begins with the URL without user, password or
 * query ("https://host/b.raucb: no data for 60 s"), so callers don't
 * prefix it again; other domains (G_IO_ERROR_CANCELLED, OTA_KEYS_ERROR
 * for a pkcs11: key) don't. */
OtaReader *ota_http_reader_new(const char *url, const OtaHttpOptions *options, GError **error);

/* Bytes of body received by @reader (an ota_http_reader_new() result) so
 * far, retries included. */
guint64 ota_http_reader_get_downloaded(OtaReader *reader);

/* @url for messages, logs and the state: without user, password, query
 * or fragment (they may carry credentials). */
char *ota_http_url_for_display(const char *url);

/* One "Name: value" header per line of the file @path (blank lines and
 * lines starting with # skipped); a line that isn't a header, or a file
 * others may read, is refused. NULL-terminated; g_strfreev(). Errors
 * begin with @path. */
char **ota_http_read_header_file(const char *path, GError **error);

/* Parsers of what a server or a user hands the reader, for the unit tests
 * and the fuzz target (test/fuzz/fuzz-http-headers.c). */

/* Whether @line is a "Name: value" header we may send: the name a token
 * (RFC 9110), the value not empty and without CR, LF or other control
 * characters (no header injection), and not one the reader sets itself
 * (Range, If-Range, Host, Accept-Encoding...). OTA_HTTP_ERROR_HEADERS. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_http_check_header(const char *line, GError **error);

/* "bytes FIRST-LAST/TOTAL" with FIRST <= LAST < TOTAL, nothing else
 * (not "*" for the total). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_http_parse_content_range(const char *value, guint64 *first, guint64 *last,
                                      guint64 *total);

/* Whether @etag is a strong entity tag: "opaque" without W/. */
gboolean ota_http_etag_is_strong(const char *etag);

/* Whether @a and @b have the same scheme, host and port (default ports
 * filled in); FALSE when either doesn't parse. */
gboolean ota_http_same_origin(const char *a, const char *b);

/* What the reader learns from the header lines of one answer, as a
 * server sends them (CRLF-terminated, a blank line ending each block). */
typedef struct {
	guint status;          /* of the last status line; 0: none yet */
	gboolean complete;     /* the blank line after a final (non-1xx) block */
	gboolean malformed;    /* a line that isn't a header, or a repeated one we use */
	gboolean has_range;    /* Content-Range parsed */
	guint64 first, last, total;
	char *etag;            /* as sent, trimmed; NULL if absent */
	char *last_modified;
	char *content_encoding;
	char *location;
	guint retry_after;     /* seconds; 0: absent or a date */
} OtaHttpAnswer;

/* Adds one header line (@length bytes, CRLF included or not) to @answer; a
 * status line starts a new block. Lines after the final block (trailers)
 * are ignored. */
void ota_http_answer_add_line(OtaHttpAnswer *answer, const char *line, gsize length);
void ota_http_answer_clear(OtaHttpAnswer *answer);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(OtaHttpAnswer, ota_http_answer_clear)

/* Whether @answer (complete) is the one a range request of
 * [@first, @last] of a @total-byte file may have, before any body byte is
 * taken: 206, Content-Range exactly [@first, @last]/@total, no
 * Content-Encoding but identity, and the pinned @etag (or else
 * @last_modified, when not NULL) unchanged. The error code says what is
 * wrong (NO_RANGES is never used here: a 200 is CHANGED). */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_http_answer_check(const OtaHttpAnswer *answer, guint64 first, guint64 last,
                               guint64 total, const char *etag, const char *last_modified,
                               GError **error);

G_END_DECLS
