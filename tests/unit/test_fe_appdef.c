/* compiler/fy_fe_appdef.c, the appdef (YAML) front end.
 *
 * - Data-driven cases in tests/data/appdefs/: good/NAME.yaml (or a folder good/NAME/ of
 *   several files) with its expected IR dump NAME.ir, and bad/NAME.yaml (or bad/NAME/) with
 *   the exact expected diagnostics NAME.diag ("file:line:col: level: message [check]"). Each
 *   case is one cmocka test. FERRY_UPDATE_EXPECTED=1 rewrites the expected files from the
 *   current output (review the diff before committing).
 * - The shipped appdefs/ compile together with no diagnostic, define the content paths the
 *   default template selects and the library's others, and their detection finds what the
 *   real fixture hives hold (WinSCP, PuTTY, 7-Zip, Chrome and Office 16.0 but not Word 15.0
 *   in NTUSER_with_winscp.DAT, whose Office\15.0 holds only Outlook; Office 14.0 and no
 *   WinSCP in NTUSER.DAT). tests/unit/test_appdefs_all.c checks the library as a whole.
 * - The entry points: missing file or folder, folder order and filtering, UTF-16 input,
 *   bad encoding, the in-memory entry point; limits on hostile sizes.
 * - Every complete appdef in docs/appdefs.md compiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <hivex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fy_ir.h"

/* ---- IR dump ---- */

static const char *base(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p ? p : "-";
}

static void pos(fy_buf *b, fy_pos p)
{
    fy_buf_printf(b, " @%s:%u:%u", base(p.file), p.line, p.col);
}

static void str(fy_buf *b, const char *s)
{
    if (s)
        fy_buf_printf(b, "\"%s\"", s);
    else
        fy_buf_puts(b, "-");
}

static const char *det_name(fy_det_kind k)
{
    switch (k) {
    case FY_DET_ANY:
        return "any";
    case FY_DET_ALL:
        return "all";
    case FY_DET_NOT:
        return "not";
    case FY_DET_REG_KEY:
        return "registry-key";
    case FY_DET_REG_VALUE:
        return "registry-value";
    case FY_DET_VALUE_EQUALS:
        return "value-equals";
    case FY_DET_VALUE_CONTAINS:
        return "value-contains";
    case FY_DET_VALUE_MATCHES:
        return "value-matches";
    case FY_DET_FILE:
        return "file";
    case FY_DET_FILE_VERSION:
        return "file-version";
    }
    return "?";
}

static void dump_detect(fy_buf *b, const fy_ir_detect *d, int depth)
{
    fy_buf_printf(b, "%*s%s", depth * 2, "", det_name(d->kind));
    if (d->path) fy_buf_puts(b, " path "), str(b, d->path);
    if (d->name) fy_buf_puts(b, " name "), str(b, d->name);
    if (d->arg) fy_buf_puts(b, " arg "), str(b, d->arg);
    if (d->arg2) fy_buf_puts(b, " arg2 "), str(b, d->arg2);
    pos(b, d->pos);
    fy_buf_putc(b, '\n');
    for (size_t i = 0; i < d->nkids; i++)
        dump_detect(b, &d->kids[i], depth + 1);
}

static const char *conv_name(fy_conv_kind k)
{
    switch (k) {
    case FY_CONV_MOVE_KEY:
        return "move-key";
    case FY_CONV_RENAME_VALUE:
        return "rename-value";
    case FY_CONV_MAP_VALUE:
        return "map-value";
    case FY_CONV_SUBST:
        return "substitute";
    case FY_CONV_SET_TYPE:
        return "set-type";
    case FY_CONV_MOVE_FILES:
        return "move-files";
    case FY_CONV_DROP:
        return "drop-value";
    }
    return "?";
}

