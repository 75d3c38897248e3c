/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <otabundle/api.h>
#include <glib.h>

OTA_BEGIN_DECLS

/* Text from a bundle, a certificate or a state file, made safe to print on
 * a terminal: a control character (C0 including ESC, CR, LF and TAB; DEL;
 * C1 U+0080..U+009F) or a byte that is not UTF-8 can't move the cursor,
 * rewrite an earlier line ("Verified: ...") or split one line into two.
 * They are written as escapes: "\n", "\r", "\t", "\xNN" (a C0 byte, DEL or
 * an invalid byte), "\u0080".."\u009f"; a backslash becomes "\\", so every
 * output means one input. Returns a new string, or NULL for NULL. */
char *ota_text_escape(const char *text);

/* The same for a whole message whose untrusted parts were escaped with
 * ota_text_escape() already (e.g. a GError's): control characters and
 * invalid bytes only, backslashes are left alone so those parts are not
 * escaped twice. */
char *ota_text_escape_controls(const char *text);

OTA_END_DECLS
