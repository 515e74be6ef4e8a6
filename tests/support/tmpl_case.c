/* Runner for tests/data/templates/NAME.case (see tmpl_case.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tmpl_case.h"

/* ---- temp files ---- */

char *tmpl_mkdtemp(void)
{
    const char *t = getenv("TMPDIR");
    char *p = fy_xasprintf("%s/ferry-tmpl-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(p)) fail_msg("mkdtemp %s: %s", p, strerror(errno));
    return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void tmpl_rmtree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tmpl_write(const char *dir, const char *name, const void *data, size_t n)
{
    char *p = fy_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) fail_msg("create %s: %s", p, strerror(errno));
    if ((n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) fail_msg("write %s", p);
    return p;
}

/* ---- dumps ---- */

static const char *base_name(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : p ? p : "-";
}

static void put_pos(fy_buf *b, const fy_ir *ir, fy_pos pos, bool with_file)
{
    bool interned = false;
    for (size_t i = 0; i < ir->nsources; i++)
        if (ir->sources[i] == pos.file) interned = true;
    if (!interned) fy_buf_puts(b, "BAD-FILE");
    if (with_file)
        fy_buf_printf(b, "@%s:%u:%u", base_name(pos.file), pos.line, pos.col);
    else
        fy_buf_printf(b, "@%u:%u", pos.line, pos.col);
}

static const char *cmp_name(fy_cmp c)
{
    switch (c) {
    case FY_CMP_LT:
        return "<";
    case FY_CMP_LE:
        return "<=";
    case FY_CMP_EQ:
        return "=";
    case FY_CMP_NE:
        return "!=";
    case FY_CMP_GE:
        return ">=";
    case FY_CMP_GT:
        return ">";
    }
    return "BAD-CMP";
}

static void put_attrs(fy_buf *b, char sign, uint32_t bits)
{
    static const struct {
        uint32_t bit;
        char c;
    } letters[] = {{FY_ATTR_READONLY, 'R'},
                   {FY_ATTR_HIDDEN, 'H'},
                   {FY_ATTR_SYSTEM, 'S'},
                   {FY_ATTR_ARCHIVE, 'A'},
                   {FY_ATTR_ENCRYPTED, 'E'}};
    if (!bits) return;
    fy_buf_putc(b, (uint8_t)sign);
    for (size_t i = 0; i < FY_ARRAY_LEN(letters); i++)
        if (bits & letters[i].bit) fy_buf_putc(b, (uint8_t)letters[i].c);
}

char *tmpl_dump_ir(const fy_ir *ir, bool with_file)
{
    fy_buf b = {0};
    if (ir->have_template) fy_buf_puts(&b, "template\n");
    for (size_t i = 0; i < ir->nrules; i++) {
        const fy_ir_rule *r = &ir->rules[i];
        if (r->stage != FY_STAGE_TEMPLATE || r->app != -1 || r->component != -1 || r->detection)
            fy_buf_puts(&b, "BAD-RULE-FIELDS ");
        if (r->pat.kind == FY_OBJ_FILE && r->pat.keys) fy_buf_puts(&b, "BAD-FILE-KEYS ");
        fy_buf_puts(&b, "rule ");
        put_pos(&b, ir, r->pos, with_file);
        fy_buf_printf(&b, " %s %s \"%s\" [%s] %s%s\n",
                      r->action == FY_ACT_INCLUDE   ? "include"
                      : r->action == FY_ACT_EXCLUDE ? "exclude"
                                                    : "BAD-ACTION",
                      r->pat.kind == FY_OBJ_FILE  ? "file"
                      : r->pat.kind == FY_OBJ_REG ? "reg"
                                                  : "BAD-KIND",
                      r->pat.node ? r->pat.node : "(null)", r->pat.leaf ? r->pat.leaf : "(null)",
                      r->pat.recurse ? "recurse" : "norecurse", r->pat.keys ? " keys" : "");
        for (size_t k = 0; k < r->nconds; k++) {
            const fy_ir_cond *c = &r->conds[k];
            switch (c->kind) {
            case FY_COND_SIZE:
                fy_buf_printf(&b, "  size %s %lld ", cmp_name(c->cmp), (long long)c->value);
                break;
            case FY_COND_MODIFIED:
                fy_buf_printf(&b, "  modified %s %lld ", cmp_name(c->cmp), (long long)c->value);
                break;
            case FY_COND_NEWER_THAN:
                fy_buf_printf(&b, "  newer-than %s %lld ", cmp_name(c->cmp), (long long)c->value);
                break;
            case FY_COND_OLDER_THAN:
                fy_buf_printf(&b, "  older-than %s %lld ", cmp_name(c->cmp), (long long)c->value);
                break;
            case FY_COND_ATTRIB:
                fy_buf_puts(&b, "  attrib ");
                put_attrs(&b, '+', c->attr_set);
                put_attrs(&b, '-', c->attr_clear);
                fy_buf_putc(&b, ' ');
                break;
            default:
                fy_buf_printf(&b, "  BAD-COND %d ", (int)c->kind);
            }
            put_pos(&b, ir, c->pos, with_file);
            fy_buf_putc(&b, '\n');
        }
        if (r->dest) fy_buf_printf(&b, "  -> \"%s\"\n", r->dest);
    }
    for (size_t i = 0; i < ir->nconvs; i++) {
        const fy_ir_conversion *cv = &ir->convs[i];
        fy_buf_puts(&b, "conv ");
        put_pos(&b, ir, cv->pos, with_file);
        fy_buf_printf(&b, " app=%d from=%s to=%s\n", cv->app,
                      cv->from_version ? cv->from_version : "any",
                      cv->to_version ? cv->to_version : "any");
        for (size_t k = 0; k < cv->nsteps; k++) {
            const fy_ir_conv_step *st = &cv->steps[k];
            if (st->kind == FY_CONV_MOVE_KEY)
                fy_buf_printf(&b, "  move-key \"%s\" -> \"%s\" ", st->from, st->to);
            else
                fy_buf_printf(&b, "  step %d ", (int)st->kind);
            put_pos(&b, ir, st->pos, with_file);
            fy_buf_putc(&b, '\n');
        }
    }
    for (size_t i = 0; i < ir->nselects; i++) {
        const fy_ir_select *s = &ir->selects[i];
        fy_buf_puts(&b, s->deselect ? "deselect " : "select ");
        put_pos(&b, ir, s->pos, with_file);
        fy_buf_printf(&b, " \"%s\"\n", s->path);
    }
    for (size_t i = 0; i < ir->npolicies; i++) {
        const fy_ir_policy *p = &ir->policies[i];
        fy_buf_puts(&b, "policy ");
        put_pos(&b, ir, p->pos, with_file);
        fy_buf_printf(&b, " [%s] \"%s\" = \"%s\" ", p->section, p->key, p->value);
        put_pos(&b, ir, p->value_pos, with_file);
        fy_buf_putc(&b, '\n');
    }
    fy_buf_cstr(&b);
    return (char *)b.data;
}

char *tmpl_dump_diags(fy_diags *d, bool with_file)
{
    fy_buf b = {0};
    fy_diags_sort(d);
    for (size_t i = 0; i < d->n; i++) {
        const fy_diag *g = &d->v[i];
        if (with_file) fy_buf_printf(&b, "%s:", base_name(g->file));
        fy_buf_printf(&b, "%u:%u: %s: %s [%s]\n", g->line, g->col, fy_diag_level_name(g->level),
                      g->message, g->check);
    }
    fy_buf_cstr(&b);
    return (char *)b.data;
}

/* ---- case files ---- */

enum { MAX_SOURCES = 4 };

typedef struct tcase {
    char *name;
    char *src_name[MAX_SOURCES];
    fy_buf src[MAX_SOURCES];
    int nsrc;
    fy_buf ir, fail;
    bool have_ir;
    char *variants; /* NULL = all */
} tcase;

static void tcase_free(tcase *t)
{
    free(t->name);
    for (int i = 0; i < t->nsrc; i++) {
        free(t->src_name[i]);
        fy_buf_free(&t->src[i]);
    }
    fy_buf_free(&t->ir);
    fy_buf_free(&t->fail);
    free(t->variants);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fy_buf b = {0};
    char tmp[4096];
    size_t r;
    while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0)
        fy_buf_put(&b, tmp, r);
    fclose(f);
    *n = b.len;
    fy_buf_cstr(&b);
    return (char *)b.data;
}

/* Drops trailing empty lines of an expected block (the case file's spacing). */
static void trim_block(fy_buf *b)
{
    while (b->len >= 2 && b->data[b->len - 1] == '\n' && b->data[b->len - 2] == '\n')
        b->len--;
    if (b->len == 1 && b->data[0] == '\n') b->len = 0;
}

static int parse_case(const char *path, tcase *t)
{
    size_t n;
    char *text = slurp(path, &n);
    if (!text) return -1;
    memset(t, 0, sizeof(*t));
    t->name = fy_xstrdup(base_name(path));
    fy_buf *cur = NULL;
    char *save = NULL;
    /* Split by hand: strtok would merge empty lines, which are part of sources. */
    for (char *line = text; line && line < text + n; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl) *nl = 0;
        if (strncmp(line, "%%SOURCE ", 9) == 0) {
            if (t->nsrc == MAX_SOURCES) goto bad;
            t->src_name[t->nsrc] = fy_xstrdup(line + 9);
            cur = &t->src[t->nsrc++];
        } else if (strcmp(line, "%%IR") == 0) {
            cur = &t->ir;
            t->have_ir = true;
        } else if (strcmp(line, "%%FAIL") == 0) {
            cur = &t->fail;
        } else if (strncmp(line, "%%VARIANTS ", 11) == 0) {
            t->variants = fy_xstrdup(line + 11);
            cur = NULL;
        } else if (strncmp(line, "%%", 2) == 0) {
            goto bad;
        } else if (cur) {
            fy_buf_puts(cur, line);
            fy_buf_putc(cur, '\n');
        }
    }
    trim_block(&t->ir);
    trim_block(&t->fail);
    fy_buf_cstr(&t->ir);
    fy_buf_cstr(&t->fail);
    free(text);
    return t->nsrc ? 0 : -1;
bad:
    free(text);
    return -1;
}