static void dump_ir(fy_buf *b, const fy_ir *ir)
{
    for (size_t i = 0; i < ir->napps; i++) {
        const fy_ir_app *a = &ir->apps[i];
        fy_buf_printf(b, "app %zu id ", i);
        str(b, a->id);
        pos(b, a->pos);
        fy_buf_puts(b, "\n  name "), str(b, a->name);
        fy_buf_puts(b, "\n  vendor "), str(b, a->vendor);
        fy_buf_puts(b, "\n  content-path "), str(b, a->content_path);
        fy_buf_printf(b, "\n  context %s\n", a->system ? "system" : "user");
        for (size_t k = 0; k < a->nversions; k++) {
            const fy_ir_version *v = &a->versions[k];
            fy_buf_puts(b, "  version "), str(b, v->version);
            pos(b, v->pos);
            fy_buf_putc(b, '\n');
            if (v->detect) dump_detect(b, v->detect, 2);
        }
        for (size_t k = 0; k < a->ncomponents; k++) {
            const fy_ir_component *c = &a->components[k];
            fy_buf_printf(b, "  component %zu ", k);
            str(b, c->name);
            fy_buf_puts(b, " path "), str(b, c->content_path);
            fy_buf_printf(b, " detection %s", c->detection ? "yes" : "no");
            pos(b, c->pos);
            fy_buf_putc(b, '\n');
        }
    }
    for (size_t i = 0; i < ir->nrules; i++) {
        const fy_ir_rule *r = &ir->rules[i];
        fy_buf_printf(b, "rule %zu %s %s %s node ", i,
                      r->stage == FY_STAGE_CONTENT         ? "content"
                      : r->stage == FY_STAGE_UNCONDITIONAL ? "unconditional"
                                                           : "template",
                      r->action == FY_ACT_INCLUDE ? "include" : "exclude",
                      r->pat.kind == FY_OBJ_FILE ? "file" : "reg");
        str(b, r->pat.node);
        fy_buf_puts(b, " leaf "), str(b, r->pat.leaf);
        if (r->pat.recurse) fy_buf_puts(b, " recurse");
        if (r->pat.keys) fy_buf_puts(b, " keys");
        fy_buf_printf(b, " app %d comp %d detection %s", r->app, r->component,
                      r->detection ? "yes" : "no");
        if (r->nconds || r->dest) fy_buf_puts(b, " UNEXPECTED-CONDS-OR-DEST");
        pos(b, r->pos);
        fy_buf_putc(b, '\n');
    }
    for (size_t i = 0; i < ir->nconvs; i++) {
        const fy_ir_conversion *cv = &ir->convs[i];
        fy_buf_printf(b, "conversion %zu app %d ", i, cv->app);
        str(b, cv->from_version);
        fy_buf_puts(b, " -> ");
        str(b, cv->to_version);
        pos(b, cv->pos);
        fy_buf_putc(b, '\n');
        for (size_t k = 0; k < cv->nsteps; k++) {
            const fy_ir_conv_step *s = &cv->steps[k];
            fy_buf_printf(b, "  %s", conv_name(s->kind));
            if (s->key) fy_buf_puts(b, " key "), str(b, s->key);
            if (s->name) fy_buf_puts(b, " name "), str(b, s->name);
            if (s->from) fy_buf_puts(b, " from "), str(b, s->from);
            if (s->to) fy_buf_puts(b, " to "), str(b, s->to);
            if (s->regex) fy_buf_puts(b, " regex "), str(b, s->regex);
            if (s->replacement) fy_buf_puts(b, " replacement "), str(b, s->replacement);
            if (s->kind == FY_CONV_SET_TYPE) fy_buf_printf(b, " type %u", s->type);
            if (s->reason) fy_buf_puts(b, " reason "), str(b, s->reason);
            pos(b, s->pos);
            fy_buf_putc(b, '\n');
            for (size_t m = 0; m < s->nmap; m++) {
                fy_buf_puts(b, "    map "), str(b, s->map[m].from);
                fy_buf_puts(b, " -> "), str(b, s->map[m].to);
                fy_buf_putc(b, '\n');
            }
        }
    }
}

/* Diagnostics one a line; file names (and the case folder inside messages, which name other
 * files) are written relative to the case, so expected files do not depend on the checkout. */
static void dump_diags(fy_buf *b, fy_diags *d, const char *strip)
{
    fy_diags_sort(d);
    size_t sl = strip ? strlen(strip) : 0;
    for (size_t i = 0; i < d->n; i++) {
        const fy_diag *g = &d->v[i];
        fy_buf_printf(b, "%s:%u:%u: %s: ", base(g->file), g->line, g->col,
                      fy_diag_level_name(g->level));
        for (const char *m = g->message; *m;) {
            if (sl && !strncmp(m, strip, sl)) {
                m += sl;
                continue;
            }
            fy_buf_putc(b, (uint8_t)*m++);
        }
        fy_buf_printf(b, " [%s]\n", g->check);
    }
}

/* ---- files ---- */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fy_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fy_buf_put(&b, chunk, n);
    fclose(f);
    if (!b.data) return fy_xstrdup("");
    return fy_buf_cstr(&b);
}

