/* runtime/registry hive writer (fy_hive_serialize, fy_hive_write_file, fy_hive_remove_logs):
 * an empty hive and a tree with every kind of value read back by libhivex AND by the
 * independent readers reglookup/regfinfo; big values as db records; 5,000 subkeys (ri over
 * lh leaves, compact file, every child found by name); lh hashes and sort order checked in
 * the bytes; shared security cells with reference counts and the sk list; a real NTUSER.DAT
 * read with hivex, rewritten and compared key by key (values, types, bytes, class names,
 * descriptors, times) and line by line with reglookup; bad trees refused with a message;
 * the atomic file replacement (mode kept, nothing left behind on error); log removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <hivex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hive_testutil.h"
#include "registry/fy_hive.h"

static void serialize_ok(const fy_regtree *t, fy_buf *b)
{
    char err[512] = "";
    int rc = fy_hive_serialize(t, b, err, sizeof err);
    if (rc != 0) fail_msg("fy_hive_serialize: %s", err);
}

static char *write_hive(const char *dir, const char *name, const fy_regtree *t)
{
    char *path = fy_xasprintf("%s/%s", dir, name);
    char err[512] = "";
    if (fy_hive_write_file(t, path, err, sizeof err) != 0) fail_msg("fy_hive_write_file: %s", err);
    return path;
}

/* reglookup's complaints that are about its own output, not about the hive: it prints
 * names in US-ASCII whatever the locale, and quotes REG_SZ data that is not clean UTF-16
 * (Windows' own hives have some). Anything else on its stderr is a failure. */
static bool reglookup_stderr_clean(const char *err)
{
    for (const char *l = err; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        char *line = fy_xstrndup(l, n);
        bool ok = !*line || (strstr(line, "converting key name to encoding US-ASCII") ||
                             strstr(line, "converting value name to encoding US-ASCII") ||
                             strstr(line, "Data could not be interpreted, quoting raw buffer"));
        free(line);
        if (!ok) return false;
        l += n + (e != NULL);
    }
    return true;
}

/* reglookup and regfinfo: exit 0 and no error text. Returns reglookup's stdout. */
static char *independent_readers_ok(const char *path)
{
    char *out = NULL, *err = NULL;
    const char *rl[] = {"reglookup", path, NULL};
    int rc = th_run(rl, &out, &err);
    if (rc != 0 || !reglookup_stderr_clean(err))
        fail_msg("reglookup %s: exit %d: %.2000s", path, rc, err);
    free(err);
    char *o2 = NULL, *e2 = NULL;
    const char *ri[] = {"regfinfo", path, NULL};
    rc = th_run(ri, &o2, &e2);
    if (rc != 0 || *e2) fail_msg("regfinfo %s: exit %d: %.2000s", path, rc, e2);
    assert_non_null(strstr(o2, "Version:\t1.5"));
    free(o2);
    free(e2);
    return out;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c - 'a' + 10;
}

/* reglookup escapes bytes outside printable ASCII (and ',' '%' etc.) as %XX. */
static size_t unescape(const char *s, size_t n, uint8_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n) {
            out[k++] = (uint8_t)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[k++] = (uint8_t)s[i];
        }
    }
    return k;
}

static uint8_t *utf16(const char *s, uint32_t *len, bool nul)
{
    size_t n;
    uint8_t *u = fy_utf8_to_utf16le(s, strlen(s), &n);
    assert_non_null(u);
    if (nul) {
        u = realloc(u, n + 2);
        u[n] = u[n + 1] = 0;
        n += 2;
    }
    *len = (uint32_t)n;
    return u;
}

static void set_sz(fy_regkey *k, const char *name, uint32_t type, const char *text)
{
    uint32_t n;
    uint8_t *u = utf16(text, &n, true);
    fy_regkey_set_value(k, name, type, u, n);
    free(u);
}

/* ---- an empty hive ---- */

typedef struct {
    int nk, sk, db, free_cells;
    uint32_t sk_off[16];
    uint32_t db_count[8];
} cell_census;

static void census_fn(void *ctx, uint32_t off, uint32_t size, bool used, const uint8_t *d)
{
    cell_census *c = ctx;
    (void)size;
    if (!used) {
        c->free_cells++;
        return;
    }
    if (!memcmp(d, "nk", 2)) c->nk++;
    if (!memcmp(d, "sk", 2) && c->sk < 16) c->sk_off[c->sk++] = off;
    if (!memcmp(d, "db", 2) && c->db < 8) c->db_count[c->db++] = fy_le16(d + 2);
}

