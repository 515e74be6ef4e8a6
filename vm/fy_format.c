/* The program file (.fyb): serializer, loader, atomic writer, debug-table look-up.
 * docs/program-format.md describes the layout byte by byte; the constants below are it.
 *
 * The loader reads through one bounded cursor and checks, in this order: size, magic,
 * guard bytes, byte order, major version, lengths, CRC, signature, section table, each
 * section, then the verifier (fy_verify.c), then compiles the regexes. Each failure
 * writes one message naming the cause (and the section where there is one). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "fy_program.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pcre2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- the header, byte by byte ---- */
#define HDR_MAGIC "FYPROG"
#define HDR_GUARD "\x19\x93\r\n\x1a\n"
enum {
    OFF_MAGIC = 0,     /* 6 bytes "FYPROG" */
    OFF_GUARD = 6,     /* 6 bytes 19 93 0D 0A 1A 0A */
    OFF_MAJOR = 12,    /* u16 */
    OFF_MINOR = 14,    /* u16 */
    OFF_BOM = 16,      /* u32 0x01020304 */
    OFF_HDRLEN = 20,   /* u32: fixed header + section table, padded to 8 */
    OFF_TOTAL = 24,    /* u32: the whole file */
    OFF_CRC = 28,      /* u32: zlib crc32 over the file without these 4 bytes */
    OFF_COMPVER = 32,  /* u32 */
    OFF_FLAGS = 36,    /* u32: FLAG_SIGNED */
    OFF_NSEC = 40,     /* u32 */
    OFF_RESERVED = 44, /* u32: 0 */
    OFF_HASH = 48,     /* 32 bytes */
    HDR_FIXED = 80,    /* the section table starts here */
    SECENT_SIZE = 12,  /* {type, offset, length} */
};
#define BYTE_ORDER_TEST 0x01020304u
#define FLAG_SIGNED 1u
#define FLAGS_KNOWN FLAG_SIGNED

/* The signature trailer ends the file when FLAG_SIGNED is set. */
#define SIG_MAGIC "FYSIGN\0\0"
enum {
    SIG_OFF_MAGIC = 0, /* 8 bytes */
    SIG_OFF_ALG = 8,   /* u32: 1 = Ed25519 */
    SIG_OFF_LEN = 12,  /* u32: 64 */
    SIG_OFF_SIG = 16,  /* the signature */
    SIG_TRAILER = 80,
    SIG_ALG_ED25519 = 1,
};

static const char *const section_names[FY_SEC_MAX + 1] = {
    "?",      "STRINGS", "CONSTS",   "REGEX",   "CODE",       "RULES",    "ROOTS",
    "DNODES", "DREFS",   "DEXTS",    "APPS",    "COMPONENTS", "VERSIONS", "CONVS",
    "MAPS",   "MAPENTS", "POLICIES", "SOURCES", "DEBUG",
};

const char *fy_prog_section_name(uint32_t type)
{
    return type >= 1 && type <= FY_SEC_MAX ? section_names[type] : "?";
}

