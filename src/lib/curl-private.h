/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every libcurl user in the library shares (tsa-client.c,
 * http-reader.c). Not installed. */
#pragma once

#include <curl/curl.h>
#include <glib.h>

G_BEGIN_DECLS

/* curl_global_init(), once per process, before the first easy handle. */
void ota_curl_init_once(void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CURL, curl_easy_cleanup)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CURLU, curl_url_cleanup)
typedef struct curl_slist OtaCurlList;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OtaCurlList, curl_slist_free_all)

G_END_DECLS
