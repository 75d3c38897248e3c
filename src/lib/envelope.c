/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CMS EnvelopedData, as RAUC wraps an encrypted bundle's signature in it
 * (src/signature.c: cms_encrypt(), cms_decrypt()). OpenSSL's CMS does the
 * key transport and key agreement; this module parses the structure once
 * more itself (definite-length DER only, which OpenSSL writes), because
 * encrypting new content for the same recipients needs the parts of the
 * original verbatim, and OpenSSL offers no way to build an EnvelopedData
 * from existing RecipientInfos. */
#include "envelope-private.h"

#include <otabundle/keys.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <string.h>

#include "openssl-private.h"

G_DEFINE_QUARK(ota-envelope-error-quark, ota_envelope_error)

G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_CIPHER, EVP_CIPHER_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_OBJECT, ASN1_OBJECT_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY_CTX, EVP_PKEY_CTX_free)

/* The content-encryption key is wrapped for each recipient; RAUC and
 * `otabundle encrypt` use AES-256-CBC, and any AES-CBC is read. */
#define OTA_ENVELOPE_MAX_KEY_LEN 32

/* id-envelopedData (1.2.840.113549.1.7.3) as a DER OBJECT IDENTIFIER. */
static const guint8 enveloped_data_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                            0x0d, 0x01, 0x07, 0x03};

struct OtaRecipient {
	char *issuer;
	char *serial;
	char *subject_key_id;
	char *algorithm;
	const char *key_type;
	CMS_RecipientInfo *ri;          /* in the envelope's CMS */
	CMS_RecipientEncryptedKey *rek; /* key agreement: this recipient's key */
};

/* A stretch of the envelope's DER. */
typedef struct {
	const guint8 *data;
	gsize len;
} Span;

/* The parts of an EnvelopedData (RFC 5652, 6.1), each a whole DER element
 * (tag, length and contents) unless said otherwise; optional ones empty
 * when absent. */
typedef struct {
	Span content_type;      /* of the ContentInfo: id-envelopedData */
	Span version;
	Span originator_info;   /* [0], optional */
	Span recipient_infos;   /* the SET */
	Span encrypted_type;    /* EncryptedContentInfo.contentType */
	Span cipher_oid;        /* contentEncryptionAlgorithm.algorithm */
	Span iv;                /* its parameters' contents */
	Span ciphertext;        /* encryptedContent's contents */
	Span unprotected_attrs; /* [1], optional */
} Parts;

struct OtaEnvelope {
	GBytes *der;
	CMS_ContentInfo *cms;
	GPtrArray *recipients; /* OtaRecipient* */
	Parts parts;           /* into der */
	const EVP_CIPHER *cipher;
	guint8 cek[OTA_ENVELOPE_MAX_KEY_LEN]; /* after a decryption */
	gsize cek_len;
};

/* --- DER ---------------------------------------------------------------------- */

/* Takes one element of definite length, with a one-byte tag, off the front
 * of @in. */
static gboolean der_take(Span *in, guint8 *tag, Span *content, Span *whole)
{
	gsize header = 2, len;

	if (in->len < 2 || (in->data[0] & 0x1f) == 0x1f)
		return FALSE;
	len = in->data[1];
	if (len & 0x80) {
		guint n = len & 0x7f;

		/* 0: indefinite (BER); more than 4: no bundle holds that much. */
		if (n == 0 || n > 4 || in->len < 2 + n)
			return FALSE;
		len = 0;
		for (guint i = 0; i < n; i++)
			len = len << 8 | in->data[2 + i];
		header += n;
	}
	if (len > in->len - header)
		return FALSE;
	*tag = in->data[0];
	if (content != NULL)
		*content = (Span){in->data + header, len};
	if (whole != NULL)
		*whole = (Span){in->data, header + len};
	in->data += header + len;
	in->len -= header + len;
	return TRUE;
}

static gboolean der_take_tag(Span *in, guint8 wanted, Span *content, Span *whole)
{
	Span copy = *in;
	guint8 tag;

	if (!der_take(&copy, &tag, content, whole) || tag != wanted)
		return FALSE;
	*in = copy;
	return TRUE;
}

/* Takes an optional element tagged @wanted; FALSE only if it is there and
 * malformed. */
static gboolean der_take_optional(Span *in, guint8 wanted, Span *whole)
{
	if (in->len == 0 || in->data[0] != wanted)
		return TRUE;
	return der_take_tag(in, wanted, NULL, whole);
}

static void der_append(GByteArray *out, guint8 tag, const guint8 *content, gsize len)
{
	guint8 header[6];
	guint n = 0, bytes = 0;

	header[n++] = tag;
	if (len < 0x80) {
		header[n++] = (guint8)len;
	} else {
		for (gsize l = len; l > 0; l >>= 8)
			bytes++;
		header[n++] = (guint8)(0x80 | bytes);
		for (guint i = bytes; i > 0; i--)
			header[n++] = (guint8)(len >> (8 * (i - 1)));
	}
	g_byte_array_append(out, header, n);
	g_byte_array_append(out, content, (guint)len);
}

