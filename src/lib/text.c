/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <otabundle/text.h>

#include <string.h>

static void append_escaped_char(GString *out, gunichar c, gboolean backslash)
{
	switch (c) {
	case '\n':
		g_string_append(out, "\\n");
		return;
	case '\r':
		g_string_append(out, "\\r");
		return;
	case '\t':
		g_string_append(out, "\\t");
		return;
	case '\\':
		g_string_append(out, backslash ? "\\\\" : "\\");
		return;
	}
	if (c < 0x20 || c == 0x7f)
		g_string_append_printf(out, "\\x%02x", c);
	else if (c >= 0x80 && c <= 0x9f)
		g_string_append_printf(out, "\\u%04x", c);
	else
		g_string_append_unichar(out, c);
}

static char *escape(const char *text, gboolean backslash)
{
	const char *p = text;
	const char *end;
	GString *out;

	if (text == NULL)
		return NULL;
	end = text + strlen(text);
	out = g_string_sized_new((gsize)(end - text));
	while (p < end) {
		gunichar c = g_utf8_get_char_validated(p, end - p);

		if (c == (gunichar)-1 || c == (gunichar)-2) {
			g_string_append_printf(out, "\\x%02x", (guint8)*p);
			p++;
			continue;
		}
		append_escaped_char(out, c, backslash);
		p = g_utf8_next_char(p);
	}
	return g_string_free(out, FALSE);
}

char *ota_text_escape(const char *text)
{
	return escape(text, TRUE);
}

char *ota_text_escape_controls(const char *text)
{
	return escape(text, FALSE);
}
