/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the EnvelopedData of an encrypted bundle, the first
 * thing a device parses and decrypts with its own key, before any
 * signature is checked: whoever can hand a device a bundle controls it.
 *
 * The input is the CMS as it lies in the bundle (DER). It goes through:
 *  - ota_envelope_der_is_enveloped() and ota_envelope_parse(), and every
 *    recipient's getters;
 *  - ota_envelope_decrypt() with each of two fixed device keys, RSA-2048
 *    (key transport) and EC P-256 (key agreement), once trying every
 *    recipient and once with the key's certificate (matched by issuer and
 *    serial);
 *  - for content that decrypts: ota_envelope_encrypt_again() (as resign
 *    does), which must parse, name the same recipients and decrypt with
 *    ota_envelope_decrypt_like() to the same content.
 *
 * The keys are fixed (below) so that seeds encrypted for them (see
 * make-corpus-envelope.sh) decrypt inside the target and mutations reach
 * the content decryption and what follows. Their certificates are made at
 * startup, self-signed, with a fixed name and serial, which is all a
 * recipient is known by. They are test keys and protect nothing. With
 * OTABUNDLE_FUZZ_EXPORT_RECIPIENTS=DIR set, the initialisation writes
 * rsa.pem, rsa.key, ec.pem and ec.key into DIR. */
#include "envelope-private.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Test material only: the fuzzing seeds are encrypted for these. */
static const char rsa_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCsmfA+TBx3V+Ry\n"
	"q/31Q9K4LT6FVDZgPMJADFxrAjQ8U+OThd41es8GmZh9AwCg6HW3Xiw/+sNLLfT6\n"
	"oC+DUDe4LcrFzCr1qsNWWwcahZTBtAKudBI01Y2gr90VFpLfKnk/LLSiPulSJFTJ\n"
	"tSOmxvLIhPOlYROBU0X+M6mU+pa7t3XrnMPmQaN1lAALf0c/36cGz+L7yFvfsAY2\n"
	"GcywFuUOn/9F1b1Hl1anwTWPusuTV8L6xdyuvyJTwmvFtK3a/xuvommpJvo/ADcb\n"
	"FecxM6msdxgvY5ZxgPLWEjLDpERo+7RexbkhegMo8iKy2/iL/44+0b1mfJJSTM9e\n"
	"U0ycEfunAgMBAAECggEAAvfFdkTEkb0sqL4e9Upi9rDGEoo8QlMsVRtntJ1XYzKS\n"
	"ek7PrD3xQZNL8gzAER3Xwr0dtKuHefHCp+z8mpAhpr4yCBmp79etjGNI6Xwiu5WK\n"
	"HRBsE1JMVHC05zAGrkvikgmfDeuLNoYSZ4+AtLu9OmGmEN6gJ7w6h8b0PQmo16k/\n"
	"ymjI64P5c5trSjtR2fGdAOZSFeQltfJdwqKPh5KUPEuC632tUAgw2OCS8B7t/Z/d\n"
	"SjBG/uYhLvRfuUnHw8w/6L9inhgWnVSnOX0X80/DV2T5dQfmj9EGOyBqrMHb48QJ\n"
	"eTx19xvnAfwxlaSMqlAKkdaWPIwewqfHLPtfaimA0QKBgQDZlHy2FRve6vgZhxK1\n"
	"LC9EqUBx3he5W5qS+8c+5TsoBIjbLRG88mmS1Jk87OWo8w+3xZ1QPFiWTOQguSKp\n"
	"3BWygCq1OQ+TyG9yIqyO8WaOv/q1DYsl8CIKnV5Z0oXzsQtVymTKBd8sE+HJWY7t\n"
	"AzzR313ngC6OQhTZIERrCclBlwKBgQDLFDqJGmOWs81JzXUpW+RrJ3FG2/wCkMm1\n"
	"m28GzKDaiEBBeDOE6H+7uNhGoBdUnUUtnLX3eRLcYZCmldOiLjSmC58Dc/O1pqRz\n"
	"4hlfEC7SjnSydZ0DUplkocgK7PQYmfgJ9tO/EV3i2kV9zTgTRERRlYGtEa6ESOOm\n"
	"vckvgZU4cQKBgE8T+5uF4oJLbe6BPBhiva87wHNiH8c7dtuS7KB8Wdq6gy79m2PL\n"
	"yvkVkbgl9XZJGN5W0U0XEa9WtNb70pBfr/cXQ+5nlbTFdVPLLGIrdHXPaoQhLwCT\n"
	"3Rt0hJUqwYqHPzJoA+e06J6xfy9aAGs98P3qK8v2t3T2qXMcmiE5Bk9zAoGAVXPg\n"
	"obp593sXQhvzVgD13+UL9G4y3/1+8y1BjdHjSbGVoDbtLtsKjLpeP3Gz/4XiCyxr\n"
	"IYRP3G4tiPt4v0DEJK61LaXIAkLp5l1YobjUiwMotcNp23ERXNf6riZBHG0Fg2Pa\n"
	"fAbZw9Bm92W4V9sdCFtp4qKTFdT5/jrUAmp7mPECgYEAwHuDHjeueVJXIHZIz5DE\n"
	"d9EaTBQaUjMBFnu7jvhn+xSTzMMYXObIzVZ4uy3MtA5DsvL2BodPfudXnsbt6Tcj\n"
	"DsaFWul6VEnHSksi06lLbrjl9fbZ1/1AxWI0gUu28PzonohqNMKGQzH6cXn7DTX2\n"
	"5Z9Hwu4F0+MbIJgcwfsMFYw=\n"
	"-----END PRIVATE KEY-----\n";