static int fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_size, const char *fmt, ...)
{
    if (err && err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint32_t align8(uint32_t v)
{
    return (v + 7u) & ~7u;
}

/* ---- record layouts: one field list per record type, used by reader and writer ---- */
typedef struct fy_field {
    uint16_t off;  /* offsetof in the in-memory struct */
    uint8_t width; /* 1, 2, 4 or 8 bytes on disk and in memory */
} fy_field;

#define FLD(T, m)                                                                                  \
    {                                                                                              \
        offsetof(T, m), sizeof(((T *)0)->m)                                                        \
    }
static const fy_field f_u32[] = {{0, 4}};
static const fy_field f_i64[] = {{0, 8}};
static const fy_field f_regex[] = {FLD(fy_prog_regex, pattern), FLD(fy_prog_regex, flags)};
static const fy_field f_insn[] = {FLD(fy_insn, op), FLD(fy_insn, a), FLD(fy_insn, b),
                                  FLD(fy_insn, c)};
static const fy_field f_rule[] = {FLD(fy_prog_rule, stage),       FLD(fy_prog_rule, action),
                                  FLD(fy_prog_rule, kind),        FLD(fy_prog_rule, flags),
                                  FLD(fy_prog_rule, app),         FLD(fy_prog_rule, component),
                                  FLD(fy_prog_rule, specificity), FLD(fy_prog_rule, entry),
                                  FLD(fy_prog_rule, node),        FLD(fy_prog_rule, dest)};
static const fy_field f_root[] = {FLD(fy_prog_root, kind), FLD(fy_prog_root, recurse),
                                  FLD(fy_prog_root, reserved), FLD(fy_prog_root, path)};
static const fy_field f_dnode[] = {FLD(fy_prog_dnode, name),      FLD(fy_prog_dnode, first_child),
                                   FLD(fy_prog_dnode, nchildren), FLD(fy_prog_dnode, first_ref),
                                   FLD(fy_prog_dnode, nrefs),     FLD(fy_prog_dnode, first_ext),
                                   FLD(fy_prog_dnode, nexts)};
static const fy_field f_dext[] = {FLD(fy_prog_dext, ext), FLD(fy_prog_dext, first_ref),
                                  FLD(fy_prog_dext, nrefs)};
static const fy_field f_app[] = {FLD(fy_prog_app, id),         FLD(fy_prog_app, name),
                                 FLD(fy_prog_app, vendor),     FLD(fy_prog_app, content_path),
                                 FLD(fy_prog_app, flags),      FLD(fy_prog_app, first_version),
                                 FLD(fy_prog_app, nversions),  FLD(fy_prog_app, first_component),
                                 FLD(fy_prog_app, ncomponents)};
static const fy_field f_comp[] = {FLD(fy_prog_component, app), FLD(fy_prog_component, name),
                                  FLD(fy_prog_component, content_path),
                                  FLD(fy_prog_component, flags)};
static const fy_field f_version[] = {FLD(fy_prog_version, app), FLD(fy_prog_version, version),
                                     FLD(fy_prog_version, detect)};
static const fy_field f_conv[] = {FLD(fy_prog_conv, app), FLD(fy_prog_conv, from_version),
                                  FLD(fy_prog_conv, to_version), FLD(fy_prog_conv, entry)};
static const fy_field f_map[] = {FLD(fy_prog_map, first), FLD(fy_prog_map, count)};
static const fy_field f_mapent[] = {FLD(fy_prog_mapent, from), FLD(fy_prog_mapent, to)};
static const fy_field f_policy[] = {FLD(fy_prog_policy, section), FLD(fy_prog_policy, key),
                                    FLD(fy_prog_policy, value)};
static const fy_field f_debug[] = {FLD(fy_prog_debug, pc), FLD(fy_prog_debug, file),
                                   FLD(fy_prog_debug, line), FLD(fy_prog_debug, col)};

typedef struct fy_rectype {
    const fy_field *fields;
    uint8_t nfields;
    uint16_t mem_size; /* sizeof the struct */
} fy_rectype;

/* Every record section: its type, the program's array and count, the field list and the
 * in-memory element type. STRINGS (not a record section) has its own reader and writer. */
#define REC_SECTIONS(X)                                                                            \
    X(CONSTS, consts, nconsts, f_i64, int64_t)                                                     \
    X(REGEX, regex, nregex, f_regex, fy_prog_regex)                                                \
    X(CODE, code, ncode, f_insn, fy_insn)                                                          \
    X(RULES, rules, nrules, f_rule, fy_prog_rule)                                                  \
    X(ROOTS, roots, nroots, f_root, fy_prog_root)                                                  \
    X(DNODES, dnodes, ndnodes, f_dnode, fy_prog_dnode)                                             \
    X(DREFS, drefs, ndrefs, f_u32, uint32_t)                                                       \
    X(DEXTS, dexts, ndexts, f_dext, fy_prog_dext)                                                  \
    X(APPS, apps, napps, f_app, fy_prog_app)                                                       \
    X(COMPONENTS, components, ncomponents, f_comp, fy_prog_component)                              \
    X(VERSIONS, versions, nversions, f_version, fy_prog_version)                                   \
    X(CONVS, convs, nconvs, f_conv, fy_prog_conv)                                                  \
    X(MAPS, maps, nmaps, f_map, fy_prog_map)                                                       \
    X(MAPENTS, mapents, nmapents, f_mapent, fy_prog_mapent)                                        \
    X(POLICIES, policies, npolicies, f_policy, fy_prog_policy)                                     \
    X(SOURCES, sources, nsources, f_u32, uint32_t)                                                 \
    X(DEBUG, debug, ndebug, f_debug, fy_prog_debug)

static const fy_rectype rectypes[FY_SEC_MAX + 1] = {
#define X(T, arr, n, fields, type) [FY_SEC_##T] = {fields, FY_ARRAY_LEN(fields), sizeof(type)},
    REC_SECTIONS(X)
#undef X
};

static uint32_t rec_disk_size(const fy_rectype *rt)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < rt->nfields; i++)
        n += rt->fields[i].width;
    return n;
}

