/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>

OTA_BEGIN_DECLS

/* A stable, machine-readable name for the kind of failure @error reports,
 * from its domain and code: "tampered", "threshold-not-met", "io", ... Both
 * CLIs print it in their JSON output beside the message; otabundle(1), JSON
 * OUTPUT, says what each one means. The names never change meaning; new
 * ones may be added. A static string: "failed" for an error the library
 * does not classify, and for NULL. */
const char *ota_error_code(const GError *error);

OTA_END_DECLS