static void write_all(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *data_dir(void)
{
    const char *d = getenv("FERRY_TEST_DATA");
    return d ? d : "tests/data";
}

static const char *source_dir(void)
{
    const char *d = getenv("FERRY_SOURCE_DIR");
    return d ? d : ".";
}

/* ---- data-driven cases ---- */

typedef struct tcase {
    char *kind; /* "good" or "bad" */
    char *name; /* case name (file name without .yaml, or folder name) */
    char *input;
    bool is_dir;
} tcase;

/* Compares out with the expected file (or writes it in update mode). */
static void expect_text(const char *what, const char *path, const char *out)
{
    if (getenv("FERRY_UPDATE_EXPECTED")) {
        write_all(path, out);
        return;
    }
    char *want = read_all(path);
    if (!want) {
        print_error("%s: missing expected file %s; output was:\n%s", what, path, out);
        fail();
    }
    if (strcmp(want, out) != 0) {
        print_error("%s differs from %s\n--- expected\n%s--- got\n%s", what, path, want, out);
        free(want);
        fail();
    }
    free(want);
}

static void run_case(void **state)
{
    tcase *tc = *state;
    fy_ir ir;
    fy_ir_init(&ir);
    fy_diags d = {0};
    int rc = tc->is_dir ? fy_fe_appdef_dir(&ir, tc->input, &d) : fy_fe_appdef(&ir, tc->input, &d);
    assert_int_equal(rc, 0);
    fy_buf irb = {0}, db = {0};
    dump_ir(&irb, &ir);
    char *strip = fy_xasprintf("%s/", tc->input);
    dump_diags(&db, &d, tc->is_dir ? strip : NULL);
    free(strip);
    char *dir = fy_xasprintf("%s/appdefs/%s", data_dir(), tc->kind);
    char *irpath = fy_xasprintf("%s/%s.ir", dir, tc->name);
    char *dpath = fy_xasprintf("%s/%s.diag", dir, tc->name);
    const char *irs = irb.data ? fy_buf_cstr(&irb) : "";
    const char *ds = db.data ? fy_buf_cstr(&db) : "";
    if (!strcmp(tc->kind, "good")) {
        expect_text("IR dump", irpath, irs);
        /* A good case may carry expected warnings; otherwise it must be silent. */
        if (access(dpath, F_OK) == 0)
            expect_text("diagnostics", dpath, ds);
        else if (d.n) {
            print_error("unexpected diagnostics:\n%s", ds);
            fail();
        }
        assert_int_equal(d.errors, 0);
    } else {
        expect_text("diagnostics", dpath, ds);
        if (access(irpath, F_OK) == 0) expect_text("IR dump", irpath, irs);
        assert_true(d.errors > 0);
    }
    free(dir);
    free(irpath);
    free(dpath);
    fy_buf_free(&irb);
    fy_buf_free(&db);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collect_cases(const char *kind, tcase **out, size_t *n, size_t *cap)
{
    char *dir = fy_xasprintf("%s/appdefs/%s", data_dir(), kind);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "no case folder %s\n", dir);
        free(dir);
        return;
    }
    char **names = NULL;
    size_t nn = 0, nc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (nn == nc) {
            nc = nc ? nc * 2 : 32;
            names = fy_xrealloc(names, nc * sizeof(*names));
        }
        names[nn++] = fy_xstrdup(e->d_name);
    }
    closedir(d);
    if (nn) qsort(names, nn, sizeof(*names), name_cmp);
    for (size_t i = 0; i < nn; i++) {
        char *p = fy_xasprintf("%s/%s", dir, names[i]);
        struct stat st;
        size_t l = strlen(names[i]);
        bool is_dir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
        bool is_yaml = !is_dir && l > 5 && !strcmp(names[i] + l - 5, ".yaml");
        if (is_dir || is_yaml) {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *out = fy_xrealloc(*out, *cap * sizeof(**out));
            }
            tcase *tc = &(*out)[(*n)++];
            tc->kind = fy_xstrdup(kind);
            tc->name = is_dir ? fy_xstrdup(names[i]) : fy_xstrndup(names[i], l - 5);
            tc->input = p;
            tc->is_dir = is_dir;
        } else {
            free(p);
        }
        free(names[i]);
    }
    free(names);
    free(dir);
}

/* ---- the shipped appdefs ---- */

static const fy_ir_app *app_at(const fy_ir *ir, const char *path)
{
    for (size_t i = 0; i < ir->napps; i++)
        if (!strcmp(ir->apps[i].content_path, path)) return &ir->apps[i];
    return NULL;
}

static bool path_defined(const fy_ir *ir, const char *path)
{
    for (size_t i = 0; i < ir->napps; i++) {
        if (!strcmp(ir->apps[i].content_path, path)) return true;
        for (size_t k = 0; k < ir->apps[i].ncomponents; k++)
            if (!strcmp(ir->apps[i].components[k].content_path, path)) return true;
    }
    return false;
}