/* The array and count of a record section. */
static void sec_get(const fy_program *p, uint32_t type, const void **arr, uint32_t *n)
{
    *arr = NULL, *n = 0;
    switch (type) {
#define X(T, a, cnt, fields, elem)                                                                 \
    case FY_SEC_##T:                                                                               \
        *arr = p->a, *n = p->cnt;                                                                  \
        break;
        REC_SECTIONS(X)
#undef X
    }
}

static void sec_set(fy_program *p, uint32_t type, void *arr, uint32_t n)
{
    switch (type) {
#define X(T, a, cnt, fields, elem)                                                                 \
    case FY_SEC_##T:                                                                               \
        p->a = arr, p->cnt = n;                                                                    \
        return;
        REC_SECTIONS(X)
#undef X
    }
    free(arr);
}

/* ---- the bounded cursor: every read from the file goes through one ---- */
typedef struct fy_cursor {
    const uint8_t *p;
    size_t len, pos;
} fy_cursor;

static fy_cursor cur_sub(const fy_cursor *c, size_t off, size_t len)
{
    fy_cursor s = {c->p, 0, 0};
    if (off <= c->len && len <= c->len - off) s.p = c->p + off, s.len = len;
    return s;
}

/* Returns n bytes and advances, or NULL (and nothing moves) when fewer are left. */
static const uint8_t *cur_take(fy_cursor *c, size_t n)
{
    if (n > c->len - c->pos) return NULL;
    const uint8_t *r = c->p + c->pos;
    c->pos += n;
    return r;
}

static uint32_t cur_u32_at(const fy_cursor *c, size_t off)
{
    return off <= c->len && c->len - off >= 4 ? fy_le32(c->p + off) : 0;
}

static uint16_t cur_u16_at(const fy_cursor *c, size_t off)
{
    return off <= c->len && c->len - off >= 2 ? fy_le16(c->p + off) : 0;
}

/* Reads one little-endian field of the given width into the struct member at dst. */
static void get_field(const uint8_t *src, uint8_t width, void *dst)
{
    uint8_t u8v;
    uint16_t u16v;
    uint32_t u32v;
    uint64_t u64v;
    switch (width) {
    case 1:
        u8v = src[0], memcpy(dst, &u8v, 1);
        break;
    case 2:
        u16v = fy_le16(src), memcpy(dst, &u16v, 2);
        break;
    case 4:
        u32v = fy_le32(src), memcpy(dst, &u32v, 4);
        break;
    default:
        u64v = fy_le64(src), memcpy(dst, &u64v, 8);
        break;
    }
}

static void put_field(fy_buf *b, const void *src, uint8_t width)
{
    uint16_t u16v;
    uint32_t u32v;
    uint64_t u64v;
    switch (width) {
    case 1:
        fy_buf_put(b, src, 1);
        break;
    case 2:
        memcpy(&u16v, src, 2), fy_buf_u16(b, u16v);
        break;
    case 4:
        memcpy(&u32v, src, 4), fy_buf_u32(b, u32v);
        break;
    default:
        memcpy(&u64v, src, 8), fy_buf_u64(b, u64v);
        break;
    }
}

/* ===================================================================================== */
/* Serializer                                                                             */
/* ===================================================================================== */

static void pad8(fy_buf *b)
{
    static const uint8_t zero[8];
    fy_buf_put(b, zero, (8 - b->len % 8) % 8);
}

static void write_strings(fy_buf *b, const fy_program *p)
{
    fy_buf_u32(b, p->nstr);
    uint32_t off = 0;
    for (uint32_t i = 0; i < p->nstr; i++) {
        fy_buf_u32(b, off);
        off += p->str_len[i];
    }
    for (uint32_t i = 0; i < p->nstr; i++)
        fy_buf_u32(b, p->str_len[i]);
    for (uint32_t i = 0; i < p->nstr; i++)
        fy_buf_put(b, p->str[i], p->str_len[i]);
}

static void write_records(fy_buf *b, const fy_program *p, uint32_t type)
{
    const fy_rectype *rt = &rectypes[type];
    const void *arr;
    uint32_t n;
    sec_get(p, type, &arr, &n);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *rec = (const uint8_t *)arr + (size_t)i * rt->mem_size;
        for (unsigned f = 0; f < rt->nfields; f++)
            put_field(b, rec + rt->fields[f].off, rt->fields[f].width);
    }
}

