/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ed25519 token keys without libp11 (see pkcs11-eddsa.h). The module is
 * the instance libp11 loaded (dlopen() of the same file hands back the
 * same library), initialised and logged in: login state belongs to the
 * application, so a session of our own sees the private key. Nothing here
 * sees a PIN. */
#include "pkcs11-eddsa.h"

#include <otabundle/keys.h>

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <string.h>

#define ED25519_PUBLIC_KEY_LEN 32

typedef struct {
	EVP_PKEY *key; /* the public half, a reference: its address is the key's name */
	void *module;  /* dlopen() handle: the function list stays mapped */
	CK_FUNCTION_LIST_PTR p11;
	CK_SESSION_HANDLE session;
	CK_OBJECT_HANDLE object;
	char *display;
} EddsaKey;

struct OtaPkcs11Eddsa {
	GPtrArray *keys; /* EddsaKey* */
};

static void eddsa_key_free(EddsaKey *k)
{
	if (k->p11 != NULL && k->session != CK_INVALID_HANDLE)
		k->p11->C_CloseSession(k->session);
	if (k->module != NULL)
		dlclose(k->module);
	EVP_PKEY_free(k->key);
	g_free(k->display);
	g_free(k);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EddsaKey, eddsa_key_free)

void ota_pkcs11_eddsa_free(OtaPkcs11Eddsa *eddsa)
{
	if (eddsa == NULL)
		return;
	g_ptr_array_unref(eddsa->keys);
	g_free(eddsa);
}

static gboolean token_error(GError **error, const char *display, const char *what, CK_RV rv)
{
	g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN, "%s: %s (PKCS#11 error 0x%lx)",
	            display, what, (unsigned long)rv);
	return FALSE;
}

/* The function list of the module libp11 loaded from @path. */
static gboolean open_module(EddsaKey *k, const char *path, GError **error)
{
	CK_C_GetFunctionList get_function_list;
	CK_RV rv;

	k->module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (k->module == NULL) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
		            "%s: cannot load PKCS#11 module: %s", k->display, dlerror());
		return FALSE;
	}
	get_function_list = (CK_C_GetFunctionList)dlsym(k->module, "C_GetFunctionList");
	if (get_function_list == NULL) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
		            "%s: PKCS#11 module %s has no C_GetFunctionList", k->display, path);
		return FALSE;
	}
	rv = get_function_list(&k->p11);
	if (rv != CKR_OK || k->p11 == NULL)
		return token_error(error, k->display, "cannot get the module's functions", rv);
	return TRUE;
}

/* Up to two objects matching @template: enough to tell one from several. */
static gboolean find_objects(EddsaKey *k, CK_ATTRIBUTE *template, CK_ULONG n_template,
                             CK_OBJECT_HANDLE found[2], CK_ULONG *n_found, GError **error)
{
	CK_RV rv = k->p11->C_FindObjectsInit(k->session, template, n_template);

	if (rv != CKR_OK)
		return token_error(error, k->display, "cannot search the token", rv);
	rv = k->p11->C_FindObjects(k->session, found, 2, n_found);
	k->p11->C_FindObjectsFinal(k->session);
	if (rv != CKR_OK)
		return token_error(error, k->display, "cannot search the token", rv);
	return TRUE;
}

/* An attribute's value, or NULL if the object has none. */
static GBytes *get_attribute(EddsaKey *k, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type)
{
	CK_ATTRIBUTE attr = {type, NULL, 0};
	g_autofree guint8 *value = NULL;

	if (k->p11->C_GetAttributeValue(k->session, object, &attr, 1) != CKR_OK ||
	    attr.ulValueLen == CK_UNAVAILABLE_INFORMATION || attr.ulValueLen > 4096)
		return NULL;
	value = g_malloc(MAX(attr.ulValueLen, 1));
	attr.pValue = value;
	if (k->p11->C_GetAttributeValue(k->session, object, &attr, 1) != CKR_OK)
		return NULL;
	return g_bytes_new_take(g_steal_pointer(&value), attr.ulValueLen);
}

