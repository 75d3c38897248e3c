/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The crypt payload cipher: known answers computed with an independent
 * implementation (Python's `cryptography`, AES-CBC per 4 KiB sector with
 * the plain64 IV of the 512-byte sector number), and the decrypting reader. */
#include "crypt-private.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "checksum-private.h"
#include "pki.h"

#define SECTOR OTA_CRYPT_SECTOR_SIZE

/* Key 00 01 .. 1f; plaintext byte i (over the whole payload) is i*31+7. */
static void test_key(guint8 key[OTA_CRYPT_KEY_LEN])
{
	for (gsize i = 0; i < OTA_CRYPT_KEY_LEN; i++)
		key[i] = (guint8)i;
}

static guint8 *test_plaintext(gsize size)
{
	guint8 *data = g_malloc(size);

	for (gsize i = 0; i < size; i++)
		data[i] = (guint8)(i * 31 + 7);
	return data;
}

static char *hex(const guint8 *bytes, gsize n)
{
	GString *s = g_string_new(NULL);

	for (gsize i = 0; i < n; i++)
		g_string_append_printf(s, "%02x", bytes[i]);
	return g_string_free(s, FALSE);
}

typedef struct {
	char *dir;
	char *path;
	int fd;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
	f->dir = test_tmpdir_new();
	f->path = g_build_filename(f->dir, "payload", NULL);
	f->fd = open(f->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	g_assert_cmpint(f->fd, >=, 0);
}

static void teardown(Fixture *f, gconstpointer data)
{
	close(f->fd);
	test_tmpdir_remove(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

/* Writes @size bytes of test plaintext to the fixture's file. */
static guint8 *write_plaintext(Fixture *f, gsize size)
{
	guint8 *data = test_plaintext(size);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_write_all(f->fd, data, size, &error));
	g_assert_no_error(error);
	return data;
}

static guint8 *read_file(Fixture *f, gsize size)
{
	guint8 *data = g_malloc(size);
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_pread_all(f->fd, data, size, 0, &error));
	g_assert_no_error(error);
	return data;
}

static void test_encryption_matches_independent_aes_cbc_plain64(Fixture *f, gconstpointer d)
{
	guint8 key[OTA_CRYPT_KEY_LEN];
	g_autofree guint8 *cipher = NULL;
	g_autofree char *sector1 = NULL;
	char digest_hex[OTA_SHA256_HEX_LEN + 1];
	OtaChecksum digest;
	g_autoptr(GError) error = NULL;

	g_free(write_plaintext(f, 3 * SECTOR));
	test_key(key);
	g_assert_true(ota_crypt_encrypt_fd(f->fd, 3 * SECTOR, key, &error));
	g_assert_no_error(error);
	cipher = read_file(f, 3 * SECTOR);
	g_assert_true(ota_checksum_fd(f->fd, 0, 3 * SECTOR, &digest, &error));
	ota_checksum_to_hex(digest.sha256, digest_hex);
	g_assert_cmpstr(digest_hex, ==,
	                "dd4aea5e021fefdf80725c047450f1a1ae53919bf0d934be72dab91fe59d5393");
	/* Sector 1's IV is 8 (512-byte sectors), not 1. */
	sector1 = hex(cipher + SECTOR, 16);
	g_assert_cmpstr(sector1, ==, "50b0d0693f5d02a65fe351e05914b698");
}

static void test_reader_decrypts_what_encryption_made(Fixture *f, gconstpointer d)
{
	/* More than one 256-sector window, so reads cross window edges. */
	const gsize size = 300 * SECTOR;
	static const struct {
		guint64 offset;
		gsize length;
	} reads[] = {{0, 4}, {1, SECTOR}, {SECTOR - 3, 7}, {255 * SECTOR + 100, 2 * SECTOR},
	             {17, 299 * SECTOR}, {300 * SECTOR - 1, 1}, {0, 300 * SECTOR}, {5000, 0}};
	guint8 key[OTA_CRYPT_KEY_LEN];
	g_autofree guint8 *plain = write_plaintext(f, size);
	g_autoptr(OtaReader) reader = NULL;
	g_autoptr(GError) error = NULL;

	test_key(key);
	g_assert_true(ota_crypt_encrypt_fd(f->fd, size, key, &error));
	reader = ota_crypt_reader_new(ota_reader_new_fd(f->fd, 0, size, &error), key, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(reader->size, ==, size);
	for (gsize i = 0; i < G_N_ELEMENTS(reads); i++) {
		g_autofree guint8 *got = g_malloc(reads[i].length + 1);

		g_assert_true(ota_reader_read_at(reader, reads[i].offset, got, reads[i].length, &error));
		g_assert_no_error(error);
		g_assert_cmpmem(got, reads[i].length, plain + reads[i].offset, reads[i].length);
	}
	g_assert_true(ota_crypt_check_decrypts_to_squashfs(reader, &error) == FALSE);
	g_assert_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_WRONG_KEY);
}

static void test_reader_refuses_a_partial_sector(Fixture *f, gconstpointer d)
{
	guint8 key[OTA_CRYPT_KEY_LEN];
	g_autoptr(GError) error = NULL;

	g_free(write_plaintext(f, SECTOR + 512));
	test_key(key);
	g_assert_null(
		ota_crypt_reader_new(ota_reader_new_fd(f->fd, 0, SECTOR + 512, NULL), key, &error));
	g_assert_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_INVALID);
	g_clear_error(&error);
	g_assert_false(ota_crypt_encrypt_fd(f->fd, SECTOR + 512, key, &error));
	g_assert_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_INVALID);
}

