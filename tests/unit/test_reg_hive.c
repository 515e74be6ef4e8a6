/* The hive backend of fy_reg.h against real Windows hives (shared/fixtures/hives):
 * - every key and value of NTUSER_with_winscp.DAT, NTUSER.DAT, SYSTEM, SAM and UsrClass.dat,
 *   read through the registry interface, equals what an independent path gives:
 *   `hivexregedit --export` (exact bytes, every value as hex) and
 *   `hivexregedit --export --unsafe-printable-strings` (strings as text), both parsed with
 *   ferry's own .reg parser and compared as sets of (key, value name, type, bytes);
 * - non-ASCII names come out as the UTF-8 libregf (regfexport) shows;
 * - lookups by path are case-insensitive; value helpers decode real data;
 * - a dirty hive without logs reads (with a warning once log replay is in);
 * - a corrupt, truncated, empty or non-hive file is a clear error, never a crash;
 * - reading never modifies the hive file;
 * - a whole hive exported, imported into a new hive and exported again gives the same
 *   .reg bytes (needs the hive writer: skipped while it is the placeholder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fy_common.h"
#include "registry/fy_hive.h"
#include "registry/fy_reg.h"
#include "registry/fy_regfile.h"

static char tmpdir[512];
static bool have_hivexregedit;

static char *tpath(const char *name)
{
    return fy_xasprintf("%s/%s", tmpdir, name);
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/ferry-reg-hive-XXXXXX", base);
    if (!mkdtemp(tmpdir)) return -1;
    const char *shared = getenv("FERRY_SHARED_DIR");
    if (!shared) return -1;
    static const char *const fixtures[] = {"NTUSER_with_winscp.DAT",
                                           "NTUSER.DAT",
                                           "SYSTEM",
                                           "SAM",
                                           "UsrClass.dat",
                                           "corrupted_system_hive",
                                           "transactions_NTUSER.DAT"};
    for (size_t i = 0; i < FY_ARRAY_LEN(fixtures); i++) {
        char *cmd = fy_xasprintf("xz -dc '%s/fixtures/hives/%s.xz' > '%s/%s'", shared, fixtures[i],
                                 tmpdir, fixtures[i]);
        int rc = run(cmd);
        free(cmd);
        if (rc != 0) return -1;
    }
    have_hivexregedit = run("command -v hivexregedit >/dev/null 2>&1") == 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = fy_xasprintf("rm -rf '%s'", tmpdir);
    run(cmd);
    free(cmd);
    return 0;
}

/* ---- tuples: "K\1path" for keys, "V\1path\1name\1type\1hex" for values ---- */

typedef struct strvec {
    char **v;
    size_t n, cap;
} strvec;

static void sv_push(strvec *s, char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = fy_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = str;
}

static void sv_free(strvec *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The bytes `hivexregedit --unsafe-printable-strings` prints for a REG_SZ/EXPAND_SZ:
 * Perl decodes the data as UTF-16LE (odd byte dropped; unpaired surrogates and the
 * noncharacters U+FFFE/U+FFFF become U+FFFD), removes one final NUL, and prints the
 * characters as Latin-1 bytes when all are below U+0100, else as UTF-8. Comparing these
 * bytes with what it printed is exact; decoding its output instead would be ambiguous
 * (a Latin-1 string can look like UTF-8, and the registry holds such mojibake). */
static void printable_form(const uint8_t *d, uint32_t len, fy_buf *out)
{
    size_t n;
    uint8_t *c = fy_xmalloc(len + 1);
    memcpy(c, d, len);
    for (uint32_t i = 0; i + 1 < len; i += 2)
        if (c[i + 1] == 0xFF && (c[i] == 0xFE || c[i] == 0xFF)) c[i] = 0xFD;
    char *s = fy_utf16le_to_utf8(c, len & ~1u, false, &n);
    free(c);
    if (n && s[n - 1] == 0) n--;
    bool wide = false;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += fy_utf8_next(s + i, n - i, &cp);
        wide |= cp > 0xFF;
    }
    if (wide) {
        fy_buf_put(out, s, n);
    } else {
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            i += fy_utf8_next(s + i, n - i, &cp);
            fy_buf_putc(out, (uint8_t)cp);
        }
    }
    free(s);
}

