/* runtime/registry hive recovery (fy_hive_recover): the real dirty hives with their
 * Windows 8.1+ logs (transactions NTUSER.DAT, SYSTEM_B, UsrClass.dat): entries replayed in
 * sequence order across both logs, older ones skipped (one page shown untouched), the keys
 * and values the logs add found with hivex, sha256 of the originals unchanged; a dirty hive
 * without logs is STALE with a warning; damaged logs (truncated, a flipped byte, an entry
 * out of sequence, a gap between the logs) stop at the last good entry with a warning; the
 * old DIRT format and a damaged base block on hives made by the writer; not-a-hive inputs
 * give an error; the corrupted SYSTEM hive does not crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <hivex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hive_testutil.h"
#include "registry/fy_hive.h"
#include "registry/fy_hive_format.h"

typedef struct {
    char *dir, *tmp; /* the hive's folder; where recovered copies go */
} env;

static env env_new(void)
{
    env e;
    e.dir = th_mkdtemp();
    e.tmp = fy_xasprintf("%s/tmp", e.dir);
    assert_int_equal(mkdir(e.tmp, 0700), 0);
    return e;
}

static void env_free(env *e)
{
    th_rmtree(e->dir);
    free(e->dir);
    free(e->tmp);
}

/* Puts fixture xz as dir/name; skips the test when the fixtures are not there. */
static char *fixture(env *e, const char *xz, const char *name)
{
    char *p = th_fixture(e->dir, xz, name);
    if (!p) {
        env_free(e);
        skip();
    }
    return p;
}

static char *path_in(const env *e, const char *name)
{
    return fy_xasprintf("%s/%s", e->dir, name);
}

typedef struct {
    int rc;
    fy_hive_state state;
    char *path;
    fy_diags d;
    char err[512];
} result;

static result recover(const env *e, const char *hive)
{
    result r = {0};
    r.path = (char *)"unset";
    r.rc = fy_hive_recover(hive, e->tmp, &r.state, &r.path, &r.d, r.err, sizeof r.err);
    return r;
}

static void result_free(result *r)
{
    if (r->path) unlink(r->path);
    free(r->path);
    fy_diags_free(&r->d);
}

/* The diagnostic with this check name whose message holds needle, or NULL. */
static const fy_diag *find_diag(const fy_diags *d, fy_diag_level lvl, const char *check,
                                const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i].level == lvl && !strcmp(d->v[i].check, check) &&
            (!needle || strstr(d->v[i].message, needle)))
            return &d->v[i];
    return NULL;
}

static void print_diags(const fy_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        print_message("  %s [%s] %s\n", fy_diag_level_name(d->v[i].level), d->v[i].check,
                      d->v[i].message);
}

static void expect_note(const result *r, const char *needle)
{
    if (!find_diag(&r->d, FY_DIAG_NOTE, "hive-log", needle)) {
        print_diags(&r->d);
        fail_msg("no note with '%s'", needle);
    }
}

/* The recovered copy's base block: signature, equal sequence numbers, checksum, size. */
static void check_base(const char *path, uint32_t seq)
{
    uint8_t *h;
    size_t n;
    assert_int_equal(th_read_file(path, &h, &n), 0);
    assert_true(n >= 8192);
    assert_memory_equal(h, "regf", 4);
    assert_int_equal(fy_le32(h + 4), seq);
    assert_int_equal(fy_le32(h + 8), seq);
    assert_int_equal(fy_le32(h + 28), 0);
    assert_int_equal(fy_le32(h + 508), fy_regf_checksum(h));
    assert_int_equal(fy_le32(h + 40) + 4096ull, n);
    free(h);
}

static hive_node_h node_at(hive_h *h, const char *path)
{
    hive_node_h n = hivex_root(h);
    char *p = fy_xstrdup(path), *save = NULL;
    for (char *s = strtok_r(p, "\\", &save); s && n; s = strtok_r(NULL, "\\", &save))
        n = hivex_node_get_child(h, n, s);
    free(p);
    return n;
}

static bool has_key(const char *hive, const char *path)
{
    hive_h *h = hivex_open(hive, 0);
    assert_non_null(h);
    bool r = node_at(h, path) != 0;
    hivex_close(h);
    return r;
}