static void load_shipped(fy_ir *ir)
{
    char *dir = fy_xasprintf("%s/appdefs", source_dir());
    fy_diags d = {0};
    fy_ir_init(ir);
    assert_int_equal(fy_fe_appdef_dir(ir, dir, &d), 0);
    if (d.n) {
        fy_buf b = {0};
        dump_diags(&b, &d, NULL);
        print_error("appdefs/ should compile silently:\n%s", fy_buf_cstr(&b));
        fy_buf_free(&b);
    }
    assert_int_equal(d.n, 0);
    fy_diags_free(&d);
    free(dir);
}

static void test_shipped_appdefs(void **state)
{
    (void)state;
    fy_ir ir;
    load_shipped(&ir);
    static const char *const paths[] = {
        "Files|My Documents",
        "Files|Desktop",
        "Files|Favorites",
        "Files|My Pictures",
        "Windows|Desktop",
        "Windows|Desktop|Wallpaper",
        "Windows|Desktop|Settings",
        "Windows|Mapped Network Drives",
        "Windows|Printer Connections",
        "Applications|PuTTY",
        "Applications|PuTTY|Sessions",
        "Applications|PuTTY|Host Keys",
        "Applications|WinSCP",
        "Applications|WinSCP|Host Keys",
        "Applications|Microsoft Office|Word",
        "Applications|Microsoft Office|Word|Settings",
        "Applications|Microsoft Office|Word|Custom Dictionaries",
        "Applications|Microsoft Office|Word|AutoCorrect",
        "Applications|Microsoft Office|Excel",
        "Applications|Microsoft Office|PowerPoint",
        "Applications|Microsoft Office|Outlook|Signatures",
        "Applications|Microsoft Office|Outlook|Profiles",
        "Applications|Microsoft Office|Outlook|Data Files",
        "Applications|Microsoft Office|Common|User Information",
        "Applications|Microsoft Office|Common|Custom Dictionaries",
        "Applications|Microsoft Office|Common|Templates",
        "Applications|Microsoft Office|Common|AutoCorrect",
        "Windows|Screen Saver",
        "Windows|Mouse",
        "Windows|Keyboard",
        "Windows|Regional Settings",
        "Windows|Explorer Options",
        "Windows|Accessibility",
        "Windows|Wireless Network Profiles",
        "Applications|Internet Explorer|Favorites",
        "Applications|Windows Terminal",
        "Applications|Mozilla Firefox",
        "Applications|Mozilla Thunderbird",
        "Applications|Google Chrome",
        "Applications|Microsoft Edge",
        "Applications|7-Zip",
        "Applications|Notepad++",
        "Applications|VLC media player",
        "Applications|Adobe Acrobat Reader",
        "Applications|Visual Studio Code",
        "Applications|Git for Windows",
        "Applications|FileZilla",
        "Applications|KeePass",
        "Applications|KeePass|Data Files",
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(paths); i++) {
        if (!path_defined(&ir, paths[i])) print_error("content path %s is not defined\n", paths[i]);
        assert_true(path_defined(&ir, paths[i]));
    }
    /* File sets: no detection, so their rules apply whenever they are selected. */
    const fy_ir_app *docs = app_at(&ir, "Files|My Documents");
    assert_non_null(docs);
    assert_int_equal(docs->nversions, 0);
    for (size_t i = 0; i < ir.nrules; i++)
        if (&ir.apps[ir.rules[i].app] == docs) assert_false(ir.rules[i].detection);

    /* Word: five versions, each detected by its user key or its installation (`any`, the
     * user's key first); four conversions to 16.0, each with a move-key; a drop with a reason
     * and a mapped value somewhere. */
    const fy_ir_app *word = app_at(&ir, "Applications|Microsoft Office|Word");
    assert_non_null(word);
    assert_int_equal(word->nversions, 5);
    for (size_t k = 0; k < word->nversions; k++) {
        const fy_ir_detect *d = word->versions[k].detect;
        assert_non_null(d);
        assert_int_equal(d->kind, FY_DET_ANY);
        assert_true(d->nkids >= 2);
        assert_int_equal(d->kids[0].kind, FY_DET_REG_KEY);
        char *want =
            fy_xasprintf("HKCU\\Software\\Microsoft\\Office\\%s\\Word", word->versions[k].version);
        assert_string_equal(d->kids[0].path, want);
        free(want);
        assert_int_equal(d->kids[1].kind, FY_DET_REG_VALUE);
        want = fy_xasprintf("HKLM\\Software\\Microsoft\\Office\\%s\\Word\\InstallRoot",
                            word->versions[k].version);
        assert_string_equal(d->kids[1].path, want);
        assert_string_equal(d->kids[1].name, "Path");
        free(want);
    }
    int word_idx = (int)(word - ir.apps), nconv = 0, drops = 0, maps = 0;
    for (size_t i = 0; i < ir.nconvs; i++) {
        const fy_ir_conversion *cv = &ir.convs[i];
        if (cv->app != word_idx) continue;
        nconv++;
        assert_string_equal(cv->to_version, "16.0");
        bool moved = false;
        for (size_t k = 0; k < cv->nsteps; k++) {
            const fy_ir_conv_step *s = &cv->steps[k];
            if (s->kind == FY_CONV_MOVE_KEY) {
                char *want =
                    fy_xasprintf("HKCU\\Software\\Microsoft\\Office\\%s\\Word", cv->from_version);
                assert_string_equal(s->from, want);
                assert_string_equal(s->to, "HKCU\\Software\\Microsoft\\Office\\16.0\\Word");
                free(want);
                moved = true;
            }
            if (s->kind == FY_CONV_DROP) {
                assert_non_null(s->reason);
                assert_true(strlen(s->reason) > 10);
                drops++;
            }
            if (s->kind == FY_CONV_MAP_VALUE) maps++;
        }
        assert_true(moved);
    }
    assert_int_equal(nconv, 4);
    assert_true(drops >= 1);
    assert_true(maps >= 1);

    /* No shipped rule names a profile folder literally (the front end refuses them; this
     * guards the normalised form too). */
    for (size_t i = 0; i < ir.nrules; i++) {
        const char *n = ir.rules[i].pat.node;
        assert_null(strstr(n, "Documents and Settings"));
        assert_null(strstr(n, ":\\Users"));
    }
    fy_ir_free(&ir);
}

