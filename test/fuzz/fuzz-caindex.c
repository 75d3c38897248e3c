/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the casync chunk index parser (casync-private.h),
 * which reads the .caibx/.caidx files of casync bundles before casync is
 * handed one. The input is the index file. Whatever is refused has a
 * one-line reason in the bundle error domain; whatever is accepted must
 * be exactly as long as its header, chunk table and tail say, with chunks
 * that add up to its total size within the header's limits. */
#include "casync-private.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	OtaCasyncIndex index;
	gboolean ok = ota_casync_index_parse(data, size, &index, &error);

	if (ok != (error == NULL))
		abort();
	if (!ok) {
		if (error->domain != OTA_BUNDLE_ERROR || error->code != OTA_BUNDLE_ERROR_MALFORMED ||
		    strchr(error->message, '\n') != NULL ||
		    !g_str_has_prefix(error->message, "casync index: "))
			abort();
		return 0;
	}
	if (size != OTA_CASYNC_INDEX_HEADER_SIZE + OTA_CASYNC_TABLE_HEADER_SIZE +
	                index.n_chunks * OTA_CASYNC_TABLE_ITEM_SIZE + OTA_CASYNC_TABLE_TAIL_SIZE)
		abort();
	if (index.chunk_size_min < 1 || index.chunk_size_min > index.chunk_size_avg ||
	    index.chunk_size_avg > index.chunk_size_max ||
	    index.chunk_size_max > OTA_CASYNC_CHUNK_SIZE_MAX)
		abort();
	/* Every chunk is 1 to max bytes, so the total is bounded by both. */
	if (index.total_size < index.n_chunks ||
	    index.total_size > index.n_chunks * index.chunk_size_max)
		abort();
	return 0;
}