static void write_header(fy_buf *b, const fy_program *p, uint32_t flags)
{
    uint8_t h[HDR_FIXED] = {0};
    memcpy(h + OFF_MAGIC, HDR_MAGIC, 6);
    memcpy(h + OFF_GUARD, HDR_GUARD, 6);
    fy_put_le16(h + OFF_MAJOR, FY_FORMAT_MAJOR);
    fy_put_le16(h + OFF_MINOR, FY_FORMAT_MINOR);
    fy_put_le32(h + OFF_BOM, BYTE_ORDER_TEST);
    fy_put_le32(h + OFF_HDRLEN, align8(HDR_FIXED + SECENT_SIZE * FY_SEC_MAX));
    fy_put_le32(h + OFF_COMPVER, p->compiler_version);
    fy_put_le32(h + OFF_FLAGS, flags);
    fy_put_le32(h + OFF_NSEC, FY_SEC_MAX);
    memcpy(h + OFF_HASH, p->source_hash, 32);
    fy_buf_put(b, h, sizeof h);
    /* the section table is filled in once the sections are written */
    for (unsigned i = 0; i < FY_SEC_MAX * 3u; i++)
        fy_buf_u32(b, 0);
    pad8(b);
}

static void finish_crc(uint8_t *img, size_t size)
{
    uLong crc = crc32_z(0L, Z_NULL, 0);
    crc = crc32_z(crc, img, OFF_CRC);
    crc = crc32_z(crc, img + OFF_CRC + 4, size - OFF_CRC - 4);
    fy_put_le32(img + OFF_CRC, (uint32_t)crc);
}

/* The signature covers the file up to the trailer with the CRC field as zero (the CRC
 * itself covers the trailer, so it cannot be signed). */
static int sign_image(fy_buf *b, const uint8_t *secret_key)
{
    uint8_t sig[crypto_sign_BYTES];
    if (sodium_init() < 0) return -1;
    if (crypto_sign_detached(sig, NULL, b->data, b->len, secret_key) != 0) return -1;
    fy_buf_put(b, SIG_MAGIC, 8);
    fy_buf_u32(b, SIG_ALG_ED25519);
    fy_buf_u32(b, crypto_sign_BYTES);
    fy_buf_put(b, sig, sizeof sig);
    return 0;
}

int fy_program_serialize(const fy_program *p, const uint8_t *secret_key, uint8_t **out,
                         size_t *out_size)
{
    fy_buf b = {0};
    *out = NULL;
    *out_size = 0;
    write_header(&b, p, secret_key ? FLAG_SIGNED : 0);
    for (uint32_t type = 1; type <= FY_SEC_MAX; type++) {
        size_t start = b.len;
        if (type == FY_SEC_STRINGS)
            write_strings(&b, p);
        else
            write_records(&b, p, type);
        uint8_t *ent = b.data + HDR_FIXED + (type - 1) * SECENT_SIZE;
        fy_put_le32(ent, type);
        fy_put_le32(ent + 4, (uint32_t)start);
        fy_put_le32(ent + 8, (uint32_t)(b.len - start));
        pad8(&b);
    }
    uint64_t total = b.len + (secret_key ? SIG_TRAILER : 0);
    if (total > UINT32_MAX) goto fail;
    fy_put_le32(b.data + OFF_TOTAL, (uint32_t)total);
    if (secret_key && sign_image(&b, secret_key) != 0) goto fail;
    finish_crc(b.data, b.len);
    *out = b.data;
    *out_size = b.len;
    return 0;
fail:
    fy_buf_free(&b);
    return -1;
}

/* ===================================================================================== */
/* Loader                                                                                 */
/* ===================================================================================== */

typedef struct fy_hdr {
    uint16_t major, minor;
    uint32_t hdr_len, total, crc, compver, flags, nsec;
    uint32_t content_len; /* where the sections area ends (the trailer starts) */
} fy_hdr;

typedef struct fy_secent {
    uint32_t type, off, len;
} fy_secent;

typedef struct fy_loader {
    fy_cursor file;
    fy_hdr h;
    fy_secent *secs; /* the table, known types only */
    uint32_t nsecs;
    char *err;
    size_t err_size;
} fy_loader;