/* ---- detection against the real fixture hives ---- */

static char *unpack_hive(const char *tmpdir, const char *name)
{
    const char *shared = getenv("FERRY_SHARED_DIR");
    if (!shared) return NULL;
    char *src = fy_xasprintf("%s/fixtures/hives/%s.xz", shared, name);
    char *dst = fy_xasprintf("%s/%s", tmpdir, name);
    char *cmd = fy_xasprintf("xz -dc '%s' > '%s' 2>/dev/null", src, dst);
    int rc = access(src, R_OK) == 0 ? system(cmd) : -1;
    free(src);
    free(cmd);
    if (rc != 0) {
        free(dst);
        return NULL;
    }
    return dst;
}

/* Walks "HKCU\A\B" from the hive root (the hive is the user's HKCU). */
static hive_node_h hive_key(hive_h *h, const char *path)
{
    if (strncmp(path, "HKCU\\", 5) != 0) return 0;
    hive_node_h node = hivex_root(h);
    char *p = fy_xstrdup(path + 5), *save = NULL;
    for (char *t = strtok_r(p, "\\", &save); t && node; t = strtok_r(NULL, "\\", &save))
        node = hivex_node_get_child(h, node, t);
    free(p);
    return node;
}

/* Evaluates the registry part of a detection tree; files count as absent (no volume). */
static bool eval_detect(hive_h *h, const fy_ir_detect *d)
{
    switch (d->kind) {
    case FY_DET_ANY:
        for (size_t i = 0; i < d->nkids; i++)
            if (eval_detect(h, &d->kids[i])) return true;
        return false;
    case FY_DET_ALL:
        for (size_t i = 0; i < d->nkids; i++)
            if (!eval_detect(h, &d->kids[i])) return false;
        return true;
    case FY_DET_NOT:
        return !eval_detect(h, &d->kids[0]);
    case FY_DET_REG_KEY:
        return hive_key(h, d->path) != 0;
    case FY_DET_REG_VALUE: {
        hive_node_h k = hive_key(h, d->path);
        return k && hivex_node_get_value(h, k, d->name) != 0;
    }
    default:
        return false;
    }
}

/* The detected versions of an app, joined by ','; "(none)" when not detected. */
static char *detected(hive_h *h, const fy_ir_app *a)
{
    fy_buf b = {0};
    for (size_t k = 0; k < a->nversions; k++) {
        if (!a->versions[k].detect || !eval_detect(h, a->versions[k].detect)) continue;
        if (b.len) fy_buf_putc(&b, ',');
        fy_buf_puts(&b, a->versions[k].version ? a->versions[k].version : "*");
    }
    if (!b.len) fy_buf_puts(&b, "(none)");
    return fy_buf_cstr(&b);
}

static void check_detected(hive_h *h, const fy_ir *ir, const char *path, const char *want)
{
    const fy_ir_app *a = app_at(ir, path);
    assert_non_null(a);
    char *got = detected(h, a);
    if (strcmp(got, want)) print_error("%s: detected %s, expected %s\n", path, got, want);
    assert_string_equal(got, want);
    free(got);
}

