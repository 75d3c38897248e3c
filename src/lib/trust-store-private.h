/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A device's trust lists ([trust] in system.conf): the one shipped in the
 * image, and the versions trust updates installed, kept as
 * <trust directory>/trust-<N> outside the A/B slots. The state file
 * (state-private.h) names the version in effect and its document's
 * SHA-256; it is the commit point of a trust update: the new version's
 * file is written (temp file, fsync, rename, fsync of the directory)
 * before the state that names it, so power lost at any moment leaves the
 * old list in effect or the new one, never neither. Not installed. */
#pragma once

#include <otabundle/trust.h>

#include "config-private.h"
#include "state-private.h"

G_BEGIN_DECLS

/* Where version @version is kept (a new string). */
char *trust_store_path(const OtaSystemConfig *config, guint64 version);

/* The trust list in effect on a device with [trust] (@config->trust_initial
 * set): the version @state records, read back from the store and held to
 * the version and document SHA-256 recorded (anything else is
 * OTA_TRUST_ERROR_IO for a file that can't be read, or
 * OTA_TRUST_ERROR_MALFORMED for one that is not what the state recorded);
 * or, before any trust update, the one shipped in the image, trusted as
 * shipped. */
OtaTrust *trust_store_load_current(const OtaSystemConfig *config, const OtaState *state,
                                   GError **error);

/* Keeps @data, the trust file of version @version exactly as it was
 * verified, as trust_store_path(): atomically, replacing a file of that
 * version left by an update that did not reach its commit. */
G_GNUC_WARN_UNUSED_RESULT
gboolean trust_store_write(const OtaSystemConfig *config, guint64 version, GBytes *data,
                           GError **error);

G_END_DECLS