static int check_ident(fy_loader *L)
{
    const fy_cursor *f = &L->file;
    if (f->len < HDR_FIXED)
        return fail(L->err, L->err_size,
                    "file is %zu bytes, too short for a program header (%d bytes)", f->len,
                    HDR_FIXED);
    if (memcmp(f->p + OFF_MAGIC, HDR_MAGIC, 6) != 0)
        return fail(L->err, L->err_size, "not a ferry program (bad magic)");
    if (memcmp(f->p + OFF_GUARD, HDR_GUARD, 6) != 0)
        return fail(L->err, L->err_size,
                    "header guard bytes damaged (file transferred in text mode?)");
    uint32_t bom = cur_u32_at(f, OFF_BOM);
    if (bom != BYTE_ORDER_TEST)
        return fail(L->err, L->err_size,
                    "byte-order test value is 0x%08x, expected 0x%08x (little-endian)", bom,
                    BYTE_ORDER_TEST);
    L->h.major = cur_u16_at(f, OFF_MAJOR);
    L->h.minor = cur_u16_at(f, OFF_MINOR);
    if (L->h.major != FY_FORMAT_MAJOR)
        return fail(L->err, L->err_size,
                    "format version %u.%u is not supported (this reader reads %u.x)", L->h.major,
                    L->h.minor, FY_FORMAT_MAJOR);
    return 0;
}

static int check_lengths(fy_loader *L)
{
    const fy_cursor *f = &L->file;
    fy_hdr *h = &L->h;
    h->hdr_len = cur_u32_at(f, OFF_HDRLEN);
    h->total = cur_u32_at(f, OFF_TOTAL);
    h->crc = cur_u32_at(f, OFF_CRC);
    h->compver = cur_u32_at(f, OFF_COMPVER);
    h->flags = cur_u32_at(f, OFF_FLAGS);
    h->nsec = cur_u32_at(f, OFF_NSEC);
    if (h->total != f->len)
        return fail(L->err, L->err_size,
                    "file is %zu bytes but its header says %u (truncated or padded)", f->len,
                    h->total);
    uint64_t need = HDR_FIXED + (uint64_t)SECENT_SIZE * h->nsec;
    if (h->hdr_len % 8 != 0 || h->hdr_len < need || h->hdr_len > h->total)
        return fail(L->err, L->err_size,
                    "header length %u is invalid (%u sections need %llu bytes, a multiple of 8, "
                    "within the file)",
                    h->hdr_len, h->nsec, (unsigned long long)need);
    if (h->flags & ~FLAGS_KNOWN)
        return fail(L->err, L->err_size, "unknown header flags 0x%08x", h->flags & ~FLAGS_KNOWN);
    if (cur_u32_at(f, OFF_RESERVED) != 0 && h->minor <= FY_FORMAT_MINOR)
        return fail(L->err, L->err_size, "reserved header field is not zero");
    h->content_len = h->total;
    if (h->flags & FLAG_SIGNED) {
        if (h->total - h->hdr_len < SIG_TRAILER)
            return fail(L->err, L->err_size, "signed program has no room for its signature");
        h->content_len = h->total - SIG_TRAILER;
    }
    return 0;
}

static int check_crc(fy_loader *L)
{
    const fy_cursor *f = &L->file;
    uLong crc = crc32_z(0L, Z_NULL, 0);
    crc = crc32_z(crc, f->p, OFF_CRC);
    crc = crc32_z(crc, f->p + OFF_CRC + 4, f->len - OFF_CRC - 4);
    if ((uint32_t)crc != L->h.crc)
        return fail(L->err, L->err_size,
                    "CRC mismatch: stored 0x%08x, computed 0x%08x (file damaged)", L->h.crc,
                    (uint32_t)crc);
    return 0;
}

static int check_trailer(fy_loader *L)
{
    fy_cursor t = cur_sub(&L->file, L->h.content_len, SIG_TRAILER);
    const uint8_t *magic = cur_take(&t, 8);
    if (!magic || memcmp(magic, SIG_MAGIC, 8) != 0)
        return fail(L->err, L->err_size, "signature block: bad magic");
    uint32_t alg = cur_u32_at(&t, SIG_OFF_ALG), len = cur_u32_at(&t, SIG_OFF_LEN);
    if (alg != SIG_ALG_ED25519 || len != crypto_sign_BYTES)
        return fail(L->err, L->err_size,
                    "signature block: algorithm %u with %u bytes is not Ed25519 (1, 64 bytes)", alg,
                    len);
    return 0;
}