static void span_append(GByteArray *out, Span s)
{
	g_byte_array_append(out, s.data, (guint)s.len);
}

static gboolean span_equal(Span s, const guint8 *data, gsize len)
{
	return s.len == len && memcmp(s.data, data, len) == 0;
}

static gboolean damaged(GError **error, const char *reason)
{
	g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_DAMAGED,
	            "damaged EnvelopedData: %s", reason);
	return FALSE;
}

/* ContentInfo { contentType, [0] EnvelopedData { version, [0]
 * originatorInfo OPTIONAL, recipientInfos SET, EncryptedContentInfo {
 * contentType, AlgorithmIdentifier { algorithm, iv }, [0]
 * encryptedContent }, [1] unprotectedAttrs OPTIONAL } }. */
static gboolean split(const guint8 *der, gsize length, Parts *p, GError **error)
{
	Span in = {der, length}, info, explicit, body, eci, alg;

	if (!der_take_tag(&in, 0x30, &info, NULL) || in.len != 0)
		return damaged(error, "not one DER structure");
	if (!der_take_tag(&info, 0x06, NULL, &p->content_type) ||
	    !span_equal(p->content_type, enveloped_data_oid, sizeof(enveloped_data_oid)))
		return damaged(error, "not of type envelopedData");
	if (!der_take_tag(&info, 0xa0, &explicit, NULL) || info.len != 0 ||
	    !der_take_tag(&explicit, 0x30, &body, NULL) || explicit.len != 0)
		return damaged(error, "no EnvelopedData in its ContentInfo");
	if (!der_take_tag(&body, 0x02, NULL, &p->version) ||
	    !der_take_optional(&body, 0xa0, &p->originator_info) ||
	    !der_take_tag(&body, 0x31, NULL, &p->recipient_infos))
		return damaged(error, "malformed header or recipients");
	if (!der_take_tag(&body, 0x30, &eci, NULL) ||
	    !der_take_tag(&eci, 0x06, NULL, &p->encrypted_type) ||
	    !der_take_tag(&eci, 0x30, &alg, NULL) || !der_take_tag(&alg, 0x06, NULL, &p->cipher_oid) ||
	    !der_take_tag(&alg, 0x04, &p->iv, NULL) || alg.len != 0)
		return damaged(error, "malformed content encryption algorithm");
	/* encryptedContent is [0] IMPLICIT OCTET STRING: primitive in DER.
	 * Absent, the content would be elsewhere: a bundle has nowhere else. */
	if (!der_take_tag(&eci, 0x80, &p->ciphertext, NULL) || eci.len != 0)
		return damaged(error, "no encrypted content");
	if (!der_take_optional(&body, 0xa1, &p->unprotected_attrs) || body.len != 0)
		return damaged(error, "unexpected data after the encrypted content");
	return TRUE;
}

gboolean ota_envelope_der_is_enveloped(const guint8 *der, gsize length)
{
	gsize offset = 2;

	if (length < 2 || der[0] != 0x30)
		return FALSE;
	if (der[1] & 0x80)
		offset += der[1] & 0x7f;
	return length >= offset + sizeof(enveloped_data_oid) &&
	       memcmp(der + offset, enveloped_data_oid, sizeof(enveloped_data_oid)) == 0;
}

/* --- recipients ------------------------------------------------------------------- */

const char *ota_recipient_get_issuer(const OtaRecipient *r)
{
	return r->issuer;
}

const char *ota_recipient_get_serial(const OtaRecipient *r)
{
	return r->serial;
}

const char *ota_recipient_get_subject_key_id(const OtaRecipient *r)
{
	return r->subject_key_id;
}

const char *ota_recipient_get_key_type(const OtaRecipient *r)
{
	return r->key_type;
}

const char *ota_recipient_get_algorithm(const OtaRecipient *r)
{
	return r->algorithm;
}

static void recipient_free(OtaRecipient *r)
{
	g_free(r->issuer);
	g_free(r->serial);
	g_free(r->subject_key_id);
	g_free(r->algorithm);
	g_free(r);
}

static char *serial_to_hex(const ASN1_INTEGER *serial)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	char *copy = g_strdup(hex != NULL ? hex : "?");

	OPENSSL_free(hex);
	BN_free(bn);
	return copy;
}

static char *algorithm_name(const X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj = NULL;
	char name[128];

	if (alg == NULL)
		return g_strdup("?");
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	if (obj == NULL || OBJ_obj2txt(name, sizeof(name), obj, 0) <= 0)
		return g_strdup("?");
	return g_strdup(name);
}