static void test_empty_hive(void **state)
{
    (void)state;
    fy_regtree *t = fy_regtree_new(NULL);
    t->hive_name = fy_xstrdup("\\??\\C:\\Users\\somebody\\AppData\\Local\\ntuser.dat");
    fy_buf b = {0};
    serialize_ok(t, &b);
    const uint8_t *h = b.data;
    assert_int_equal(b.len, 8192);
    assert_memory_equal(h, "regf", 4);
    assert_int_equal(fy_le32(h + 4), fy_le32(h + 8));
    assert_int_equal(fy_le32(h + 20), 1);
    assert_int_equal(fy_le32(h + 24), 5);
    assert_int_equal(fy_le32(h + 28), 0);
    assert_int_equal(fy_le32(h + 32), 1);
    assert_int_equal(fy_le32(h + 36), 0x20); /* root right after the first bin header */
    assert_int_equal(fy_le32(h + 40), 4096);
    assert_int_equal(fy_le32(h + 44), 1);
    uint32_t x = 0;
    for (int i = 0; i < 508; i += 4)
        x ^= fy_le32(h + i);
    assert_int_equal(fy_le32(h + 508), x);
    /* The name field keeps the last 31 characters and a NUL, as Windows does. */
    char *nm = fy_utf16le_to_utf8(h + 48, 64, true, NULL);
    assert_string_equal(nm, "mebody\\AppData\\Local\\ntuser.dat");
    free(nm);
    assert_memory_equal(h + 4096, "hbin", 4);
    /* Root: flags 0x2C (HIVE_ENTRY | NO_DELETE | COMP_NAME) as Windows writes them. */
    const uint8_t *nk = h + 4096 + 0x20 + 4;
    assert_memory_equal(nk, "nk", 2);
    assert_int_equal(fy_le16(nk + 2), 0x2C);
    assert_int_equal(fy_le32(nk + 28), 0xFFFFFFFF);
    assert_int_equal(fy_le32(nk + 40), 0xFFFFFFFF);
    /* One sk: the default descriptor, used once, alone in its list. */
    cell_census c = {0};
    assert_int_equal(th_each_cell(h, b.len, census_fn, &c), 0);
    assert_int_equal(c.nk, 1);
    assert_int_equal(c.sk, 1);
    assert_int_equal(c.free_cells, 1); /* the rest of the bin is one free cell */
    const uint8_t *sk = h + 4096 + c.sk_off[0] + 4;
    assert_int_equal(fy_le32(nk + 44), c.sk_off[0]);
    assert_int_equal(fy_le32(sk + 4), c.sk_off[0]);
    assert_int_equal(fy_le32(sk + 8), c.sk_off[0]);
    assert_int_equal(fy_le32(sk + 12), 1);
    assert_int_equal(fy_le32(sk + 16), 144);
    assert_int_equal(sk[20], 1);                /* revision */
    assert_int_equal(fy_le16(sk + 22), 0x8004); /* self-relative, DACL present */

    char *dir = th_mkdtemp();
    char *path = write_hive(dir, "EMPTY.DAT", t);
    hive_h *hv = hivex_open(path, 0);
    assert_non_null(hv);
    hive_node_h root = hivex_root(hv);
    char *rn = hivex_node_name(hv, root);
    assert_string_equal(rn, "ROOT");
    free(rn);
    assert_int_equal(hivex_node_nr_children(hv, root), 0);
    assert_int_equal(hivex_node_nr_values(hv, root), 0);
    hivex_close(hv);
    char *out = independent_readers_ok(path);
    assert_int_equal(count_lines(out), 2); /* header + the root */
    free(out);
    th_rmtree(dir);
    free(path);
    free(dir);
    fy_buf_free(&b);
    fy_regtree_free(t);
}

/* ---- every kind of value, big values, a wide key ---- */

static uint8_t *pattern(size_t n, unsigned mul)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * mul + (i >> 9));
    return p;
}