/* Verifies the signature over the content with the CRC field zeroed (see sign_image). */
static int verify_signature(fy_loader *L, const uint8_t *key, bool *ok)
{
    *ok = false;
    if (!(L->h.flags & FLAG_SIGNED))
        return key ? fail(L->err, L->err_size,
                          "program is not signed, but a trusted key is required")
                   : 0;
    if (check_trailer(L) != 0) return -1;
    if (!key) return 0;
    if (sodium_init() < 0) return fail(L->err, L->err_size, "libsodium failed to initialise");
    uint8_t *copy = fy_xmalloc(L->h.content_len);
    memcpy(copy, L->file.p, L->h.content_len);
    fy_put_le32(copy + OFF_CRC, 0);
    const uint8_t *sig = L->file.p + L->h.content_len + SIG_OFF_SIG;
    int rc = crypto_sign_verify_detached(sig, copy, L->h.content_len, key);
    free(copy);
    if (rc != 0) return fail(L->err, L->err_size, "signature does not verify with the trusted key");
    *ok = true;
    return 0;
}

static const char *secname(uint32_t type, char *tmp, size_t n)
{
    if (type >= 1 && type <= FY_SEC_MAX) return section_names[type];
    snprintf(tmp, n, "type %u", type);
    return tmp;
}

static int check_secent(fy_loader *L, const fy_secent *e, bool *skip)
{
    char tmp[24];
    const char *name = secname(e->type, tmp, sizeof tmp);
    *skip = false;
    if (e->type < 1 || e->type > FY_SEC_MAX) {
        if (L->h.minor > FY_FORMAT_MINOR) {
            *skip = true; /* a newer minor's optional section: older readers skip it */
            return 0;
        }
        return fail(L->err, L->err_size, "unknown section type %u", e->type);
    }
    if (e->off % 8 != 0)
        return fail(L->err, L->err_size, "section %s: offset 0x%x is not a multiple of 8", name,
                    e->off);
    if (e->off < L->h.hdr_len)
        return fail(L->err, L->err_size, "section %s: offset 0x%x lies inside the header", name,
                    e->off);
    if ((uint64_t)e->off + e->len > L->h.content_len)
        return fail(L->err, L->err_size,
                    "section %s (offset 0x%x, length %u) runs past the end of the file", name,
                    e->off, e->len);
    return 0;
}

static int cmp_secent_off(const void *a, const void *b)
{
    const fy_secent *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off ? 1 : (x->len > y->len) - (x->len < y->len);
}

/* Sections must not overlap; empty sections overlap nothing. */
static int check_overlaps(fy_loader *L)
{
    fy_secent *s = fy_xmalloc((L->nsecs ? L->nsecs : 1) * sizeof *s);
    memcpy(s, L->secs, L->nsecs * sizeof *s);
    qsort(s, L->nsecs, sizeof *s, cmp_secent_off);
    uint64_t end = 0;
    uint32_t owner = 0;
    int rc = 0;
    for (uint32_t i = 0; i < L->nsecs && rc == 0; i++) {
        if (s[i].len == 0) continue;
        if (s[i].off < end)
            rc = fail(L->err, L->err_size, "section %s overlaps section %s",
                      fy_prog_section_name(s[i].type), fy_prog_section_name(owner));
        if ((uint64_t)s[i].off + s[i].len > end)
            end = (uint64_t)s[i].off + s[i].len, owner = s[i].type;
    }
    free(s);
    return rc;
}

static int read_section_table(fy_loader *L)
{
    fy_cursor t = cur_sub(&L->file, HDR_FIXED, (size_t)L->h.nsec * SECENT_SIZE);
    bool seen[FY_SEC_MAX + 1] = {false};
    L->secs = fy_xmalloc((L->h.nsec ? L->h.nsec : 1) * sizeof *L->secs);
    for (uint32_t i = 0; i < L->h.nsec; i++) {
        const uint8_t *ent = cur_take(&t, SECENT_SIZE);
        if (!ent) return fail(L->err, L->err_size, "section table is truncated");
        fy_secent e = {fy_le32(ent), fy_le32(ent + 4), fy_le32(ent + 8)};
        bool skip;
        if (check_secent(L, &e, &skip) != 0) return -1;
        if (skip) continue;
        if (seen[e.type])
            return fail(L->err, L->err_size, "section %s appears twice",
                        fy_prog_section_name(e.type));
        seen[e.type] = true;
        L->secs[L->nsecs++] = e;
    }
    return check_overlaps(L);
}

/* STRINGS: count u32; offsets u32[count]; lengths u32[count]; bytes. The strings lie in
 * index order without overlapping, so the in-memory copy is at most the section's size
 * plus one NUL per string. */