/* A value's data (malloc'd) or NULL. */
static char *value_of(const char *hive, const char *key, const char *name, size_t *len)
{
    hive_h *h = hivex_open(hive, 0);
    assert_non_null(h);
    char *data = NULL;
    hive_node_h n = node_at(h, key);
    hive_value_h v = n ? hivex_node_get_value(h, n, name) : 0;
    hive_type t;
    if (v) data = hivex_value_value(h, v, &t, len);
    hivex_close(h);
    return data;
}

static uint32_t dword_of(const char *hive, const char *key, const char *name)
{
    size_t len = 0;
    char *d = value_of(hive, key, name, &len);
    assert_non_null(d);
    assert_int_equal(len, 4);
    uint32_t v = fy_le32((uint8_t *)d);
    free(d);
    return v;
}

typedef struct {
    const char *name;
    uint8_t sha[32];
} hashed;

static void hash_all(const env *e, hashed *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *p = path_in(e, h[i].name);
        th_sha256_file(p, h[i].sha);
        free(p);
    }
}

static void unchanged(const env *e, const hashed *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t now[32];
        char *p = path_in(e, h[i].name);
        th_sha256_file(p, now);
        free(p);
        if (memcmp(now, h[i].sha, 32)) fail_msg("%s was modified", h[i].name);
    }
}

/* ---- the real dirty hives ---- */

static void test_clean_hive(void **state)
{
    (void)state;
    env e = env_new();
    char *hive = fixture(&e, "NTUSER.DAT.xz", "NTUSER.DAT");
    result r = recover(&e, hive);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.state, FY_HIVE_CLEAN);
    assert_null(r.path);
    assert_int_equal(r.d.n, 0);
    result_free(&r);
    free(hive);
    env_free(&e);
}

static void test_transactions_ntuser(void **state)
{
    (void)state;
    env e = env_new();
    /* Names in mixed case: the logs are found whatever their spelling. */
    char *hive = fixture(&e, "transactions_NTUSER.DAT.xz", "NTUSER.DAT");
    free(fixture(&e, "transactions_ntuser.dat.log1.xz", "ntuser.dat.log1"));
    free(fixture(&e, "transactions_ntuser.dat.log2.xz", "NTUSER.DAT.LOG2"));
    hashed h[] = {{.name = "NTUSER.DAT"}, {.name = "ntuser.dat.log1"}, {.name = "NTUSER.DAT.LOG2"}};
    hash_all(&e, h, 3);

    result r = recover(&e, hive);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.state, FY_HIVE_RECOVERED);
    assert_non_null(r.path);
    assert_ptr_equal(strstr(r.path, e.tmp), r.path); /* in tmp_dir */
    /* The hive says 567/566; LOG1 holds entries 566..588 (23 entries, 132 pages: the count
     * regipy's tests give for this log); LOG2 holds one entry, 562, older than the hive. */
    expect_note(&r, "replayed 23 log entries (sequence 566 to 588, 132 dirty pages)");
    expect_note(&r, "1 older entry skipped");
    assert_int_equal(r.d.warnings, 0);
    check_base(r.path, 588);

    /* What the logs add: keys, a new value, a changed one. */
    assert_false(has_key(hive, "Software\\Microsoft\\Payment\\PaymentApps"));
    assert_true(has_key(r.path, "Software\\Microsoft\\Payment\\PaymentApps"));
    size_t len;
    assert_null(value_of(hive, "Software\\Microsoft\\Poom", "AggregateCacheGeneration", &len));
    assert_int_equal(dword_of(r.path, "Software\\Microsoft\\Poom", "AggregateCacheGeneration"), 2);
    assert_int_equal(dword_of(hive, "Control Panel\\Desktop\\WindowMetrics", "AppliedDPI"), 96);
    assert_int_equal(dword_of(r.path, "Control Panel\\Desktop\\WindowMetrics", "AppliedDPI"), 192);
    /* Key counts (reglookup -t KEY agrees): 515 more keys after the replay. */
    assert_int_equal(th_hivex_count_keys(hive), 2590);
    assert_int_equal(th_hivex_count_keys(r.path), 3105);

    /* The skipped entry: LOG2's page at hive bins offset 0x8C000 (no LOG1 entry touches
     * it) differs from the primary's, and the recovered copy kept the primary's. */
    uint8_t *p, *rec, *l2;
    size_t pn, rn, ln;
    char *log2 = path_in(&e, "NTUSER.DAT.LOG2");
    assert_int_equal(th_read_file(hive, &p, &pn), 0);
    assert_int_equal(th_read_file(r.path, &rec, &rn), 0);
    assert_int_equal(th_read_file(log2, &l2, &ln), 0);
    const uint8_t *ent = l2 + 512;
    assert_memory_equal(ent, "HvLE", 4);
    assert_int_equal(fy_le32(ent + 12), 562);
    uint32_t np = fy_le32(ent + 20);
    const uint8_t *page = ent + 40 + 8 * np;
    bool found = false;
    for (uint32_t i = 0; i < np; i++) {
        uint32_t po = fy_le32(ent + 40 + 8 * i), ps = fy_le32(ent + 44 + 8 * i);
        if (po == 0x8C000) {
            found = true;
            assert_memory_not_equal(page, p + 4096 + po, 4096);
            assert_memory_equal(rec + 4096 + po, p + 4096 + po, 4096);
        }
        page += ps;
    }
    assert_true(found);
    free(p);
    free(rec);
    free(l2);
    free(log2);

    unchanged(&e, h, 3);
    result_free(&r);
    free(hive);
    env_free(&e);
}

