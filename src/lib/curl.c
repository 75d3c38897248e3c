/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "curl-private.h"

static gsize curl_ready;

void ota_curl_init_once(void)
{
	if (g_once_init_enter(&curl_ready)) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		g_once_init_leave(&curl_ready, 1);
	}
}
