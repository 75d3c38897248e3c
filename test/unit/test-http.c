/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HTTP reader's parsers (http-private.h): what a server answers and
 * what a user gives as headers. The transfers themselves are tested
 * against a real lighttpd in test-http-server.c. */
#include "http-private.h"

#include <string.h>
#include <sys/stat.h>

#include "pki.h"

/* ---- Content-Range */

static void test_content_range_parses_a_range_and_total(void)
{
	guint64 first = 0, last = 0, total = 0;

	g_assert_true(ota_http_parse_content_range("bytes 100-199/1000", &first, &last, &total));
	g_assert_cmpuint(first, ==, 100);
	g_assert_cmpuint(last, ==, 199);
	g_assert_cmpuint(total, ==, 1000);
}

static void test_content_range_accepts_the_largest_sizes(void)
{
	guint64 first, last, total;

	g_assert_true(ota_http_parse_content_range("bytes 0-18446744073709551614/18446744073709551615",
	                                           &first, &last, &total));
	g_assert_cmpuint(total, ==, G_MAXUINT64);
}

static void test_content_range_refuses_an_unknown_total(void)
{
	guint64 first, last, total;

	g_assert_false(ota_http_parse_content_range("bytes 0-9/*", &first, &last, &total));
	g_assert_false(ota_http_parse_content_range("bytes */100", &first, &last, &total));
}

static void test_content_range_refuses_a_range_past_the_total(void)
{
	guint64 first, last, total;

	g_assert_false(ota_http_parse_content_range("bytes 0-100/100", &first, &last, &total));
	g_assert_false(ota_http_parse_content_range("bytes 9-8/100", &first, &last, &total));
}

static void test_content_range_refuses_overflowing_numbers(void)
{
	guint64 first, last, total;

	g_assert_false(ota_http_parse_content_range("bytes 0-1/18446744073709551616", &first, &last,
	                                            &total));
}

static void test_content_range_refuses_signs_spaces_and_other_units(void)
{
	static const char *const bad[] = {
		"bytes -1-5/10", "bytes +1-5/10", "bytes 1 -5/10", "bytes 1-5/10 ", "bytes 1-5/ 10",
		"items 1-5/10",  "bytes=1-5/10",  "bytes 1-5",     "bytes 1-/10",   "bytes -5/10",
		"bytes 0x1-5/10", "",
	};
	guint64 first, last, total;

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_false(ota_http_parse_content_range(bad[i], &first, &last, &total));
}

/* ---- ETag */

static void test_etag_quoted_is_strong(void)
{
	g_assert_true(ota_http_etag_is_strong("\"abc-123\""));
	g_assert_true(ota_http_etag_is_strong("\"\""));
}

static void test_etag_weak_or_unquoted_is_not_strong(void)
{
	g_assert_false(ota_http_etag_is_strong("W/\"abc\""));
	g_assert_false(ota_http_etag_is_strong("abc"));
	g_assert_false(ota_http_etag_is_strong("\"a\"b\""));
	g_assert_false(ota_http_etag_is_strong("\"a b\""));
	g_assert_false(ota_http_etag_is_strong("\""));
	g_assert_false(ota_http_etag_is_strong(""));
}

/* ---- URLs */

static void test_display_url_drops_userinfo_query_and_fragment(void)
{
	g_autofree char *shown =
		ota_http_url_for_display("https://user:secret@example.com:8443/b.raucb?token=abc#x");

	g_assert_cmpstr(shown, ==, "https://example.com:8443/b.raucb");
}

static void test_display_url_of_a_plain_url_is_unchanged(void)
{
	g_autofree char *shown = ota_http_url_for_display("http://127.0.0.1/dir/b.raucb");

	g_assert_cmpstr(shown, ==, "http://127.0.0.1/dir/b.raucb");
}

static void test_display_url_of_a_broken_url_still_drops_credentials(void)
{
	g_autofree char *shown = ota_http_url_for_display("http://user:pw@exa mple/x?sig=1");

	g_assert_null(strstr(shown, "pw"));
	g_assert_null(strstr(shown, "sig"));
}

static void test_display_url_is_one_printable_line(void)
{
	g_autofree char *shown = ota_http_url_for_display("http://h/a\nb\x1b[31m");

	for (const char *p = shown; *p; p++)
		g_assert_true(g_ascii_isprint(*p));
}