static void test_system_b(void **state)
{
    (void)state;
    env e = env_new();
    char *hive = fixture(&e, "SYSTEM_B.xz", "SYSTEM");
    free(fixture(&e, "SYSTEM_B.LOG1.xz", "SYSTEM.LOG1"));
    free(fixture(&e, "SYSTEM_B.LOG2.xz", "SYSTEM.LOG2"));
    hashed h[] = {{.name = "SYSTEM"}, {.name = "SYSTEM.LOG1"}, {.name = "SYSTEM.LOG2"}};
    hash_all(&e, h, 3);
    result r = recover(&e, hive);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.state, FY_HIVE_RECOVERED);
    /* The hive says 1622/1621 but was reconciled further ("partial reconcile"): LOG1 holds
     * 2107..2110 and LOG2 2111..2130, replayed in that order across both files (315 pages,
     * regipy's count). */
    expect_note(&r, "replayed 24 log entries (sequence 2107 to 2130, 315 dirty pages) from "
                    "SYSTEM.LOG1 and SYSTEM.LOG2; 0 older entries skipped");
    assert_int_equal(r.d.warnings, 0);
    check_base(r.path, 2130);
    const char *k = "ControlSet001\\Control\\Class\\{4d36e96c-e325-11ce-bfc1-08002be10318}\\0013"
                    "\\Drivers\\midi\\wdmaud.drv";
    assert_false(has_key(hive, k));
    assert_true(has_key(r.path, k));
    assert_int_equal(th_hivex_count_keys(hive), 33123);
    assert_int_equal(th_hivex_count_keys(r.path), 35595);
    unchanged(&e, h, 3);
    result_free(&r);
    free(hive);
    env_free(&e);
}

static void test_usrclass(void **state)
{
    (void)state;
    env e = env_new();
    char *hive = fixture(&e, "UsrClass.dat.xz", "UsrClass.dat");
    free(fixture(&e, "UsrClass.dat.LOG1.xz", "UsrClass.dat.LOG1"));
    free(fixture(&e, "UsrClass.dat.LOG2.xz", "UsrClass.dat.LOG2"));
    hashed h[] = {
        {.name = "UsrClass.dat"}, {.name = "UsrClass.dat.LOG1"}, {.name = "UsrClass.dat.LOG2"}};
    hash_all(&e, h, 3);
    result r = recover(&e, hive);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.state, FY_HIVE_RECOVERED);
    /* 256/255; LOG1 287..290, LOG2 291..300 (158 pages, regipy's count). */
    expect_note(&r, "replayed 14 log entries (sequence 287 to 300, 158 dirty pages)");
    check_base(r.path, 300);
    const char *key = "Local Settings\\MuiCache\\d\\52C64B7E";
    const char *name = "@%SystemRoot%\\system32\\powrprof.dll,-15";
    size_t len = 0;
    assert_null(value_of(hive, key, name, &len));
    char *v = value_of(r.path, key, name, &len);
    assert_non_null(v);
    assert_int_equal(len, 18);
    assert_memory_equal(v, "B\0a\0l\0a\0n\0c\0e\0d\0\0\0", 18);
    free(v);
    assert_int_equal(th_hivex_count_keys(hive), 6205);
    assert_int_equal(th_hivex_count_keys(r.path), 6238);
    unchanged(&e, h, 3);
    result_free(&r);
    free(hive);
    env_free(&e);
}