static char *value_tuple(const char *path, const char *name, uint32_t type, const uint8_t *data,
                         uint32_t len, bool printable)
{
    fy_buf norm = {0};
    if (printable && (type == FY_REG_SZ || type == FY_REG_EXPAND_SZ)) {
        printable_form(data, len, &norm);
        data = norm.data;
        len = (uint32_t)norm.len;
    }
    fy_buf b = {0};
    fy_buf_printf(&b, "V\1%s\1%s\1%x\1", path, name, type);
    static const char hx[] = "0123456789abcdef";
    fy_buf_reserve(&b, 2 * (size_t)len);
    for (uint32_t i = 0; i < len; i++) {
        b.data[b.len++] = (uint8_t)hx[data[i] >> 4];
        b.data[b.len++] = (uint8_t)hx[data[i] & 15];
    }
    fy_buf_free(&norm);
    return fy_buf_cstr(&b);
}

/* Every key and value below k, through the fy_reg interface only. */
static void collect(fy_reg *r, fy_reg_key *k, fy_buf *path, bool printable, strvec *out)
{
    const char *p = fy_buf_cstr(path);
    sv_push(out, fy_xasprintf("K\1%s", p));
    size_t nv = fy_reg_value_count(r, k);
    for (size_t i = 0; i < nv; i++) {
        fy_reg_value v;
        assert_int_equal(fy_reg_value_at(r, k, i, &v), 0);
        sv_push(out, value_tuple(p, v.name, v.type, v.data, v.len, printable));
    }
    size_t ns = fy_reg_subkey_count(r, k);
    for (size_t i = 0; i < ns; i++) {
        const char *name = fy_reg_subkey_name(r, k, i);
        fy_reg_key *c = fy_reg_key_open(r, k, name);
        assert_non_null(c);
        size_t mark = path->len;
        if (path->len) fy_buf_putc(path, '\\');
        fy_buf_puts(path, name);
        collect(r, c, path, printable, out);
        path->len = mark;
        fy_reg_key_close(r, c);
    }
}

/* hivexregedit's side; with printable, its str lines already hold printable_form bytes. */
static void collect_ops(const fy_regfile *f, strvec *out)
{
    for (size_t i = 0; i < f->nops; i++) {
        const fy_regop *op = &f->ops[i];
        const char *key = op->key[0] == '\\' ? op->key + 1 : op->key;
        if (op->kind == FY_REGOP_KEY)
            sv_push(out, fy_xasprintf("K\1%s", key));
        else if (op->kind == FY_REGOP_VALUE)
            sv_push(out, value_tuple(key, op->name, op->type, op->data, op->len, false));
        else
            fail_msg("hivexregedit wrote a deletion at line %u", op->line);
    }
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fy_buf b = {0};
    uint8_t chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        fy_buf_put(&b, chunk, got);
    fclose(f);
    *n = b.len;
    return b.data ? b.data : fy_xcalloc(1, 1);
}

/* hivexregedit --unsafe-printable-strings writes `"name"=str(N):"TEXT"` with TEXT as
 * printable_form says and only '"' escaped. That is not .reg syntax: such lines are turned
 * into hex(N): lines holding TEXT's bytes before ferry's parser reads the file, and the
 * comparison puts ferry's values through printable_form. The closing quote is the last
 * character of its line (see closes_str for strings with line breaks). */
/* The closing quote ends a line, and the next line starts another item (or the file
 * ends). A string can hold line breaks and end in a backslash, so this is a heuristic;
 * it holds for the fixtures. */
static bool closes_str(const char *l, size_t ll, const uint8_t *next, size_t left)
{
    if (!ll || l[ll - 1] != '"') return false;
    return left == 0 || next[0] == '\n' || next[0] == '\r' || next[0] == '"' || next[0] == '@' ||
           next[0] == '[';
}

