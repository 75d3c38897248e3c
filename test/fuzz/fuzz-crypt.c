/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the crypt payload's decryption path. In a bundle the
 * key comes from a signed manifest and the ciphertext from blocks verity
 * has checked, but what they decrypt to is whatever the signer packed: the
 * decrypting reader, the wrong-key check and the squashfs parser behind
 * them must not crash or read out of bounds whatever key and bytes they get.
 *
 * Input (integers little-endian):
 *
 *   0   key[32]
 *   32  u8  flags
 *   33  u64 read_offset   one extra read through the reader
 *   41  u16 read_length
 *   43  body
 *
 * flags: ENCRYPT_BODY pads the body to whole sectors and encrypts it with
 * the key first (ota_crypt_encrypt_fd()), so the body is the plaintext and a
 * seed can be a small squashfs whose mutations reach the squashfs parser;
 * every read must then return the body's own bytes. Otherwise the body is
 * the ciphertext as it lies in the bundle (a size that is not whole sectors
 * must be refused). */
#include "crypt-private.h"
#include "manifest-private.h"
#include "squashfs-private.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECTOR OTA_CRYPT_SECTOR_SIZE
#define HEADER_SIZE 43
#define MAX_READ (64 * 1024)
/* Keeps the work per input small: 256 sectors are one reader window. */
#define MAX_BODY (300 * SECTOR)

enum {
	ENCRYPT_BODY = 1 << 0,
};

static guint64 le64(const uint8_t *p)
{
	guint64 v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int memfd_with(const guint8 *contents, gsize length, gsize padded)
{
	int fd = memfd_create("crypt", MFD_CLOEXEC);

	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	if (!ota_write_all(fd, contents, length, NULL) || ftruncate(fd, (off_t)padded) < 0)
		abort();
	return fd;
}

/* One read through the reader: a read outside it must fail; with
 * @plaintext (the body before encryption, padded with zeros) every read
 * inside must return its bytes. */
static void read_through(OtaReader *reader, const guint8 *plaintext, guint64 offset,
                         gsize length)
{
	g_autoptr(GError) error = NULL;
	g_autofree guint8 *buf = g_malloc(MAX(length, 1));
	gboolean inside = offset <= reader->size && length <= reader->size - offset;
	gboolean ok = ota_reader_read_at(reader, offset, buf, length, &error);

	if (ok != inside) {
		fprintf(stderr, "read of %zu at %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
		        " bytes: %s\n", length, offset, reader->size,
		        ok ? "succeeded outside" : error->message);
		abort();
	}
	if (ok && plaintext != NULL && length > 0 && memcmp(buf, plaintext + offset, length) != 0) {
		fprintf(stderr, "decrypted bytes at %" G_GUINT64_FORMAT " are not the plaintext\n",
		        offset);
		abort();
	}
}

/* What a bundle reads next: the squashfs, its manifest, the manifest's images. */
static void parse_plaintext(OtaReader *reader)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(OtaSquashfs) squashfs = NULL;
	g_autoptr(GBytes) manifest = NULL;
	g_autoptr(OtaManifest) m = NULL;

	if (!ota_crypt_check_decrypts_to_squashfs(reader, &error)) {
		g_assert_nonnull(error);
		return;
	}
	squashfs = ota_squashfs_open(reader, &error);
	if (squashfs == NULL)
		return;
	manifest = ota_squashfs_read_small_file(squashfs, OTA_MANIFEST_FILENAME,
	                                        OTA_MANIFEST_MAX_SIZE, &error);
	if (manifest == NULL)
		return;
	m = ota_manifest_parse(g_bytes_get_data(manifest, NULL), g_bytes_get_size(manifest), NULL);
	for (guint i = 0; m != NULL && i < m->images->len; i++) {
		const OtaImage *image = g_ptr_array_index(m->images, i);
		GBytes *contents = ota_squashfs_read_small_file(squashfs, image->filename, MAX_READ, NULL);

		if (contents != NULL)
			g_bytes_unref(contents);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(OtaReader) reader = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree guint8 *plaintext = NULL;
	guint8 key[OTA_CRYPT_KEY_LEN];
	const guint8 *body = data + HEADER_SIZE;
	gsize body_len, file_len, read_length;
	guint64 read_offset;
	gboolean encrypt;
	int fd;

	if (size < HEADER_SIZE || size - HEADER_SIZE > MAX_BODY)
		return 0;
	memcpy(key, data, sizeof(key));
	encrypt = (data[32] & ENCRYPT_BODY) != 0;
	read_offset = le64(data + 33);
	read_length = MIN((gsize)(data[41] | data[42] << 8), (gsize)MAX_READ);
	body_len = size - HEADER_SIZE;
	file_len = encrypt ? (body_len + SECTOR - 1) / SECTOR * SECTOR : body_len;

	fd = memfd_with(body, body_len, file_len);
	if (encrypt) {
		plaintext = g_malloc0(MAX(file_len, 1));
		memcpy(plaintext, body, body_len);
		if (!ota_crypt_encrypt_fd(fd, file_len, key, &error)) {
			fprintf(stderr, "encrypting %zu bytes failed: %s\n", file_len, error->message);
			abort();
		}
	}
	reader = ota_crypt_reader_new(ota_reader_new_fd(fd, 0, file_len, NULL), key, &error);
	close(fd);
	if (reader == NULL) {
		g_assert_nonnull(error);
		/* Only a size that is not whole sectors is refused. */
		if (file_len % SECTOR == 0)
			abort();
		return 0;
	}
	if (file_len % SECTOR != 0)
		abort();
	read_through(reader, plaintext, 0, MIN(reader->size, (guint64)SECTOR));
	read_through(reader, plaintext, SECTOR - 1, 2);
	if (reader->size > 0)
		read_through(reader, plaintext, reader->size - 1, 1);
	read_through(reader, plaintext, reader->size / 2, MIN(reader->size / 2, (guint64)MAX_READ));
	read_through(reader, plaintext, reader->size, 1);
	read_through(reader, plaintext, read_offset, read_length);
	parse_plaintext(reader);
	return 0;
}