static fy_regtree *build_rich_tree(void)
{
    fy_regtree *t = fy_regtree_new("CsiTool-CreateHive-{00000000-0000-0000-0000-000000000000}");
    fy_regkey *r = t->root;
    set_sz(r, "", FY_REG_SZ, "root default ✓");
    fy_regkey *k = fy_regkey_create_path(r, "Software\\Ferry\\Types");
    set_sz(k, "sz", FY_REG_SZ, "Grüße aus Köln — 日本語");
    set_sz(k, "expand", FY_REG_EXPAND_SZ, "%USERPROFILE%\\Documents");
    uint32_t ml;
    uint8_t *multi = utf16("a", &ml, true);
    uint8_t mbuf[64];
    memcpy(mbuf, multi, ml);
    free(multi);
    uint32_t ml2;
    uint8_t *m2 = utf16("zwei", &ml2, true);
    memcpy(mbuf + ml, m2, ml2);
    free(m2);
    mbuf[ml + ml2] = mbuf[ml + ml2 + 1] = 0;
    fy_regkey_set_value(k, "multi", FY_REG_MULTI_SZ, mbuf, ml + ml2 + 2);
    uint32_t dw = 0xDEADBEEF;
    fy_regkey_set_value(k, "dword", FY_REG_DWORD, &dw, 4);
    uint64_t qw = 0x0123456789ABCDEFull;
    fy_regkey_set_value(k, "qword", FY_REG_QWORD, &qw, 8);
    fy_regkey_set_value(k, "binary5", FY_REG_BINARY, "\x01\x02\x03\x04\x05", 5);
    fy_regkey_set_value(k, "three", FY_REG_BINARY, "\xAA\xBB\xCC", 3);
    fy_regkey_set_value(k, "custom", 0x12345, "\x00\xFF\x10", 3);
    fy_regkey_set_value(k, "empty", FY_REG_BINARY, NULL, 0);
    fy_regkey_set_value(k, "", FY_REG_NONE, NULL, 0);
    fy_regkey_set_value(k, "Größe", FY_REG_DWORD, &dw, 4);   /* Latin-1 name */
    fy_regkey_set_value(k, "名前", FY_REG_SZ, "x\0\0\0", 4); /* UTF-16 name */
    uint8_t *p;
    p = pattern(16344, 7);
    fy_regkey_set_value(k, "exactly16344", FY_REG_BINARY, p, 16344); /* one cell */
    free(p);
    p = pattern(16345, 11);
    fy_regkey_set_value(k, "over16344", FY_REG_BINARY, p, 16345); /* db of 2 */
    free(p);
    p = pattern(20000, 13);
    fy_regkey_set_value(k, "twenty_k", FY_REG_BINARY, p, 20000);
    free(p);
    p = pattern(1000000, 17);
    fy_regkey_set_value(k, "one_mb", FY_REG_BINARY, p, 1000000);
    free(p);

    fy_regkey *j = fy_regkey_create_path(r, "日本\\Ελληνικά");
    set_sz(j, "wert", FY_REG_SZ, "ωμέγα");
    fy_regkey *cafe = fy_regkey_create_path(r, "Café");
    uint32_t cl;
    cafe->class_name = utf16("MyClass", &cl, false);
    cafe->class_len = cl;
    cafe->nk_flags = 0x0010; /* KEY_SYM_LINK survives */
    fy_regkey_create_path(r, "Control Panel\\International\\🌎🌏🌍");
    return t;
}

