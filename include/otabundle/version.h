/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>

OTA_BEGIN_DECLS

/* The error domain of this module's GErrors; the codes are below. */
#define OTA_VERSION_ERROR ota_version_error_quark()
GQuark ota_version_error_quark(void);

typedef enum {
	OTA_VERSION_ERROR_INVALID, /* not a version that can be ordered */
} OtaVersionError;

/* The one order of bundle versions, wherever one is compared with another
 * (allow-downgrade, min-bundle-version, min-installed-version):
 * semantic-versioning precedence, with what RAUC's own parser accepts
 * besides strict SemVer 2.0.0:
 *
 *   MAJOR[.MINOR[.PATCH]][-PRE-RELEASE][+BUILD]
 *
 * MINOR and PATCH default to 0 (1.2 is 1.2.0) and numbers may have leading
 * zeros, compared by value (2024.07.0 is 2024.7.0), as in RAUC. A
 * pre-release sorts before its release and its dot-separated identifiers
 * compare one by one: digits only by value, others as ASCII text, digits
 * before text, fewer before more (1.0.0-alpha < 1.0.0-alpha.1 <
 * 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0). Identifiers are
 * letters, digits and '-'; none is empty. +BUILD is ignored for the order.
 * Numbers must fit 64 bits. Anything else (v1.0, 1.2.3.4, 1.0~rc1, "") is
 * not ordered at all, rather than guessed at. */

/* Whether @version has the form above. FALSE with OTA_VERSION_ERROR_INVALID,
 * one line quoting @version (escaped, see ota_text_escape()) and saying
 * what is wrong, else TRUE. */
gboolean ota_version_check(const char *version, GError **error);

/* Compares @a with @b by the precedence above: *@result is negative when @a
 * is lower, 0 when both rank equal (1.2 and 1.2.0+build.7, say), positive
 * when @a is higher. FALSE (and *@result untouched) with
 * OTA_VERSION_ERROR_INVALID from ota_version_check() for the first of the
 * two that has not the form above. */
gboolean ota_version_compare(const char *a, const char *b, int *result, GError **error);

OTA_END_DECLS
