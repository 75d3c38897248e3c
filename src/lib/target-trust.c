/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Whom the device trusts: system.conf's [keyring] and [policy.<name>], or
 * with [trust] the tiers of the trust list in effect; and trust updates,
 * which replace that list by the next versions, each signed by the
 * thresholds of the list before it and of itself (otabundle-trust(5)).
 *
 * A trust update is a command of its own, not part of a bundle: trust
 * must not hang on a slot install and its fallback (a bundle's changes are
 * undone by mark-bad; a trust update must not be), and it must be
 * applicable before the first bundle that needs the new keys can even be
 * verified. */
#include "install-private.h"

#include <otabundle/text.h>

#include <string.h>

gint64 target_now(OtaTarget *t)
{
	return MAX(g_get_real_time() / G_USEC_PER_SEC, t->state->not_before);
}

/* The trust list in effect, read again whenever the state names another
 * one than the list held (a lock reloads the state). */
static const OtaTrust *current_trust(OtaTarget *t, GError **error)
{
	if (t->trust != NULL && t->trust_version == t->state->trust_version &&
	    g_strcmp0(t->trust_sha256, t->state->trust_sha256) == 0)
		return t->trust;
	g_clear_pointer(&t->trust, ota_trust_free);
	t->trust = trust_store_load_current(t->config, t->state, error);
	if (t->trust == NULL)
		return NULL;
	t->trust_version = t->state->trust_version;
	g_free(t->trust_sha256);
	t->trust_sha256 = g_strdup(t->state->trust_sha256);
	return t->trust;
}

OtaPolicy *target_policy(OtaTarget *t, const char *name, GError **error)
{
	const OtaPolicyConfig *pc;
	const OtaTrust *trust;

	if (t->config->trust_initial != NULL) {
		g_autoptr(OtaPolicy) policy = NULL;

		trust = current_trust(t, error);
		policy = trust ? ota_trust_policy_new(trust, name, target_now(t), error) : NULL;
		if (policy == NULL ||
		    (t->config->trust_tsa_keyring != NULL &&
		     !ota_policy_set_tsa_keyring(policy, t->config->trust_tsa_keyring, error)))
			return NULL;
		return g_steal_pointer(&policy);
	}
	pc = ota_system_config_get_policy(t->config, name);
	g_assert(pc != NULL); /* config.c checked every slot's policy exists */
	return config_policy_new(pc, target_now(t), error);
}

char **target_policy_names(OtaTarget *t, GError **error)
{
	GPtrArray *names;
	const OtaTrust *trust;

	if (t->config->trust_initial != NULL) {
		trust = current_trust(t, error);
		return trust ? g_strdupv((char **)ota_trust_get_tiers(trust)) : NULL;
	}
	names = g_ptr_array_new();
	for (guint i = 0; i < t->config->policies->len; i++)
		g_ptr_array_add(names, g_strdup(((const OtaPolicyConfig *)g_ptr_array_index(
		                                       t->config->policies, i))->name));
	g_ptr_array_add(names, NULL);
	return (char **)g_ptr_array_free(names, FALSE);
}

/* --- status ------------------------------------------------------------------------ */

void target_trust_status(OtaTarget *t, OtaStatus *s)
{
	g_autoptr(GError) error = NULL;
	const OtaTrust *trust;

	if (t->config->trust_initial == NULL)
		return;
	s->trust_installed = t->state->trust_version > 0;
	s->trust_path = s->trust_installed ? trust_store_path(t->config, t->state->trust_version)
	                                   : g_strdup(t->config->trust_initial);
	trust = current_trust(t, &error);
	if (trust == NULL) {
		s->trust_version = t->state->trust_version;
		s->trust_sha256 = g_strdup(t->state->trust_sha256);
		s->trust_error = g_strdup(error->message);
		return;
	}
	s->trust_version = ota_trust_get_version(trust);
	s->trust_sha256 = g_strdup(ota_trust_get_document_sha256(trust));
}

/* --- trust-update ------------------------------------------------------------------ */

/* One trust update as received: its bytes (what is verified is what is
 * stored) and what they parse to. */
typedef struct {
	GBytes *data;
	OtaTrust *trust;
} TrustUpdate;

static void trust_update_free(TrustUpdate *u)
{
	g_bytes_unref(u->data);
	ota_trust_free(u->trust);
	g_free(u);
}

static TrustUpdate *read_update(const char *path, GError **error)
{
	g_autoptr(GError) ierror = NULL;
	g_autofree char *data = NULL;
	TrustUpdate *u;
	gsize length = 0;

	if (!g_file_get_contents(path, &data, &length, &ierror)) {
		g_set_error(error, OTA_TRUST_ERROR, OTA_TRUST_ERROR_IO, "%s", ierror->message);
		return NULL;
	}
	u = g_new0(TrustUpdate, 1);
	u->data = g_bytes_new_take(g_steal_pointer(&data), length);
	u->trust = ota_trust_parse(g_bytes_get_data(u->data, NULL), length, path, error);
	if (u->trust == NULL) {
		trust_update_free(u);
		return NULL;
	}
	return u;
}

