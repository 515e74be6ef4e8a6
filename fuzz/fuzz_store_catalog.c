/* libFuzzer target: the data store's catalogue parser (blocks, records, metadata,
 * reference list, footer) and its index parser, on arbitrary bytes. Checksums are checked
 * in one pass and skipped in another, so that mutations reach the record decoders.
 * Seeds: fuzz/seeds/store_catalog/ (catalogues and an index written by the store itself). */
#include <stddef.h>
#include <stdint.h>

#include "store/fy_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    fy_store_catalog_check_mem(data, size, 0, err, sizeof err);
    fy_store_catalog_check_mem(data, size, FY_STORE_CHECK_NO_CHECKSUMS, err, sizeof err);
    fy_store_index_check_mem(data, size, 0, err, sizeof err);
    fy_store_index_check_mem(data, size, FY_STORE_CHECK_NO_CHECKSUMS, err, sizeof err);
    return 0;
}