static void test_stale_without_logs(void **state)
{
    (void)state;
    env e = env_new();
    char *hive = fixture(&e, "NTUSER_with_winscp.DAT.xz", "NTUSER.DAT");
    hashed h[] = {{.name = "NTUSER.DAT"}};
    hash_all(&e, h, 1);
    result r = recover(&e, hive);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.state, FY_HIVE_STALE);
    assert_null(r.path);
    assert_non_null(
        find_diag(&r.d, FY_DIAG_WARNING, "hive-dirty", "newest changes may be missing"));
    assert_string_equal(r.d.v[0].file, hive);
    result_free(&r);

    /* Logs that cannot be used are no better: an empty .LOG (normal), a .LOG1 that is not a
     * log, a .LOG2 that is another hive's older log (its entries are all older). */
    char *l = path_in(&e, "NTUSER.DAT.LOG");
    assert_int_equal(th_write_file(l, "", 0), 0);
    free(l);
    l = path_in(&e, "NTUSER.DAT.LOG1");
    assert_int_equal(th_write_file(l, "this is not a registry log at all", 33), 0);
    free(l);
    free(fixture(&e, "transactions_ntuser.dat.log2.xz", "NTUSER.DAT.LOG2"));
    r = recover(&e, hive);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.state, FY_HIVE_STALE);
    assert_null(r.path);
    assert_non_null(
        find_diag(&r.d, FY_DIAG_WARNING, "hive-log", "NTUSER.DAT.LOG1 is not a usable"));
    assert_non_null(find_diag(&r.d, FY_DIAG_WARNING, "hive-dirty", NULL));
    assert_null(find_diag(&r.d, FY_DIAG_WARNING, "hive-log", "NTUSER.DAT.LOG "));
    unchanged(&e, h, 1);
    result_free(&r);
    free(hive);
    env_free(&e);
}

/* ---- damaged logs on the real hive ---- */

static env transactions_env(char **hive)
{
    env e = env_new();
    *hive = fixture(&e, "transactions_NTUSER.DAT.xz", "NTUSER.DAT");
    free(fixture(&e, "transactions_ntuser.dat.log1.xz", "NTUSER.DAT.LOG1"));
    free(fixture(&e, "transactions_ntuser.dat.log2.xz", "NTUSER.DAT.LOG2"));
    return e;
}

/* Rewrites LOG1 through fn (which may change its bytes and length). */
static void edit_log1(env *e, void (*fn)(uint8_t *d, size_t *n))
{
    char *p = path_in(e, "NTUSER.DAT.LOG1");
    uint8_t *d;
    size_t n;
    assert_int_equal(th_read_file(p, &d, &n), 0);
    fn(d, &n);
    assert_int_equal(th_write_file(p, d, n), 0);
    free(d);
    free(p);
}

/* LOG1's entries start at 512; entry k's offset (they are consecutive). */
static size_t entry_off(const uint8_t *d, int k)
{
    size_t off = 512;
    while (k-- > 0)
        off += fy_le32(d + off + 4);
    return off;
}

static void cut_in_half(uint8_t *d, size_t *n)
{
    (void)d;
    *n /= 2; /* 563,200 bytes: the third entry (568, at 348,160, 421,888 long) is cut */
}

static void flip_page_byte(uint8_t *d, size_t *n)
{
    (void)n;
    size_t off = entry_off(d, 4); /* sequence 570 */
    assert_int_equal(fy_le32(d + off + 12), 570);
    d[off + 40 + 8 * fy_le32(d + off + 20) + 100] ^= 0x40;
}