static int read_strings(fy_loader *L, fy_program *p, fy_cursor c)
{
    const uint8_t *hdr = cur_take(&c, 4);
    if (!hdr)
        return fail(L->err, L->err_size, "section STRINGS: length %zu is too short for its count",
                    c.len);
    uint32_t n = fy_le32(hdr);
    if ((uint64_t)n * 8 > c.len - c.pos)
        return fail(L->err, L->err_size,
                    "section STRINGS: count %u larger than its section (%zu bytes)", n, c.len);
    fy_cursor offs = cur_sub(&c, 4, (size_t)n * 4),
              lens = cur_sub(&c, 4 + (size_t)n * 4, (size_t)n * 4);
    fy_cursor text = cur_sub(&c, 4 + (size_t)n * 8, c.len - 4 - (size_t)n * 8);
    p->str = fy_xcalloc(n ? n : 1, sizeof *p->str);
    p->str_len = fy_xcalloc(n ? n : 1, sizeof *p->str_len);
    p->str_blob = fy_xmalloc(text.len + n + 1);
    p->nstr = n;
    uint64_t prev_end = 0;
    size_t out = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off = cur_u32_at(&offs, (size_t)i * 4), len = cur_u32_at(&lens, (size_t)i * 4);
        if ((uint64_t)off + len > text.len)
            return fail(L->err, L->err_size,
                        "section STRINGS: string %u (offset %u, length %u) runs past the end of "
                        "the section",
                        i, off, len);
        if (off < prev_end)
            return fail(L->err, L->err_size,
                        "section STRINGS: string %u (offset %u) overlaps string %u", i, off, i - 1);
        prev_end = (uint64_t)off + len;
        const char *s = (const char *)text.p + off;
        if (!fy_utf8_valid(s, len))
            return fail(L->err, L->err_size, "section STRINGS: string %u is not valid UTF-8", i);
        if (memchr(s, 0, len))
            return fail(L->err, L->err_size, "section STRINGS: string %u contains a NUL byte", i);
        memcpy(p->str_blob + out, s, len);
        p->str_blob[out + len] = 0;
        p->str[i] = p->str_blob + out;
        p->str_len[i] = len;
        out += (size_t)len + 1;
    }
    return 0;
}

static int read_records(fy_loader *L, fy_program *p, uint32_t type, fy_cursor c)
{
    const fy_rectype *rt = &rectypes[type];
    uint32_t size = rec_disk_size(rt);
    if (c.len % size != 0)
        return fail(L->err, L->err_size, "section %s: length %zu is not a multiple of %u",
                    section_names[type], c.len, size);
    uint32_t n = (uint32_t)(c.len / size);
    uint8_t *arr = fy_xcalloc(n ? n : 1, rt->mem_size);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *src = cur_take(&c, size);
        uint8_t *rec = arr + (size_t)i * rt->mem_size;
        for (unsigned f = 0; f < rt->nfields; f++) {
            get_field(src, rt->fields[f].width, rec + rt->fields[f].off);
            src += rt->fields[f].width;
        }
    }
    sec_set(p, type, arr, n);
    return 0;
}

static int read_sections(fy_loader *L, fy_program *p)
{
    for (uint32_t i = 0; i < L->nsecs; i++) {
        const fy_secent *e = &L->secs[i];
        fy_cursor c = cur_sub(&L->file, e->off, e->len);
        int rc = e->type == FY_SEC_STRINGS ? read_strings(L, p, c) : read_records(L, p, e->type, c);
        if (rc != 0) return -1;
    }
    return 0;
}

static int compile_regexes(fy_program *p, char *err, size_t err_size)
{
    p->regex_code = fy_xcalloc(p->nregex ? p->nregex : 1, sizeof *p->regex_code);
    for (uint32_t i = 0; i < p->nregex; i++) {
        const fy_prog_regex *r = &p->regex[i];
        int code;
        PCRE2_SIZE at;
        uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C | r->flags;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)p->str[r->pattern], p->str_len[r->pattern], opts,
                                       &code, &at, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(code, msg, sizeof msg);
            return fail(err, err_size, "regex %u (/%.60s/): %s at offset %zu", i,
                        p->str[r->pattern], (const char *)msg, (size_t)at);
        }
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* no JIT: the interpreter works */
        p->regex_code[i] = re;
    }
    return 0;
}

