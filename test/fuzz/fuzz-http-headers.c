/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: what an HTTP server and a user hand the HTTP reader
 * (http-private.h). The input is a server's header block, one line per
 * '\n'. Every line goes to ota_http_answer_add_line() as the reader's
 * header callback would pass it, and, on its own, to the parsers of a
 * Content-Range value, an ETag, a user's header and a URL for display.
 * An answer that passes ota_http_answer_check() must be exactly the range
 * asked for (206, bytes 0-9/10, the pinned ETag, no encoding); whatever is
 * refused has a one-line reason; an accepted user header has no line
 * break or control character; a URL for display is printable. */
#include "http-private.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PINNED_ETAG "\"v1\""

static void check_one_line(const GError *error)
{
	if (error != NULL && strchr(error->message, '\n') != NULL) {
		fprintf(stderr, "a message of more than one line: %s\n", error->message);
		abort();
	}
}

static void check_line(const char *line)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *shown = ota_http_url_for_display(line);
	guint64 first, last, total;

	if (ota_http_parse_content_range(line, &first, &last, &total) &&
	    !(first <= last && last < total)) {
		fprintf(stderr, "Content-Range accepted out of order: %s\n", line);
		abort();
	}
	if (ota_http_etag_is_strong(line) && (line[0] != '"' || strchr(line + 1, '"') !=
	                                                                line + strlen(line) - 1)) {
		fprintf(stderr, "a strong ETag that is not one quoted string: %s\n", line);
		abort();
	}
	if (ota_http_check_header(line, &error)) {
		for (const char *p = line; *p; p++) {
			if (((guchar)*p < 0x20 && *p != '\t') || *p == 0x7f) {
				fprintf(stderr, "a header with a control character accepted\n");
				abort();
			}
		}
		if (strchr(line, ':') == NULL)
			abort();
	}
	check_one_line(error);
	for (const char *p = shown; *p; p++) {
		if (!g_ascii_isprint(*p)) {
			fprintf(stderr, "a URL for display that is not printable\n");
			abort();
		}
	}
	(void)ota_http_same_origin(line, "http://127.0.0.1/b.raucb");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_auto(OtaHttpAnswer) answer = {0};
	g_autoptr(GError) error = NULL;
	const char *p = (const char *)data;
	const char *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (gsize)(end - p));
		gsize length = nl ? (gsize)(nl - p + 1) : (gsize)(end - p);
		g_autofree char *line = g_strndup(p, length);

		ota_http_answer_add_line(&answer, p, length);
		check_line(g_strchomp(line));
		p += length;
	}
	if (ota_http_answer_check(&answer, 0, 9, 10, PINNED_ETAG, NULL, &error)) {
		if (answer.status != 206 || !answer.complete || answer.malformed ||
		    !answer.has_range || answer.first != 0 || answer.last != 9 ||
		    answer.total != 10 || g_strcmp0(answer.etag, PINNED_ETAG) != 0 ||
		    !(answer.content_encoding == NULL || answer.content_encoding[0] == '\0' ||
		      g_ascii_strcasecmp(answer.content_encoding, "identity") == 0)) {
			fprintf(stderr, "an answer accepted that is not the range asked for\n");
			abort();
		}
	} else if (error == NULL || error->domain != OTA_HTTP_ERROR) {
		abort();
	}
	check_one_line(error);
	return 0;
}