static void rehash(uint8_t *e)
{
    uint32_t size = fy_le32(e + 4);
    fy_put_le64(e + 24, fy_hive_marvin32(e + 40, size - 40, FY_MARVIN_SEED));
    fy_put_le64(e + 32, fy_hive_marvin32(e, 32, FY_MARVIN_SEED));
}

static void jump_sequence(uint8_t *d, size_t *n)
{
    (void)n;
    size_t off = entry_off(d, 4);
    fy_put_le32(d + off + 12, 600); /* 566..569, then 600: sound, but out of sequence */
    rehash(d + off);
}

static void damaged_case(void (*fn)(uint8_t *, size_t *), uint32_t last, const char *why)
{
    char *hive;
    env e = transactions_env(&hive);
    edit_log1(&e, fn);
    hashed h[] = {{.name = "NTUSER.DAT"}, {.name = "NTUSER.DAT.LOG1"}, {.name = "NTUSER.DAT.LOG2"}};
    hash_all(&e, h, 3);
    result r = recover(&e, hive);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.state, FY_HIVE_RECOVERED);
    if (!find_diag(&r.d, FY_DIAG_WARNING, "hive-log", why)) {
        print_diags(&r.d);
        fail_msg("no hive-log warning with '%s'", why);
    }
    char note[64];
    snprintf(note, sizeof note, "(sequence 566 to %u,", last);
    expect_note(&r, note);
    check_base(r.path, last);
    /* Every entry is a consistent state of the hive: the copy opens and reads. */
    assert_true(th_hivex_count_keys(r.path) > 2000);
    unchanged(&e, h, 3);
    result_free(&r);
    free(hive);
    env_free(&e);
}

static void test_truncated_log(void **state)
{
    (void)state;
    damaged_case(cut_in_half, 567, "truncated log");
}

static void test_flipped_byte(void **state)
{
    (void)state;
    damaged_case(flip_page_byte, 569, "data hash does not match");
}

static void test_out_of_sequence(void **state)
{
    (void)state;
    damaged_case(jump_sequence, 569, "out of sequence");
}

/* ---- synthetic hives from the writer: both log formats, gaps, a bad base block ---- */

static void build(fy_buf *b, int stage)
{
    fy_regtree *t = fy_regtree_new("ROOT");
    for (int i = 0; i < 200; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "Software\\Key%03d", i);
        fy_regkey *k = fy_regkey_create_path(t->root, nm);
        k->last_write = 1;
        fy_regkey_set_value(k, "v", FY_REG_DWORD, &i, 4);
    }
    t->root->last_write = 1;
    fy_regkey_find(t->root, "Software")->last_write = 1;
    if (stage >= 1) {
        fy_regkey *k = fy_regkey_create_path(t->root, "Added\\Sub");
        k->last_write = 2;
        fy_regkey_find(t->root, "Added")->last_write = 2;
        static uint8_t big[30000];
        memset(big, 0xA5, sizeof big);
        fy_regkey_set_value(k, "big", FY_REG_BINARY, big, sizeof big);
    }
    if (stage >= 2) {
        fy_regkey *k = fy_regkey_create_path(t->root, "Third");
        k->last_write = 3;
    }
    char err[256];
    assert_int_equal(fy_hive_serialize(t, b, err, sizeof err), 0);
    fy_regtree_free(t);
}

static void set_base(uint8_t *h, uint32_t s1, uint32_t s2, uint64_t ts, uint32_t type)
{
    fy_put_le32(h + 4, s1);
    fy_put_le32(h + 8, s2);
    fy_put_le64(h + 12, ts);
    fy_put_le32(h + 28, type);
    fy_put_le32(h + 508, fy_regf_checksum(h));
}