static int load_checked(fy_loader *L, const fy_load_opts *opts, fy_program **out)
{
    bool signed_ok;
    if (check_ident(L) || check_lengths(L) || check_crc(L)) return -1;
    if (verify_signature(L, opts ? opts->trusted_key : NULL, &signed_ok)) return -1;
    if (read_section_table(L)) return -1;
    fy_program *p = fy_xcalloc(1, sizeof *p);
    p->major = L->h.major;
    p->minor = L->h.minor;
    p->compiler_version = L->h.compver;
    memcpy(p->source_hash, L->file.p + OFF_HASH, 32);
    p->signed_ok = signed_ok;
    if (read_sections(L, p) || fy_program_verify(p, L->err, L->err_size) ||
        compile_regexes(p, L->err, L->err_size)) {
        fy_program_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

int fy_program_load(const uint8_t *data, size_t size, const fy_load_opts *opts, fy_program **out,
                    char *err, size_t err_size)
{
    fy_loader L = {.file = {data, size, 0}, .err = err, .err_size = err_size};
    *out = NULL;
    if (err && err_size) err[0] = 0;
    if (!data) L.file.len = 0;
    int rc = load_checked(&L, opts, out);
    free(L.secs);
    return rc;
}

void fy_program_free(fy_program *p)
{
    if (!p) return;
    if (p->str_blob)
        free(p->str_blob);
    else
        for (uint32_t i = 0; p->str && i < p->nstr; i++)
            free(p->str[i]);
    free(p->str);
    free(p->str_len);
    for (uint32_t i = 0; p->regex_code && i < p->nregex; i++)
        pcre2_code_free(p->regex_code[i]);
    free(p->regex_code);
    for (uint32_t type = 1; type <= FY_SEC_MAX; type++) {
        const void *arr;
        uint32_t n;
        sec_get(p, type, &arr, &n);
        free((void *)arr);
    }
    free(p);
}

/* ===================================================================================== */
/* Files                                                                                  */
/* ===================================================================================== */

static int read_all(int fd, uint8_t **out, size_t *out_size)
{
    fy_buf b = {0};
    for (;;) {
        fy_buf_reserve(&b, 65536);
        ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            fy_buf_free(&b);
            return -1;
        }
        if (n == 0) break;
        b.len += (size_t)n;
        if (b.len > UINT32_MAX) break; /* larger than any program: the loader says so */
    }
    *out = b.data;
    *out_size = b.len;
    return 0;
}

int fy_program_load_file(const char *path, const fy_load_opts *opts, fy_program **out, char *err,
                         size_t err_size)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(err, err_size, "%s: %s", path, strerror(errno));
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = read_all(fd, &data, &size);
    int saved = errno;
    close(fd);
    if (rc != 0) return fail(err, err_size, "%s: %s", path, strerror(saved));
    char msg[512];
    rc = fy_program_load(data, size, opts, out, msg, sizeof msg);
    if (rc != 0) fail(err, err_size, "%s: %s", path, msg);
    free(data);
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *copy = fy_xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int fy_program_write_file(const fy_program *p, const uint8_t *secret_key, const char *path,
                          char *err, size_t err_size)
{
    uint8_t *img = NULL;
    size_t size = 0;
    if (fy_program_serialize(p, secret_key, &img, &size) != 0)
        return fail(err, err_size,
                    "%s: cannot serialise the program (too large, or signing failed)", path);
    char *tmp = fy_xasprintf("%s.tmpXXXXXX", path);
    int rc = -1, fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        fail(err, err_size, "%s: cannot create a temporary file: %s", path, strerror(errno));
        goto done;
    }
    if (fchmod(fd, 0644) != 0 || write_all(fd, img, size) != 0 || fsync(fd) != 0) {
        fail(err, err_size, "%s: write failed: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        fail(err, err_size, "%s: cannot replace the file: %s", path, strerror(errno));
        unlink(tmp);
        goto done;
    }
    if (fsync_dir_of(path) != 0) {
        fail(err, err_size, "%s: written, but syncing its folder failed: %s", path,
             strerror(errno));
        goto done;
    }
    rc = 0;
done:
    free(tmp);
    free(img);
    return rc;
}

/* ===================================================================================== */
/* Debug table                                                                            */
/* ===================================================================================== */

const fy_prog_debug *fy_program_debug_at(const fy_program *p, uint32_t pc)
{
    /* the last entry with entry.pc <= pc (the table is sorted by pc, duplicates allowed) */
    uint32_t lo = 0, hi = p->ndebug;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->debug[mid].pc <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 ? &p->debug[lo - 1] : NULL;
}