static OtaRecipient *recipient_new(CMS_RecipientInfo *ri, CMS_RecipientEncryptedKey *rek,
                                   const char *key_type, const X509_ALGOR *alg,
                                   const ASN1_OCTET_STRING *keyid, const X509_NAME *issuer,
                                   const ASN1_INTEGER *serial)
{
	OtaRecipient *r = g_new0(OtaRecipient, 1);

	r->ri = ri;
	r->rek = rek;
	r->key_type = key_type;
	r->algorithm = algorithm_name(alg);
	if (issuer != NULL && serial != NULL) {
		r->issuer = ota_x509_name_to_string(issuer);
		r->serial = serial_to_hex(serial);
	} else if (keyid != NULL) {
		r->subject_key_id = g_malloc0((gsize)ASN1_STRING_length(keyid) * 2 + 1);
		for (int i = 0; i < ASN1_STRING_length(keyid); i++)
			sprintf(r->subject_key_id + 2 * i, "%02x", ASN1_STRING_get0_data(keyid)[i]);
	}
	return r;
}

static void add_key_agreement_recipients(OtaEnvelope *env, CMS_RecipientInfo *ri)
{
	STACK_OF(CMS_RecipientEncryptedKey) *reks = CMS_RecipientInfo_kari_get0_reks(ri);
	X509_ALGOR *alg = NULL;

	if (CMS_RecipientInfo_kari_get0_alg(ri, &alg, NULL) != 1)
		alg = NULL;
	for (int i = 0; i < sk_CMS_RecipientEncryptedKey_num(reks); i++) {
		CMS_RecipientEncryptedKey *rek = sk_CMS_RecipientEncryptedKey_value(reks, i);
		ASN1_OCTET_STRING *keyid = NULL;
		X509_NAME *issuer = NULL;
		ASN1_INTEGER *serial = NULL;

		if (CMS_RecipientEncryptedKey_get0_id(rek, &keyid, NULL, NULL, &issuer, &serial) != 1)
			keyid = NULL, issuer = NULL, serial = NULL;
		g_ptr_array_add(env->recipients,
		                recipient_new(ri, rek, "ec", alg, keyid, issuer, serial));
	}
}

static void add_recipients(OtaEnvelope *env)
{
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(env->cms);

	for (int i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
		CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
		ASN1_OCTET_STRING *keyid = NULL;
		X509_NAME *issuer = NULL;
		ASN1_INTEGER *serial = NULL;
		X509_ALGOR *alg = NULL;

		switch (CMS_RecipientInfo_type(ri)) {
		case CMS_RECIPINFO_TRANS:
			if (CMS_RecipientInfo_ktri_get0_signer_id(ri, &keyid, &issuer, &serial) != 1)
				keyid = NULL, issuer = NULL, serial = NULL;
			if (CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg) != 1)
				alg = NULL;
			g_ptr_array_add(env->recipients,
			                recipient_new(ri, NULL, "rsa", alg, keyid, issuer, serial));
			break;
		case CMS_RECIPINFO_AGREE:
			add_key_agreement_recipients(env, ri);
			break;
		default:
			g_ptr_array_add(env->recipients,
			                recipient_new(ri, NULL, "other", NULL, NULL, NULL, NULL));
			break;
		}
	}
}

/* --- parsing ------------------------------------------------------------------------ */

void ota_envelope_free(OtaEnvelope *env)
{
	if (env == NULL)
		return;
	OPENSSL_cleanse(env->cek, sizeof(env->cek));
	if (env->recipients != NULL)
		g_ptr_array_unref(env->recipients);
	CMS_ContentInfo_free(env->cms);
	if (env->der != NULL)
		g_bytes_unref(env->der);
	g_free(env);
}

static gboolean choose_cipher(OtaEnvelope *env, GError **error)
{
	const guint8 *p = env->parts.cipher_oid.data;
	g_autoptr(ASN1_OBJECT) oid = d2i_ASN1_OBJECT(NULL, &p, (long)env->parts.cipher_oid.len);
	int nid = oid != NULL ? OBJ_obj2nid(oid) : NID_undef;
	char name[80] = "?";

	ERR_clear_error();
	if (nid == NID_aes_128_cbc || nid == NID_aes_192_cbc || nid == NID_aes_256_cbc)
		env->cipher = EVP_get_cipherbynid(nid);
	if (env->cipher == NULL) {
		if (oid != NULL)
			OBJ_obj2txt(name, sizeof(name), oid, 0);
		g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_UNSUPPORTED,
		            "EnvelopedData: content cipher %s is not supported (AES-CBC is)", name);
		return FALSE;
	}
	if (env->parts.iv.len != (gsize)EVP_CIPHER_get_iv_length(env->cipher))
		return damaged(error, "its IV has the wrong length");
	if (env->parts.ciphertext.len == 0 ||
	    env->parts.ciphertext.len % (gsize)EVP_CIPHER_get_block_size(env->cipher) != 0)
		return damaged(error, "its encrypted content is not whole cipher blocks");
	return TRUE;
}