/* A new-format log entry turning `from` into `to` (changed 4 KB pages). */
static void hvle_entry(fy_buf *log, uint32_t seq, const fy_buf *from, const fy_buf *to)
{
    uint32_t hb = fy_le32(to->data + 40), np = 0;
    fy_buf pages = {0}, refs = {0};
    for (uint32_t o = 0; o < hb; o += 4096) {
        bool differs = 4096 + (size_t)o + 4096 > from->len ||
                       memcmp(from->data + 4096 + o, to->data + 4096 + o, 4096) != 0;
        if (!differs) continue;
        fy_buf_u32(&refs, o);
        fy_buf_u32(&refs, 4096);
        fy_buf_put(&pages, to->data + 4096 + o, 4096);
        np++;
    }
    size_t start = log->len, body = 40 + refs.len + pages.len;
    size_t size = (body + 511) / 512 * 512;
    fy_buf_reserve(log, size);
    memset(log->data + start, 0, size);
    uint8_t *e = log->data + start;
    memcpy(e, "HvLE", 4);
    fy_put_le32(e + 4, (uint32_t)size);
    fy_put_le32(e + 12, seq);
    fy_put_le32(e + 16, hb);
    fy_put_le32(e + 20, np);
    memcpy(e + 40, refs.data, refs.len);
    memcpy(e + 40 + refs.len, pages.data, pages.len);
    log->len += size;
    rehash(e);
    fy_buf_free(&pages);
    fy_buf_free(&refs);
}

static void new_log(fy_buf *log, const fy_buf *base, uint32_t seq)
{
    log->len = 0;
    fy_buf_put(log, base->data, 512);
    set_base(log->data, seq, seq, 0, FY_REGF_TYPE_LOG_NEW);
}

static void write_buf(const env *e, const char *name, const fy_buf *b)
{
    char *p = path_in(e, name);
    assert_int_equal(th_write_file(p, b->data, b->len), 0);
    free(p);
}

static void assert_hbins_equal(const char *path, const fy_buf *want)
{
    uint8_t *h;
    size_t n;
    assert_int_equal(th_read_file(path, &h, &n), 0);
    assert_int_equal(n, want->len);
    assert_memory_equal(h + 4096, want->data + 4096, n - 4096);
    free(h);
}

static void test_new_format_synthetic(void **state)
{
    (void)state;
    fy_buf a = {0}, b = {0}, c = {0}, l1 = {0}, l2 = {0};
    build(&a, 0);
    build(&b, 1);
    build(&c, 2);
    assert_true(b.len > a.len); /* the hive grows: the log carries the new size */

    env e = env_new();
    uint8_t *prim = malloc(a.len);
    memcpy(prim, a.data, a.len);
    set_base(prim, 11, 10, 0, 0);
    char *hive = path_in(&e, "H.DAT");
    assert_int_equal(th_write_file(hive, prim, a.len), 0);

    /* LOG1: an old entry (9) then 10 (A->B); LOG2: 11 (B->C). */
    new_log(&l1, &a, 9);
    hvle_entry(&l1, 9, &c, &a); /* older than the hive: would undo C into A */
    hvle_entry(&l1, 10, &a, &b);
    new_log(&l2, &b, 11);
    hvle_entry(&l2, 11, &b, &c);
    write_buf(&e, "H.DAT.LOG1", &l1);
    write_buf(&e, "H.DAT.LOG2", &l2);
    result r = recover(&e, hive);
    assert_int_equal(r.state, FY_HIVE_RECOVERED);
    expect_note(&r, "replayed 2 log entries (sequence 10 to 11,");
    expect_note(&r, "from H.DAT.LOG1 and H.DAT.LOG2; 1 older entry skipped");
    check_base(r.path, 11);
    assert_hbins_equal(r.path, &c);
    assert_true(has_key(r.path, "Third"));
    result_free(&r);

    /* LOG2 says 12 instead of 11: a gap between the logs; replay stops after 10. */
    new_log(&l2, &b, 12);
    hvle_entry(&l2, 12, &b, &c);
    write_buf(&e, "H.DAT.LOG2", &l2);
    r = recover(&e, hive);
    assert_int_equal(r.state, FY_HIVE_RECOVERED);
    assert_non_null(
        find_diag(&r.d, FY_DIAG_WARNING, "hive-log", "no entry with sequence number 11"));
    check_base(r.path, 10);
    assert_hbins_equal(r.path, &b);
    size_t len;
    char *big = value_of(r.path, "Added\\Sub", "big", &len);
    assert_int_equal(len, 30000);
    free(big);
    result_free(&r);

    /* The primary's base block damaged (checksum wrong, sequence numbers equal): dirty all
     * the same; the base block is taken from the log. */
    new_log(&l2, &b, 11);
    hvle_entry(&l2, 11, &b, &c);
    write_buf(&e, "H.DAT.LOG2", &l2);
    set_base(prim, 10, 10, 0, 0);
    prim[300] ^= 1; /* a reserved byte: only the checksum notices */
    assert_int_equal(th_write_file(hive, prim, a.len), 0);
    r = recover(&e, hive);
    assert_int_equal(r.state, FY_HIVE_RECOVERED);
    assert_non_null(find_diag(&r.d, FY_DIAG_WARNING, "hive-log", "checksum"));
    check_base(r.path, 11);
    assert_hbins_equal(r.path, &c);
    result_free(&r);

    /* Both logs older than the hive: nothing to replay. */
    set_base(prim, 21, 20, 0, 0);
    assert_int_equal(th_write_file(hive, prim, a.len), 0);
    r = recover(&e, hive);
    assert_int_equal(r.state, FY_HIVE_STALE);
    assert_non_null(find_diag(&r.d, FY_DIAG_WARNING, "hive-dirty", NULL));
    result_free(&r);

    free(prim);
    free(hive);
    env_free(&e);
    fy_buf_free(&a);
    fy_buf_free(&b);
    fy_buf_free(&c);
    fy_buf_free(&l1);
    fy_buf_free(&l2);
}