static void test_same_origin_fills_in_default_ports(void)
{
	g_assert_true(ota_http_same_origin("https://example.com/a", "https://EXAMPLE.com:443/b?c"));
	g_assert_true(ota_http_same_origin("http://u:p@h/a", "http://h:80/"));
}

static void test_same_origin_differs_by_scheme_host_or_port(void)
{
	g_assert_false(ota_http_same_origin("https://example.com/a", "http://example.com/a"));
	g_assert_false(ota_http_same_origin("https://example.com/a", "https://example.org/a"));
	g_assert_false(ota_http_same_origin("http://h:8080/a", "http://h/a"));
	g_assert_false(ota_http_same_origin("http://h/a", "not a url"));
}

static void test_is_url_takes_http_and_https_only(void)
{
	g_assert_true(ota_http_is_url("http://h/b"));
	g_assert_true(ota_http_is_url("HTTPS://h/b"));
	g_assert_false(ota_http_is_url("ftp://h/b"));
	g_assert_false(ota_http_is_url("/srv/b.raucb"));
	g_assert_false(ota_http_is_url("http:b"));
}

/* ---- headers given by the user */

static void test_header_name_value_is_accepted(void)
{
	g_assert_true(ota_http_check_header("Authorization: Bearer abc.def", NULL));
	g_assert_true(ota_http_check_header("X-Token:abc", NULL));
}

static void test_header_with_a_line_break_is_refused_as_injection(void)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_http_check_header("X-Token: a\r\nX-Evil: 1", &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS);
	g_assert_false(ota_http_check_header("X-Token: a\nHost: evil", NULL));
	g_assert_false(ota_http_check_header("X-Token: a\r", NULL));
}

static void test_header_with_a_control_character_is_refused(void)
{
	g_assert_false(ota_http_check_header("X-Token: a\x01", NULL));
	g_assert_false(ota_http_check_header("X-Token: a\x7f", NULL));
	g_assert_true(ota_http_check_header("X-Token: a\tb", NULL));
}

static void test_header_name_with_invalid_characters_is_refused(void)
{
	g_assert_false(ota_http_check_header("X Token: a", NULL));
	g_assert_false(ota_http_check_header("X(Token): a", NULL));
	g_assert_false(ota_http_check_header(": a", NULL));
	g_assert_false(ota_http_check_header("no colon", NULL));
}

static void test_header_without_a_value_is_refused(void)
{
	/* libcurl would take "Name:" as "remove this header of mine" */
	g_assert_false(ota_http_check_header("Accept:", NULL));
	g_assert_false(ota_http_check_header("X-Token:  ", NULL));
}

static void test_header_the_reader_sets_itself_is_refused(void)
{
	g_autoptr(GError) error = NULL;

	g_assert_false(ota_http_check_header("range: bytes=0-", &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS);
	g_assert_nonnull(strstr(error->message, "Range"));
	g_assert_false(ota_http_check_header("If-Range: \"x\"", NULL));
	g_assert_false(ota_http_check_header("Accept-Encoding: gzip", NULL));
	g_assert_false(ota_http_check_header("Host: evil", NULL));
}

/* ---- header files */

typedef struct {
	char *dir;
	char *path;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
	f->dir = test_tmpdir_new();
	f->path = g_build_filename(f->dir, "headers", NULL);
}

static void teardown(Fixture *f, gconstpointer data)
{
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(chmod(path, mode), ==, 0);
}

static void test_header_file_gives_its_lines(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) headers = NULL;

	write_file(f->path, "# the update server's token\nX-Token: abc\n\n  \nX-Fleet: test\n", 0600);
	headers = ota_http_read_header_file(f->path, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_strv_length(headers), ==, 2);
	g_assert_cmpstr(headers[0], ==, "X-Token: abc");
	g_assert_cmpstr(headers[1], ==, "X-Fleet: test");
}

static void test_header_file_others_may_read_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) headers = NULL;

	write_file(f->path, "X-Token: abc\n", 0644);
	headers = ota_http_read_header_file(f->path, &error);
	g_assert_null(headers);
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS);
	g_assert_nonnull(strstr(error->message, f->path));
	g_assert_nonnull(strstr(error->message, "0644"));
}

static void test_header_file_the_group_may_read_is_refused(Fixture *f, gconstpointer data)
{
	write_file(f->path, "X-Token: abc\n", 0640);
	g_assert_null(ota_http_read_header_file(f->path, NULL));
}

