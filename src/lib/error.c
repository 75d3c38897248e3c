/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "error-private.h"

gboolean ota_set_io_error(GError **error, GQuark domain, gint code, const char *path,
                          const char *action, int saved_errno)
{
	if (action != NULL)
		g_set_error(error, domain, code, "%s: %s: %s", path, action, g_strerror(saved_errno));
	else
		g_set_error(error, domain, code, "%s: %s", path, g_strerror(saved_errno));
	return FALSE;
}