static const char *const encodings[] = {"utf8", "utf8-bom", "utf16le-bom", "utf16be-bom"};
static const char *const endings[] = {"lf", "crlf", "cr", "crlf-noeol"};

static bool wanted(const char *variants, const char *v)
{
    if (!variants) return true;
    size_t n = strlen(v);
    for (const char *p = variants; (p = strstr(p, v)) != NULL; p += n)
        if ((p == variants || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return true;
    return false;
}

static bool any_of(const char *variants, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (wanted(variants, list[i])) return true;
    return false;
}

/* The source's UTF-8/LF text in the given encoding and line end. */
static uint8_t *encode(const fy_buf *src, const char *enc, const char *end, size_t *out_n)
{
    fy_buf t = {0};
    for (size_t i = 0; i < src->len; i++) {
        char c = (char)src->data[i];
        if (c != '\n') {
            fy_buf_putc(&t, (uint8_t)c);
            continue;
        }
        if (strcmp(end, "crlf-noeol") == 0 && i + 1 == src->len) break;
        fy_buf_puts(&t, strcmp(end, "lf") == 0 ? "\n" : strcmp(end, "cr") == 0 ? "\r" : "\r\n");
    }
    fy_buf o = {0};
    if (strncmp(enc, "utf16", 5) == 0) {
        bool be = strcmp(enc, "utf16be-bom") == 0;
        size_t n16;
        uint8_t *u = fy_utf8_to_utf16le((const char *)t.data, t.len, &n16);
        assert_non_null(u);
        fy_buf_put(&o, be ? "\xFE\xFF" : "\xFF\xFE", 2);
        for (size_t i = 0; i + 1 < n16; i += 2) {
            uint8_t pair[2] = {be ? u[i + 1] : u[i], be ? u[i] : u[i + 1]};
            fy_buf_put(&o, pair, 2);
        }
        free(u);
    } else {
        if (strcmp(enc, "utf8-bom") == 0) fy_buf_put(&o, "\xEF\xBB\xBF", 3);
        fy_buf_put(&o, t.data, t.len);
    }
    fy_buf_free(&t);
    *out_n = o.len;
    fy_buf_reserve(&o, 1);
    return o.data;
}

static const char *ext_of(const char *name)
{
    const char *d = strrchr(name, '.');
    return d ? d : "";
}

/* One run of a case; returns 0 when it matched. */
static int run_variant(const tcase *t, const char *enc, const char *end)
{
    char *dir = tmpl_mkdtemp();
    char *paths[MAX_SOURCES] = {0};
    int template_src = -1;
    for (int i = 0; i < t->nsrc; i++) {
        size_t n;
        uint8_t *bytes = encode(&t->src[i], enc, end, &n);
        paths[i] = tmpl_write(dir, t->src_name[i], bytes, n);
        free(bytes);
        if (strcasecmp(ext_of(t->src_name[i]), ".cfg") == 0) template_src = i;
    }
    fy_ir ir;
    fy_diags d = {0};
    fy_ir_init(&ir);
    bool multi = t->nsrc > 1;
    if (multi) {
        if (template_src >= 0) fy_fe_template(&ir, paths[template_src], &d);
    } else {
        const char *x = ext_of(t->src_name[0]);
        if (strcasecmp(x, ".cfg") == 0)
            fy_fe_cfg(&ir, paths[0], &d);
        else if (strcasecmp(x, ".rul") == 0)
            fy_fe_rul(&ir, paths[0], &d);
        else
            fy_fe_ptt(&ir, paths[0], &d);
    }
    char *got_ir = tmpl_dump_ir(&ir, multi);
    char *got_fail = tmpl_dump_diags(&d, multi);
    int bad = 0;
    if (multi && template_src < 0) {
        fprintf(stderr, "%s: several sources but no .cfg among them\n", t->name);
        bad = 1;
    }
    if (t->have_ir && strcmp(got_ir, (const char *)t->ir.data) != 0) {
        fprintf(stderr, "---- %s [%s %s]: IR differs\n-- expected:\n%s-- got:\n%s", t->name, enc,
                end, (const char *)t->ir.data, got_ir);
        bad = 1;
    }
    if (strcmp(got_fail, (const char *)t->fail.data) != 0) {
        fprintf(stderr, "---- %s [%s %s]: diagnostics differ\n-- expected:\n%s-- got:\n%s", t->name,
                enc, end, (const char *)t->fail.data, got_fail);
        bad = 1;
    }
    free(got_ir);
    free(got_fail);
    fy_diags_free(&d);
    fy_ir_free(&ir);
    for (int i = 0; i < t->nsrc; i++)
        free(paths[i]);
    tmpl_rmtree(dir);
    free(dir);
    return bad;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tmpl_run_cases(const char *ext, int *ncases)
{
    const char *data = getenv("FERRY_TEST_DATA");
    if (!data) fail_msg("FERRY_TEST_DATA is not set (run through ctest)");
    char *dirpath = fy_xasprintf("%s/templates", data);
    DIR *dir = opendir(dirpath);
    if (!dir) fail_msg("cannot open %s: %s", dirpath, strerror(errno));
    char **names = NULL;
    size_t nnames = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".case") == 0) {
            names = fy_xrealloc(names, (nnames + 1) * sizeof(*names));
            names[nnames++] = fy_xasprintf("%s/%s", dirpath, de->d_name);
        }
    }
    closedir(dir);
    qsort(names, nnames, sizeof(*names), cmp_str);
    int failures = 0;
    *ncases = 0;
    for (size_t i = 0; i < nnames; i++) {
        tcase t;
        if (parse_case(names[i], &t) != 0) {
            fprintf(stderr, "%s: not a valid case file\n", names[i]);
            failures++;
            continue;
        }
        /* A template case (several sources) belongs to the .cfg tests. */
        const char *first = t.nsrc > 1 ? ".cfg" : ext_of(t.src_name[0]);
        if (strcasecmp(first, ext) == 0) {
            (*ncases)++;
            if (!any_of(t.variants, encodings, FY_ARRAY_LEN(encodings)) ||
                !any_of(t.variants, endings, FY_ARRAY_LEN(endings))) {
                fprintf(stderr, "%s: %%%%VARIANTS names no encoding or no line end\n", t.name);
                failures++;
            }
            for (size_t e = 0; e < FY_ARRAY_LEN(encodings); e++)
                for (size_t l = 0; l < FY_ARRAY_LEN(endings); l++)
                    if (wanted(t.variants, encodings[e]) && wanted(t.variants, endings[l]))
                        failures += run_variant(&t, encodings[e], endings[l]);
        }
        tcase_free(&t);
    }
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    free(dirpath);
    return failures;
}
