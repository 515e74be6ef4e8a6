/* The one-pass hive writer: a whole regf file from an fy_regtree (see docs/hive-format.md).
 *
 * Layout: cells are placed as the tree is walked depth first, each key's nk cell first, then
 * its class name, values and data, then its subkeys, then the subkey list that points at
 * them (offsets not known yet are patched in the buffer). Small cells fill 4 KB bins in
 * order; a cell too big for a 4 KB bin gets a bin of its own, sized to fit, appended at the
 * end, and the unused tail of whichever of the two bins has more room stays open for the
 * next small cells. Every unused tail becomes one free cell. No cell is moved or copied, so
 * the work is linear in the output plus the per-key sort of subkey names. */
#include "fy_hive.h"
#include "fy_hive_format.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 512 /* Windows refuses deeper key paths */

/* ---- upper-casing as the registry does it (RtlUpcaseUnicodeChar) ----
 * Simple (one code unit to one code unit) upper-case mappings of the characters assigned
 * in Unicode 3.2, kept only where they round-trip (so U+00B5, U+0131, U+017F stay
 * themselves, as in Windows' table); final sigma maps to capital sigma as on Windows.
 * Runs are {first, last, stride, delta}: stride 2 is an upper/lower alternating block. */
typedef struct {
    uint16_t lo, hi;
    uint8_t stride;
    int16_t delta;
} upcase_run;

static const upcase_run upcase_runs[] = {
    {0x0061, 0x007A, 1, -32},  {0x00E0, 0x00F6, 1, -32},  {0x00F8, 0x00FE, 1, -32},
    {0x00FF, 0x00FF, 1, 121},  {0x0101, 0x012F, 2, -1},   {0x0133, 0x0137, 2, -1},
    {0x013A, 0x0148, 2, -1},   {0x014B, 0x0177, 2, -1},   {0x017A, 0x017E, 2, -1},
    {0x0183, 0x0185, 2, -1},   {0x0188, 0x0188, 1, -1},   {0x018C, 0x018C, 1, -1},
    {0x0192, 0x0192, 1, -1},   {0x0195, 0x0195, 1, 97},   {0x0199, 0x0199, 1, -1},
    {0x019E, 0x019E, 1, 130},  {0x01A1, 0x01A5, 2, -1},   {0x01A8, 0x01A8, 1, -1},
    {0x01AD, 0x01AD, 1, -1},   {0x01B0, 0x01B0, 1, -1},   {0x01B4, 0x01B6, 2, -1},
    {0x01B9, 0x01B9, 1, -1},   {0x01BD, 0x01BD, 1, -1},   {0x01BF, 0x01BF, 1, 56},
    {0x01C6, 0x01C6, 1, -2},   {0x01C9, 0x01C9, 1, -2},   {0x01CC, 0x01CC, 1, -2},
    {0x01CE, 0x01DC, 2, -1},   {0x01DD, 0x01DD, 1, -79},  {0x01DF, 0x01EF, 2, -1},
    {0x01F3, 0x01F3, 1, -2},   {0x01F5, 0x01F5, 1, -1},   {0x01F9, 0x021F, 2, -1},
    {0x0223, 0x0233, 2, -1},   {0x0253, 0x0253, 1, -210}, {0x0254, 0x0254, 1, -206},
    {0x0256, 0x0257, 1, -205}, {0x0259, 0x0259, 1, -202}, {0x025B, 0x025B, 1, -203},
    {0x0260, 0x0260, 1, -205}, {0x0263, 0x0263, 1, -207}, {0x0268, 0x0268, 1, -209},
    {0x0269, 0x0269, 1, -211}, {0x026F, 0x026F, 1, -211}, {0x0272, 0x0272, 1, -213},
    {0x0275, 0x0275, 1, -214}, {0x0280, 0x0280, 1, -218}, {0x0283, 0x0283, 1, -218},
    {0x0288, 0x0288, 1, -218}, {0x028A, 0x028B, 1, -217}, {0x0292, 0x0292, 1, -219},
    {0x03AC, 0x03AC, 1, -38},  {0x03AD, 0x03AF, 1, -37},  {0x03B1, 0x03C1, 1, -32},
    {0x03C2, 0x03C2, 1, -31},  {0x03C3, 0x03CB, 1, -32},  {0x03CC, 0x03CC, 1, -64},
    {0x03CD, 0x03CE, 1, -63},  {0x03D9, 0x03EF, 2, -1},   {0x0430, 0x044F, 1, -32},
    {0x0450, 0x045F, 1, -80},  {0x0461, 0x0481, 2, -1},   {0x048B, 0x04BF, 2, -1},
    {0x04C2, 0x04CE, 2, -1},   {0x04D1, 0x04F5, 2, -1},   {0x04F9, 0x04F9, 1, -1},
    {0x0501, 0x050F, 2, -1},   {0x0561, 0x0586, 1, -48},  {0x1E01, 0x1E95, 2, -1},
    {0x1EA1, 0x1EF9, 2, -1},   {0x1F00, 0x1F07, 1, 8},    {0x1F10, 0x1F15, 1, 8},
    {0x1F20, 0x1F27, 1, 8},    {0x1F30, 0x1F37, 1, 8},    {0x1F40, 0x1F45, 1, 8},
    {0x1F51, 0x1F57, 2, 8},    {0x1F60, 0x1F67, 1, 8},    {0x1F70, 0x1F71, 1, 74},
    {0x1F72, 0x1F75, 1, 86},   {0x1F76, 0x1F77, 1, 100},  {0x1F78, 0x1F79, 1, 128},
    {0x1F7A, 0x1F7B, 1, 112},  {0x1F7C, 0x1F7D, 1, 126},  {0x1FB0, 0x1FB1, 1, 8},
    {0x1FD0, 0x1FD1, 1, 8},    {0x1FE0, 0x1FE1, 1, 8},    {0x1FE5, 0x1FE5, 1, 7},
    {0x2170, 0x217F, 1, -16},  {0x24D0, 0x24E9, 1, -26},  {0xFF41, 0xFF5A, 1, -32},
};