static void rewrite_str_lines(const uint8_t *in, size_t n, fy_buf *out)
{
    size_t i = 0;
    fy_buf line = {0};
    while (i < n) {
        const uint8_t *nl = memchr(in + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - in) : n;
        line.len = 0;
        fy_buf_put(&line, in + i, e - i);
        i = e + 1;
        const char *l = (const char *)line.data;
        size_t ll = line.len, name_end = 0;
        if (ll && l[0] == '@') {
            name_end = 1;
        } else if (ll && l[0] == '"') {
            size_t j = 1;
            while (j < ll && l[j] != '"')
                j += l[j] == '\\' ? 2 : 1;
            name_end = j + 1;
        }
        bool is_str = name_end && ll > name_end + 5 && memcmp(l + name_end, "=str(", 5) == 0;
        if (!is_str) {
            fy_buf_put(out, l, ll);
            fy_buf_putc(out, '\n');
            continue;
        }
        /* Perl printed line breaks inside the string as they are: join the lines up to the
         * one that ends with the closing quote. */
        while (i < n && !closes_str((const char *)line.data, line.len, in + i, n - i)) {
            nl = memchr(in + i, '\n', n - i);
            e = nl ? (size_t)(nl - in) : n;
            fy_buf_putc(&line, '\n');
            fy_buf_put(&line, in + i, e - i);
            i = e + 1;
        }
        l = (const char *)line.data;
        ll = line.len;
        const char *str = l + name_end + 5;
        const char *close = memchr(str, ')', ll - (size_t)(str - l));
        assert_non_null(close);
        assert_true(close[1] == ':' && close[2] == '"' && l[ll - 1] == '"');
        const char *t = close + 3, *te = l + ll - 1;
        fy_buf text = {0};
        for (const char *c = t; c < te; c++) {
            if (c[0] == '\\' && c + 1 < te && c[1] == '"') c++;
            fy_buf_putc(&text, (uint8_t)*c);
        }
        fy_buf_put(out, l, name_end);
        fy_buf_printf(out, "=hex(%.*s):", (int)(close - str), str);
        for (size_t k = 0; k < text.len; k++)
            fy_buf_printf(out, k ? ",%02x" : "%02x", text.data[k]);
        fy_buf_putc(out, '\n');
        fy_buf_free(&text);
    }
    fy_buf_free(&line);
}

static void print_diags(const fy_diags *d)
{
    for (size_t i = 0; i < d->n && i < 20; i++)
        print_message("%s:%u:%u: %s: %s\n", d->v[i].file ? d->v[i].file : "-", d->v[i].line,
                      d->v[i].col, fy_diag_level_name(d->v[i].level), d->v[i].message);
}

static void compare_sorted(strvec *mine, strvec *theirs, const char *what)
{
    qsort(mine->v, mine->n, sizeof(char *), cmp_str);
    qsort(theirs->v, theirs->n, sizeof(char *), cmp_str);
    size_t i = 0, j = 0, bad = 0;
    while (i < mine->n || j < theirs->n) {
        int c = i == mine->n ? 1 : j == theirs->n ? -1 : strcmp(mine->v[i], theirs->v[j]);
        if (c == 0) {
            i++, j++;
            continue;
        }
        if (bad++ < 5)
            print_message("%s: only in %s: %.300s\n", what, c < 0 ? "ferry" : "hivexregedit",
                          c < 0 ? mine->v[i] : theirs->v[j]);
        c < 0 ? i++ : j++;
    }
    if (bad)
        fail_msg("%s: %zu tuples differ (ferry %zu, hivexregedit %zu)", what, bad, mine->n,
                 theirs->n);
}

static size_t count_damage(const fy_diags *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += strcmp(d->v[i].check, "hive-damaged") == 0;
    return n;
}