static void test_fixture_detection(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/fy_appdef_XXXXXX";
    const char *t = getenv("TMPDIR");
    char *tmp = t ? fy_xasprintf("%s/fy_appdef_XXXXXX", t) : fy_xstrdup(tmpl);
    if (!mkdtemp(tmp)) {
        free(tmp);
        tmp = fy_xstrdup(tmpl);
        assert_non_null(mkdtemp(tmp));
    }
    char *w = unpack_hive(tmp, "NTUSER_with_winscp.DAT");
    char *n = unpack_hive(tmp, "NTUSER.DAT");
    if (!w || !n) {
        free(w);
        free(n);
        rmdir(tmp);
        free(tmp);
        skip(); /* no fixtures or no xz here */
    }
    fy_ir ir;
    load_shipped(&ir);

    hive_h *h = hivex_open(w, 0);
    assert_non_null(h);
    check_detected(h, &ir, "Applications|WinSCP", "*");
    check_detected(h, &ir, "Applications|PuTTY", "*");
    check_detected(h, &ir, "Applications|Microsoft Office|Word", "16.0");
    check_detected(h, &ir, "Applications|Microsoft Office|Excel", "16.0");
    check_detected(h, &ir, "Applications|Microsoft Office|PowerPoint", "16.0");
    /* Office\15.0\Outlook and 16.0\Outlook: both found, the newest counts */
    check_detected(h, &ir, "Applications|Microsoft Office|Outlook", "15.0,16.0");
    check_detected(h, &ir, "Applications|Microsoft Office|Common", "16.0");
    check_detected(h, &ir, "Applications|7-Zip", "*");
    check_detected(h, &ir, "Applications|Google Chrome", "*");
    check_detected(h, &ir, "Applications|Internet Explorer", "*");
    check_detected(h, &ir, "Applications|Adobe Acrobat Reader", "(none)");
    /* The rules name keys that exist there: WinSCP's configuration, PuTTY's sessions. */
    assert_true(hive_key(h, "HKCU\\Software\\Martin Prikryl\\WinSCP 2\\Configuration") != 0);
    assert_true(hive_key(h, "HKCU\\Software\\SimonTatham\\PuTTY\\Sessions") != 0);
    hive_node_h desk = hive_key(h, "HKCU\\Control Panel\\Desktop");
    assert_true(desk != 0);
    assert_true(hivex_node_get_value(h, desk, "Wallpaper") != 0);
    hivex_close(h);

    h = hivex_open(n, 0);
    assert_non_null(h);
    check_detected(h, &ir, "Applications|WinSCP", "(none)");
    check_detected(h, &ir, "Applications|Microsoft Office|Word", "14.0");
    check_detected(h, &ir, "Applications|Microsoft Office|Excel", "14.0");
    check_detected(h, &ir, "Applications|Microsoft Office|PowerPoint", "14.0");
    check_detected(h, &ir, "Applications|Microsoft Office|Outlook", "14.0");
    check_detected(h, &ir, "Applications|Microsoft Office|Common", "14.0");
    check_detected(h, &ir, "Applications|7-Zip", "(none)");
    check_detected(h, &ir, "Applications|Google Chrome", "(none)");
    /* Adobe ARM (the updater) is not Reader's settings */
    check_detected(h, &ir, "Applications|Adobe Acrobat Reader", "(none)");
    hivex_close(h);

    fy_ir_free(&ir);
    unlink(w);
    unlink(n);
    rmdir(tmp);
    free(w);
    free(n);
    free(tmp);
}

/* ---- entry points ---- */

static char *make_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    char *tmp = fy_xasprintf("%s/fy_appdef_XXXXXX", t ? t : "/tmp");
    assert_non_null(mkdtemp(tmp));
    return tmp;
}

static void put_file(const char *dir, const char *name, const void *data, size_t n)
{
    char *p = fy_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    free(p);
}

static void rm_file(const char *dir, const char *name)
{
    char *p = fy_xasprintf("%s/%s", dir, name);
    unlink(p);
    free(p);
}

static const char mini[] = "id: %s\nname: X\ncontent-path: Test|%s\n";