/* A ciphertext reader of @size bytes whose every sector holds @sector. */
typedef struct {
	OtaReader base;
	const guint8 *sector;
} RepeatReader;

static gboolean repeat_read_at(OtaReader *self, guint64 offset, void *buffer, gsize size,
                               GError **error)
{
	RepeatReader *r = (RepeatReader *)self;
	guint8 *out = buffer;

	for (gsize i = 0; i < size; i++)
		out[i] = r->sector[(offset + i) % SECTOR];
	return TRUE;
}

/* Sector 2^29 has IV 2^32: the IV is a 64-bit number, not a 32-bit one.
 * CBC decrypts a sector's first block from that block and the IV alone, so
 * the first 16 bytes of the independent implementation's ciphertext of
 * the test plaintext as sector 2^29 must decrypt to the plaintext's first
 * 16 bytes (what follows them in the sector does not matter). */
static void test_iv_of_a_sector_beyond_4_gib_of_512_byte_sectors(void)
{
	static const guint8 first_block[16] = {0x76, 0xac, 0xb8, 0xe4, 0xa1, 0x4f, 0xbd, 0x61,
	                                       0x49, 0xba, 0xb4, 0x36, 0xb9, 0xc3, 0xf4, 0x56};
	const guint64 sector = G_GUINT64_CONSTANT(1) << 29;
	guint8 key[OTA_CRYPT_KEY_LEN];
	g_autofree guint8 *plain = test_plaintext(SECTOR);
	guint8 cipher[SECTOR] = {0};
	guint8 got[SECTOR];
	RepeatReader *inner = g_new0(RepeatReader, 1);
	g_autoptr(OtaReader) reader = NULL;
	g_autoptr(GError) error = NULL;

	test_key(key);
	memcpy(cipher, first_block, sizeof(first_block));
	inner->base.read_at = repeat_read_at;
	inner->base.free = (void (*)(OtaReader *))g_free;
	inner->base.size = (sector + 1) * SECTOR;
	inner->sector = cipher;
	reader = ota_crypt_reader_new(&inner->base, key, &error);
	g_assert_no_error(error);
	g_assert_true(ota_reader_read_at(reader, sector * SECTOR, got, SECTOR, &error));
	g_assert_no_error(error);
	g_assert_cmpmem(got, 16, plain, 16);
	/* The same bytes as sector 0 (IV 0) decrypt to something else. */
	g_assert_true(ota_reader_read_at(reader, 0, got, SECTOR, &error));
	g_assert_true(memcmp(got, plain, 16) != 0);
}

static void test_wrong_key_is_told_from_a_squashfs(Fixture *f, gconstpointer d)
{
	guint8 key[OTA_CRYPT_KEY_LEN], other[OTA_CRYPT_KEY_LEN];
	guint8 sector[SECTOR] = {'h', 's', 'q', 's'};
	g_autoptr(OtaReader) right = NULL;
	g_autoptr(OtaReader) wrong = NULL;
	g_autoptr(GError) error = NULL;

	test_key(key);
	test_key(other);
	other[31] ^= 1;
	g_assert_true(ota_write_all(f->fd, sector, SECTOR, &error));
	g_assert_true(ota_write_all(f->fd, sector, SECTOR, &error));
	g_assert_true(ota_crypt_encrypt_fd(f->fd, 2 * SECTOR, key, &error));
	right = ota_crypt_reader_new(ota_reader_new_fd(f->fd, 0, 2 * SECTOR, NULL), key, &error);
	wrong = ota_crypt_reader_new(ota_reader_new_fd(f->fd, 0, 2 * SECTOR, NULL), other, &error);
	g_assert_no_error(error);
	g_assert_true(ota_crypt_check_decrypts_to_squashfs(right, &error));
	g_assert_no_error(error);
	g_assert_false(ota_crypt_check_decrypts_to_squashfs(wrong, &error));
	g_assert_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_WRONG_KEY);
}