OtaEnvelope *ota_envelope_parse(const guint8 *der, gsize length, GError **error)
{
	g_autoptr(OtaEnvelope) env = g_new0(OtaEnvelope, 1);
	const guint8 *data, *p;
	gsize len;

	env->der = g_bytes_new(der, length);
	data = g_bytes_get_data(env->der, &len);
	if (!split(data, len, &env->parts, error) || !choose_cipher(env, error))
		return NULL;
	p = data;
	env->cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (env->cms == NULL || p != data + len ||
	    OBJ_obj2nid(CMS_get0_type(env->cms)) != NID_pkcs7_enveloped) {
		ERR_clear_error();
		damaged(error, "OpenSSL cannot parse it");
		return NULL;
	}
	env->recipients = g_ptr_array_new_with_free_func((GDestroyNotify)recipient_free);
	add_recipients(env);
	if (env->recipients->len == 0) {
		damaged(error, "it names no recipient");
		return NULL;
	}
	return g_steal_pointer(&env);
}

guint ota_envelope_get_n_recipients(const OtaEnvelope *env)
{
	return env->recipients->len;
}

const OtaRecipient *ota_envelope_get_recipient(const OtaEnvelope *env, guint index)
{
	g_return_val_if_fail(index < env->recipients->len, NULL);
	return g_ptr_array_index(env->recipients, index);
}

const char *ota_envelope_get_cipher_name(const OtaEnvelope *env)
{
	return EVP_CIPHER_get0_name(env->cipher);
}

/* --- decrypting -------------------------------------------------------------------- */

static const char *key_type_of(EVP_PKEY *key)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		return "rsa";
	case EVP_PKEY_EC:
		return "ec";
	default:
		return NULL;
	}
}

static const char *key_type_label(const char *key_type)
{
	return g_str_equal(key_type, "rsa") ? "RSA" : g_str_equal(key_type, "ec") ? "EC" : "other";
}

static gboolean recipient_is(const OtaRecipient *r, X509 *cert)
{
	if (r->rek != NULL)
		return CMS_RecipientEncryptedKey_cert_cmp(r->rek, cert) == 0;
	return CMS_RecipientInfo_ktri_cert_cmp(r->ri, cert) == 0;
}

/* OpenSSL unwraps the content-encryption key into the CMS's private state
 * (RSA: PKCS#1 v1.5 decryption; EC: ECDH with the originator's key, the
 * KDF and AES key unwrap). */
static gboolean unwrap_for(OtaEnvelope *env, const OtaRecipient *r, EVP_PKEY *key)
{
	gboolean ok;

	if (r->rek != NULL) {
		if (CMS_RecipientInfo_kari_set0_pkey(r->ri, key) != 1)
			return FALSE;
		ok = CMS_RecipientInfo_kari_decrypt(env->cms, r->ri, r->rek) == 1;
		CMS_RecipientInfo_kari_set0_pkey(r->ri, NULL);
		return ok;
	}
	EVP_PKEY_up_ref(key);
	CMS_RecipientInfo_set0_pkey(r->ri, key);
	ok = CMS_RecipientInfo_decrypt(env->cms, r->ri) == 1;
	CMS_RecipientInfo_set0_pkey(r->ri, NULL);
	return ok;
}

/* The encryptedKey of the KEK recipient with key identifier @id. */
static gboolean find_kek_recipient_key(const guint8 *der, gsize len, const guint8 *id,
                                       gsize id_len, Span *wrapped)
{
	Parts parts;
	Span set, ri, kekid, identifier;
	guint8 tag;

	if (!split(der, len, &parts, NULL))
		return FALSE;
	if (!der_take_tag(&parts.recipient_infos, 0x31, &set, NULL))
		return FALSE;
	while (set.len > 0) {
		if (!der_take(&set, &tag, &ri, NULL))
			return FALSE;
		/* KEKRecipientInfo: [2] { version, kekid { keyIdentifier, ... },
		 * keyEncryptionAlgorithm, encryptedKey } */
		if (tag != 0xa2 || !der_take_tag(&ri, 0x02, NULL, NULL) ||
		    !der_take_tag(&ri, 0x30, &kekid, NULL) ||
		    !der_take_tag(&kekid, 0x04, &identifier, NULL) ||
		    !span_equal(identifier, id, id_len))
			continue;
		return der_take_tag(&ri, 0x30, NULL, NULL) && der_take_tag(&ri, 0x04, wrapped, NULL);
	}
	return FALSE;
}

/* OpenSSL keeps the unwrapped content-encryption key to itself, but wraps
 * it for any recipient added: so a KEK recipient with a key of our own is
 * added, and its wrapped key unwrapped with that key. Only public API
 * (CMS_add0_recipient_key(), CMS_RecipientInfo_encrypt()). FALSE also
 * for a key of the wrong length, which a wrong RSA key may unwrap. */