static uint16_t upcase16(uint16_t c)
{
    if (c < 0x80) return (c >= 'a' && c <= 'z') ? (uint16_t)(c - 32) : c;
    size_t lo = 0, hi = FY_ARRAY_LEN(upcase_runs);
    while (lo < hi) { /* last run with first <= c */
        size_t mid = (lo + hi) / 2;
        if (upcase_runs[mid].lo <= c)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return c;
    const upcase_run *r = &upcase_runs[lo - 1];
    if (c > r->hi || (c - r->lo) % r->stride) return c;
    return (uint16_t)(c + r->delta);
}

/* ---- names ---- */
typedef struct {
    uint16_t *u;  /* UTF-16 code units (host order) */
    uint16_t *up; /* the same, upper-cased (subkeys only: sorting and the lh hash) */
    size_t n;     /* code units */
    bool latin1;  /* every unit < 0x100: stored "compressed", one byte per character */
} hname;

static void hname_free(hname *h)
{
    free(h->u);
    free(h->up);
    h->u = h->up = NULL;
}

/* Bytes the name takes in an nk/vk cell. */
static size_t hname_stored(const hname *h)
{
    return h->latin1 ? h->n : h->n * 2;
}

static void hname_put(const hname *h, uint8_t *p)
{
    for (size_t i = 0; i < h->n; i++) {
        if (h->latin1)
            p[i] = (uint8_t)h->u[i];
        else
            fy_put_le16(p + 2 * i, h->u[i]);
    }
}

/* ---- writer state ---- */
typedef struct {
    uint32_t off, refs, hash;
    const uint8_t *sd;
    uint32_t len;
} sk_ent;

typedef struct {
    fy_buf *out;       /* whole file; the hive bins data starts at FY_REGF_BASE_SIZE */
    uint32_t total;    /* hive bins data size so far */
    uint32_t cur, end; /* open free space [cur, end) (relative offsets); cur == end: none */
    sk_ent *sk;        /* in creation order (the order of the sk list) */
    size_t nsk, skcap;
    uint32_t *skslot; /* open addressing: index + 1 into sk, 0 = empty */
    size_t nslot;
    char *err;
    size_t err_size;
    bool failed;
} wctx;

static void fail(wctx *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(wctx *w, const char *fmt, ...)
{
    if (w->failed) return;
    w->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, w->err_size, fmt, ap);
    va_end(ap);
}

static uint8_t *at(wctx *w, uint32_t rel)
{
    return w->out->data + FY_REGF_BASE_SIZE + rel;
}

/* Cell data of the cell at rel (after its size field). Valid until the next allocation. */
static uint8_t *cell(wctx *w, uint32_t rel)
{
    return at(w, rel) + 4;
}

static void free_cell(wctx *w, uint32_t rel, uint32_t size)
{
    if (size) fy_put_le32(at(w, rel), size); /* positive size: unallocated */
}

static uint32_t new_bin(wctx *w, uint32_t size)
{
    uint32_t rel = w->total;
    fy_buf_reserve(w->out, size);
    memset(w->out->data + w->out->len, 0, size);
    w->out->len += size;
    uint8_t *p = at(w, rel);
    memcpy(p, "hbin", 4);
    fy_put_le32(p + FY_HBIN_OFFSET, rel);
    fy_put_le32(p + FY_HBIN_SIZE, size);
    w->total += size;
    return rel;
}

/* Allocates a cell holding n data bytes; returns its relative offset (of the size field).
 * at_end: in a new bin after every cell so far (big-data segments must come in file order:
 * regfi, behind reglookup, reads them sorted by offset). */
static uint32_t alloc_cell(wctx *w, size_t n, bool at_end)
{
    if (w->failed) return FY_CELL_NIL;
    /* Hives are limited to 2 GB of bins (Windows' stable storage); stay well inside. */
    if (n > 0x40000000u || (uint64_t)w->total + n + 2 * FY_HBIN_ALIGN > 0x7FFFF000u) {
        fail(w, "hive would exceed the 2 GB a registry hive can hold");
        return FY_CELL_NIL;
    }
    uint32_t size = (uint32_t)((n + 4 + FY_CELL_ALIGN - 1) & ~(size_t)(FY_CELL_ALIGN - 1));
    uint32_t rel;
    if (!at_end && w->end - w->cur >= size) {
        rel = w->cur;
        w->cur += size;
    } else if (!at_end && size <= FY_HBIN_ALIGN - FY_HBIN_HDR) {
        free_cell(w, w->cur, w->end - w->cur);
        uint32_t b = new_bin(w, FY_HBIN_ALIGN);
        rel = b + FY_HBIN_HDR;
        w->cur = rel + size;
        w->end = b + FY_HBIN_ALIGN;
    } else {
        uint32_t bsize = (size + FY_HBIN_HDR + FY_HBIN_ALIGN - 1) & ~(FY_HBIN_ALIGN - 1);
        uint32_t b = new_bin(w, bsize);
        rel = b + FY_HBIN_HDR;
        uint32_t rs = rel + size, re = b + bsize;
        if (re - rs > w->end - w->cur) { /* the new bin's tail is the bigger hole: keep it */
            free_cell(w, w->cur, w->end - w->cur);
            w->cur = rs;
            w->end = re;
        } else {
            free_cell(w, rs, re - rs);
        }
    }
    fy_put_le32(at(w, rel), (uint32_t) - (int32_t)size);
    return rel;
}

static uint32_t alloc(wctx *w, size_t n)
{
    return alloc_cell(w, n, false);
}

/* ---- security descriptors ---- */
static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* A self-relative SECURITY_DESCRIPTOR whose offsets stay inside it. */
static bool sd_valid(const uint8_t *sd, uint32_t len)
{
    if (len < 20 || sd[0] != 1 || !(fy_le16(sd + 2) & 0x8000)) return false;
    for (int i = 0; i < 4; i++) {
        uint32_t o = fy_le32(sd + 4 + 4 * i);
        if (o && (o < 20 || o >= len)) return false;
    }
    return true;
}

static void sk_rehash(wctx *w)
{
    size_t n = w->nslot ? w->nslot * 2 : 64;
    free(w->skslot);
    w->skslot = fy_xcalloc(n, sizeof(*w->skslot));
    w->nslot = n;
    for (size_t i = 0; i < w->nsk; i++) {
        size_t s = w->sk[i].hash & (n - 1);
        while (w->skslot[s])
            s = (s + 1) & (n - 1);
        w->skslot[s] = (uint32_t)i + 1;
    }
}

/* The sk cell for a descriptor: an existing identical one, or a new cell. Counts a use and
 * returns its index in w->sk (FY_NONE on failure). */
static uint32_t sk_use(wctx *w, const uint8_t *sd, uint32_t len)
{
    if (w->failed) return FY_NONE;
    uint32_t h = fnv(sd, len);
    if (w->nslot) {
        for (size_t s = h & (w->nslot - 1); w->skslot[s]; s = (s + 1) & (w->nslot - 1)) {
            sk_ent *e = &w->sk[w->skslot[s] - 1];
            if (e->hash == h && e->len == len && memcmp(e->sd, sd, len) == 0) {
                e->refs++;
                return w->skslot[s] - 1;
            }
        }
    }
    uint32_t off = alloc(w, (size_t)FY_SK_SD + len);
    if (off == FY_CELL_NIL) return FY_NONE;
    uint8_t *c = cell(w, off);
    memcpy(c + FY_SK_SIG, "sk", 2);
    fy_put_le32(c + FY_SK_SD_LEN, len);
    memcpy(c + FY_SK_SD, sd, len);
    if (w->nsk == w->skcap) {
        w->skcap = w->skcap ? w->skcap * 2 : 16;
        w->sk = fy_xrealloc(w->sk, w->skcap * sizeof(*w->sk));
    }
    w->sk[w->nsk++] = (sk_ent){.off = off, .refs = 1, .hash = h, .sd = sd, .len = len};
    if (w->nsk * 2 > w->nslot)
        sk_rehash(w);
    else {
        size_t s = h & (w->nslot - 1);
        while (w->skslot[s])
            s = (s + 1) & (w->nslot - 1);
        w->skslot[s] = (uint32_t)w->nsk;
    }
    return (uint32_t)w->nsk - 1;
}

/* Writes reference counts and links the sk cells into one circular list, in creation
 * order (the first one, the root's, acts as the list head). */
static void sk_finish(wctx *w)
{
    for (size_t i = 0; i < w->nsk; i++) {
        uint8_t *c = cell(w, w->sk[i].off);
        fy_put_le32(c + FY_SK_FLINK, w->sk[(i + 1) % w->nsk].off);
        fy_put_le32(c + FY_SK_BLINK, w->sk[(i + w->nsk - 1) % w->nsk].off);
        fy_put_le32(c + FY_SK_REFS, w->sk[i].refs);
    }
}

/* The descriptor the root gets when the tree has none for it, in SDDL:
 *   O:BAG:SYD:(A;CI;KA;;;SY)(A;CI;KA;;;BA)(A;CIIO;GA;;;CO)(A;CI;KR;;;BU)
 * SYSTEM and Administrators full control, CREATOR OWNER full control on subkeys created
 * later, Users read; inherited by every key below that has no descriptor of its own. A
 * user's hive should be given one naming the user (the profile code does that). */
/* clang-format off */
static const uint8_t default_sd[] = {
    /* header: revision 1, control SE_SELF_RELATIVE | SE_DACL_PRESENT */
    0x01, 0x00, 0x04, 0x80,
    0x74, 0x00, 0x00, 0x00, /* owner at 116 */
    0x84, 0x00, 0x00, 0x00, /* group at 132 */
    0x00, 0x00, 0x00, 0x00, /* no SACL */
    0x14, 0x00, 0x00, 0x00, /* DACL at 20 */
    /* DACL: revision 2, size 96, 4 ACEs */
    0x02, 0x00, 0x60, 0x00, 0x04, 0x00, 0x00, 0x00,
    /* ACCESS_ALLOWED, CONTAINER_INHERIT, 20 bytes, KEY_ALL_ACCESS, S-1-5-18 */
    0x00, 0x02, 0x14, 0x00, 0x3F, 0x00, 0x0F, 0x00,
    0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x12, 0x00, 0x00, 0x00,
    /* ACCESS_ALLOWED, CONTAINER_INHERIT, 24 bytes, KEY_ALL_ACCESS, S-1-5-32-544 */
    0x00, 0x02, 0x18, 0x00, 0x3F, 0x00, 0x0F, 0x00,
    0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x20, 0x00, 0x00, 0x00,
    0x20, 0x02, 0x00, 0x00,
    /* ACCESS_ALLOWED, CONTAINER_INHERIT | INHERIT_ONLY, 20 bytes, GENERIC_ALL, S-1-3-0 */
    0x00, 0x0A, 0x14, 0x00, 0x00, 0x00, 0x00, 0x10,
    0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
    /* ACCESS_ALLOWED, CONTAINER_INHERIT, 24 bytes, KEY_READ, S-1-5-32-545 */
    0x00, 0x02, 0x18, 0x00, 0x19, 0x00, 0x02, 0x00,
    0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x20, 0x00, 0x00, 0x00,
    0x21, 0x02, 0x00, 0x00,
    /* owner S-1-5-32-544 */
    0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x20, 0x00, 0x00, 0x00,
    0x20, 0x02, 0x00, 0x00,
    /* group S-1-5-18 */
    0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x12, 0x00, 0x00, 0x00,
};
/* clang-format on */
_Static_assert(sizeof(default_sd) == 144, "default descriptor layout");

/* A key's path for messages, "(root)" for the root; malloc'd. */
static char *kpath(const fy_regkey *k)
{
    char *p = fy_regkey_path(k);
    if (!*p) {
        free(p);
        p = fy_xstrdup("(root)");
    }
    return p;
}

/* ---- names of keys and values ---- */
static int name_encode(wctx *w, const char *utf8, bool upper, hname *h, const char *what,
                       const fy_regkey *k)
{
    memset(h, 0, sizeof(*h));
    size_t blen;
    uint8_t *b = fy_utf8_to_utf16le(utf8, strlen(utf8), &blen);
    if (!b) {
        char *p = kpath(k);
        fail(w, "%s under key '%s' is not valid UTF-8", what, p);
        free(p);
        return -1;
    }
    h->n = blen / 2;
    if (h->n * 2 > 0xFFFF) {
        char *p = kpath(k);
        fail(w, "%s under key '%s' is too long for a hive (%zu UTF-16 units)", what, p, h->n);
        free(p);
        free(b);
        return -1;
    }
    h->u = fy_xmalloc((h->n ? h->n : 1) * sizeof(uint16_t));
    h->latin1 = true;
    for (size_t i = 0; i < h->n; i++) {
        h->u[i] = fy_le16(b + 2 * i);
        if (h->u[i] >= 0x100) h->latin1 = false;
    }
    free(b);
    if (upper) {
        h->up = fy_xmalloc((h->n ? h->n : 1) * sizeof(uint16_t));
        for (size_t i = 0; i < h->n; i++)
            h->up[i] = upcase16(h->u[i]);
    }
    return 0;
}

typedef struct {
    const fy_regkey *k;
    hname name;
    uint32_t hash, off;
} child_ent;

static int child_cmp(const void *pa, const void *pb)
{
    const child_ent *a = pa, *b = pb;
    size_t n = a->name.n < b->name.n ? a->name.n : b->name.n;
    for (size_t i = 0; i < n; i++)
        if (a->name.up[i] != b->name.up[i]) return a->name.up[i] < b->name.up[i] ? -1 : 1;
    return a->name.n < b->name.n ? -1 : a->name.n > b->name.n ? 1 : 0;
}

/* The lh hash: h = 37 * h + c over the upper-cased UTF-16 code units. */
static uint32_t lh_hash(const hname *h)
{
    uint32_t x = 0;
    for (size_t i = 0; i < h->n; i++)
        x = x * 37 + h->up[i];
    return x;
}

/* Value data: inline (<= 4 bytes), one cell (<= 16,344), or a db record and its segments. */
static void write_data(wctx *w, uint32_t vk, const fy_regval *v)
{
    uint32_t len = v->len;
    if (len <= 4) {
        uint8_t *c = cell(w, vk);
        fy_put_le32(c + FY_VK_DATA_LEN, len | FY_VK_INLINE);
        if (len) memcpy(c + FY_VK_DATA_OFF, v->data, len);
        return;
    }
    if (len > 0x7FFFFFFFu) {
        fail(w, "value '%s' is too large for a hive", v->name);
        return;
    }
    uint32_t data;
    if (len <= FY_DB_SEGMENT) {
        data = alloc(w, len);
        if (w->failed) return;
        memcpy(cell(w, data), v->data, len);
    } else {
        uint32_t nseg = (len + FY_DB_SEGMENT - 1) / FY_DB_SEGMENT;
        if (nseg > 0xFFFF) {
            fail(w, "value '%s' is too large for a hive (%u bytes)", v->name, len);
            return;
        }
        data = alloc(w, 12); /* "db", count, list offset, and 4 unused bytes as Windows */
        uint32_t list = alloc(w, (size_t)nseg * 4);
        if (w->failed) return;
        uint8_t *c = cell(w, data);
        memcpy(c, "db", 2);
        fy_put_le16(c + FY_DB_NSEG, (uint16_t)nseg);
        fy_put_le32(c + FY_DB_LIST, list);
        for (uint32_t i = 0; i < nseg; i++) {
            uint32_t pos = i * FY_DB_SEGMENT;
            uint32_t n = len - pos < FY_DB_SEGMENT ? len - pos : FY_DB_SEGMENT;
            /* Every segment gets a full-size cell, the last one too, as Windows does:
             * readers (hivex, regfi) take a segment's length from its cell size. */
            uint32_t seg = alloc_cell(w, FY_DB_SEGMENT, true);
            if (w->failed) return;
            memcpy(cell(w, seg), v->data + pos, n);
            fy_put_le32(cell(w, list) + 4 * i, seg);
        }
    }
    uint8_t *c = cell(w, vk);
    fy_put_le32(c + FY_VK_DATA_LEN, len);
    fy_put_le32(c + FY_VK_DATA_OFF, data);
}

/* Values list and vk cells; returns the list offset and fills the nk's maxima. */
static uint32_t write_values(wctx *w, const fy_regkey *k, uint32_t *max_name, uint32_t *max_data)
{
    *max_name = *max_data = 0;
    if (!k->nval) return FY_CELL_NIL;
    if (k->nval > 0x3FFFFFFF) {
        char *p = kpath(k);
        fail(w, "key '%s' has too many values", p);
        free(p);
        return FY_CELL_NIL;
    }
    uint32_t list = alloc(w, k->nval * 4);
    for (size_t i = 0; i < k->nval && !w->failed; i++) {
        const fy_regval *v = &k->val[i];
        hname nm;
        if (name_encode(w, v->name, false, &nm, "a value name", k) < 0) break;
        uint32_t vk = alloc(w, FY_VK_NAME + hname_stored(&nm));
        if (!w->failed) {
            uint8_t *c = cell(w, vk);
            memcpy(c + FY_VK_SIG, "vk", 2);
            fy_put_le16(c + FY_VK_NAME_LEN, (uint16_t)hname_stored(&nm));
            fy_put_le32(c + FY_VK_TYPE, v->type);
            /* An empty name (the default value) is stored with the flag set, as Windows. */
            fy_put_le16(c + FY_VK_FLAGS, nm.latin1 ? FY_VK_COMP_NAME : 0);
            hname_put(&nm, c + FY_VK_NAME);
            write_data(w, vk, v);
            if (!w->failed) fy_put_le32(cell(w, list) + 4 * i, vk);
        }
        if (nm.n * 2 > *max_name) *max_name = (uint32_t)nm.n * 2;
        if (v->len > *max_data) *max_data = v->len;
        hname_free(&nm);
    }
    return list;
}

/* Subkey index: one lh leaf, or an ri root over leaves of at most FY_LH_MAX entries. */
static uint32_t write_subkey_list(wctx *w, const fy_regkey *k, const child_ent *ch, size_t n)
{
    size_t nleaf = (n + FY_LH_MAX - 1) / FY_LH_MAX;
    if (nleaf > 0xFFFF) {
        char *p = kpath(k);
        fail(w, "key '%s' has too many subkeys for a hive (%zu)", p, n);
        free(p);
        return FY_CELL_NIL;
    }
    uint32_t ri = FY_CELL_NIL;
    if (nleaf > 1) {
        ri = alloc(w, FY_LIST_HDR + 4 * nleaf);
        if (w->failed) return FY_CELL_NIL;
        memcpy(cell(w, ri), "ri", 2);
        fy_put_le16(cell(w, ri) + 2, (uint16_t)nleaf);
    }
    /* Leaves of near-equal size, like Windows after its splits. */
    size_t base = n / nleaf, extra = n % nleaf, pos = 0;
    uint32_t leaf = FY_CELL_NIL;
    for (size_t l = 0; l < nleaf; l++) {
        size_t cnt = base + (l < extra);
        leaf = alloc(w, FY_LIST_HDR + 8 * cnt);
        if (w->failed) return FY_CELL_NIL;
        uint8_t *c = cell(w, leaf);
        memcpy(c, "lh", 2);
        fy_put_le16(c + 2, (uint16_t)cnt);
        for (size_t i = 0; i < cnt; i++, pos++) {
            fy_put_le32(c + FY_LIST_HDR + 8 * i, ch[pos].off);
            fy_put_le32(c + FY_LIST_HDR + 8 * i + 4, ch[pos].hash);
        }
        if (ri != FY_CELL_NIL) fy_put_le32(cell(w, ri) + FY_LIST_HDR + 4 * l, leaf);
    }
    return ri != FY_CELL_NIL ? ri : leaf;
}

/* Writes key k (named `name`) and everything below it; returns its nk offset. parent_sk
 * is the index in w->sk of the parent's descriptor (unused for the root). */
static uint32_t write_key(wctx *w, const fy_regkey *k, const hname *name, uint32_t parent,
                          uint32_t parent_sk, int depth)
{
    if (depth > MAX_DEPTH) {
        char *p = kpath(k);
        fail(w, "keys nest deeper than the %d levels Windows allows, at '%s'", MAX_DEPTH, p);
        free(p);
        return FY_CELL_NIL;
    }
    bool root = parent == FY_CELL_NIL;
    uint32_t nk = alloc(w, FY_NK_NAME + hname_stored(name));
    if (w->failed) return FY_CELL_NIL;

    /* Security: the key's own descriptor, else its parent's, else (root) the default. */
    uint32_t sk;
    if (k->sd && k->sd_len) {
        if (!sd_valid(k->sd, k->sd_len)) {
            char *p = kpath(k);
            fail(w,
                 "key '%s' has a security descriptor that is not a valid self-relative "
                 "descriptor",
                 p);
            free(p);
            return FY_CELL_NIL;
        }
        sk = sk_use(w, k->sd, k->sd_len);
    } else if (root) {
        sk = sk_use(w, default_sd, sizeof default_sd);
    } else {
        sk = parent_sk;
        w->sk[sk].refs++;
    }
    if (w->failed) return FY_CELL_NIL;

    uint32_t cls = FY_CELL_NIL, cls_len = 0;
    if (k->class_name && k->class_len) {
        if (k->class_len > 0xFFFF) {
            char *p = kpath(k);
            fail(w, "key '%s' has a class name too long for a hive", p);
            free(p);
            return FY_CELL_NIL;
        }
        cls_len = k->class_len;
        cls = alloc(w, cls_len);
        if (w->failed) return FY_CELL_NIL;
        memcpy(cell(w, cls), k->class_name, cls_len);
    }

    uint32_t max_vname, max_vdata;
    uint32_t vlist = write_values(w, k, &max_vname, &max_vdata);
    if (w->failed) return FY_CELL_NIL;

    /* Subkeys, sorted as Windows compares names (upper-cased UTF-16 code units). */
    child_ent *ch = k->nsub ? fy_xcalloc(k->nsub, sizeof(*ch)) : NULL;
    uint32_t max_sname = 0, max_sclass = 0, slist = FY_CELL_NIL;
    for (size_t i = 0; i < k->nsub; i++) {
        ch[i].k = k->sub[i];
        if (!k->sub[i]->name[0] || strchr(k->sub[i]->name, '\\')) {
            char *p = kpath(k->sub[i]);
            fail(w, "key name '%s' is empty or holds a backslash", p);
            free(p);
            break;
        }
        if (name_encode(w, k->sub[i]->name, true, &ch[i].name, "a key name", k) < 0) break;
        ch[i].hash = lh_hash(&ch[i].name);
    }
    if (!w->failed && k->nsub) {
        qsort(ch, k->nsub, sizeof(*ch), child_cmp);
        for (size_t i = 1; i < k->nsub && !w->failed; i++)
            if (child_cmp(&ch[i - 1], &ch[i]) == 0) {
                char *p = kpath(k);
                fail(w,
                     "key '%s' has two subkeys whose names differ only in case: '%s' and "
                     "'%s'",
                     p, ch[i - 1].k->name, ch[i].k->name);
                free(p);
            }
        for (size_t i = 0; i < k->nsub && !w->failed; i++) {
            ch[i].off = write_key(w, ch[i].k, &ch[i].name, nk, sk, depth + 1);
            if (ch[i].name.n * 2 > max_sname) max_sname = (uint32_t)ch[i].name.n * 2;
            if (ch[i].k->class_name && ch[i].k->class_len > max_sclass)
                max_sclass = ch[i].k->class_len;
        }
        if (!w->failed) slist = write_subkey_list(w, k, ch, k->nsub);
    }
    for (size_t i = 0; i < k->nsub; i++)
        hname_free(&ch[i].name); /* unset ones are zero */
    free(ch);
    if (w->failed) return FY_CELL_NIL;

    uint8_t *c = cell(w, nk);
    uint16_t flags = (uint16_t)(k->nk_flags & FY_KEY_KEEP_MASK);
    if (root) flags |= FY_KEY_HIVE_ENTRY | FY_KEY_NO_DELETE;
    if (name->latin1) flags |= FY_KEY_COMP_NAME;
    memcpy(c + FY_NK_SIG, "nk", 2);
    fy_put_le16(c + FY_NK_FLAGS, flags);
    fy_put_le64(c + FY_NK_TIMESTAMP, k->last_write);
    /* The root's parent stays HCELL_NIL, as in a fresh hive (Windows fills it in memory
     * with the master hive's link key and sometimes writes that back: it means nothing). */
    fy_put_le32(c + FY_NK_PARENT, parent);
    fy_put_le32(c + FY_NK_NSUB, (uint32_t)k->nsub);
    fy_put_le32(c + FY_NK_SUBLIST, slist);
    fy_put_le32(c + FY_NK_SUBLIST_VOL, FY_CELL_NIL);
    fy_put_le32(c + FY_NK_NVAL, (uint32_t)k->nval);
    fy_put_le32(c + FY_NK_VALLIST, vlist);
    fy_put_le32(c + FY_NK_SECURITY, w->sk[sk].off);
    fy_put_le32(c + FY_NK_CLASS, cls);
    fy_put_le32(c + FY_NK_MAX_SUBNAME, max_sname & 0xFFFF);
    fy_put_le32(c + FY_NK_MAX_SUBCLASS, max_sclass);
    fy_put_le32(c + FY_NK_MAX_VALNAME, max_vname);
    fy_put_le32(c + FY_NK_MAX_VALDATA, max_vdata);
    fy_put_le16(c + FY_NK_NAME_LEN, (uint16_t)hname_stored(name));
    fy_put_le16(c + FY_NK_CLASS_LEN, (uint16_t)cls_len);
    hname_put(name, c + FY_NK_NAME);
    return nk;
}

static uint64_t filetime_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec + 11644473600ull) * 10000000ull + (uint64_t)ts.tv_nsec / 100;
}

