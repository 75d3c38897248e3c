/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A throw-away PKI made in process for unit tests: a root CA and leaves. */
#pragma once

#include <otabundle/keys.h>
#include <otabundle/openssl.h>

typedef struct {
	EVP_PKEY *key;
	X509 *cert;
} TestIdentity;

/* "ec" (P-256), "ec384", "rsa2048", "rsa1024", "ed25519" or "ed448". */
EVP_PKEY *test_pki_key(const char *type);
/* A CA if @issuer is NULL (self-signed), else a leaf signed by @issuer.
 * @days_from/@days_to give the validity window relative to now. */
TestIdentity *test_pki_identity(const char *type, const char *cn, const TestIdentity *issuer,
                                int days_from, int days_to);
/* Same, for a leaf whose only extended key usage is @eku (e.g. "codeSigning"). */
TestIdentity *test_pki_identity_eku(const char *type, const char *cn, const TestIdentity *issuer,
                                    int days_from, int days_to, const char *eku);
/* An intermediate CA issued by @issuer (CA:TRUE, keyCertSign). */
TestIdentity *test_pki_intermediate(const char *type, const char *cn, const TestIdentity *issuer,
                                    int days_from, int days_to);
/* Another certificate for @id's key, issued by @issuer. */
TestIdentity *test_pki_reissue(const TestIdentity *id, const char *cn, const TestIdentity *issuer);
void test_identity_free(TestIdentity *id);
/* A signer (ota_signer_free()) with @id's certificate and key, as if
 * loaded from "test.pem" and "test.key". */
OtaSigner *test_identity_signer(const TestIdentity *id);
/* Writes cert and key as PEM files in @dir; returns their paths. */
void test_pki_write(const TestIdentity *id, const char *dir, const char *name, char **cert_path,
                    char **key_path);
/* A fresh temporary directory, removed with its (flat) contents by
 * test_tmpdir_remove(). */
char *test_tmpdir_new(void);
void test_tmpdir_remove(const char *dir);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(TestIdentity, test_identity_free)