static void test_rich_tree(void **state)
{
    (void)state;
    fy_regtree *t = build_rich_tree();
    char *dir = th_mkdtemp();
    char *path = write_hive(dir, "RICH.DAT", t);

    char err[512] = "";
    fy_regtree *back = th_read_hive(path, err, sizeof err);
    if (!back) fail_msg("%s", err);
    char *d = th_compare(t, back, TH_CMP_TIMES | TH_CMP_SD | TH_CMP_CLASS | TH_CMP_FLAGS);
    if (d) fail_msg("round trip differs: %s", d);

    /* The bytes: db records for the three values over 16,344 bytes (62, 2 and 2 segments). */
    uint8_t *h;
    size_t n;
    assert_int_equal(th_read_file(path, &h, &n), 0);
    cell_census c = {0};
    assert_int_equal(th_each_cell(h, n, census_fn, &c), 0);
    assert_int_equal(c.db, 3);
    int seen62 = 0, seen2 = 0;
    for (int i = 0; i < c.db; i++) {
        seen62 += c.db_count[i] == 62;
        seen2 += c.db_count[i] == 2;
    }
    assert_int_equal(seen62, 1);
    assert_int_equal(seen2, 2);
    /* Compact: the file is not much more than the data it holds. */
    size_t raw = 1000000 + 20000 + 16345 + 16344 + 4096;
    assert_true(n < raw + raw / 4);

    /* Key names: compressed Latin-1 for "Café", UTF-16 for "日本". */
    hive_h *hv = hivex_open(path, 0);
    assert_non_null(hv);
    hive_node_h root = hivex_root(hv);
    hive_node_h cafe = hivex_node_get_child(hv, root, "café"); /* case-insensitive lookup */
    hive_node_h jp = hivex_node_get_child(hv, root, "日本");
    assert_true(cafe && jp);
    assert_int_equal(fy_le16(h + cafe + 4 + 2) & 0x20, 0x20);
    assert_int_equal(fy_le16(h + jp + 4 + 2) & 0x20, 0);
    assert_int_equal(fy_le16(h + cafe + 4 + 72), 4); /* 4 bytes: Latin-1 */
    assert_int_equal(fy_le16(h + jp + 4 + 72), 4);   /* 2 UTF-16 units */
    /* Root maxima: longest subkey name in UTF-16 bytes ("Control Panel" = 13 chars), class. */
    const uint8_t *rnk = h + 4096 + 0x20 + 4;
    assert_int_equal(fy_le32(rnk + 52) & 0xFFFF, 26);
    assert_int_equal(fy_le32(rnk + 56), 14); /* "MyClass" */
    assert_int_equal(fy_le32(rnk + 60), 0);  /* the default value's name is empty */
    assert_int_equal(fy_le32(rnk + 64), 30); /* "root default ✓" + NUL in UTF-16 */
    hive_node_h types = hivex_node_get_child(
        hv, hivex_node_get_child(hv, hivex_node_get_child(hv, root, "Software"), "Ferry"), "Types");
    assert_true(types);
    const uint8_t *tnk = h + types + 4;
    assert_int_equal(fy_le32(tnk + 60), 24);      /* "exactly16344": 12 chars */
    assert_int_equal(fy_le32(tnk + 64), 1000000); /* largest data */
    hive_value_h v = hivex_node_get_value(hv, types, "one_mb");
    assert_true(v);
    size_t len;
    hive_type ty;
    char *data = hivex_value_value(hv, v, &ty, &len);
    assert_int_equal(len, 1000000);
    uint8_t *expect = pattern(1000000, 17);
    assert_memory_equal(data, expect, 1000000);
    free(data);
    hivex_close(hv);

    /* reglookup: one line per key and value, plus the header; the big value byte for byte. */
    char *out = independent_readers_ok(path);
    size_t keys = 0, vals = 0;
    fy_regkey_count(t->root, &keys, &vals);
    assert_int_equal(count_lines(out), 1 + keys + vals);
    const char *line = strstr(out, "/Software/Ferry/Types/one_mb,BINARY,");
    assert_non_null(line);
    line += strlen("/Software/Ferry/Types/one_mb,BINARY,");
    const char *end = strchr(line, ',');
    uint8_t *got = malloc(1000000 + 16);
    assert_int_equal(unescape(line, (size_t)(end - line), got), 1000000);
    assert_memory_equal(got, expect, 1000000);
    free(got);
    free(expect);
    assert_non_null(strstr(out, "/Software/Ferry/Types/custom,0x00012345,"));
    free(out);

    free(h);
    free(d);
    fy_regtree_free(back);
    th_rmtree(dir);
    free(path);
    free(dir);
    fy_regtree_free(t);
}

/* ---- 5,000 subkeys under one key ---- */