/* CKA_EC_PARAMS of an Ed25519 key: the curve's name as a PrintableString
 * (PKCS#11 3.0, what SoftHSM2 and OpenSC write) or the id-Ed25519 OID. */
static gboolean is_ed25519_params(GBytes *params)
{
	static const guint8 by_name[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd',
	                                 's',  '2',  '5', '5', '1', '9'};
	static const guint8 by_oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
	gsize len = 0;
	const guint8 *data = params ? g_bytes_get_data(params, &len) : NULL;

	return data != NULL && ((len == sizeof(by_name) && memcmp(data, by_name, len) == 0) ||
	                        (len == sizeof(by_oid) && memcmp(data, by_oid, len) == 0));
}

/* CKA_EC_POINT of an Ed25519 public key: the 32 bytes, DER-wrapped in an
 * OCTET STRING (as PKCS#11 says) or bare (as some tokens have it). */
static EVP_PKEY *public_key_from_point(GBytes *point)
{
	gsize len = 0;
	const guint8 *data = point ? g_bytes_get_data(point, &len) : NULL;

	if (data != NULL && len == ED25519_PUBLIC_KEY_LEN + 2 && data[0] == 0x04 &&
	    data[1] == ED25519_PUBLIC_KEY_LEN) {
		data += 2;
		len -= 2;
	}
	if (data == NULL || len != ED25519_PUBLIC_KEY_LEN)
		return NULL;
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, data, len);
}

/* The private key named by @label/@id, then its public half: the public
 * key object with the same CKA_ID (the private object has no CKA_EC_POINT
 * in PKCS#11). */
static gboolean find_key(EddsaKey *k, const char *label, GBytes *id, gboolean listed,
                         GError **error)
{
	CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY, public_class = CKO_PUBLIC_KEY;
	CK_KEY_TYPE key_type = CKK_EC_EDWARDS;
	CK_ATTRIBUTE template[4] = {
		{CKA_CLASS, &private_class, sizeof(private_class)},
		{CKA_KEY_TYPE, &key_type, sizeof(key_type)},
	};
	CK_ULONG n_template = 2, n_found = 0;
	CK_OBJECT_HANDLE found[2];
	g_autoptr(GBytes) params = NULL;
	g_autoptr(GBytes) key_id = NULL;
	g_autoptr(GBytes) point = NULL;
	gsize id_len = 0;
	const void *id_data;

	if (label != NULL)
		template[n_template++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
	if (id != NULL) {
		id_data = g_bytes_get_data(id, &id_len);
		template[n_template++] = (CK_ATTRIBUTE){CKA_ID, (void *)id_data, id_len};
	}
	if (!find_objects(k, template, n_template, found, &n_found, error))
		return FALSE;
	if (n_found != 1) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_LOAD, "%s: %s", k->display,
		            n_found > 1 ? "several Ed25519 private keys match; be more specific"
		            : listed   ? "no private key on the token matches"
		                       : "no Ed25519 private key on the token matches, and libp11 "
		                         "cannot list the token's other keys");
		return FALSE;
	}
	k->object = found[0];
	params = get_attribute(k, k->object, CKA_EC_PARAMS);
	if (!is_ed25519_params(params)) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_UNSUPPORTED,
		            "%s: EdDSA key on a curve other than Ed25519 (Ed448 is not supported)",
		            k->display);
		return FALSE;
	}

	key_id = get_attribute(k, k->object, CKA_ID);
	if (key_id == NULL || g_bytes_get_size(key_id) == 0) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_LOAD,
		            "%s: the Ed25519 private key has no id to find its public key by",
		            k->display);
		return FALSE;
	}
	template[0] = (CK_ATTRIBUTE){CKA_CLASS, &public_class, sizeof(public_class)};
	id_data = g_bytes_get_data(key_id, &id_len);
	template[2] = (CK_ATTRIBUTE){CKA_ID, (void *)id_data, id_len};
	if (!find_objects(k, template, 3, found, &n_found, error))
		return FALSE;
	if (n_found == 1)
		point = get_attribute(k, found[0], CKA_EC_POINT);
	k->key = public_key_from_point(point);
	if (k->key == NULL) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_LOAD,
		            "%s: no Ed25519 public key object with the private key's id", k->display);
		return FALSE;
	}
	return TRUE;
}