static void test_key_hex_is_exactly_64_hex_digits(void)
{
	guint8 key[OTA_CRYPT_KEY_LEN];
	char round[OTA_CRYPT_KEY_HEX_LEN + 1];
	g_autofree char *upper = g_strnfill(64, 'A');
	g_autofree char *short_key = g_strnfill(63, 'a');
	g_autofree char *long_key = g_strnfill(65, 'a');
	g_autofree char *not_hex = g_strnfill(64, 'g');

	g_assert_true(ota_crypt_key_from_hex(upper, key));
	ota_crypt_key_to_hex(key, round);
	g_assert_cmpstr(round, ==, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	g_assert_false(ota_crypt_key_from_hex(short_key, key));
	g_assert_false(ota_crypt_key_from_hex(long_key, key));
	g_assert_false(ota_crypt_key_from_hex(not_hex, key));
	g_assert_false(ota_crypt_key_from_hex("", key));
	g_assert_false(ota_crypt_key_from_hex(NULL, key));
}

static void test_key_file_takes_hex_and_never_quotes_a_bad_one(Fixture *f, gconstpointer d)
{
	g_autofree char *good = g_build_filename(f->dir, "good.key", NULL);
	g_autofree char *bad = g_build_filename(f->dir, "bad.key", NULL);
	g_autofree char *missing = g_build_filename(f->dir, "missing.key", NULL);
	guint8 key[OTA_CRYPT_KEY_LEN], expected[OTA_CRYPT_KEY_LEN];
	g_autoptr(GError) error = NULL;

	test_key(expected);
	g_assert_true(g_file_set_contents(
		good, "  000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", -1,
		NULL));
	g_assert_true(ota_crypt_key_load(good, key, &error));
	g_assert_no_error(error);
	g_assert_cmpmem(key, sizeof(key), expected, sizeof(expected));

	g_assert_true(g_file_set_contents(bad, "secret-0123456789abcdef", -1, NULL));
	g_assert_false(ota_crypt_key_load(bad, key, &error));
	g_assert_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_INVALID);
	g_assert_nonnull(strstr(error->message, bad));
	g_assert_null(strstr(error->message, "secret"));
	g_clear_error(&error);

	g_assert_false(ota_crypt_key_load(missing, key, &error));
	g_assert_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_IO);
	g_clear_error(&error);
	g_assert_false(ota_crypt_key_load(f->dir, key, &error));
	g_assert_error(error, OTA_CRYPT_ERROR, OTA_CRYPT_ERROR_INVALID);
}

static void test_derived_key_depends_on_every_plaintext_byte(Fixture *f, gconstpointer d)
{
	g_autofree guint8 *plain = write_plaintext(f, 2 * SECTOR);
	guint8 first[OTA_CRYPT_KEY_LEN], again[OTA_CRYPT_KEY_LEN], changed[OTA_CRYPT_KEY_LEN];
	guint8 byte = plain[2 * SECTOR - 1] ^ 1;
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_crypt_key_derive(f->fd, 2 * SECTOR, first, &error));
	g_assert_true(ota_crypt_key_derive(f->fd, 2 * SECTOR, again, &error));
	g_assert_cmpmem(first, sizeof(first), again, sizeof(again));
	g_assert_cmpint(pwrite(f->fd, &byte, 1, 2 * SECTOR - 1), ==, 1);
	g_assert_true(ota_crypt_key_derive(f->fd, 2 * SECTOR, changed, &error));
	g_assert_no_error(error);
	g_assert_true(memcmp(first, changed, sizeof(first)) != 0);
}

static void test_random_keys_differ(void)
{
	guint8 a[OTA_CRYPT_KEY_LEN], b[OTA_CRYPT_KEY_LEN];
	g_autoptr(GError) error = NULL;

	g_assert_true(ota_crypt_key_generate(a, &error));
	g_assert_true(ota_crypt_key_generate(b, &error));
	g_assert_no_error(error);
	g_assert_true(memcmp(a, b, sizeof(a)) != 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/crypt/" name, Fixture, NULL, setup, fn, teardown)
	ADD("encryption-matches-independent-aes-cbc-plain64",
	    test_encryption_matches_independent_aes_cbc_plain64);
	ADD("reader-decrypts-what-encryption-made", test_reader_decrypts_what_encryption_made);
	ADD("reader-refuses-a-partial-sector", test_reader_refuses_a_partial_sector);
	ADD("wrong-key-is-told-from-a-squashfs", test_wrong_key_is_told_from_a_squashfs);
	ADD("key-file-takes-hex-and-never-quotes-a-bad-one",
	    test_key_file_takes_hex_and_never_quotes_a_bad_one);
	ADD("derived-key-depends-on-every-plaintext-byte",
	    test_derived_key_depends_on_every_plaintext_byte);
	g_test_add_func("/crypt/iv-of-a-sector-beyond-4-gib-of-512-byte-sectors",
	                test_iv_of_a_sector_beyond_4_gib_of_512_byte_sectors);
	g_test_add_func("/crypt/key-hex-is-exactly-64-hex-digits",
	                test_key_hex_is_exactly_64_hex_digits);
	g_test_add_func("/crypt/random-keys-differ", test_random_keys_differ);
	return g_test_run();
}