static void test_many_subkeys(void **state)
{
    (void)state;
    fy_regtree *t = fy_regtree_new("ROOT");
    fy_regkey *m = fy_regkey_create_path(t->root, "Many");
    char nm[64];
    for (int i = 0; i < 5000; i++) {
        /* Mixed case and a few Latin-1 / Greek names so the order is not just ASCII. */
        const char *pre = i % 3 == 0 ? "key" : i % 3 == 1 ? "Key" : "ÄKey";
        snprintf(nm, sizeof nm, "%s%05d", i % 100 == 7 ? "ωmega" : pre, i);
        fy_regkey *c = fy_regkey_child_create(m, nm);
        if (i % 10 == 0) fy_regkey_set_value(c, "n", FY_REG_DWORD, &i, 4);
    }
    char *dir = th_mkdtemp();
    char *path = write_hive(dir, "MANY.DAT", t);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    /* 5,000 nk cells (~96 bytes), their lh entries (8) and 500 small values: well under
     * 160 bytes a key; libhivex's writer needs megabytes here. */
    assert_true(st.st_size < 4096 + 5000 * 160);

    hive_h *hv = hivex_open(path, 0);
    assert_non_null(hv);
    hive_node_h many = hivex_node_get_child(hv, hivex_root(hv), "many");
    assert_true(many);
    assert_int_equal(hivex_node_nr_children(hv, many), 5000);
    for (size_t i = 0; i < m->nsub; i++) {
        hive_node_h c = hivex_node_get_child(hv, many, m->sub[i]->name);
        if (!c) fail_msg("child %s not found", m->sub[i]->name);
    }
    hivex_close(hv);

    /* The index in the bytes: an ri over 10 lh leaves of <= 507, sorted as a whole by the
     * upper-cased UTF-16 names, each hash right. */
    uint8_t *h;
    size_t n;
    assert_int_equal(th_read_file(path, &h, &n), 0);
    hv = hivex_open(path, 0);
    many = hivex_node_get_child(hv, hivex_root(hv), "Many");
    hivex_close(hv);
    const uint8_t *nk = h + many + 4;
    const uint8_t *ri = h + 4096 + fy_le32(nk + 28) + 4;
    assert_memory_equal(ri, "ri", 2);
    assert_int_equal(fy_le16(ri + 2), 10);
    size_t total = 0;
    char prev[128] = "";
    for (int l = 0; l < 10; l++) {
        const uint8_t *lh = h + 4096 + fy_le32(ri + 4 + 4 * l) + 4;
        assert_memory_equal(lh, "lh", 2);
        uint16_t cnt = fy_le16(lh + 2);
        assert_true(cnt <= 507 && cnt >= 490);
        for (int i = 0; i < cnt; i++, total++) {
            const uint8_t *c = h + 4096 + fy_le32(lh + 4 + 8 * i) + 4;
            assert_memory_equal(c, "nk", 2);
            uint16_t nl = fy_le16(c + 72);
            bool comp = fy_le16(c + 2) & 0x20;
            uint16_t u[64];
            size_t un = comp ? nl : nl / 2;
            assert_true(un < 64);
            for (size_t q = 0; q < un; q++)
                u[q] = comp ? c[76 + q] : fy_le16(c + 76 + 2 * q);
            /* upper-case what these names use: ASCII, ä, ω */
            uint32_t hash = 0;
            char up[128];
            size_t k = 0;
            for (size_t q = 0; q < un; q++) {
                uint16_t x = u[q];
                if (x >= 'a' && x <= 'z') x -= 32;
                if (x == 0xE4) x = 0xC4;
                if (x == 0x3C9) x = 0x3A9;
                hash = hash * 37 + x;
                k += (size_t)snprintf(up + k, sizeof up - k, "%04x", x);
            }
            assert_int_equal(fy_le32(lh + 4 + 8 * i + 4), hash);
            assert_true(strcmp(prev, up) < 0 ||
                        (strlen(prev) != strlen(up) && strncmp(prev, up, strlen(prev)) == 0));
            strcpy(prev, up);
        }
    }
    assert_int_equal(total, 5000);
    free(h);

    char *out = independent_readers_ok(path);
    assert_int_equal(count_lines(out), 1 + 2 + 5000 + 500);
    free(out);
    th_rmtree(dir);
    free(path);
    free(dir);
    fy_regtree_free(t);
}

/* ---- lh hashes against values computed independently (Python, str.upper per char) ---- */

static char *latin1_to_utf8(const uint8_t *p, size_t n)
{
    fy_buf s = {0};
    for (size_t q = 0; q < n; q++) {
        if (p[q] < 0x80) {
            fy_buf_putc(&s, p[q]);
        } else {
            fy_buf_putc(&s, (uint8_t)(0xC0 | (p[q] >> 6)));
            fy_buf_putc(&s, (uint8_t)(0x80 | (p[q] & 0x3F)));
        }
    }
    return fy_buf_cstr(&s);
}