static void check_against_hivex(const char *fixture, bool printable)
{
    if (!have_hivexregedit)
        fail_msg("hivexregedit is missing (Debian package libhivex-bin): the independent "
                 "reader this test compares against");
    char *hive = tpath(fixture);
    char *out = fy_xasprintf("%s.%s.reg", hive, printable ? "str" : "hex");
    char *cmd = fy_xasprintf("hivexregedit --export %s '%s' '\\' > '%s' 2>/dev/null",
                             printable ? "--unsafe-printable-strings" : "", hive, out);
    assert_int_equal(run(cmd), 0);

    fy_diags d = {0};
    fy_reg *r = NULL;
    char err[512];
    assert_int_equal(fy_reg_open_hive(hive, 0, &d, &r, err, sizeof err), 0);
    assert_int_equal(count_damage(&d), 0);
    strvec mine = {0}, theirs = {0};
    fy_buf path = {0};
    collect(r, fy_reg_root(r), &path, printable, &mine);
    fy_buf_free(&path);
    fy_reg_close(r);

    size_t n;
    uint8_t *bytes = slurp(out, &n);
    fy_buf text = {0};
    if (printable) {
        rewrite_str_lines(bytes, n, &text);
    } else {
        fy_buf_put(&text, bytes, n);
    }
    fy_regfile *f = NULL;
    if (fy_regfile_parse(text.data, text.len, out, &f, &d) != 0) {
        print_diags(&d);
        fail_msg("ferry's parser rejects hivexregedit's export of %s", fixture);
    }
    collect_ops(f, &theirs);
    compare_sorted(&mine, &theirs, fixture);
    print_message("%s: %zu keys and values equal\n", fixture, mine.n);

    if (!printable) {
        /* ferry's own export of the same hive (relative key paths, as hivexregedit
         * writes them) parses back to the same tuples. */
        assert_int_equal(fy_reg_open_hive(hive, 0, &d, &r, err, sizeof err), 0);
        fy_buf own = {0};
        fy_regfile_writer *w = fy_regfile_writer_mem(&own, FY_REGFILE_V5);
        fy_regfile_write_header(w);
        assert_int_equal(fy_regfile_write_tree(w, fy_reg_tree(r)->root, "\\", &d), 0);
        assert_int_equal(fy_regfile_writer_close(w, err, sizeof err), 0);
        fy_reg_close(r);
        fy_regfile *g = NULL;
        if (fy_regfile_parse(own.data, own.len, "own.reg", &g, &d) != 0) {
            print_diags(&d);
            fail_msg("ferry's parser rejects ferry's export of %s", fixture);
        }
        strvec again = {0};
        collect_ops(g, &again);
        compare_sorted(&mine, &again, fixture);
        sv_free(&again);
        fy_regfile_free(g);
        fy_buf_free(&own);
    }

    fy_regfile_free(f);
    fy_buf_free(&text);
    free(bytes);
    sv_free(&mine);
    sv_free(&theirs);
    fy_diags_free(&d);
    unlink(out);
    free(cmd);
    free(out);
    free(hive);
}

#define HIVEX_TESTS(fn, fixture)                                                                   \
    static void fn##_hex(void **state)                                                             \
    {                                                                                              \
        (void)state;                                                                               \
        check_against_hivex(fixture, false);                                                       \
    }                                                                                              \
    static void fn##_str(void **state)                                                             \
    {                                                                                              \
        (void)state;                                                                               \
        check_against_hivex(fixture, true);                                                        \
    }

HIVEX_TESTS(test_winscp, "NTUSER_with_winscp.DAT")
HIVEX_TESTS(test_ntuser, "NTUSER.DAT")
HIVEX_TESTS(test_system, "SYSTEM")
HIVEX_TESTS(test_sam, "SAM")
HIVEX_TESTS(test_usrclass, "UsrClass.dat")

static fy_reg *open_ok(const char *fixture, fy_diags *d)
{
    char *hive = tpath(fixture);
    fy_reg *r = NULL;
    char err[512];
    int rc = fy_reg_open_hive(hive, 0, d, &r, err, sizeof err);
    if (rc != 0) fail_msg("%s", err);
    free(hive);
    return r;
}

static char *text_of(fy_reg *r, const char *key, const char *value)
{
    fy_reg_key *k = fy_reg_key_open(r, NULL, key);
    assert_non_null(k);
    fy_reg_value v;
    assert_int_equal(fy_reg_get_value(r, k, value, &v), 0);
    return fy_reg_value_text(v.type, v.data, v.len);
}