/* An old-format log (Vista to Windows 8): base block, DIRT bitmap of 512-byte pages. */
static void dirt_log(fy_buf *log, const fy_buf *from, const fy_buf *to, uint32_t seq, uint64_t ts)
{
    log->len = 0;
    fy_buf_put(log, to->data, 512);
    set_base(log->data, seq, seq, ts, FY_REGF_TYPE_LOG_OLD);
    uint32_t hb = fy_le32(to->data + 40);
    size_t vec = hb / 4096;
    uint8_t *bits = calloc(1, vec);
    fy_buf pages = {0};
    for (uint32_t o = 0; o < hb; o += 512) {
        bool differs = 4096 + (size_t)o + 512 > from->len ||
                       memcmp(from->data + 4096 + o, to->data + 4096 + o, 512) != 0;
        if (!differs) continue;
        bits[o / 512 / 8] |= (uint8_t)(1 << (o / 512 % 8));
        fy_buf_put(&pages, to->data + 4096 + o, 512);
    }
    fy_buf_put(log, "DIRT", 4);
    fy_buf_put(log, bits, vec);
    while (log->len % 512)
        fy_buf_putc(log, 0);
    fy_buf_put(log, pages.data, pages.len);
    free(bits);
    fy_buf_free(&pages);
}

static void test_old_format(void **state)
{
    (void)state;
    fy_buf a = {0}, b = {0}, log = {0};
    build(&a, 0);
    build(&b, 1);
    env e = env_new();
    uint64_t ts = 0x01D0000000000000ull;
    uint8_t *prim = malloc(a.len);
    memcpy(prim, a.data, a.len);
    set_base(prim, 8, 7, ts, 0);
    char *hive = path_in(&e, "SOFTWARE");
    assert_int_equal(th_write_file(hive, prim, a.len), 0);
    dirt_log(&log, &a, &b, 8, ts);
    write_buf(&e, "software.log", &log); /* the single .LOG of older Windows */
    hashed h[] = {{.name = "SOFTWARE"}, {.name = "software.log"}};
    hash_all(&e, h, 2);
    result r = recover(&e, hive);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.state, FY_HIVE_RECOVERED);
    assert_int_equal(r.d.warnings, 0);
    check_base(r.path, 8);
    assert_hbins_equal(r.path, &b);
    assert_true(has_key(r.path, "Added\\Sub"));
    unchanged(&e, h, 2);
    result_free(&r);

    /* Cut short: the pages it still has are applied, with a warning. */
    log.len -= 1024;
    write_buf(&e, "software.log", &log);
    r = recover(&e, hive);
    assert_int_equal(r.state, FY_HIVE_RECOVERED);
    assert_non_null(find_diag(&r.d, FY_DIAG_WARNING, "hive-log", "truncated"));
    result_free(&r);

    /* A log from an earlier write (other timestamp, older sequence) is not applied. */
    dirt_log(&log, &a, &b, 6, ts - 1);
    write_buf(&e, "software.log", &log);
    r = recover(&e, hive);
    assert_int_equal(r.state, FY_HIVE_STALE);
    result_free(&r);

    free(prim);
    free(hive);
    env_free(&e);
    fy_buf_free(&a);
    fy_buf_free(&b);
    fy_buf_free(&log);
}

