/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The HTTP side of RFC 3161 (section 3.4): a TimeStampReq POSTed as
 * application/timestamp-query, the TimeStampResp in the body of the
 * answer. libcurl does HTTP and HTTPS (proxies from the environment, as
 * curl does); what comes back is judged in timestamp.c. */
#include "timestamp-private.h"

#include "cancel-private.h"
#include "curl-private.h"

/* A TimeStampResp with a certificate chain is a few KiB. */
#define MAX_RESPONSE_SIZE (256 * 1024)

typedef struct {
	GByteArray *body;
	gboolean too_large;
} Answer;

static size_t on_data(char *data, size_t size, size_t n, void *user_data)
{
	Answer *a = user_data;
	gsize len = size * n;

	if (len > MAX_RESPONSE_SIZE - a->body->len) {
		a->too_large = TRUE;
		return 0;
	}
	g_byte_array_append(a->body, (const guint8 *)data, (guint)len);
	return len;
}

/* SIGINT and friends stop a transfer that waits for a slow TSA. */
static int on_progress(void *user_data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	return ota_cancel_check(NULL) ? 0 : 1;
}

static gboolean transfer_error(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

static gboolean transfer_error(GError **error, const char *format, ...)
{
	va_list args;
	g_autofree char *message = NULL;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error_literal(error, OTA_TIMESTAMP_ERROR, OTA_TIMESTAMP_ERROR_TRANSFER, message);
	return FALSE;
}

GBytes *ota_tsa_client_post(const char *url, const char *tls_ca, guint timeout,
                            GBytes *request, GError **error)
{
	g_autoptr(CURL) curl = NULL;
	g_autoptr(OtaCurlList) headers = NULL;
	g_autoptr(GByteArray) body = g_byte_array_new();
	char message[CURL_ERROR_SIZE] = "";
	Answer answer = {body, FALSE};
	CURLcode res;
	long status = 0;

	ota_curl_init_once();
	curl = curl_easy_init();
	headers = curl_slist_append(NULL, "Content-Type: application/timestamp-query");
	if (curl == NULL || headers == NULL) {
		transfer_error(error, "cannot set up an HTTP transfer");
		return NULL;
	}
	/* Each setopt below takes a value it knows: failures are out of memory
	 * or a libcurl without HTTPS, which perform() reports. */
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)timeout);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, message);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "otabundle");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, g_bytes_get_data(request, NULL));
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)g_bytes_get_size(request));
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	if (tls_ca != NULL) {
		/* These CAs only, not the system's as well. */
		curl_easy_setopt(curl, CURLOPT_CAINFO, tls_ca);
		curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
	}
	res = curl_easy_perform(curl);
	if (res == CURLE_ABORTED_BY_CALLBACK) {
		(void)!ota_cancel_check(error);
		return NULL;
	}
	if (res == CURLE_OPERATION_TIMEDOUT) {
		transfer_error(error, "no answer within %u second%s", timeout, timeout == 1 ? "" : "s");
		return NULL;
	}
	if (res == CURLE_WRITE_ERROR && answer.too_large) {
		transfer_error(error, "the answer is larger than %d bytes: not a timestamp",
		               MAX_RESPONSE_SIZE);
		return NULL;
	}
	if (res != CURLE_OK) {
		transfer_error(error, "%s", message[0] ? message : curl_easy_strerror(res));
		return NULL;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		transfer_error(error, "HTTP status %ld", status);
		return NULL;
	}
	return g_byte_array_free_to_bytes(g_steal_pointer(&body));
}
