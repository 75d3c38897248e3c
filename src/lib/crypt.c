/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Payload encryption of crypt bundles: RAUC's aes-cbc-plain64 with 4 KiB
 * sectors, in place when a bundle is made, through a decrypting reader when
 * one is read. */
#include "crypt-private.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cancel-private.h"
#include "checksum-private.h"
#include "error-private.h"
#include "openssl-private.h"
#include "progress-private.h"

G_DEFINE_QUARK(ota-crypt-error-quark, ota_crypt_error)

#define SECTOR OTA_CRYPT_SECTOR_SIZE
#define AES_IV_LEN 16
/* Sectors decrypted at once by the reader (1 MiB: the verity reader's
 * window, so each of its windows is fetched once), and encrypted at once
 * by ota_crypt_encrypt_fd(). */
#define WINDOW_SECTORS 256

/* The squashfs superblock's first bytes ("hsqs", SQFS_MAGIC little-endian). */
static const guint8 squashfs_magic[4] = {'h', 's', 'q', 's'};

G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)

/* --- keys ---------------------------------------------------------------- */

gboolean ota_crypt_key_from_hex(const char *hex, guint8 key[OTA_CRYPT_KEY_LEN])
{
	if (hex == NULL || strlen(hex) != OTA_CRYPT_KEY_HEX_LEN)
		return FALSE;
	for (gsize i = 0; i < OTA_CRYPT_KEY_LEN; i++) {
		int hi = g_ascii_xdigit_value(hex[2 * i]);
		int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			OPENSSL_cleanse(key, OTA_CRYPT_KEY_LEN);
			return FALSE;
		}
		key[i] = (guint8)(hi << 4 | lo);
	}
	return TRUE;
}

void ota_crypt_key_to_hex(const guint8 key[OTA_CRYPT_KEY_LEN], char hex[OTA_CRYPT_KEY_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (gsize i = 0; i < OTA_CRYPT_KEY_LEN; i++) {
		hex[2 * i] = digits[key[i] >> 4];
		hex[2 * i + 1] = digits[key[i] & 0xf];
	}
	hex[OTA_CRYPT_KEY_HEX_LEN] = '\0';
}

gboolean ota_crypt_key_generate(guint8 key[OTA_CRYPT_KEY_LEN], GError **error)
{
	if (RAND_priv_bytes(key, OTA_CRYPT_KEY_LEN) == 1)
		return TRUE;
	ota_set_openssl_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_CRYPTO,
	                      "cannot generate a crypt key");
	return FALSE;
}

/* Room for the hex digits, a line end and some blanks; a longer file is no
 * key file. */
#define KEY_FILE_MAX 256

gboolean ota_crypt_key_load(const char *path, guint8 key[OTA_CRYPT_KEY_LEN], GError **error)
{
	char buffer[KEY_FILE_MAX + 1];
	gsize length = 0;
	struct stat st;
	gboolean ok;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return ota_set_io_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_IO, path, NULL, errno);
	if (fstat(fd, &st) < 0) {
		int saved = errno;

		close(fd);
		return ota_set_io_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_IO, path, NULL, saved);
	}
	if (!S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
		close(fd);
		g_set_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_INVALID,
		            "%s: not a key file (expected a regular file holding %d hex digits)", path,
		            OTA_CRYPT_KEY_HEX_LEN);
		return FALSE;
	}
	while (length < KEY_FILE_MAX) {
		ssize_t n = read(fd, buffer + length, KEY_FILE_MAX - length);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		length += (gsize)n;
	}
	close(fd);
	buffer[length] = '\0';
	/* The message never quotes the file: it may hold a key with a typo. */
	ok = ota_crypt_key_from_hex(g_strstrip(buffer), key);
	OPENSSL_cleanse(buffer, sizeof(buffer));
	if (!ok)
		g_set_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_INVALID,
		            "%s: expected %d hex digits (a 256-bit AES key)", path,
		            OTA_CRYPT_KEY_HEX_LEN);
	return ok;
}

gboolean ota_crypt_key_derive(int fd, guint64 size, guint8 key[OTA_CRYPT_KEY_LEN],
                              GError **error)
{
	static const char label[] = OTA_CRYPT_DERIVED_KEY_LABEL;
	OtaChecksum plaintext;
	size_t key_len = 0;
	gboolean ok;

	if (!ota_checksum_fd(fd, 0, size, &plaintext, error))
		return FALSE;
	ok = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, label, strlen(label), plaintext.sha256,
	               sizeof(plaintext.sha256), key, OTA_CRYPT_KEY_LEN, &key_len) != NULL &&
	     key_len == OTA_CRYPT_KEY_LEN;
	OPENSSL_cleanse(&plaintext, sizeof(plaintext));
	if (!ok) {
		OPENSSL_cleanse(key, OTA_CRYPT_KEY_LEN);
		ota_set_openssl_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_CRYPTO,
		                      "cannot derive the crypt key");
	}
	return ok;
}