static void test_lookup_and_values(void **state)
{
    (void)state;
    fy_diags d = {0};
    fy_reg *r = open_ok("SYSTEM", &d);
    char *s = text_of(r, "select", "CURRENT");
    assert_string_equal(s, "1");
    free(s);
    s = text_of(r, "controlset001\\CONTROL\\computername\\ComputerName", "computername");
    assert_string_equal(s, "WKS-WIN732BITA");
    free(s);
    assert_null(fy_reg_key_open(r, NULL, "ControlSet001\\NoSuchKey"));
    fy_reg_key *k = fy_reg_key_open(r, NULL, "ControlSet001\\Control");
    fy_reg_value v;
    assert_int_equal(fy_reg_get_value(r, k, "PreshutdownOrder", &v), 0);
    assert_int_equal(v.type, FY_REG_MULTI_SZ);
    size_t n;
    char **items = fy_reg_multi_sz_decode(v.data, v.len, &n);
    assert_int_equal(n, 3);
    assert_string_equal(items[0], "wuauserv");
    assert_string_equal(items[2], "trustedinstaller");
    fy_reg_strv_free(items, n);
    assert_int_equal(fy_reg_get_value(r, k, "ServiceControlManagerExtension", &v), 0);
    assert_int_equal(v.type, FY_REG_EXPAND_SZ);
    s = fy_reg_value_text(v.type, v.data, v.len);
    assert_string_equal(s, "%systemroot%\\system32\\scext.dll");
    free(s);
    assert_string_equal(fy_reg_default_prefix(r), "HKEY_LOCAL_MACHINE\\SYSTEM");
    assert_false(fy_reg_changed(r));
    fy_reg_close(r);
    fy_diags_free(&d);
}

static void test_unicode_names(void **state)
{
    (void)state;
    fy_diags d = {0};
    /* Names as libregf's regfexport prints them (an independent reader). */
    fy_reg *r = open_ok("NTUSER_with_winscp.DAT", &d);
    fy_reg_key *k = fy_reg_key_open(
        r, NULL,
        "software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\FeatureUsage\\AppSwitched");
    assert_non_null(k);
    fy_reg_value v;
    assert_int_equal(fy_reg_get_value(r, k,
                                      "C:\\Users\\tony\\Desktop\\offline\\אחריות דקסטר\\IR "
                                      "Computer image\\Installers\\FileCopies\\Desktop\\Malware "
                                      "Tools\\pestudio\\pestudio.exe",
                                      &v),
                     0);
    assert_int_equal(v.type, FY_REG_DWORD);
    assert_string_equal(fy_reg_default_prefix(r), "HKEY_CURRENT_USER");
    fy_reg_close(r);
    /* A key name with characters outside the BMP (UTF-16 surrogate pairs). */
    r = open_ok("transactions_NTUSER.DAT", &d);
    assert_non_null(fy_reg_key_open(r, NULL, "Control Panel\\International\\🌎🌏🌍"));
    fy_reg_close(r);
    fy_diags_free(&d);
}

/* tests/data/registry/minimal.hiv (made by fuzz/seeds/make_hive_seeds.py, read the same
 * by regfexport): a Latin-1 "compressed" key name, a UTF-16 value name, inline DWORDs. */