static const char ec_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgTub352cys7sBiND0\n"
	"R6I1HychxSnIqkum9CVDB4tsRvehRANCAAR5n8kwde1l836pkhU/5fR5JutFoV4s\n"
	"huz7Ew9CbydgRwr3n9QcNOqWkzOBCDDy9xHeAj/VBe4kCj23YeJEceFR\n"
	"-----END PRIVATE KEY-----\n";

typedef struct {
	const char *name;
	EVP_PKEY *key;
	X509 *cert;
} Device;

static Device devices[2];

static void die(const char *what)
{
	fprintf(stderr, "fuzz-envelope: %s\n", what);
	abort();
}

static EVP_PKEY *load_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	if (key == NULL)
		die("cannot read a fixed key");
	return key;
}

/* Self-signed, CN=@name, serial @serial: a recipient's identity. */
static X509 *make_cert(EVP_PKEY *key, const char *name, long serial)
{
	X509 *cert = X509_new();
	X509_NAME *subject = X509_NAME_new();

	if (cert == NULL || subject == NULL || X509_set_version(cert, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial) != 1 ||
	    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, (const unsigned char *)name,
	                               -1, -1, 0) != 1 ||
	    X509_set_subject_name(cert, subject) != 1 || X509_set_issuer_name(cert, subject) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24 * 365 * 30) == NULL ||
	    X509_set_pubkey(cert, key) != 1 || X509_sign(cert, key, EVP_sha256()) <= 0)
		die("cannot make a certificate");
	X509_NAME_free(subject);
	return cert;
}

static void export(const char *dir, const char *base, const Device *d)
{
	g_autofree char *cert_path = g_strdup_printf("%s/%s.pem", dir, base);
	g_autofree char *key_path = g_strdup_printf("%s/%s.key", dir, base);
	FILE *f = fopen(cert_path, "w");

	if (f == NULL || PEM_write_X509(f, d->cert) != 1 || fclose(f) != 0)
		die("cannot export a certificate");
	f = fopen(key_path, "w");
	if (f == NULL || PEM_write_PrivateKey(f, d->key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(f) != 0)
		die("cannot export a key");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = g_getenv("OTABUNDLE_FUZZ_EXPORT_RECIPIENTS");

	devices[0].name = "rsa";
	devices[0].key = load_key(rsa_key_pem);
	devices[0].cert = make_cert(devices[0].key, "otabundle fuzzing device rsa", 0x5a01);
	devices[1].name = "ec";
	devices[1].key = load_key(ec_key_pem);
	devices[1].cert = make_cert(devices[1].key, "otabundle fuzzing device ec", 0x5a02);
	if (dir != NULL) {
		export(dir, "rsa", &devices[0]);
		export(dir, "ec", &devices[1]);
	}
	return 0;
}

static void check_recipients(const OtaEnvelope *env)
{
	guint n = ota_envelope_get_n_recipients(env);

	if (n == 0)
		die("an envelope without recipients was accepted");
	for (guint i = 0; i < n; i++) {
		const OtaRecipient *r = ota_envelope_get_recipient(env, i);
		const char *type = ota_recipient_get_key_type(r);

		if (type == NULL || ota_recipient_get_algorithm(r) == NULL)
			die("a recipient without key type or algorithm");
		if ((ota_recipient_get_issuer(r) == NULL) != (ota_recipient_get_serial(r) == NULL))
			die("a recipient with an issuer but no serial, or the reverse");
	}
	if (ota_envelope_get_cipher_name(env) == NULL)
		die("an envelope without a content cipher name");
}

/* What resign does with decrypted content: the same recipients, the same
 * key, new content; it must read back as what went in. */
static void check_encrypt_again(const OtaEnvelope *env, GBytes *content)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) again = ota_envelope_encrypt_again(env, content, &error);
	g_autoptr(OtaEnvelope) reparsed = NULL;
	g_autoptr(GBytes) back = NULL;

	if (again == NULL)
		die("content that decrypted does not encrypt again");
	reparsed = ota_envelope_parse(g_bytes_get_data(again, NULL), g_bytes_get_size(again), &error);
	if (reparsed == NULL)
		die("an envelope made again does not parse");
	if (ota_envelope_get_n_recipients(reparsed) != ota_envelope_get_n_recipients(env))
		die("an envelope made again names other recipients");
	back = ota_envelope_decrypt_like(reparsed, env, &error);
	if (back == NULL || !g_bytes_equal(back, content))
		die("an envelope made again does not decrypt to its content");
}

static void try_device(const guint8 *data, size_t size, const Device *d, gboolean with_cert)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaEnvelope) env = ota_envelope_parse(data, size, &error);
	g_autoptr(GBytes) content = NULL;

	/* Parsed afresh each time: a decryption leaves state in the CMS. */
	if (env == NULL)
		return;
	content = ota_envelope_decrypt(env, d->key, d->name, with_cert ? d->cert : NULL,
	                               with_cert ? d->name : NULL, &error);
	if (content == NULL) {
		if (error == NULL || error->message[0] == '\0')
			die("a decryption failed without saying why");
		ERR_clear_error();
		return;
	}
	if (error != NULL)
		die("a decryption succeeded with an error set");
	check_encrypt_again(env, content);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaEnvelope) env = NULL;
	gboolean prefix = ota_envelope_der_is_enveloped(data, size);

	env = ota_envelope_parse(data, size, &error);
	if (env == NULL) {
		if (error == NULL)
			die("a refusal without an error");
		ERR_clear_error();
		return 0;
	}
	if (!prefix)
		die("an envelope was parsed that does not start as one");
	check_recipients(env);
	for (gsize i = 0; i < G_N_ELEMENTS(devices); i++) {
		try_device(data, size, &devices[i], FALSE);
		try_device(data, size, &devices[i], TRUE);
	}
	ERR_clear_error();
	return 0;
}