static void test_missing_inputs(void **state)
{
    (void)state;
    fy_ir ir;
    fy_ir_init(&ir);
    fy_diags d = {0};
    assert_int_equal(fy_fe_appdef(&ir, "/nonexistent/ferry/x.yaml", &d), -1);
    assert_int_equal(d.errors, 1);
    assert_string_equal(d.v[0].check, "io");
    assert_int_equal(fy_fe_appdef_dir(&ir, "/nonexistent/ferry", &d), -1);
    assert_int_equal(d.errors, 2);
    assert_int_equal(ir.napps, 0);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

static void test_dir_order_and_filter(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char buf[256];
    int n = snprintf(buf, sizeof(buf), mini, "bbb", "B");
    put_file(dir, "b.yaml", buf, (size_t)n);
    n = snprintf(buf, sizeof(buf), mini, "aaa", "A");
    put_file(dir, "a.YML", buf, (size_t)n);
    put_file(dir, ".hidden.yaml", "not: [valid", 11);
    put_file(dir, "notes.txt", "not: [valid", 11);
    char *sub = fy_xasprintf("%s/sub.yaml", dir);
    assert_int_equal(mkdir(sub, 0700), 0);

    fy_ir ir;
    fy_ir_init(&ir);
    fy_diags d = {0};
    assert_int_equal(fy_fe_appdef_dir(&ir, dir, &d), 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(ir.napps, 2);
    assert_string_equal(ir.apps[0].id, "aaa");
    assert_string_equal(ir.apps[1].id, "bbb");
    assert_int_equal(ir.nsources, 2);
    fy_diags_free(&d);
    fy_ir_free(&ir);

    rmdir(sub);
    free(sub);
    rm_file(dir, "b.yaml");
    rm_file(dir, "a.YML");
    rm_file(dir, ".hidden.yaml");
    rm_file(dir, "notes.txt");
    rmdir(dir);
    free(dir);
}

static void test_utf16_and_encoding(void **state)
{
    (void)state;
    const char *text = "id: utf16\nname: \"Caf\xc3\xa9\"\ncontent-path: Test|U\ninclude:\n"
                       "  registry: [\"HKCU\\\\Software\\\\Caf\xc3\xa9 [*]\"]\n";
    size_t n16;
    uint8_t *u16 = fy_utf8_to_utf16le(text, strlen(text), &n16);
    assert_non_null(u16);
    uint8_t *withbom = fy_xmalloc(n16 + 2);
    withbom[0] = 0xFF;
    withbom[1] = 0xFE;
    memcpy(withbom + 2, u16, n16);

    fy_ir ir;
    fy_ir_init(&ir);
    fy_diags d = {0};
    assert_int_equal(fy_fe_appdef_mem(&ir, "u16.yaml", withbom, n16 + 2, &d), 0);
    assert_int_equal(d.n, 0);
    assert_int_equal(ir.napps, 1);
    assert_string_equal(ir.apps[0].name, "Caf\xc3\xa9");
    assert_int_equal(ir.nrules, 1);
    assert_string_equal(ir.rules[0].pat.node, "HKCU\\Software\\Caf\xc3\xa9");
    assert_int_equal(ir.rules[0].pos.line, 5);
    assert_int_equal(ir.rules[0].pos.col, 14);

    /* Not UTF-8 and no BOM: a clear error, nothing lowered. */
    assert_int_equal(fy_fe_appdef_mem(&ir, "bad.yaml", "id: \xff\xfe\x80\n", 7, &d), 0);
    assert_int_equal(d.errors, 1);
    assert_string_equal(d.v[0].check, "encoding");
    assert_int_equal(ir.napps, 1);

    /* The empty input. */
    assert_int_equal(fy_fe_appdef_mem(&ir, "empty.yaml", "", 0, &d), 0);
    assert_int_equal(d.errors, 2);
    assert_string_equal(d.v[1].check, "appdef-schema");

    free(u16);
    free(withbom);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

/* Positions of errors inside quoted scalars land on the source column of the fault, through
 * escapes: here the regex fault ")" sits after an escaped backslash and a \u escape. */
static void test_columns_through_escapes(void **state)
{
    (void)state;
    const char *text = "id: cols\nname: C\ncontent-path: Test|C\nversions:\n"
                       "  - version: \"1\"\n    detect:\n"
                       "      registry-value: HKCU\\Software\\C [V]\n"
                       "      matches: \"\\\\d\\u00e9)x\"\n";
    fy_ir ir;
    fy_ir_init(&ir);
    fy_diags d = {0};
    fy_fe_appdef_mem(&ir, "cols.yaml", text, strlen(text), &d);
    assert_int_equal(d.errors, 1);
    assert_string_equal(d.v[0].check, "bad-regex");
    assert_int_equal(d.v[0].line, 8);
    /* `      matches: "\\d\u00e9)x"`: the value is "\dé)x"; PCRE2 reports the unmatched ')'
     * at byte 4 of the value, written at column 26 of the line. */
    assert_int_equal(d.v[0].col, 26);
    fy_diags_free(&d);
    fy_ir_free(&ir);
}

/* Lists compared pairwise are bounded (a clear error, not a quadratic stall); long lists of
 * patterns are fine, and their rules come out in source order even when app-level rules
 * follow component rules in the file. */
static void test_limits(void **state)
{
    (void)state;
    fy_buf b = {0};
    fy_buf_puts(&b, "id: limits\nname: L\ncontent-path: Test|L\nversions:\n");
    for (int i = 0; i <= 1000; i++)
        fy_buf_printf(&b, "  - version: \"%d\"\n", i);
    fy_ir ir;
    fy_ir_init(&ir);
    fy_diags d = {0};
    fy_fe_appdef_mem(&ir, "limits.yaml", b.data, b.len, &d);
    assert_int_equal(d.errors, 1);
    assert_non_null(strstr(d.v[0].message, "more than 1000 versions"));
    fy_diags_free(&d);
    fy_ir_free(&ir);

    b.len = 0;
    fy_buf_puts(&b, "id: many\nname: M\ncontent-path: Test|M\ncomponents:\n"
                    "  - name: C\n    include:\n      registry:\n");
    for (int i = 0; i < 5000; i++)
        fy_buf_printf(&b, "        - HKCU\\Software\\C%d [*]\n", i);
    fy_buf_puts(&b, "include:\n  registry:\n");
    for (int i = 0; i < 5000; i++)
        fy_buf_printf(&b, "    - HKCU\\Software\\A%d [*]\n", i);
    fy_ir_init(&ir);
    fy_fe_appdef_mem(&ir, "many.yaml", b.data, b.len, &d);
    assert_int_equal(d.n, 0);
    assert_int_equal(ir.nrules, 10000);
    assert_int_equal(ir.rules[0].component, 0);
    assert_int_equal(ir.rules[9999].component, -1);
    for (size_t i = 1; i < ir.nrules; i++)
        assert_true(ir.rules[i - 1].pos.line < ir.rules[i].pos.line);
    fy_diags_free(&d);
    fy_ir_free(&ir);
    fy_buf_free(&b);
}

/* Every complete appdef shown in docs/appdefs.md (a ```yaml block with an id:) compiles
 * without a diagnostic, so the documentation cannot drift from the language. */
static void test_doc_examples(void **state)
{
    (void)state;
    char *path = fy_xasprintf("%s/docs/appdefs.md", source_dir());
    char *doc = read_all(path);
    assert_non_null(doc);
    int complete = 0;
    for (char *p = strstr(doc, "```yaml\n"); p; p = strstr(p, "```yaml\n")) {
        p += 8;
        char *end = strstr(p, "```");
        assert_non_null(end);
        size_t n = (size_t)(end - p);
        bool has_id = !strncmp(p, "id:", 3) || memmem(p, n, "\nid:", 4);
        if (has_id) {
            fy_ir ir;
            fy_diags d = {0};
            fy_ir_init(&ir);
            fy_fe_appdef_mem(&ir, "doc.yaml", p, n, &d);
            if (d.n) {
                fy_buf b = {0};
                dump_diags(&b, &d, NULL);
                print_error("docs example %d:\n%.*s\n%s", complete, (int)n, p, fy_buf_cstr(&b));
                fy_buf_free(&b);
            }
            assert_int_equal(d.n, 0);
            assert_int_equal(ir.napps, 1);
            if (!strcmp(ir.apps[0].id, "winscp")) assert_int_equal(ir.nrules, 7);
            fy_diags_free(&d);
            fy_ir_free(&ir);
            complete++;
        }
        p = end + 3;
    }
    assert_true(complete >= 2);
    free(doc);
    free(path);
}

int main(void)
{
    tcase *cases = NULL;
    size_t n = 0, cap = 0;
    collect_cases("good", &cases, &n, &cap);
    collect_cases("bad", &cases, &n, &cap);
    struct CMUnitTest *tests = fy_xcalloc(n + 16, sizeof(*tests));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        tests[k].name = fy_xasprintf("%s/%s", cases[i].kind, cases[i].name);
        tests[k].test_func = run_case;
        tests[k].initial_state = &cases[i];
        k++;
    }
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_shipped_appdefs),
        cmocka_unit_test(test_fixture_detection),
        cmocka_unit_test(test_missing_inputs),
        cmocka_unit_test(test_dir_order_and_filter),
        cmocka_unit_test(test_utf16_and_encoding),
        cmocka_unit_test(test_columns_through_escapes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_doc_examples),
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(fixed); i++)
        tests[k++] = fixed[i];
    int rc = _cmocka_run_group_tests("fe_appdef", tests, k, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        free((char *)tests[i].name);
        free(cases[i].kind);
        free(cases[i].name);
        free(cases[i].input);
    }
    free(tests);
    free(cases);
    return rc;
}