static void test_lh_hashes(void **state)
{
    (void)state;
    /* In the order Windows sorts them: upper-cased UTF-16 code units (ß stays ß; the
     * surrogates of U+1F30D, 0xD83C, come after CJK and before U+E000). */
    static const struct {
        const char *name;
        uint32_t hash;
    } cases[] = {
        {"A", 0x41},
        {"b", 0x42},
        {"café", 0x352f57},
        {"Software", 0xe9fe1463},
        {"straße", 0x60b1bf06},
        {"Zeta", 0x470d14},
        {"Ärger", 0x1625ff48},
        {"ωmega", 0x68e8c913},
        {"日本", 0xf2145},
        {"🌍", 0x201fb9},
    };
    fy_regtree *t = fy_regtree_new("R");
    for (size_t i = FY_ARRAY_LEN(cases); i-- > 0;)
        fy_regkey_child_create(t->root, cases[i].name);
    fy_buf b = {0};
    serialize_ok(t, &b);
    const uint8_t *h = b.data, *nk = h + 4096 + 0x20 + 4;
    const uint8_t *lh = h + 4096 + fy_le32(nk + 28) + 4;
    assert_memory_equal(lh, "lh", 2);
    assert_int_equal(fy_le16(lh + 2), FY_ARRAY_LEN(cases));
    for (size_t i = 0; i < FY_ARRAY_LEN(cases); i++) {
        const uint8_t *c = h + 4096 + fy_le32(lh + 4 + 8 * i) + 4;
        assert_memory_equal(c, "nk", 2);
        assert_int_equal(fy_le32(c + 16), 0x20); /* parent: the root */
        uint16_t nl = fy_le16(c + 72);
        char *name = (fy_le16(c + 2) & 0x20) ? latin1_to_utf8(c + 76, nl)
                                             : fy_utf16le_to_utf8(c + 76, nl, false, NULL);
        assert_string_equal(name, cases[i].name);
        assert_int_equal(fy_le32(lh + 4 + 8 * i + 4), cases[i].hash);
        free(name);
    }
    fy_buf_free(&b);
    fy_regtree_free(t);
}

/* ---- security descriptors: shared cells, counts, the list ---- */

static const uint8_t sd_x[] = {
    0x01, 0x00, 0x04, 0x80, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x12, 0x00, 0x00, 0x00,
};
static const uint8_t sd_y[] = {
    0x01, 0x00, 0x04, 0x80, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x05, 0x20, 0x00, 0x00, 0x00, 0x20, 0x02, 0x00, 0x00,
};

static void give_sd(fy_regkey *k, const uint8_t *sd, uint32_t n)
{
    k->sd = malloc(n);
    memcpy(k->sd, sd, n);
    k->sd_len = n;
}

static void test_security_sharing(void **state)
{
    (void)state;
    fy_regtree *t = fy_regtree_new("R");
    give_sd(fy_regkey_create_path(t->root, "A"), sd_x, sizeof sd_x);
    give_sd(fy_regkey_create_path(t->root, "B"), sd_x, sizeof sd_x);
    give_sd(fy_regkey_create_path(t->root, "C"), sd_y, sizeof sd_y);
    fy_regkey_create_path(t->root, "C\\D"); /* inherits Y */
    fy_regkey_create_path(t->root, "E");    /* inherits the root's default */
    fy_buf b = {0};
    serialize_ok(t, &b);
    cell_census c = {0};
    assert_int_equal(th_each_cell(b.data, b.len, census_fn, &c), 0);
    assert_int_equal(c.sk, 3);
    uint32_t refs_total = 0;
    for (int i = 0; i < 3; i++) {
        const uint8_t *sk = b.data + 4096 + c.sk_off[i] + 4;
        uint32_t refs = fy_le32(sk + 12), len = fy_le32(sk + 16);
        refs_total += refs;
        assert_int_equal(refs, 2); /* default: R, E; X: A, B; Y: C, D */
        if (len == sizeof sd_x) assert_memory_equal(sk + 20, sd_x, sizeof sd_x);
        /* The list: following flink three times comes back; blink undoes flink. */
        uint32_t next = fy_le32(sk + 4);
        const uint8_t *nsk = b.data + 4096 + next + 4;
        assert_memory_equal(nsk, "sk", 2);
        assert_int_equal(fy_le32(nsk + 8), c.sk_off[i]);
        uint32_t o = c.sk_off[i];
        for (int s = 0; s < 3; s++)
            o = fy_le32(b.data + 4096 + o + 4 + 4);
        assert_int_equal(o, c.sk_off[i]);
    }
    assert_int_equal(refs_total, 6);
    fy_buf_free(&b);
    fy_regtree_free(t);
}