/* Every update of the chain, each checked against the one before it (the
 * first against @current), before anything is stored: all or nothing. */
static GPtrArray *verify_chain(OtaTarget *t, const OtaTrust *current, const char *const *paths,
                               GError **error)
{
	g_autoptr(GPtrArray) chain =
		g_ptr_array_new_with_free_func((GDestroyNotify)trust_update_free);
	const OtaTrust *previous = current;
	gint64 now = target_now(t);

	for (const char *const *path = paths; *path; path++) {
		g_autoptr(GError) ierror = NULL;
		TrustUpdate *u = read_update(*path, &ierror);

		if (u != NULL)
			g_ptr_array_add(chain, u);
		if (u == NULL || !ota_trust_check_update(previous, u->trust, now, &ierror)) {
			/* ota_trust_parse() names the file already */
			if (u != NULL || g_error_matches(ierror, OTA_TRUST_ERROR, OTA_TRUST_ERROR_IO))
				g_prefix_error(&ierror, "%s: ", *path);
			g_propagate_error(error, g_steal_pointer(&ierror));
			return NULL;
		}
		previous = u->trust;
	}
	return g_steal_pointer(&chain);
}

/* The new files first, then the state that names the last of them: the
 * state is the commit point (trust-store-private.h). */
static gboolean store_chain(OtaTarget *t, GPtrArray *chain, GError **error)
{
	const OtaTrust *last = ((const TrustUpdate *)g_ptr_array_index(chain, chain->len - 1))->trust;

	for (guint i = 0; i < chain->len; i++) {
		const TrustUpdate *u = g_ptr_array_index(chain, i);

		if (!trust_store_write(t->config, ota_trust_get_version(u->trust), u->data, error))
			return FALSE;
	}
	t->state->trust_version = ota_trust_get_version(last);
	g_free(t->state->trust_sha256);
	t->state->trust_sha256 = g_strdup(ota_trust_get_document_sha256(last));
	return TRUE;
}

static char *describe_paths(const char *const *paths)
{
	g_autofree char *joined = g_strjoinv(" ", (char **)paths);

	return ota_text_escape_controls(joined);
}

/* Takes @ierror; recording the refusal must not hide it. */
static gboolean record_refusal(OtaTarget *t, const char *const *paths, guint64 from,
                               GError *ierror, GError **error)
{
	g_autofree char *first_line = g_strndup(ierror->message, strcspn(ierror->message, "\n"));
	g_autofree char *files = describe_paths(paths);

	event_log_trust_updated(t->events, from, 0, NULL, ierror);
	ota_state_add_result(t->state, "trust-update", files, FALSE, first_line);
	if (!ota_state_save(t->state, NULL))
		g_prefix_error(&ierror, "(state not saved) ");
	g_propagate_error(error, ierror);
	return FALSE;
}

gboolean ota_target_update_trust(OtaTarget *t, const char *const *paths, GError **error)
{
	g_autoptr(OtaStateLock) lock = NULL;
	g_autoptr(GPtrArray) chain = NULL;
	g_autoptr(GError) ierror = NULL;
	g_autofree char *files = NULL;
	const OtaTrust *current, *last;
	guint64 from;

	g_return_val_if_fail(paths != NULL && paths[0] != NULL, FALSE);
	if (t->config->trust_initial == NULL)
		return install_fail(error, OTA_INSTALL_ERROR_INCOMPATIBLE,
		                    "%s: no [trust] group: this system's trust is its [keyring] and "
		                    "[policy.<name>], which trust updates do not change",
		                    t->config->path);
	lock = ota_state_lock(t->state, error);
	if (lock == NULL)
		return FALSE;
	target_note_boot(t);
	g_clear_pointer(&t->trust_summary, g_free);
	/* A trust list in effect that can't be read is not replaced: the
	 * chain must start from what the device trusts. */
	current = current_trust(t, error);
	if (current == NULL)
		return FALSE;
	from = ota_trust_get_version(current);
	chain = verify_chain(t, current, paths, &ierror);
	if (chain == NULL)
		return record_refusal(t, paths, from, g_steal_pointer(&ierror), error);
	if (!store_chain(t, chain, &ierror))
		return record_refusal(t, paths, from, g_steal_pointer(&ierror), error);
	last = ((const TrustUpdate *)g_ptr_array_index(chain, chain->len - 1))->trust;
	files = describe_paths(paths);
	t->trust_summary = g_strdup_printf(
		"trust list version %" G_GUINT64_FORMAT " installed (from version %" G_GUINT64_FORMAT
		"), document SHA-256 %s",
		ota_trust_get_version(last), from, ota_trust_get_document_sha256(last));
	ota_state_add_result(t->state, "trust-update", files, TRUE, t->trust_summary);
	if (!ota_state_save(t->state, &ierror)) {
		g_propagate_prefixed_error(error, g_steal_pointer(&ierror),
		                           "the trust update is not in effect: ");
		return FALSE;
	}
	event_log_trust_updated(t->events, from, ota_trust_get_version(last),
	                        ota_trust_get_document_sha256(last), NULL);
	return TRUE;
}

const char *ota_target_get_trust_summary(const OtaTarget *t)
{
	return t->trust_summary;
}