/* The base block's file name: like Windows, the last 31 UTF-16 units of the name and a
 * terminating NUL (a name that is not UTF-8 is left out: the field is for debugging). */
static void put_file_name(uint8_t *base, const char *name)
{
    if (!name) return;
    size_t blen;
    uint8_t *b = fy_utf8_to_utf16le(name, strlen(name), &blen);
    if (!b) return;
    size_t n = blen / 2, from = n > 31 ? n - 31 : 0;
    if (from && from < n && (fy_le16(b + 2 * from) & 0xFC00) == 0xDC00) from++;
    memcpy(base + FY_REGF_NAME, b + 2 * from, 2 * (n - from));
    free(b);
}

int fy_hive_serialize(const fy_regtree *t, fy_buf *out, char *err, size_t err_size)
{
    out->len = 0;
    if (!t || !t->root) {
        snprintf(err, err_size, "no registry tree to write");
        return -1;
    }
    wctx w = {.out = out, .err = err, .err_size = err_size};
    fy_buf_reserve(out, FY_REGF_BASE_SIZE + FY_HBIN_ALIGN);
    memset(out->data, 0, FY_REGF_BASE_SIZE);
    out->len = FY_REGF_BASE_SIZE;

    hname rn;
    uint32_t root = FY_CELL_NIL;
    if (name_encode(&w, t->root->name, false, &rn, "the root key's name", t->root) == 0) {
        root = write_key(&w, t->root, &rn, FY_CELL_NIL, FY_CELL_NIL, 0);
        hname_free(&rn);
    }
    if (!w.failed) {
        free_cell(&w, w.cur, w.end - w.cur);
        sk_finish(&w);
    }
    free(w.sk);
    free(w.skslot);
    if (w.failed) {
        out->len = 0;
        return -1;
    }

    uint64_t now = filetime_now();
    uint8_t *b = out->data;
    memcpy(b + FY_REGF_SIG, "regf", 4);
    fy_put_le32(b + FY_REGF_SEQ1, 1);
    fy_put_le32(b + FY_REGF_SEQ2, 1);
    fy_put_le64(b + FY_REGF_TIMESTAMP, now);
    fy_put_le32(b + FY_REGF_MAJOR, 1);
    fy_put_le32(b + FY_REGF_MINOR, 5); /* 1.5: lh lists (1.5) and db records (1.4+) */
    fy_put_le32(b + FY_REGF_TYPE, FY_REGF_TYPE_PRIMARY);
    fy_put_le32(b + FY_REGF_FORMAT, 1);
    fy_put_le32(b + FY_REGF_ROOT, root);
    fy_put_le32(b + FY_REGF_HBINS_SIZE, w.total);
    fy_put_le32(b + FY_REGF_CLUSTER, 1);
    put_file_name(b, t->hive_name);
    fy_put_le32(b + FY_REGF_CHECKSUM, fy_regf_checksum(b));
    fy_put_le64(at(&w, 0) + FY_HBIN_TIMESTAMP, now);
    return 0;
}