static gboolean take_content_key(OtaEnvelope *env)
{
	guint8 *kek = OPENSSL_malloc(32), *id = OPENSSL_malloc(16);
	guint8 kek_copy[32], id_copy[16], unwrapped[OTA_ENVELOPE_MAX_KEY_LEN + 16];
	g_autoptr(EVP_CIPHER) wrap = NULL;
	g_autoptr(EVP_CIPHER_CTX) ctx = NULL;
	CMS_RecipientInfo *ri = NULL;
	guint8 *der = NULL;
	Span wrapped;
	int der_len = 0, out_len = 0, final_len = 0;
	gboolean ok;

	ok = kek != NULL && id != NULL && RAND_bytes(kek, 32) == 1 && RAND_bytes(id, 16) == 1;
	if (ok) {
		memcpy(kek_copy, kek, sizeof(kek_copy));
		memcpy(id_copy, id, sizeof(id_copy));
		/* Takes kek and id. */
		ri = CMS_add0_recipient_key(env->cms, NID_undef, kek, 32, id, 16, NULL, NULL, NULL);
		if (ri == NULL) {
			OPENSSL_clear_free(kek, 32);
			OPENSSL_free(id);
		}
		kek = id = NULL;
	} else {
		OPENSSL_clear_free(kek, 32);
		OPENSSL_free(id);
	}
	ok = ri != NULL && CMS_RecipientInfo_encrypt(env->cms, ri) == 1 &&
	     (der_len = i2d_CMS_ContentInfo(env->cms, &der)) > 0 &&
	     find_kek_recipient_key(der, (gsize)der_len, id_copy, sizeof(id_copy), &wrapped) &&
	     wrapped.len <= sizeof(unwrapped) && (wrap = EVP_CIPHER_fetch(NULL, "AES-256-WRAP", NULL)) &&
	     (ctx = EVP_CIPHER_CTX_new()) != NULL;
	if (ok) {
		EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
		ok = EVP_DecryptInit_ex(ctx, wrap, NULL, kek_copy, NULL) == 1 &&
		     EVP_DecryptUpdate(ctx, unwrapped, &out_len, wrapped.data, (int)wrapped.len) == 1 &&
		     EVP_DecryptFinal_ex(ctx, unwrapped + out_len, &final_len) == 1;
	}
	OPENSSL_free(der);
	OPENSSL_cleanse(kek_copy, sizeof(kek_copy));
	out_len += final_len;
	if (!ok || out_len != EVP_CIPHER_get_key_length(env->cipher)) {
		OPENSSL_cleanse(unwrapped, sizeof(unwrapped));
		ERR_clear_error();
		return FALSE;
	}
	memcpy(env->cek, unwrapped, (gsize)out_len);
	env->cek_len = (gsize)out_len;
	OPENSSL_cleanse(unwrapped, sizeof(unwrapped));
	return TRUE;
}

/* The content, if it decrypts (padding included) to a CMS SignedData. */
static GBytes *decrypt_content(OtaEnvelope *env)
{
	const Span *ct = &env->parts.ciphertext;
	g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new();
	g_autoptr(CMS_ContentInfo) cms = NULL;
	guint8 *plain = g_malloc(ct->len + EVP_MAX_BLOCK_LENGTH);
	const guint8 *p = plain;
	int len = 0, final_len = 0;

	if (ctx == NULL || ct->len > G_MAXINT ||
	    EVP_DecryptInit_ex(ctx, env->cipher, NULL, env->cek, env->parts.iv.data) != 1 ||
	    EVP_DecryptUpdate(ctx, plain, &len, ct->data, (int)ct->len) != 1 ||
	    EVP_DecryptFinal_ex(ctx, plain + len, &final_len) != 1) {
		ERR_clear_error();
		g_free(plain);
		return NULL;
	}
	len += final_len;
	cms = d2i_CMS_ContentInfo(NULL, &p, len);
	if (cms == NULL || p != plain + len || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		ERR_clear_error();
		g_free(plain);
		return NULL;
	}
	return g_bytes_new_take(plain, (gsize)len);
}

/* Unwraps the content key for @r and decrypts the content with it: NULL if
 * either step fails, *@unwrapped says which. A key that can't be taken
 * (of the wrong length, say) counts as content that does not decrypt:
 * every failure after the unwrap must read the same. */
static GBytes *decrypt_for(OtaEnvelope *env, const OtaRecipient *r, EVP_PKEY *key,
                           gboolean *unwrapped)
{
	*unwrapped = unwrap_for(env, r, key);
	if (!*unwrapped)
		return NULL;
	ERR_clear_error();
	return take_content_key(env) ? decrypt_content(env) : NULL;
}

/* After a failure, whether @key can do its part at all: decrypt (RSA) or
 * agree (ECDH), tried on data of our own, so the answer says nothing
 * about the bundle. A token key may be forbidden to (CKA_DECRYPT,
 * CKA_DERIVE unset), which is no reason to call it "not a recipient". */
