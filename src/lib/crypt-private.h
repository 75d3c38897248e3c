/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Payload encryption of crypt bundles. Internal to libotabundle; not
 * installed. */
#pragma once

#include "reader-private.h"

G_BEGIN_DECLS

#define OTA_CRYPT_ERROR ota_crypt_error_quark()
GQuark ota_crypt_error_quark(void);

typedef enum {
	OTA_CRYPT_ERROR_INVALID,   /* a key or size that can't be right */
	OTA_CRYPT_ERROR_WRONG_KEY, /* the payload does not decrypt to a squashfs */
	OTA_CRYPT_ERROR_CRYPTO,    /* OpenSSL failed */
	OTA_CRYPT_ERROR_IO,
} OtaCryptError;

/* RAUC's crypt payload, as dm-crypt maps it with "aes-cbc-plain64 KEY 0 DEV
 * 0 1 sector_size:4096": AES-256-CBC without padding, each 4096-byte sector
 * on its own, its IV the sector's position counted in 512-byte units
 * (without iv_large_sectors) as a little-endian 64-bit number, zero-padded
 * to 16 bytes. So sector n has IV 8n. */
#define OTA_CRYPT_KEY_LEN 32
#define OTA_CRYPT_KEY_HEX_LEN (2 * OTA_CRYPT_KEY_LEN)
#define OTA_CRYPT_SECTOR_SIZE 4096
#define OTA_CRYPT_IV_SECTOR_SIZE 512

/* The key of a manifest's [bundle] crypt-key: exactly 64 hex digits. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_crypt_key_from_hex(const char *hex, guint8 key[OTA_CRYPT_KEY_LEN]);
/* Lower-case hex of @key into @hex (OTA_CRYPT_KEY_HEX_LEN + 1 bytes). */
void ota_crypt_key_to_hex(const guint8 key[OTA_CRYPT_KEY_LEN],
                          char hex[OTA_CRYPT_KEY_HEX_LEN + 1]);

/* A fresh key from OpenSSL's private random generator. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_crypt_key_generate(guint8 key[OTA_CRYPT_KEY_LEN], GError **error);

/* The key in the file @path: 64 hex digits, blanks around them allowed.
 * Errors name @path, never the file's contents. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_crypt_key_load(const char *path, guint8 key[OTA_CRYPT_KEY_LEN], GError **error);

/* A key that depends on the plaintext alone (reproducible bundles that ask
 * for it): HMAC-SHA256 keyed with OTA_CRYPT_DERIVED_KEY_LABEL over the
 * SHA-256 of the @size bytes of @fd from offset 0. Whoever has the
 * plaintext can compute it, and so can tell whether a bundle holds a
 * payload they guess; the key hides the payload from everyone else. */
#define OTA_CRYPT_DERIVED_KEY_LABEL "otabundle crypt key v1"
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_crypt_key_derive(int fd, guint64 size, guint8 key[OTA_CRYPT_KEY_LEN],
                              GError **error);

/* Encrypts the @size bytes of @fd from offset 0 in place, sector by
 * sector; @size must be a multiple of OTA_CRYPT_SECTOR_SIZE. Memory: one
 * 1 MiB buffer, wiped afterwards. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_crypt_encrypt_fd(int fd, guint64 size, const guint8 key[OTA_CRYPT_KEY_LEN],
                              GError **error);

/* A reader of the plaintext of @ciphertext (taken, freed with the result or
 * on failure), whose size must be a multiple of OTA_CRYPT_SECTOR_SIZE. Each
 * read fetches whole sectors from @ciphertext and only then decrypts them:
 * over a verity reader, no byte is decrypted before its block has been
 * checked against the signed root. The key is copied into OpenSSL's
 * context (the caller wipes its own copy); the context and the decrypted
 * window (1 MiB) are wiped when the reader is freed. */
OtaReader *ota_crypt_reader_new(OtaReader *ciphertext, const guint8 key[OTA_CRYPT_KEY_LEN],
                                GError **error);

/* Whether the plaintext that @plaintext serves starts as a squashfs does:
 * else (OTA_CRYPT_ERROR_WRONG_KEY) the key does not decrypt this payload,
 * which a wrong crypt-key in an intact signed manifest would cause. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_crypt_check_decrypts_to_squashfs(OtaReader *plaintext, GError **error);

G_END_DECLS
