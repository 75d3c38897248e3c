/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "openssl-private.h"

#include <openssl/err.h>

void ota_x509_stack_free(OtaX509Stack *stack)
{
	sk_X509_pop_free(stack, X509_free);
}

void ota_set_openssl_error(GError **error, GQuark domain, gint code,
                           const char *format, ...)
{
	g_autofree char *message = NULL;
	g_autoptr(GString) queue = g_string_new(NULL);
	g_autofree char *decisive = NULL;
	const char *file, *data;
	int line, flags;
	unsigned long err;
	va_list args;

	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);

	/* The oldest entry is the root cause (e.g. "certificate has expired");
	 * later ones are the layers that passed it up. */
	while ((err = ERR_get_error_all(&file, &line, NULL, &data, &flags)) != 0) {
		char buf[256];

		ERR_error_string_n(err, buf, sizeof(buf));
		g_string_append_printf(queue, "\n  openssl: %s (%s:%d)%s%s", buf, file, line,
		                       (flags & ERR_TXT_STRING) ? ": " : "",
		                       (flags & ERR_TXT_STRING) ? data : "");
		if (decisive == NULL) {
			const char *reason = ERR_reason_error_string(err);
			decisive = g_strdup_printf("%s%s%s", reason ? reason : buf,
			                           (flags & ERR_TXT_STRING) && *data ? " " : "",
			                           (flags & ERR_TXT_STRING) ? data : "");
		}
	}

	if (decisive != NULL)
		g_set_error(error, domain, code, "%s: %s%s", message, decisive, queue->str);
	else
		g_set_error_literal(error, domain, code, message);
}

char *ota_x509_name_to_string(const X509_NAME *name)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	char *data;
	long len;

	if (bio == NULL || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
		ERR_clear_error();
		return g_strdup("?");
	}
	len = BIO_get_mem_data(bio, &data);
	return g_strndup(data, (gsize)len);
}

char *ota_x509_certificate_sha256(X509 *cert)
{
	guint8 md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	GString *hex;

	if (X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != 32) {
		ERR_clear_error();
		return g_strdup("?");
	}
	hex = g_string_sized_new(2 * len);
	for (unsigned int i = 0; i < len; i++)
		g_string_append_printf(hex, "%02x", md[i]);
	return g_string_free(hex, FALSE);
}

char *ota_x509_spki_sha256(X509 *cert)
{
	unsigned char *der = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	guint8 md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	GString *hex;

	if (len <= 0 || EVP_Digest(der, (size_t)len, md, &md_len, EVP_sha256(), NULL) != 1 ||
	    md_len != 32) {
		OPENSSL_free(der);
		ERR_clear_error();
		return g_strdup("?");
	}
	OPENSSL_free(der);
	hex = g_string_sized_new(2 * md_len);
	for (unsigned int i = 0; i < md_len; i++)
		g_string_append_printf(hex, "%02x", md[i]);
	return g_string_free(hex, FALSE);
}