static gboolean check_key_works(EVP_PKEY *key, const char *key_name, const char *wanted,
                                GError **error)
{
	g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new(key, NULL);
	guint8 secret[32], out[1024], back[1024];
	size_t out_len = sizeof(out), back_len = sizeof(back);
	gboolean ok;

	ERR_clear_error();
	if (g_str_equal(wanted, "ec")) {
		ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
		     EVP_PKEY_derive_set_peer(ctx, key) == 1 &&
		     EVP_PKEY_derive(ctx, out, &out_len) == 1;
	} else {
		g_autoptr(EVP_PKEY_CTX) dctx = EVP_PKEY_CTX_new(key, NULL);

		ok = ctx != NULL && dctx != NULL && RAND_bytes(secret, sizeof(secret)) == 1 &&
		     EVP_PKEY_encrypt_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_encrypt(ctx, out, &out_len, secret, sizeof(secret)) == 1 &&
		     EVP_PKEY_decrypt_init(dctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(dctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_decrypt(dctx, back, &back_len, out, out_len) == 1 &&
		     back_len == sizeof(secret) && memcmp(back, secret, sizeof(secret)) == 0;
	}
	OPENSSL_cleanse(out, sizeof(out));
	OPENSSL_cleanse(back, sizeof(back));
	if (ok) {
		ERR_clear_error();
		return TRUE;
	}
	ota_set_openssl_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_KEY_TYPE,
	                      "%s cannot %s", key_name,
	                      g_str_equal(wanted, "ec") ? "do key agreement (ECDH)"
	                                                : "decrypt (RSA PKCS#1 v1.5)");
	return FALSE;
}

/* "RSA", "EC", "RSA and EC": the recipient key types present. */
static char *recipient_types(const OtaEnvelope *env)
{
	static const char *const types[] = {"rsa", "ec", "other"};
	g_autoptr(GStrvBuilder) present = g_strv_builder_new();
	g_auto(GStrv) labels = NULL;

	for (gsize t = 0; t < G_N_ELEMENTS(types); t++) {
		for (guint i = 0; i < env->recipients->len; i++) {
			const OtaRecipient *r = g_ptr_array_index(env->recipients, i);

			if (g_str_equal(r->key_type, types[t])) {
				g_strv_builder_add(present, key_type_label(types[t]));
				break;
			}
		}
	}
	labels = g_strv_builder_end(present);
	return g_strjoinv(" and ", labels);
}

static gboolean check_key_type(const OtaEnvelope *env, EVP_PKEY *key, const char *key_name,
                               const char *wanted, guint *n_typed, GError **error)
{
	g_autofree char *types = NULL;

	if (wanted == NULL) {
		g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_KEY_TYPE,
		            "%s: wrong key type: a %s key cannot decrypt a bundle (RSA or EC keys can)",
		            key_name, EVP_PKEY_get0_type_name(key));
		return FALSE;
	}
	*n_typed = 0;
	for (guint i = 0; i < env->recipients->len; i++) {
		const OtaRecipient *r = g_ptr_array_index(env->recipients, i);

		*n_typed += g_str_equal(r->key_type, wanted);
	}
	if (*n_typed > 0)
		return TRUE;
	types = recipient_types(env);
	g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_KEY_TYPE,
	            "%s: wrong key type: an %s key, but the bundle is encrypted only for %s keys",
	            key_name, key_type_label(wanted), types);
	return FALSE;
}

/* With a certificate the recipient is found by issuer and serial, without
 * trying any key: "not a recipient" then depends on no decryption. */
static GBytes *decrypt_as(OtaEnvelope *env, EVP_PKEY *key, const char *key_name,
                          const char *wanted, X509 *cert, const char *cert_name, GError **error)
{
	const OtaRecipient *found = NULL;
	gboolean unwrapped;
	GBytes *content;

	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_MISMATCH,
		            "%s: key does not match certificate %s", key_name, cert_name);
		return NULL;
	}
	for (guint i = 0; i < env->recipients->len && found == NULL; i++) {
		const OtaRecipient *r = g_ptr_array_index(env->recipients, i);

		if (g_str_equal(r->key_type, wanted) && recipient_is(r, cert))
			found = r;
	}
	ERR_clear_error();
	if (found == NULL) {
		g_autofree char *issuer = ota_x509_name_to_string(X509_get_issuer_name(cert));
		g_autofree char *serial = serial_to_hex(X509_get0_serialNumber(cert));

		g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_NOT_RECIPIENT,
		            "%s is not a recipient of this bundle (none of its %u recipients is "
		            "issuer %s, serial %s)",
		            cert_name, env->recipients->len, issuer, serial);
		return NULL;
	}
	content = decrypt_for(env, found, key, &unwrapped);
	if (content != NULL)
		return content;
	if (!unwrapped && !check_key_works(key, key_name, wanted, error))
		return NULL;
	/* EC: AES key unwrap failed, which OpenSSL's reason may explain (a
	 * token key that may not derive, say). RSA: a failure reads the same
	 * whichever step failed; told apart, they would let whoever sends
	 * bundles test PKCS#1 v1.5 paddings (Bleichenbacher). */
	if (!unwrapped && !g_str_equal(wanted, "rsa")) {
		ota_set_openssl_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_DAMAGED,
		                      "damaged EnvelopedData: the key wrapped for %s does not unwrap "
		                      "with %s",
		                      cert_name, key_name);
		return NULL;
	}
	ERR_clear_error();
	g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_DAMAGED,
	            "damaged EnvelopedData: it does not decrypt with %s to a signature", key_name);
	return NULL;
}

