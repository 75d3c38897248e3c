/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libotabundle; not installed. */
#pragma once

#include <otabundle/manifest.h>

G_BEGIN_DECLS

/* create --set: "NAME=VALUE" settings that change the manifest create packs
 * (never the input file). NAME is update.compatible, update.version,
 * update.description, update.build or meta.<label>.<key>: the fields that
 * describe a build; sizes, hashes, [bundle] and hooks are create's own or
 * the input's. Each NAME at most once. */

/* Checks @settings (NULL-terminated, may be NULL) without a manifest: the
 * names, and each value by the parser's own rules. The message names the
 * setting. */
G_GNUC_WARN_UNUSED_RESULT
gboolean ota_manifest_check_settings(const char *const *settings, GError **error);

/* ota_manifest_load() with @settings applied to what was read, before it
 * is parsed: the result obeys every rule a manifest file does. */
OtaManifest *ota_manifest_load_with_settings(const char *path, const char *const *settings,
                                             GError **error);

/* Whether a bundle with manifest @m runs code of its own on the device
 * (a hook or handler file, install hooks, image hooks): run as root, it
 * could write any slot, so a device asks every policy tier it has. */
gboolean ota_manifest_runs_code(const OtaManifest *m);

G_END_DECLS