/* ---- a real hive, read with hivex, written, read again ---- */

static void roundtrip_fixture(const char *xz, const char *name)
{
    char *dir = th_mkdtemp();
    char *src = th_fixture(dir, xz, name);
    if (!src) {
        th_rmtree(dir);
        free(dir);
        skip();
    }
    char err[512] = "";
    fy_regtree *a = th_read_hive(src, err, sizeof err);
    if (!a) fail_msg("%s", err);
    char *out = fy_xasprintf("%s/%s.new", dir, name);
    if (fy_hive_write_file(a, out, err, sizeof err) != 0) fail_msg("write: %s", err);
    fy_regtree *b = th_read_hive(out, err, sizeof err);
    if (!b) fail_msg("%s", err);
    char *d = th_compare(a, b, TH_CMP_TIMES | TH_CMP_SD | TH_CMP_CLASS | TH_CMP_FLAGS);
    if (d) fail_msg("%s: %s", name, d);
    assert_string_equal(a->hive_name, b->hive_name);

    /* reglookup sees the same keys, values and times in both (-s: security too). */
    char *o1, *o2;
    const char *r1[] = {"reglookup", "-s", src, NULL}, *r2[] = {"reglookup", "-s", out, NULL};
    assert_int_equal(th_run(r1, &o1, NULL), 0);
    assert_int_equal(th_run(r2, &o2, NULL), 0);
    assert_true(count_lines(o1) > 1000);
    assert_string_equal(o1, o2);
    free(o1);
    free(o2);
    char *o3 = independent_readers_ok(out);
    free(o3);
    fy_regtree_free(a);
    fy_regtree_free(b);
    th_rmtree(dir);
    free(out);
    free(src);
    free(dir);
}

static void test_roundtrip_ntuser(void **state)
{
    (void)state;
    roundtrip_fixture("NTUSER.DAT.xz", "NTUSER.DAT");
}

static void test_roundtrip_system(void **state)
{
    (void)state;
    /* Class names (the Lsa keys), 11 MB, ~40,000 keys. */
    roundtrip_fixture("SYSTEM.xz", "SYSTEM");
}

/* ---- bad trees ---- */

static void expect_error(fy_regtree *t, const char *needle)
{
    fy_buf b = {0};
    char err[512] = "";
    assert_int_equal(fy_hive_serialize(t, &b, err, sizeof err), -1);
    if (!strstr(err, needle)) fail_msg("error '%s' lacks '%s'", err, needle);
    assert_int_equal(b.len, 0);
    fy_buf_free(&b);
    fy_regtree_free(t);
}

static void test_bad_trees(void **state)
{
    (void)state;
    fy_regtree *t = fy_regtree_new("R");
    fy_regkey_create_path(t->root, "ok\\bad\xC3(");
    expect_error(t, "not valid UTF-8");

    t = fy_regtree_new("R");
    fy_regkey_set_value(fy_regkey_create_path(t->root, "k"), "v\xFF", 4, "1234", 4);
    expect_error(t, "not valid UTF-8");

    /* Armenian: distinct for the tree's comparison, the same key name for Windows. */
    t = fy_regtree_new("R");
    fy_regkey_child_create(t->root, "\xD5\xA1"); /* U+0561 */
    fy_regkey_child_create(t->root, "\xD4\xB1"); /* U+0531 */
    expect_error(t, "differ only in case");

    t = fy_regtree_new("R");
    fy_regkey_child_create(t->root, "a\\b");
    expect_error(t, "backslash");

    t = fy_regtree_new("R");
    give_sd(fy_regkey_child_create(t->root, "x"), (const uint8_t *)"\x01\x00\x00\x00", 4);
    expect_error(t, "security descriptor");

    t = fy_regtree_new("R");
    fy_regkey *k = t->root;
    for (int i = 0; i < 520; i++)
        k = fy_regkey_child_create(k, "d");
    expect_error(t, "deeper");

    fy_buf b = {0};
    char err[128];
    assert_int_equal(fy_hive_serialize(NULL, &b, err, sizeof err), -1);
    fy_buf_free(&b);
}