/* Without a certificate every recipient of the key's type is tried, as
 * RAUC does. EC: AES key unwrap checks its result, so a recipient whose
 * key unwraps is ours, and content that then fails is damage. RSA: a
 * PKCS#1 v1.5 unwrap can't tell a wrong key from a damaged one without
 * becoming a padding oracle, so both read the same, and a certificate
 * tells them apart. */
static GBytes *decrypt_trying(OtaEnvelope *env, EVP_PKEY *key, const char *key_name,
                              const char *wanted, guint n_typed, GError **error)
{
	gboolean any_unwrapped = FALSE;

	for (guint i = 0; i < env->recipients->len; i++) {
		const OtaRecipient *r = g_ptr_array_index(env->recipients, i);
		gboolean unwrapped;
		GBytes *content;

		if (!g_str_equal(r->key_type, wanted))
			continue;
		content = decrypt_for(env, r, key, &unwrapped);
		if (content != NULL)
			return content;
		any_unwrapped |= unwrapped;
	}
	if (!any_unwrapped && !check_key_works(key, key_name, wanted, error))
		return NULL;
	ERR_clear_error();
	if (g_str_equal(wanted, "rsa")) {
		g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_NOT_RECIPIENT,
		            "%s is not a recipient of this bundle (it decrypts for none of its %u RSA "
		            "recipients), or the EnvelopedData is damaged: give the key's certificate "
		            "to tell",
		            key_name, n_typed);
	} else if (any_unwrapped) {
		g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_DAMAGED,
		            "damaged EnvelopedData: it does not decrypt with %s to a signature",
		            key_name);
	} else {
		g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_NOT_RECIPIENT,
		            "%s is not a recipient of this bundle (it unwraps the key of none of its "
		            "%u EC recipients)",
		            key_name, n_typed);
	}
	return NULL;
}

GBytes *ota_envelope_decrypt(OtaEnvelope *env, EVP_PKEY *key, const char *key_name, X509 *cert,
                             const char *cert_name, GError **error)
{
	const char *wanted = key_type_of(key);
	guint n_typed = 0;

	if (!check_key_type(env, key, key_name, wanted, &n_typed, error))
		return NULL;
	if (cert != NULL)
		return decrypt_as(env, key, key_name, wanted, cert, cert_name, error);
	return decrypt_trying(env, key, key_name, wanted, n_typed, error);
}

GBytes *ota_envelope_decrypt_like(OtaEnvelope *env, const OtaEnvelope *decrypted,
                                  GError **error)
{
	const Span *ours = &env->parts.recipient_infos, *theirs = &decrypted->parts.recipient_infos;
	GBytes *content;

	g_return_val_if_fail(decrypted->cek_len > 0, NULL);

	if (!span_equal(*ours, theirs->data, theirs->len) || env->cipher != decrypted->cipher) {
		damaged(error, "its recipients are not those it was made for");
		return NULL;
	}
	memcpy(env->cek, decrypted->cek, decrypted->cek_len);
	env->cek_len = decrypted->cek_len;
	content = decrypt_content(env);
	if (content == NULL)
		damaged(error, "it does not decrypt to a signature");
	return content;
}

/* --- encrypting ------------------------------------------------------------------- */

static gboolean recipient_error(GError **error, const char *name, const char *reason)
{
	g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_RECIPIENT,
	            "%s: cannot encrypt to this certificate: %s", name, reason);
	return FALSE;
}