static void test_header_file_with_a_malformed_line_is_refused(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	write_file(f->path, "X-Token: abc\nnot a header\n", 0600);
	g_assert_null(ota_http_read_header_file(f->path, &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS);
	g_assert_nonnull(strstr(error->message, "line 2"));
}

static void test_header_file_with_crlf_lines_is_refused(Fixture *f, gconstpointer data)
{
	write_file(f->path, "X-Token: abc\r\n", 0600);
	g_assert_null(ota_http_read_header_file(f->path, NULL));
}

static void test_header_file_missing_is_an_error(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_null(ota_http_read_header_file(f->path, &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_HEADERS);
}

/* ---- answers */

static void add_lines(OtaHttpAnswer *a, const char *const *lines)
{
	for (gsize i = 0; lines[i]; i++)
		ota_http_answer_add_line(a, lines[i], strlen(lines[i]));
}

static void test_answer_206_as_asked_passes(void)
{
	static const char *const lines[] = {
		"HTTP/1.1 206 Partial Content\r\n", "Content-Range: bytes 10-19/100\r\n",
		"ETag: \"v1\"\r\n", "Content-Length: 10\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};
	g_autoptr(GError) error = NULL;

	add_lines(&a, lines);
	g_assert_true(a.complete);
	g_assert_true(ota_http_answer_check(&a, 10, 19, 100, "\"v1\"", NULL, &error));
	g_assert_no_error(error);
}

static void test_answer_http2_lowercase_headers_pass(void)
{
	static const char *const lines[] = {
		"HTTP/2 206 \r\n", "content-range: bytes 0-0/5\r\n",
		"last-modified: Mon, 30 Nov 2026 10:00:00 GMT\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};

	add_lines(&a, lines);
	g_assert_true(ota_http_answer_check(&a, 0, 0, 5, NULL, "Mon, 30 Nov 2026 10:00:00 GMT",
	                                    NULL));
}

static void test_answer_after_100_continue_is_the_final_one(void)
{
	static const char *const lines[] = {
		"HTTP/1.1 100 Continue\r\n", "\r\n", "HTTP/1.1 206 Partial Content\r\n",
		"Content-Range: bytes 0-9/10\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};

	add_lines(&a, lines);
	g_assert_cmpuint(a.status, ==, 206);
	g_assert_true(ota_http_answer_check(&a, 0, 9, 10, NULL, NULL, NULL));
}

static void test_answer_200_for_a_range_means_changed(void)
{
	static const char *const lines[] = {"HTTP/1.1 200 OK\r\n", "ETag: \"v2\"\r\n", "\r\n", NULL};
	g_auto(OtaHttpAnswer) a = {0};
	g_autoptr(GError) error = NULL;

	add_lines(&a, lines);
	g_assert_false(ota_http_answer_check(&a, 0, 9, 10, "\"v1\"", NULL, &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_CHANGED);
}

static void test_answer_with_another_etag_is_changed(void)
{
	/* A server that ignores If-Range sends the new file's range. */
	static const char *const lines[] = {
		"HTTP/1.1 206 Partial Content\r\n", "Content-Range: bytes 0-9/10\r\n",
		"ETag: \"v2\"\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};
	g_autoptr(GError) error = NULL;

	add_lines(&a, lines);
	g_assert_false(ota_http_answer_check(&a, 0, 9, 10, "\"v1\"", NULL, &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_CHANGED);
}

static void test_answer_without_the_pinned_etag_is_changed(void)
{
	static const char *const lines[] = {
		"HTTP/1.1 206 Partial Content\r\n", "Content-Range: bytes 0-9/10\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};
	g_autoptr(GError) error = NULL;

	add_lines(&a, lines);
	g_assert_false(ota_http_answer_check(&a, 0, 9, 10, "\"v1\"", NULL, &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_CHANGED);
}

static void test_answer_with_another_total_is_changed(void)
{
	static const char *const lines[] = {
		"HTTP/1.1 206 Partial Content\r\n", "Content-Range: bytes 0-9/11\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};
	g_autoptr(GError) error = NULL;

	add_lines(&a, lines);
	g_assert_false(ota_http_answer_check(&a, 0, 9, 10, NULL, NULL, &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_CHANGED);
}

static void test_answer_with_another_range_is_refused(void)
{
	static const char *const lines[] = {
		"HTTP/1.1 206 Partial Content\r\n", "Content-Range: bytes 0-19/100\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};
	g_autoptr(GError) error = NULL;

	add_lines(&a, lines);
	g_assert_false(ota_http_answer_check(&a, 0, 9, 100, NULL, NULL, &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS);
}

static void test_answer_with_two_content_ranges_is_malformed(void)
{
	static const char *const lines[] = {
		"HTTP/1.1 206 Partial Content\r\n", "Content-Range: bytes 0-9/100\r\n",
		"Content-Range: bytes 50-59/100\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};

	add_lines(&a, lines);
	g_assert_true(a.malformed);
	g_assert_false(ota_http_answer_check(&a, 0, 9, 100, NULL, NULL, NULL));
}

static void test_answer_compressed_is_refused(void)
{
	static const char *const lines[] = {
		"HTTP/1.1 206 Partial Content\r\n", "Content-Range: bytes 0-9/100\r\n",
		"Content-Encoding: gzip\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};
	g_autoptr(GError) error = NULL;

	add_lines(&a, lines);
	g_assert_false(ota_http_answer_check(&a, 0, 9, 100, NULL, NULL, &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS);
	g_assert_nonnull(strstr(error->message, "gzip"));
}

static void test_answer_redirect_on_a_range_request_is_refused(void)
{
	static const char *const lines[] = {
		"HTTP/1.1 302 Found\r\n", "Location: http://elsewhere/b\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};
	g_autoptr(GError) error = NULL;

	add_lines(&a, lines);
	g_assert_cmpstr(a.location, ==, "http://elsewhere/b");
	g_assert_false(ota_http_answer_check(&a, 0, 9, 100, NULL, NULL, &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_REDIRECT);
}

static void test_answer_header_folding_is_malformed(void)
{
	static const char *const lines[] = {
		"HTTP/1.1 206 Partial Content\r\n", "Content-Range: bytes 0-9/100\r\n",
		" continued\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};

	add_lines(&a, lines);
	g_assert_true(a.malformed);
}

static void test_answer_without_a_status_line_is_malformed(void)
{
	static const char *const lines[] = {"Content-Range: bytes 0-9/100\r\n", "\r\n", NULL};
	g_auto(OtaHttpAnswer) a = {0};

	add_lines(&a, lines);
	g_assert_true(a.malformed);
	g_assert_false(a.complete);
}

static void test_answer_trailers_are_ignored(void)
{
	static const char *const lines[] = {
		"HTTP/1.1 206 Partial Content\r\n", "Content-Range: bytes 0-9/100\r\n", "\r\n",
		"ETag: \"late\"\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};

	add_lines(&a, lines);
	g_assert_null(a.etag);
	g_assert_false(a.malformed);
}

static void test_answer_retry_after_seconds_are_read(void)
{
	static const char *const lines[] = {
		"HTTP/1.1 503 Service Unavailable\r\n", "Retry-After: 3\r\n", "\r\n", NULL,
	};
	g_auto(OtaHttpAnswer) a = {0};
	g_autoptr(GError) error = NULL;

	add_lines(&a, lines);
	g_assert_cmpuint(a.retry_after, ==, 3);
	g_assert_false(ota_http_answer_check(&a, 0, 9, 100, NULL, NULL, &error));
	g_assert_error(error, OTA_HTTP_ERROR, OTA_HTTP_ERROR_STATUS);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/http/content-range/parses-a-range-and-total",
	                test_content_range_parses_a_range_and_total);
	g_test_add_func("/http/content-range/accepts-the-largest-sizes",
	                test_content_range_accepts_the_largest_sizes);
	g_test_add_func("/http/content-range/refuses-an-unknown-total",
	                test_content_range_refuses_an_unknown_total);
	g_test_add_func("/http/content-range/refuses-a-range-past-the-total",
	                test_content_range_refuses_a_range_past_the_total);
	g_test_add_func("/http/content-range/refuses-overflowing-numbers",
	                test_content_range_refuses_overflowing_numbers);
	g_test_add_func("/http/content-range/refuses-signs-spaces-and-other-units",
	                test_content_range_refuses_signs_spaces_and_other_units);
	g_test_add_func("/http/etag/quoted-is-strong", test_etag_quoted_is_strong);
	g_test_add_func("/http/etag/weak-or-unquoted-is-not-strong",
	                test_etag_weak_or_unquoted_is_not_strong);
	g_test_add_func("/http/url/display-drops-userinfo-query-and-fragment",
	                test_display_url_drops_userinfo_query_and_fragment);
	g_test_add_func("/http/url/display-of-a-plain-url-is-unchanged",
	                test_display_url_of_a_plain_url_is_unchanged);
	g_test_add_func("/http/url/display-of-a-broken-url-still-drops-credentials",
	                test_display_url_of_a_broken_url_still_drops_credentials);
	g_test_add_func("/http/url/display-is-one-printable-line",
	                test_display_url_is_one_printable_line);
	g_test_add_func("/http/url/same-origin-fills-in-default-ports",
	                test_same_origin_fills_in_default_ports);
	g_test_add_func("/http/url/same-origin-differs-by-scheme-host-or-port",
	                test_same_origin_differs_by_scheme_host_or_port);
	g_test_add_func("/http/url/is-url-takes-http-and-https-only",
	                test_is_url_takes_http_and_https_only);
	g_test_add_func("/http/header/name-value-is-accepted", test_header_name_value_is_accepted);
	g_test_add_func("/http/header/with-a-line-break-is-refused-as-injection",
	                test_header_with_a_line_break_is_refused_as_injection);
	g_test_add_func("/http/header/with-a-control-character-is-refused",
	                test_header_with_a_control_character_is_refused);
	g_test_add_func("/http/header/name-with-invalid-characters-is-refused",
	                test_header_name_with_invalid_characters_is_refused);
	g_test_add_func("/http/header/without-a-value-is-refused",
	                test_header_without_a_value_is_refused);
	g_test_add_func("/http/header/the-reader-sets-itself-is-refused",
	                test_header_the_reader_sets_itself_is_refused);
	g_test_add("/http/header-file/gives-its-lines", Fixture, NULL, setup,
	           test_header_file_gives_its_lines, teardown);
	g_test_add("/http/header-file/others-may-read-is-refused", Fixture, NULL, setup,
	           test_header_file_others_may_read_is_refused, teardown);
	g_test_add("/http/header-file/the-group-may-read-is-refused", Fixture, NULL, setup,
	           test_header_file_the_group_may_read_is_refused, teardown);
	g_test_add("/http/header-file/with-a-malformed-line-is-refused", Fixture, NULL, setup,
	           test_header_file_with_a_malformed_line_is_refused, teardown);
	g_test_add("/http/header-file/with-crlf-lines-is-refused", Fixture, NULL, setup,
	           test_header_file_with_crlf_lines_is_refused, teardown);
	g_test_add("/http/header-file/missing-is-an-error", Fixture, NULL, setup,
	           test_header_file_missing_is_an_error, teardown);
	g_test_add_func("/http/answer/206-as-asked-passes", test_answer_206_as_asked_passes);
	g_test_add_func("/http/answer/http2-lowercase-headers-pass",
	                test_answer_http2_lowercase_headers_pass);
	g_test_add_func("/http/answer/after-100-continue-is-the-final-one",
	                test_answer_after_100_continue_is_the_final_one);
	g_test_add_func("/http/answer/200-for-a-range-means-changed",
	                test_answer_200_for_a_range_means_changed);
	g_test_add_func("/http/answer/with-another-etag-is-changed",
	                test_answer_with_another_etag_is_changed);
	g_test_add_func("/http/answer/without-the-pinned-etag-is-changed",
	                test_answer_without_the_pinned_etag_is_changed);
	g_test_add_func("/http/answer/with-another-total-is-changed",
	                test_answer_with_another_total_is_changed);
	g_test_add_func("/http/answer/with-another-range-is-refused",
	                test_answer_with_another_range_is_refused);
	g_test_add_func("/http/answer/with-two-content-ranges-is-malformed",
	                test_answer_with_two_content_ranges_is_malformed);
	g_test_add_func("/http/answer/compressed-is-refused", test_answer_compressed_is_refused);
	g_test_add_func("/http/answer/redirect-on-a-range-request-is-refused",
	                test_answer_redirect_on_a_range_request_is_refused);
	g_test_add_func("/http/answer/header-folding-is-malformed",
	                test_answer_header_folding_is_malformed);
	g_test_add_func("/http/answer/without-a-status-line-is-malformed",
	                test_answer_without_a_status_line_is_malformed);
	g_test_add_func("/http/answer/trailers-are-ignored", test_answer_trailers_are_ignored);
	g_test_add_func("/http/answer/retry-after-seconds-are-read",
	                test_answer_retry_after_seconds_are_read);
	return g_test_run();
}