EVP_PKEY *ota_pkcs11_eddsa_load(OtaPkcs11Eddsa **eddsa, const char *module_path,
                                unsigned long slot_id, const char *label, GBytes *id,
                                gboolean listed, const char *display, GError **error)
{
	g_autoptr(EddsaKey) k = g_new0(EddsaKey, 1);
	CK_RV rv;

	k->display = g_strdup(display);
	k->session = CK_INVALID_HANDLE;
	if (!open_module(k, module_path, error))
		return NULL;
	rv = k->p11->C_OpenSession(slot_id, CKF_SERIAL_SESSION, NULL, NULL, &k->session);
	if (rv != CKR_OK) {
		k->session = CK_INVALID_HANDLE;
		token_error(error, display, "cannot open a session", rv);
		return NULL;
	}
	if (!find_key(k, label, id, listed, error))
		return NULL;
	if (*eddsa == NULL) {
		*eddsa = g_new0(OtaPkcs11Eddsa, 1);
		(*eddsa)->keys = g_ptr_array_new_with_free_func((GDestroyNotify)eddsa_key_free);
	}
	/* The registry keeps its reference: while it lives, no other key can
	 * be allocated at this address and be taken for this token key. */
	EVP_PKEY_up_ref(k->key);
	g_ptr_array_add((*eddsa)->keys, k);
	return g_steal_pointer(&k)->key;
}

static EddsaKey *lookup(const OtaPkcs11Eddsa *eddsa, EVP_PKEY *key)
{
	for (guint i = 0; eddsa != NULL && key != NULL && i < eddsa->keys->len; i++) {
		EddsaKey *k = g_ptr_array_index(eddsa->keys, i);

		if (k->key == key)
			return k;
	}
	return NULL;
}

gboolean ota_pkcs11_eddsa_owns(const OtaPkcs11Eddsa *eddsa, EVP_PKEY *key)
{
	return lookup(eddsa, key) != NULL;
}

gboolean ota_pkcs11_eddsa_sign(OtaPkcs11Eddsa *eddsa, EVP_PKEY *key, const guint8 *data,
                               gsize length, guint8 *signature, gsize signature_len,
                               GError **error)
{
	EddsaKey *k = lookup(eddsa, key);
	/* No parameters: PureEdDSA, which Ed25519 in CMS is (RFC 8419). */
	CK_MECHANISM mechanism = {CKM_EDDSA, NULL, 0};
	CK_ULONG len = signature_len;
	CK_RV rv;

	g_return_val_if_fail(k != NULL, FALSE);

	rv = k->p11->C_SignInit(k->session, &mechanism, k->object);
	if (rv == CKR_MECHANISM_INVALID)
		return token_error(error, k->display, "the token does not support CKM_EDDSA", rv);
	if (rv != CKR_OK)
		return token_error(error, k->display, "the token refused to start signing", rv);
	rv = k->p11->C_Sign(k->session, (CK_BYTE_PTR)data, length, signature, &len);
	if (rv != CKR_OK)
		return token_error(error, k->display, "the token refused to sign", rv);
	if (len != signature_len) {
		g_set_error(error, OTA_KEYS_ERROR, OTA_KEYS_ERROR_TOKEN,
		            "%s: the token returned a %lu-byte EdDSA signature, not %" G_GSIZE_FORMAT,
		            k->display, (unsigned long)len, signature_len);
		return FALSE;
	}
	return TRUE;
}