gboolean ota_envelope_check_recipient(X509 *cert, const char *name, gboolean check_time,
                                      GError **error)
{
	EVP_PKEY *key = X509_get0_pubkey(cert);
	guint32 usage = X509_get_key_usage(cert);
	char group[64] = "";
	g_autofree char *reason = NULL;

	ERR_clear_error();
	if (key == NULL)
		return recipient_error(error, name, "its public key is unreadable");
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(key) < 2048) {
			reason = g_strdup_printf("RSA key of %d bits is too weak (2048 at least)",
			                         EVP_PKEY_get_bits(key));
			return recipient_error(error, name, reason);
		}
		if (!(usage & KU_KEY_ENCIPHERMENT))
			return recipient_error(error, name, "its key usage lacks keyEncipherment, which "
			                                    "an RSA recipient needs");
		break;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof(group), NULL) != 1 ||
		    !(g_str_equal(group, "prime256v1") || g_str_equal(group, "secp384r1") ||
		      g_str_equal(group, "secp521r1"))) {
			ERR_clear_error();
			reason = g_strdup_printf("EC curve '%s' is not supported (P-256, P-384 or P-521)",
			                         group[0] ? group : "unknown");
			return recipient_error(error, name, reason);
		}
		if (!(usage & KU_KEY_AGREEMENT))
			return recipient_error(error, name, "its key usage lacks keyAgreement, which an "
			                                    "EC recipient needs");
		break;
	default:
		reason = g_strdup_printf("a %s key cannot be encrypted to (RSA or EC keys can)",
		                         EVP_PKEY_get0_type_name(key));
		return recipient_error(error, name, reason);
	}
	if (check_time && X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
		return recipient_error(error, name, "the certificate is not yet valid");
	if (check_time && X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
		return recipient_error(error, name, "the certificate has expired");
	return TRUE;
}

/* One entry per certificate; two different ones with one issuer and serial
 * would be indistinguishable recipients. */
static OtaX509Stack *unique_recipients(OtaX509Stack *recipients, GError **error)
{
	g_autoptr(OtaX509Stack) unique = sk_X509_new_null();

	for (int i = 0; i < sk_X509_num(recipients); i++) {
		X509 *cert = sk_X509_value(recipients, i);
		gboolean seen = FALSE;

		for (int j = 0; j < sk_X509_num(unique) && !seen; j++) {
			X509 *other = sk_X509_value(unique, j);

			if (X509_cmp(cert, other) == 0) {
				seen = TRUE;
			} else if (X509_issuer_and_serial_cmp(cert, other) == 0) {
				g_autofree char *issuer = ota_x509_name_to_string(X509_get_issuer_name(cert));
				g_autofree char *serial = serial_to_hex(X509_get0_serialNumber(cert));

				g_set_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_RECIPIENT,
				            "two different recipient certificates have issuer %s and serial %s",
				            issuer, serial);
				return NULL;
			}
		}
		if (!seen) {
			X509_up_ref(cert);
			sk_X509_push(unique, cert);
		}
	}
	return g_steal_pointer(&unique);
}

GBytes *ota_envelope_encrypt(GBytes *content, OtaX509Stack *recipients, GError **error)
{
	g_autoptr(OtaX509Stack) unique = unique_recipients(recipients, error);
	g_autoptr(BIO) in = NULL;
	g_autoptr(CMS_ContentInfo) cms = NULL;
	guint8 *der = NULL;
	int len;
	GBytes *result;

	if (unique == NULL)
		return NULL;
	in = BIO_new_mem_buf(g_bytes_get_data(content, NULL), (int)g_bytes_get_size(content));
	if (in != NULL)
		cms = CMS_encrypt(unique, in, EVP_aes_256_cbc(), CMS_BINARY);
	if (cms == NULL || (len = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		ota_set_openssl_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_CRYPTO,
		                      "cannot encrypt for %d recipients", sk_X509_num(unique));
		return NULL;
	}
	result = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return result;
}

GBytes *ota_envelope_encrypt_again(const OtaEnvelope *env, GBytes *content, GError **error)
{
	const Parts *p = &env->parts;
	g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new();
	g_autoptr(GByteArray) algorithm = g_byte_array_new();
	g_autoptr(GByteArray) eci = g_byte_array_new();
	g_autoptr(GByteArray) body = g_byte_array_new();
	g_autoptr(GByteArray) enveloped = g_byte_array_new();
	g_autoptr(GByteArray) info = g_byte_array_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	gsize content_len = g_bytes_get_size(content);
	g_autofree guint8 *ciphertext = g_malloc(content_len + EVP_MAX_BLOCK_LENGTH);
	guint8 iv[EVP_MAX_IV_LENGTH];
	int iv_len = EVP_CIPHER_get_iv_length(env->cipher), len = 0, final_len = 0;

	g_return_val_if_fail(env->cek_len > 0, NULL);

	if (ctx == NULL || content_len > G_MAXINT / 2 || RAND_bytes(iv, iv_len) != 1 ||
	    EVP_EncryptInit_ex(ctx, env->cipher, NULL, env->cek, iv) != 1 ||
	    EVP_EncryptUpdate(ctx, ciphertext, &len, g_bytes_get_data(content, NULL),
	                      (int)content_len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, ciphertext + len, &final_len) != 1) {
		ota_set_openssl_error(error, OTA_ENVELOPE_ERROR, OTA_ENVELOPE_ERROR_CRYPTO,
		                      "cannot encrypt for the same recipients");
		return NULL;
	}
	span_append(algorithm, p->cipher_oid);
	der_append(algorithm, 0x04, iv, (gsize)iv_len);
	span_append(eci, p->encrypted_type);
	der_append(eci, 0x30, algorithm->data, algorithm->len);
	der_append(eci, 0x80, ciphertext, (gsize)(len + final_len));
	span_append(body, p->version);
	span_append(body, p->originator_info);
	span_append(body, p->recipient_infos);
	der_append(body, 0x30, eci->data, eci->len);
	span_append(body, p->unprotected_attrs);
	der_append(enveloped, 0x30, body->data, body->len);
	span_append(info, p->content_type);
	der_append(info, 0xa0, enveloped->data, enveloped->len);
	der_append(out, 0x30, info->data, info->len);
	return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}