/* ---- fy_hive_write_file ---- */

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_write_file(void **state)
{
    (void)state;
    char *dir = th_mkdtemp();
    fy_regtree *t = fy_regtree_new("ROOT");
    fy_regkey_create_path(t->root, "Software\\X");
    char *path = write_hive(dir, "NTUSER.DAT", t);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(chmod(path, 0600), 0);
    ino_t ino = st.st_ino;
    char err[512];
    fy_regkey_create_path(t->root, "Software\\Y");
    assert_int_equal(fy_hive_write_file(t, path, err, sizeof err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* mode kept */
    assert_true(st.st_ino != ino);             /* a new file renamed over the old one */
    assert_int_equal(count_entries(dir), 1);   /* no temporary left */
    assert_int_equal(th_hivex_count_keys(path), 4);

    /* A tree that cannot be written leaves the old file as it was, and nothing else. */
    uint8_t before[32], after[32];
    th_sha256_file(path, before);
    fy_regkey_child_create(t->root, "bad\\name");
    assert_int_equal(fy_hive_write_file(t, path, err, sizeof err), -1);
    th_sha256_file(path, after);
    assert_memory_equal(before, after, 32);
    assert_int_equal(count_entries(dir), 1);

    /* A folder that does not exist: -1, errno kept, a message. */
    char *nowhere = fy_xasprintf("%s/missing/NTUSER.DAT", dir);
    fy_regkey_delete_child(t->root, "bad\\name");
    errno = 0;
    assert_int_equal(fy_hive_write_file(t, nowhere, err, sizeof err), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "missing"));
    free(nowhere);

    th_rmtree(dir);
    free(path);
    free(dir);
    fy_regtree_free(t);
}

static void touch(const char *dir, const char *name)
{
    char *p = fy_xasprintf("%s/%s", dir, name);
    assert_int_equal(th_write_file(p, "x", 1), 0);
    free(p);
}

static bool exists(const char *dir, const char *name)
{
    char *p = fy_xasprintf("%s/%s", dir, name);
    bool r = access(p, F_OK) == 0;
    free(p);
    return r;
}

static void test_remove_logs(void **state)
{
    (void)state;
    char *dir = th_mkdtemp();
    const char *keep[] = {"NTUSER.DAT", "NTUSER.DAT.LOG3", "NTUSER.DAT.LOG1.bak", "other.LOG1",
                          "NTUSER.DAT{016888bd-6c6f-11de-8d1d-001e0bcde3ec}.TM.blf"};
    const char *gone[] = {"ntuser.dat.log1", "NTUSER.DAT.LOG2", "NtUser.Dat.Log"};
    for (size_t i = 0; i < FY_ARRAY_LEN(keep); i++)
        touch(dir, keep[i]);
    for (size_t i = 0; i < FY_ARRAY_LEN(gone); i++)
        touch(dir, gone[i]);
    char *path = fy_xasprintf("%s/NTUSER.DAT", dir);
    assert_int_equal(fy_hive_remove_logs(path), 0);
    for (size_t i = 0; i < FY_ARRAY_LEN(keep); i++)
        assert_true(exists(dir, keep[i]));
    for (size_t i = 0; i < FY_ARRAY_LEN(gone); i++)
        assert_false(exists(dir, gone[i]));
    assert_int_equal(fy_hive_remove_logs(path), 0); /* nothing left to remove: fine */
    char *bad = fy_xasprintf("%s/nope/NTUSER.DAT", dir);
    assert_int_equal(fy_hive_remove_logs(bad), -1);
    free(bad);
    free(path);
    th_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_hive),       cmocka_unit_test(test_rich_tree),
        cmocka_unit_test(test_many_subkeys),     cmocka_unit_test(test_lh_hashes),
        cmocka_unit_test(test_security_sharing), cmocka_unit_test(test_roundtrip_ntuser),
        cmocka_unit_test(test_roundtrip_system), cmocka_unit_test(test_bad_trees),
        cmocka_unit_test(test_write_file),       cmocka_unit_test(test_remove_logs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