static void test_handmade_hive(void **state)
{
    (void)state;
    char *p = fy_xasprintf("%s/registry/minimal.hiv", getenv("FERRY_TEST_DATA"));
    fy_diags d = {0};
    fy_reg *r = NULL;
    char err[512];
    if (fy_reg_open_hive(p, 0, &d, &r, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(d.n, 0);
    assert_string_equal(fy_reg_key_name(r, fy_reg_root(r)), "ROOT");
    /* the file name says nothing; the base block says ...\ntuser.dat */
    assert_string_equal(fy_reg_default_prefix(r), "HKEY_CURRENT_USER");
    assert_non_null(fy_reg_key_open(r, NULL, "ZOË"));
    fy_reg_key *k = fy_reg_key_open(r, NULL, "software\\vendor");
    assert_non_null(k);
    assert_int_equal(fy_reg_value_count(r, k), 5);
    char *s = text_of(r, "Software\\Vendor", "Ωmega");
    assert_string_equal(s, "7");
    free(s);
    s = text_of(r, "Software\\Vendor", "count");
    assert_string_equal(s, "42");
    free(s);
    s = text_of(r, "Software\\Vendor", "");
    assert_string_equal(s, "C:\\Users\\Zoë");
    free(s);
    fy_reg_value v;
    assert_int_equal(fy_reg_get_value(r, k, "Blob", &v), 0);
    assert_int_equal(v.type, FY_REG_BINARY);
    assert_int_equal(v.len, 16);
    assert_int_equal(v.data[15], 15);
    assert_int_equal(fy_reg_key_last_write(r, k), 0x01D0000000000000ull);
    fy_reg_close(r);
    fy_diags_free(&d);
    free(p);
}

static void test_dirty_without_logs(void **state)
{
    (void)state;
    char *hive = tpath("NTUSER_with_winscp.DAT");
    size_t n;
    uint8_t *b = slurp(hive, &n);
    assert_true(n > 12 && fy_le32(b + 4) != fy_le32(b + 8)); /* the fixture is dirty */
    free(b);
    fy_hive_state st;
    char *rec = NULL;
    char err[256];
    fy_diags probe = {0};
    assert_int_equal(fy_hive_recover(hive, tmpdir, &st, &rec, &probe, err, sizeof err), 0);
    if (rec) unlink(rec);
    free(rec);
    fy_diags_free(&probe);

    fy_diags d = {0};
    fy_reg *r = open_ok("NTUSER_with_winscp.DAT", &d);
    assert_non_null(fy_reg_key_open(r, NULL, "Software\\Martin Prikryl\\WinSCP 2"));
    if (st == FY_HIVE_CLEAN) {
        print_message("fy_hive_recover is the placeholder (says clean): the dirty-hive "
                      "warning is not checked yet\n");
    } else {
        assert_int_equal(st, FY_HIVE_STALE);
        assert_true(d.warnings >= 1);
    }
    fy_reg_close(r);
    fy_diags_free(&d);
    free(hive);
}

static void expect_open_error(const char *path, const char *needle)
{
    fy_diags d = {0};
    fy_reg *r = (fy_reg *)1;
    char err[512] = "";
    assert_int_equal(fy_reg_open_hive(path, 0, &d, &r, err, sizeof err), -1);
    assert_null(r);
    if (!strstr(err, needle)) fail_msg("error \"%s\" lacks \"%s\"", err, needle);
    fy_diags_free(&d);
}

static void test_bad_files(void **state)
{
    (void)state;
    char *p = tpath("corrupted_system_hive");
    expect_open_error(p, "not a registry hive or damaged");
    expect_open_error(p, "corrupted_system_hive");
    free(p);

    p = tpath("empty");
    FILE *f = fopen(p, "wb");
    fclose(f);
    expect_open_error(p, "not a registry hive");
    free(p);

    p = tpath("text.reg");
    f = fopen(p, "wb");
    fputs("Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\x]\r\n", f);
    fclose(f);
    expect_open_error(p, "not a registry hive");
    free(p);

    /* The first 8 KiB of a real hive: header fine, hbins missing. */
    char *src = tpath("SAM");
    p = tpath("truncated");
    size_t n;
    uint8_t *b = slurp(src, &n);
    f = fopen(p, "wb");
    fwrite(b, 1, 8192, f);
    fclose(f);
    expect_open_error(p, "not a registry hive or damaged");
    /* A hive with a damaged cell deep inside: whatever libhivex says, no crash. */
    memset(b + n / 2, 0xA5, 4096);
    f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    fy_diags d = {0};
    fy_reg *r = NULL;
    char err[512];
    if (fy_reg_open_hive(p, 0, &d, &r, err, sizeof err) == 0) fy_reg_close(r);
    fy_diags_free(&d);
    free(b);
    free(src);
    free(p);

    p = tpath("no-such-hive");
    expect_open_error(p, "No such file");
    free(p);
}

static void test_read_leaves_file_alone(void **state)
{
    (void)state;
    char *hive = tpath("NTUSER.DAT");
    struct stat a, b;
    assert_int_equal(stat(hive, &a), 0);
    size_t n1, n2;
    uint8_t *before = slurp(hive, &n1);
    fy_diags d = {0};
    fy_reg *r = open_ok("NTUSER.DAT", &d);
    char err[256];
    /* Changes without commit stay in memory. */
    fy_reg_key *k = fy_reg_key_create(r, NULL, "Software\\ferry-test", err, sizeof err);
    assert_non_null(k);
    assert_int_equal(fy_reg_set_value(r, k, "x", FY_REG_DWORD, "\1\0\0\0", 4, err, sizeof err), 0);
    assert_true(fy_reg_changed(r));
    fy_reg_close(r);
    fy_diags_free(&d);
    uint8_t *after = slurp(hive, &n2);
    assert_int_equal(stat(hive, &b), 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(before, after, n1);
    assert_int_equal(a.st_mtim.tv_sec, b.st_mtim.tv_sec);
    assert_int_equal(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
    free(before);
    free(after);
    free(hive);
}

static bool writer_missing(void)
{
    fy_regtree *t = fy_regtree_new(NULL);
    fy_buf b = {0};
    char err[256] = "";
    int rc = fy_hive_serialize(t, &b, err, sizeof err);
    fy_buf_free(&b);
    fy_regtree_free(t);
    return rc != 0 && strstr(err, "not built yet");
}

/* NTUSER.DAT -> .reg -> a new hive -> .reg: both .reg texts equal. */
static void test_export_import_export(void **state)
{
    (void)state;
    if (writer_missing()) {
        print_message("skipped: the hive writer is the placeholder (\"not built yet\")\n");
        skip();
    }
    fy_diags d = {0};
    fy_reg *r = open_ok("NTUSER.DAT", &d);
    fy_buf first = {0}, second = {0};
    fy_regfile_writer *w = fy_regfile_writer_mem(&first, FY_REGFILE_V5);
    fy_regfile_write_header(w);
    assert_int_equal(fy_regfile_write_tree(w, fy_reg_tree(r)->root, "HKEY_CURRENT_USER", &d), 0);
    char err[512];
    assert_int_equal(fy_regfile_writer_close(w, err, sizeof err), 0);
    fy_reg_close(r);

    fy_regfile *f = NULL;
    assert_int_equal(fy_regfile_parse(first.data, first.len, "first.reg", &f, &d), 0);
    char *copy = tpath("new-ntuser.dat");
    unlink(copy);
    assert_int_equal(fy_reg_open_hive(copy, FY_REG_OPEN_CREATE, &d, &r, err, sizeof err), 0);
    assert_int_equal(fy_regfile_apply(f, r, NULL, "first.reg", &d), 0);
    if (fy_reg_commit(r, err, sizeof err) != 0) fail_msg("%s", err);
    fy_reg_close(r);
    fy_regfile_free(f);

    assert_int_equal(fy_reg_open_hive(copy, 0, &d, &r, err, sizeof err), 0);
    w = fy_regfile_writer_mem(&second, FY_REGFILE_V5);
    fy_regfile_write_header(w);
    fy_regfile_write_tree(w, fy_reg_tree(r)->root, "HKEY_CURRENT_USER", &d);
    assert_int_equal(fy_regfile_writer_close(w, err, sizeof err), 0);
    fy_reg_close(r);
    assert_int_equal(first.len, second.len);
    assert_memory_equal(first.data, second.data, first.len);
    fy_buf_free(&first);
    fy_buf_free(&second);
    fy_diags_free(&d);
    free(copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_winscp_hex),
        cmocka_unit_test(test_winscp_str),
        cmocka_unit_test(test_ntuser_hex),
        cmocka_unit_test(test_ntuser_str),
        cmocka_unit_test(test_system_hex),
        cmocka_unit_test(test_system_str),
        cmocka_unit_test(test_sam_hex),
        cmocka_unit_test(test_sam_str),
        cmocka_unit_test(test_usrclass_hex),
        cmocka_unit_test(test_usrclass_str),
        cmocka_unit_test(test_lookup_and_values),
        cmocka_unit_test(test_unicode_names),
        cmocka_unit_test(test_handmade_hive),
        cmocka_unit_test(test_dirty_without_logs),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_read_leaves_file_alone),
        cmocka_unit_test(test_export_import_export),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