/* --- sectors ------------------------------------------------------------- */

/* A context for AES-256-CBC without padding, keyed once: each sector then
 * sets only its IV, and the key schedule is kept. */
static EVP_CIPHER_CTX *sector_cipher_new(const guint8 key[OTA_CRYPT_KEY_LEN], gboolean encrypt,
                                         GError **error)
{
	g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new();

	if (ctx == NULL ||
	    EVP_CipherInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, NULL, encrypt ? 1 : 0) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
		ota_set_openssl_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_CRYPTO,
		                      "cannot set up AES-256-CBC");
		return NULL;
	}
	if (EVP_CIPHER_CTX_get_key_length(ctx) != OTA_CRYPT_KEY_LEN ||
	    EVP_CIPHER_CTX_get_iv_length(ctx) != AES_IV_LEN) {
		g_set_error_literal(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_CRYPTO,
		                    "AES-256-CBC has unexpected key or IV lengths");
		return NULL;
	}
	return g_steal_pointer(&ctx);
}

/* Encrypts or decrypts (as @ctx was set up) @n sectors at @data in place,
 * the first being sector @first of the payload. */
static gboolean crypt_sectors(EVP_CIPHER_CTX *ctx, guint64 first, guint8 *data, gsize n,
                              GError **error)
{
	for (gsize i = 0; i < n; i++) {
		guint8 iv[AES_IV_LEN] = {0};
		guint8 tail[2 * AES_IV_LEN];
		guint64 iv_number = GUINT64_TO_LE((first + i) * (SECTOR / OTA_CRYPT_IV_SECTOR_SIZE));
		guint8 *sector = data + i * SECTOR;
		int length = 0, tail_length = 0;

		memcpy(iv, &iv_number, sizeof(iv_number));
		/* In place: OpenSSL allows input and output to be the same buffer. */
		if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, -1) != 1 ||
		    EVP_CipherUpdate(ctx, sector, &length, sector, SECTOR) != 1 || length != SECTOR ||
		    EVP_CipherFinal_ex(ctx, tail, &tail_length) != 1 || tail_length != 0) {
			ota_set_openssl_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_CRYPTO,
			                      "AES-256-CBC failed on sector %" G_GUINT64_FORMAT, first + i);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean check_sector_multiple(guint64 size, GError **error)
{
	if (size % SECTOR == 0)
		return TRUE;
	g_set_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_INVALID,
	            "encrypted payload of %" G_GUINT64_FORMAT " bytes is not a multiple of the "
	            "%d-byte sector", size, SECTOR);
	return FALSE;
}

static gboolean pwrite_all(int fd, const guint8 *data, gsize size, guint64 offset,
                           GError **error)
{
	while (size > 0) {
		ssize_t n = pwrite(fd, data, size, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ota_set_io_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_IO,
			                        "encrypted payload", "write failed", errno);
		data += n;
		size -= (gsize)n;
		offset += (guint64)n;
	}
	return TRUE;
}

gboolean ota_crypt_encrypt_fd(int fd, guint64 size, const guint8 key[OTA_CRYPT_KEY_LEN],
                              GError **error)
{
	g_autoptr(EVP_CIPHER_CTX) ctx = NULL;
	guint8 *buffer;
	gboolean ok = TRUE;

	if (!check_sector_multiple(size, error))
		return FALSE;
	ctx = sector_cipher_new(key, TRUE, error);
	if (ctx == NULL)
		return FALSE;
	buffer = g_malloc((gsize)WINDOW_SECTORS * SECTOR);
	for (guint64 pos = 0; ok && pos < size;) {
		gsize chunk = (gsize)MIN(size - pos, (guint64)WINDOW_SECTORS * SECTOR);

		ok = ota_cancel_check(error) && ota_pread_all(fd, buffer, chunk, pos, error) &&
		     crypt_sectors(ctx, pos / SECTOR, buffer, chunk / SECTOR, error) &&
		     pwrite_all(fd, buffer, chunk, pos, error);
		pos += chunk;
		ota_progress_add(chunk);
	}
	/* It held plaintext. */
	OPENSSL_cleanse(buffer, (gsize)WINDOW_SECTORS * SECTOR);
	g_free(buffer);
	return ok;
}