/* ---- inputs that are not hives ---- */

static void expect_not_hive(const env *e, const char *name, const void *data, size_t n,
                            const char *needle)
{
    char *p = path_in(e, name);
    if (data) assert_int_equal(th_write_file(p, data, n), 0);
    result r = recover(e, p);
    assert_int_equal(r.rc, -1);
    if (!strstr(r.err, needle)) fail_msg("'%s' lacks '%s'", r.err, needle);
    assert_null(r.path);
    result_free(&r);
    free(p);
}

static void test_not_a_hive(void **state)
{
    (void)state;
    env e = env_new();
    expect_not_hive(&e, "text.txt", "hello, world\n", 13, "not a registry hive");
    expect_not_hive(&e, "empty", "", 0, "not a registry hive");
    uint8_t head[600] = "regf";
    expect_not_hive(&e, "short", head, sizeof head, "ends inside its base block");
    fy_buf b = {0};
    build(&b, 0);
    set_base(b.data, 3, 3, 0, FY_REGF_TYPE_LOG_NEW);
    expect_not_hive(&e, "alog", b.data, b.len, "not a hive");
    fy_put_le32(b.data + 28, 0);
    fy_put_le32(b.data + 20, 2);
    expect_not_hive(&e, "v2", b.data, b.len, "version");
    fy_buf_free(&b);
    expect_not_hive(&e, "missing", NULL, 0, "cannot open");
    expect_not_hive(&e, "tmp", NULL, 0, "not a regular file"); /* a folder */
    env_free(&e);
}

static void test_corrupted_system_hive(void **state)
{
    (void)state;
    env e = env_new();
    char *hive = fixture(&e, "corrupted_system_hive.xz", "SYSTEM");
    hashed h[] = {{.name = "SYSTEM"}};
    hash_all(&e, h, 1);
    result r = recover(&e, hive);
    /* Its base block is intact and clean: the damage is further in, for the reader. */
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.state, FY_HIVE_CLEAN);
    unchanged(&e, h, 1);
    result_free(&r);

    /* Its bytes as a log beside a dirty hive: rejected, no crash. */
    char *dirty = path_in(&e, "DIRTY");
    fy_buf b = {0};
    build(&b, 0);
    set_base(b.data, 5, 4, 0, 0);
    assert_int_equal(th_write_file(dirty, b.data, b.len), 0);
    char *log = path_in(&e, "DIRTY.LOG1");
    assert_int_equal(th_copy(hive, log), 0);
    r = recover(&e, dirty);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.state, FY_HIVE_STALE);
    result_free(&r);
    fy_buf_free(&b);
    free(dirty);
    free(log);
    free(hive);
    env_free(&e);
}

static void test_marvin32(void **state)
{
    (void)state;
    /* Every HvLE entry in the fixtures verifies (above); here the algorithm's edges: the
     * tail of 0..3 bytes changes the result, and the seed matters. */
    const uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint64_t seen[8];
    for (size_t n = 0; n < 8; n++) {
        seen[n] = fy_hive_marvin32(d, n, FY_MARVIN_SEED);
        for (size_t m = 0; m < n; m++)
            assert_true(seen[m] != seen[n]);
    }
    assert_true(fy_hive_marvin32(d, 8, 1) != seen[7]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_hive),
        cmocka_unit_test(test_transactions_ntuser),
        cmocka_unit_test(test_system_b),
        cmocka_unit_test(test_usrclass),
        cmocka_unit_test(test_stale_without_logs),
        cmocka_unit_test(test_truncated_log),
        cmocka_unit_test(test_flipped_byte),
        cmocka_unit_test(test_out_of_sequence),
        cmocka_unit_test(test_new_format_synthetic),
        cmocka_unit_test(test_old_format),
        cmocka_unit_test(test_not_a_hive),
        cmocka_unit_test(test_corrupted_system_hive),
        cmocka_unit_test(test_marvin32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
