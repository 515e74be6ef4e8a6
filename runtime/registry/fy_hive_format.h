/* Private to the hive module (fy_hive_write.c, fy_hive_log.c): the regf on-disk layout.
 * Offsets are byte offsets inside the structure named; "cell data" offsets start after
 * the cell's 4-byte size field. All numbers are little-endian.
 * Reference: M. Suhanov, "Windows registry file format specification" (msuhanov/regf). */
#ifndef FY_HIVE_FORMAT_H
#define FY_HIVE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* ---- base block (4096 bytes at the start of a primary file; first 512 in a log) ---- */
#define FY_REGF_BASE_SIZE 4096u
#define FY_REGF_SIG 0         /* "regf" */
#define FY_REGF_SEQ1 4        /* primary sequence number */
#define FY_REGF_SEQ2 8        /* secondary sequence number */
#define FY_REGF_TIMESTAMP 12  /* FILETIME */
#define FY_REGF_MAJOR 20      /* 1 */
#define FY_REGF_MINOR 24      /* 3, 4, 5 (6 on recent Windows 10) */
#define FY_REGF_TYPE 28       /* 0 primary, 1/2 old log, 6 new log */
#define FY_REGF_FORMAT 32     /* 1 = direct memory load */
#define FY_REGF_ROOT 36       /* root cell offset (relative to the hive bins data) */
#define FY_REGF_HBINS_SIZE 40 /* hive bins data size */
#define FY_REGF_CLUSTER 44    /* clustering factor (sector size / 512) */
#define FY_REGF_NAME 48       /* 64 bytes of UTF-16LE, the tail of the hive's path */
#define FY_REGF_NAME_LEN 64u
#define FY_REGF_FLAGS 144    /* KTM flags; log entries carry a copy */
#define FY_REGF_CHECKSUM 508 /* XOR of the 127 u32 before it */

#define FY_REGF_TYPE_PRIMARY 0u
#define FY_REGF_TYPE_LOG_OLD 1u
#define FY_REGF_TYPE_LOG_VERYOLD 2u
#define FY_REGF_TYPE_LOG_NEW 6u

/* ---- hive bin header (32 bytes) ---- */
#define FY_HBIN_HDR 32u
#define FY_HBIN_ALIGN 4096u
#define FY_HBIN_OFFSET 4     /* this bin's offset in the hive bins data */
#define FY_HBIN_SIZE 8       /* this bin's size, a multiple of 4096 */
#define FY_HBIN_TIMESTAMP 20 /* first bin only: copy of the base block's timestamp */

/* ---- cells ---- */
#define FY_CELL_ALIGN 8u
#define FY_CELL_NIL 0xFFFFFFFFu /* "no cell" in every offset field */

/* nk (key node): cell data offsets */
#define FY_NK_SIG 0
#define FY_NK_FLAGS 2
#define FY_NK_TIMESTAMP 4
#define FY_NK_ACCESS 12
#define FY_NK_PARENT 16
#define FY_NK_NSUB 20
#define FY_NK_NSUB_VOL 24
#define FY_NK_SUBLIST 28
#define FY_NK_SUBLIST_VOL 32
#define FY_NK_NVAL 36
#define FY_NK_VALLIST 40
#define FY_NK_SECURITY 44
#define FY_NK_CLASS 48
#define FY_NK_MAX_SUBNAME 52  /* bits 0-15: longest subkey name, UTF-16 bytes */
#define FY_NK_MAX_SUBCLASS 56 /* longest subkey class name, bytes */
#define FY_NK_MAX_VALNAME 60  /* longest value name, UTF-16 bytes */
#define FY_NK_MAX_VALDATA 64  /* largest value data, bytes */
#define FY_NK_WORKVAR 68
#define FY_NK_NAME_LEN 72
#define FY_NK_CLASS_LEN 74
#define FY_NK_NAME 76

#define FY_KEY_VOLATILE 0x0001
#define FY_KEY_HIVE_EXIT 0x0002
#define FY_KEY_HIVE_ENTRY 0x0004
#define FY_KEY_NO_DELETE 0x0008
#define FY_KEY_SYM_LINK 0x0010
#define FY_KEY_COMP_NAME 0x0020
#define FY_KEY_PREDEF_HANDLE 0x0040
/* Flags a tree may carry into a written nk; the others describe in-memory state
 * (volatile, mount points, predefined handles) or are set by the writer itself. */
#define FY_KEY_KEEP_MASK 0x0398u /* NO_DELETE, SYM_LINK, VirtualSource/Target/Store */

/* vk (key value) */
#define FY_VK_SIG 0
#define FY_VK_NAME_LEN 2
#define FY_VK_DATA_LEN 4 /* high bit set: data (<= 4 bytes) sits in the data offset field */
#define FY_VK_DATA_OFF 8
#define FY_VK_TYPE 12
#define FY_VK_FLAGS 16 /* 0x1: name is "compressed" (Latin-1) */
#define FY_VK_NAME 20
#define FY_VK_INLINE 0x80000000u
#define FY_VK_COMP_NAME 0x0001

/* sk (key security) */
#define FY_SK_SIG 0
#define FY_SK_FLINK 4
#define FY_SK_BLINK 8
#define FY_SK_REFS 12
#define FY_SK_SD_LEN 16
#define FY_SK_SD 20

/* lh / ri lists: "lh", u16 count, then {u32 nk offset, u32 name hash}; "ri", count, u32s */
#define FY_LIST_HDR 4
/* Entries per lh leaf: what fits one 4 KB bin (4096 - 32 bin header - 4 cell size - 4 list
 * header = 4056 bytes = 507 entries), the same bound as Windows' CmpMaxFastIndexPerHblock. */
#define FY_LH_MAX 507u

/* db (big data) for values over 16,344 bytes when the minor version is 4 or more */
#define FY_DB_SEGMENT 16344u /* = 16384 - 32 (bin header) - 4 (cell size) - 4 (alignment) */
#define FY_DB_NSEG 2
#define FY_DB_LIST 4

/* ---- transaction logs ---- */
#define FY_LOG_SECTOR 512u
#define FY_HVLE_HDR 40u
#define FY_HVLE_SIZE 4
#define FY_HVLE_FLAGS 8
#define FY_HVLE_SEQ 12
#define FY_HVLE_HBINS_SIZE 16
#define FY_HVLE_NPAGES 20
#define FY_HVLE_HASH1 24
#define FY_HVLE_HASH2 32
#define FY_MARVIN_SEED 0x82EF4D887A4E55C5ull /* bytes 82 EF 4D 88 7A 4E 55 C5 as a LE u64 */

static inline uint32_t fy_regf_checksum(const uint8_t *base)
{
    uint32_t x = 0;
    for (size_t i = 0; i < FY_REGF_CHECKSUM; i += 4)
        x ^= (uint32_t)base[i] | ((uint32_t)base[i + 1] << 8) | ((uint32_t)base[i + 2] << 16) |
             ((uint32_t)base[i + 3] << 24);
    /* Windows (HvpHeaderCheckSum) never stores 0 or -1: they would look like unwritten
     * sectors. */
    if (x == 0xFFFFFFFFu) x = 0xFFFFFFFEu;
    if (x == 0) x = 1;
    return x;
}

/* Marvin32 (the hash Windows 8.1+ puts in HvLE log entries), seeded with FY_MARVIN_SEED. */
uint64_t fy_hive_marvin32(const uint8_t *p, size_t n, uint64_t seed);

#endif