/* ---- atomic file replacement ---- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Best effort: extended attributes of the file being replaced (ntfs-3g and ntfs3 expose
 * the NTFS security descriptor and DOS attributes this way) go onto the new file. */
static void copy_xattrs(const char *from, int to_fd)
{
    ssize_t n = listxattr(from, NULL, 0);
    if (n <= 0) return;
    char *names = fy_xmalloc((size_t)n);
    n = listxattr(from, names, (size_t)n);
    for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(names + i) + 1) {
        const char *nm = names + i;
        ssize_t vl = getxattr(from, nm, NULL, 0);
        if (vl < 0) continue;
        char *v = fy_xmalloc(vl ? (size_t)vl : 1);
        vl = getxattr(from, nm, v, (size_t)vl);
        if (vl >= 0) (void)fsetxattr(to_fd, nm, v, (size_t)vl, 0);
        free(v);
    }
    free(names);
}

static char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s) return fy_xstrdup(".");
    if (s == path) return fy_xstrdup("/");
    return fy_xstrndup(path, (size_t)(s - path));
}

static int fsync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -1;
    int r = fsync(dfd);
    int e = errno;
    close(dfd);
    errno = e;
    return r;
}

int fy_hive_write_file(const fy_regtree *t, const char *path, char *err, size_t err_size)
{
    fy_buf buf = {0};
    char *tmp = NULL, *dir = NULL;
    int fd = -1, rc = -1, saved = 0;

    if (fy_hive_serialize(t, &buf, err, err_size) < 0) {
        saved = EINVAL;
        goto out;
    }
    dir = dir_of(path);
    tmp = fy_xasprintf("%s.tmp-XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        saved = errno;
        snprintf(err, err_size, "cannot create a temporary file beside %s: %s", path,
                 strerror(saved));
        free(tmp);
        tmp = NULL;
        goto out;
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        (void)fchown(fd, st.st_uid, st.st_gid); /* only works as root; the mode matters more */
        if (fchmod(fd, st.st_mode & 07777) < 0) {
            saved = errno;
            snprintf(err, err_size, "cannot set the mode of %s: %s", tmp, strerror(saved));
            goto out;
        }
        copy_xattrs(path, fd);
    } else if (fchmod(fd, 0644) < 0) {
        saved = errno;
        snprintf(err, err_size, "cannot set the mode of %s: %s", tmp, strerror(saved));
        goto out;
    }
    if (write_all(fd, buf.data, buf.len) < 0 || fsync(fd) < 0) {
        saved = errno;
        snprintf(err, err_size, "cannot write %s: %s", tmp, strerror(saved));
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        saved = errno;
        snprintf(err, err_size, "cannot write %s: %s", tmp, strerror(saved));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        saved = errno;
        snprintf(err, err_size, "cannot replace %s: %s", path, strerror(saved));
        goto out;
    }
    free(tmp);
    tmp = NULL;
    if (fsync_dir(dir) < 0) {
        saved = errno;
        snprintf(err, err_size, "wrote %s but could not flush its folder: %s", path,
                 strerror(saved));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) close(fd);
    if (tmp) unlink(tmp);
    free(tmp);
    free(dir);
    fy_buf_free(&buf);
    if (rc < 0) errno = saved;
    return rc;
}

int fy_hive_remove_logs(const char *path)
{
    char *dir = dir_of(path);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char *names[3] = {fy_xasprintf("%s.LOG", base), fy_xasprintf("%s.LOG1", base),
                      fy_xasprintf("%s.LOG2", base)};
    int rc = 0, saved = 0;
    bool removed = false;
    DIR *d = opendir(dir);
    if (!d) {
        saved = errno;
        rc = -1;
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        for (int i = 0; i < 3; i++) {
            if (!fy_streq_ci(e->d_name, names[i])) continue;
            if (unlinkat(dirfd(d), e->d_name, 0) < 0) {
                if (errno != ENOENT) {
                    saved = errno;
                    rc = -1;
                }
            } else {
                removed = true;
            }
            break;
        }
    }
    closedir(d);
    if (removed && fsync_dir(dir) < 0 && rc == 0) {
        saved = errno;
        rc = -1;
    }
out:
    for (int i = 0; i < 3; i++)
        free(names[i]);
    free(dir);
    if (rc < 0) errno = saved;
    return rc;
}