/* --- the decrypting reader ----------------------------------------------- */

typedef struct {
	OtaReader base;
	OtaReader *ciphertext;
	EVP_CIPHER_CTX *ctx;
	/* Sectors [window_first, window_first + window_n), decrypted. */
	guint8 *window;
	guint64 window_first;
	guint64 window_n;
	/* Where the previous read ended: only a read that continues there
	 * loads a whole window; another loads the sectors it covers, so that
	 * the verity reader below fetches no more (streamed adaptive
	 * installs read scattered blocks). */
	guint64 next_offset;
} CryptReader;

static gboolean load_window(CryptReader *r, guint64 first, guint64 n, GError **error)
{
	r->window_n = 0; /* nothing in it is plaintext until the end */
	/* Whole sectors, each checked by the inner reader before it returns. */
	if (!ota_reader_read_at(r->ciphertext, first * SECTOR, r->window, (gsize)(n * SECTOR), error) ||
	    !crypt_sectors(r->ctx, first, r->window, (gsize)n, error))
		return FALSE;
	r->window_first = first;
	r->window_n = n;
	return TRUE;
}

/* Bounds were checked by ota_reader_read_at(). */
static gboolean crypt_reader_read_at(OtaReader *self, guint64 offset, void *buffer, gsize size,
                                     GError **error)
{
	CryptReader *r = (CryptReader *)self;
	guint8 *out = buffer;
	guint64 pos = offset, end = offset + size;
	/* The first read, of the superblock at 0, starts one: the window it
	 * loads serves the squashfs tables and is kept verified in memory. */
	gboolean stream = offset == r->next_offset;

	r->next_offset = end;
	while (pos < end) {
		guint64 sector = pos / SECTOR;
		guint64 window_end;

		if (sector < r->window_first || sector >= r->window_first + r->window_n) {
			guint64 n = stream ? WINDOW_SECTORS : (end - 1) / SECTOR + 1 - sector;

			n = MIN(n, MIN((guint64)WINDOW_SECTORS, r->base.size / SECTOR - sector));
			stream = TRUE; /* the rest of a large read continues it */

			if (!load_window(r, sector, n, error))
				return FALSE;
		}
		window_end = MIN(end, (r->window_first + r->window_n) * SECTOR);
		memcpy(out, r->window + (pos - r->window_first * SECTOR), window_end - pos);
		out += window_end - pos;
		pos = window_end;
	}
	return TRUE;
}

static void crypt_reader_free(OtaReader *self)
{
	CryptReader *r = (CryptReader *)self;

	ota_reader_free(r->ciphertext);
	/* Frees the key schedule wiped. */
	EVP_CIPHER_CTX_free(r->ctx);
	if (r->window != NULL) {
		OPENSSL_cleanse(r->window, (gsize)WINDOW_SECTORS * SECTOR);
		g_free(r->window);
	}
	g_free(r);
}

OtaReader *ota_crypt_reader_new(OtaReader *ciphertext, const guint8 key[OTA_CRYPT_KEY_LEN],
                                GError **error)
{
	CryptReader *r = g_new0(CryptReader, 1);

	r->base.read_at = crypt_reader_read_at;
	r->base.free = crypt_reader_free;
	r->base.size = ciphertext->size;
	r->ciphertext = ciphertext;
	if (!check_sector_multiple(ciphertext->size, error) ||
	    (r->ctx = sector_cipher_new(key, FALSE, error)) == NULL) {
		crypt_reader_free(&r->base);
		return NULL;
	}
	r->window = g_malloc((gsize)WINDOW_SECTORS * SECTOR);
	return &r->base;
}

gboolean ota_crypt_check_decrypts_to_squashfs(OtaReader *plaintext, GError **error)
{
	guint8 magic[sizeof(squashfs_magic)];

	if (plaintext->size < sizeof(magic)) {
		g_set_error_literal(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_INVALID,
		                    "encrypted payload is empty");
		return FALSE;
	}
	if (!ota_reader_read_at(plaintext, 0, magic, sizeof(magic), error))
		return FALSE;
	if (memcmp(magic, squashfs_magic, sizeof(magic)) == 0)
		return TRUE;
	g_set_error_literal(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_WRONG_KEY,
	                    "the manifest's crypt-key does not decrypt the payload to a squashfs "
	                    "(wrong key)");
	return FALSE;
}
