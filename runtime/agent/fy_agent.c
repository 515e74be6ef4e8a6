/* The agent's shared machinery and the dispatch of its operations. */
#include "agent/fy_agent_int.h"
#include "fy_codegen.h"
#include "io/fy_signal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void fy_agent_fail(fy_agent *a, int code)
{
    if (code > a->exit_code) a->exit_code = code;
}

void fy_agent_msg(fy_agent *a, fy_log_level lv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (a->log) {
        va_list ap2;
        va_copy(ap2, ap);
        fy_log_vmsg(a->log, lv, fmt, ap2);
        va_end(ap2);
    }
    if (!a->log) { /* kept for the log, which a run that stops early still leaves */
        va_list ap3;
        va_copy(ap3, ap);
        fy_buf_printf(&a->early, "%d\t", (int)lv);
        char *text = NULL;
        if (vasprintf(&text, fmt, ap3) >= 0) {
            for (char *q = text; *q; q++)
                if (*q == '\n') *q = ' ';
            fy_buf_puts(&a->early, text);
        }
        free(text);
        fy_buf_putc(&a->early, '\n');
        va_end(ap3);
    }
    if (lv <= FY_LOG_WARNING) {
        if (a->progress) fy_progress_clear(a->progress);
        fprintf(stderr, "ferry: %s", lv == FY_LOG_ERROR ? "error: " : lv == FY_LOG_WARNING ? "warning: " : "");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
}

const char *fy_agent_policy(const fy_program *p, const char *section, const char *key)
{
    const char *v = NULL;
    for (uint32_t i = 0; i < p->npolicies; i++) {
        const fy_prog_policy *pp = &p->policies[i];
        if (fy_streq_ci(fy_prog_str(p, pp->section), section) &&
            fy_streq_ci(fy_prog_str(p, pp->key), key))
            v = fy_prog_str(p, pp->value);
    }
    return v;
}

int fy_agent_compile_config(const char *cfg, const char *const *appdef_dirs, size_t nappdef_dirs,
                            fy_diags *d, uint8_t **image, size_t *image_size)
{
    fy_ir ir;
    fy_ir_init(&ir);
    if (nappdef_dirs) {
        for (size_t i = 0; i < nappdef_dirs; i++) fy_fe_appdef_dir(&ir, appdef_dirs[i], d);
    } else {
        char *def = fy_default_appdefs_dir();
        if (def) fy_fe_appdef_dir(&ir, def, d);
        free(def);
    }
    fy_fe_template(&ir, cfg, d);
    int rc = fy_compile_image(&ir, d, image, image_size);
    fy_diags_sort(d);
    fy_ir_free(&ir);
    return rc;
}

void fy_agent_print_diags(const fy_diags *d, const char *cfg)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "%s:%u:%u: %s: %s [%s]\n", d->v[i].file ? d->v[i].file : cfg, d->v[i].line,
                d->v[i].col, fy_diag_level_name(d->v[i].level), d->v[i].message, d->v[i].check);
}

static int compile_config(fy_agent *a, const char *cfg)
{
    const fy_agent_opts *o = a->o;
    fy_diags d = {0};
    int rc = fy_agent_compile_config(cfg, o->appdef_dirs, o->nappdef_dirs, &d, &a->image,
                                     &a->image_size);
    fy_agent_print_diags(&d, cfg);
    fy_diags_free(&d);
    return rc;
}

static int read_file(const char *path, uint8_t **out, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fy_buf b = {0};
    uint8_t tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) fy_buf_put(&b, tmp, k);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fy_buf_free(&b);
        return -1;
    }
    *out = b.data;
    *n = b.len;
    return 0;
}

int fy_agent_load_program(fy_agent *a, const uint8_t *embedded, size_t embedded_size)
{
    const fy_agent_opts *o = a->o;
    free(a->image);
    a->image = NULL;
    fy_program_free(a->prog);
    a->prog = NULL;
    const char *what = "the personality's program";
    if (o->program) {
        what = o->program;
        if (read_file(o->program, &a->image, &a->image_size)) {
            fy_agent_msg(a, FY_LOG_ERROR, "%s: cannot read the program: %m", o->program);
            return FY_EXIT_PROGRAM;
        }
    } else if (o->config) {
        what = o->config;
        if (compile_config(a, o->config)) {
            fy_agent_msg(a, FY_LOG_ERROR, "%s: the template does not compile (see above)", o->config);
            return FY_EXIT_PROGRAM;
        }
    } else if (embedded) {
        a->image = fy_xmalloc(embedded_size);
        memcpy(a->image, embedded, embedded_size);
        a->image_size = embedded_size;
    } else {
        fprintf(stderr, "ferry: no program: give --program or --config\n");
        return FY_EXIT_USAGE;
    }
    char err[512];
    if (fy_program_load(a->image, a->image_size, NULL, &a->prog, err, sizeof err)) {
        fy_agent_msg(a, FY_LOG_ERROR, "%s: %s", what, err);
        return FY_EXIT_PROGRAM;
    }
    return 0;
}

int fy_agent_open_machine(fy_agent *a, fy_machine **m)
{
    const fy_agent_opts *o = a->o;
    fy_machine_drive_spec *specs = fy_xcalloc(o->ndrives + 1, sizeof(*specs));
    char err[512];
    for (size_t i = 0; i < o->ndrives; i++) {
        char *spec = fy_xasprintf("%s=%s", o->drives[i].from, o->drives[i].to);
        int bad = fy_machine_parse_drive(spec, &specs[i], err, sizeof err);
        if (!bad) specs[i].dir = o->drives[i].to;
        free(spec);
        if (bad) {
            fy_agent_msg(a, FY_LOG_ERROR, "--drive: %s", err);
            free(specs);
            return FY_EXIT_USAGE;
        }
    }
    fy_diags warn = {0};
    int rc = fy_machine_open(o->machine, specs, o->ndrives, &warn, m, err, sizeof err);
    free(specs);
    for (size_t i = 0; i < warn.n; i++) {
        /* A folder out of reach is reported where it matters, per user, by the extraction
         * (and injection uses the default folder): here it is only a verbose line. */
        bool per_user = !strcmp(warn.v[i].check, "machine-folder-unreachable");
        fy_agent_msg(a, per_user ? FY_LOG_VERBOSE : FY_LOG_WARNING, "%s%s%s",
                     warn.v[i].file ? warn.v[i].file : "", warn.v[i].file ? ": " : "", warn.v[i].message);
    }
    fy_diags_free(&warn);
    if (rc) {
        fy_agent_msg(a, FY_LOG_ERROR, "%s", err);
        return FY_EXIT_MACHINE;
    }
    return 0;
}

int fy_agent_open_log(fy_agent *a, fy_log_op op, const char *computer)
{
    const fy_agent_opts *o = a->o;
    int level = o->log_level;
    if (!level && a->prog) {
        const char *v = fy_agent_policy(a->prog, "Logging", "Log Level");
        fy_log_level lv;
        if (v && fy_log_level_parse(v, &lv) == 0) level = (int)lv;
    }
    fy_log_opts lo = {.computer = computer,
                      .op = op,
                      .level = level ? (fy_log_level)level : FY_LOG_INFO,
                      .format = (fy_log_format)o->log_format,
                      .log_dir = o->log_dir,
                      .program = "ferry",
                      .version = FERRY_VERSION,
                      .argc = o->argc,
                      .argv = o->argv};
    char err[512];
    if (fy_log_open(&lo, &a->log, err, sizeof err)) {
        fprintf(stderr, "ferry: cannot open the log: %s\n", err);
        return FY_EXIT_IO;
    }
    if (computer != a->computer) snprintf(a->computer, sizeof a->computer, "%s", computer ? computer : "");
    /* what was said before the log existed */
    for (char *line = (char *)fy_buf_cstr(&a->early); line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        char *tab = strchr(line, '\t');
        if (tab) fy_log_msg(a->log, (fy_log_level)atoi(line), "%s", tab + 1);
        line = nl ? nl + 1 : NULL;
    }
    a->early.len = 0;
    if (o->password) {
        char *pw = fy_xstrndup(o->password, o->password_len);
        fy_log_add_secret(a->log, pw);
        memset(pw, 0, o->password_len);
        free(pw);
    }
    return 0;
}

void fy_agent_log_header(fy_agent *a, const fy_machine *m)
{
    const fy_agent_opts *o = a->o;
    fy_log *l = a->log;
    fy_log_time_section(l);
    if (m) {
        fy_log_section(l, "Operating System");
        fy_log_item(l, "Name", "%s", m->os.product_name[0] ? m->os.product_name : m->os.name);
        fy_log_item(l, "Version", "%s (build %u)", m->os.version, m->os.build);
        fy_log_item(l, "Computer", "%s", m->computer_name);
        fy_log_section(l, "Fixed Drives");
        for (size_t i = 0; i < m->ndrives; i++)
            fy_log_item(l, "Drive", "%c: = %s%s", m->drives[i].letter, m->drives[i].root,
                        m->drives[i].system ? " (system)" : "");
    }
    fy_log_section(l, "Configuration");
    fy_log_item(l, "Program", "%s", o->program ? o->program : o->config ? o->config : "(embedded in the personality)");
    fy_log_section(l, "Data Store");
    fy_log_item(l, "Location", "%s", o->store);
    fy_log_item(l, "Password", "%s", o->password ? "given" : "none");
    if (a->prog) {
        fy_log_section(l, "Content");
        for (uint32_t i = 0; i < a->prog->napps; i++)
            if (a->prog->apps[i].flags & FY_APP_SELECTED)
                fy_log_item(l, "Selected", "%s", fy_prog_str(a->prog, a->prog->apps[i].content_path));
        fy_log_section(l, "Policies");
        for (uint32_t i = 0; i < a->prog->npolicies; i++)
            fy_log_item(l, fy_prog_str(a->prog, a->prog->policies[i].key), "%s",
                        fy_prog_str(a->prog, a->prog->policies[i].value));
        fy_log_section(l, "File Rules");
        fy_log_item(l, "Rules", "%u (%u scan roots)", a->prog->nrules, a->prog->nroots);
    }
}

static void write_report(fy_agent *a)
{
    const fy_agent_opts *o = a->o;
    if (!o->report) return;
    FILE *f = fopen(o->report, "w");
    if (!f) {
        fprintf(stderr, "ferry: --report %s: %m\n", o->report);
        fy_agent_fail(a, FY_EXIT_IO);
        return;
    }
    static const char *ops[] = {"", "extract", "backup", "inject", "undo", "restore", "list", "verify", "import"};
    fprintf(f,
            "{\n  \"operation\": \"%s\",\n  \"exit_code\": %d,\n  \"dry_run\": %s,\n"
            "  \"objects\": {\"ok\": %llu, \"skipped\": %llu, \"failed\": %llu},\n"
            "  \"bytes\": %llu,\n  \"users\": [%s\n  ]\n}\n",
            ops[o->op], a->exit_code, o->dry_run ? "true" : "false",
            (unsigned long long)a->objects_ok, (unsigned long long)a->objects_skipped,
            (unsigned long long)a->objects_failed, (unsigned long long)a->bytes,
            a->report.len ? fy_buf_cstr(&a->report) : "");
    if (fclose(f)) fy_agent_fail(a, FY_EXIT_IO);
}

int fy_agent_run(const fy_agent_opts *o)
{
    fy_agent a = {.o = o};
    a.now = o->now ? o->now : (int64_t)time(NULL);
    fy_signal_install(o->no_cancel);
    int rc;
    switch (o->op) {
    case FY_AGENT_EXTRACT:
    case FY_AGENT_BACKUP: rc = fy_agent_extract(&a); break;
    case FY_AGENT_INJECT: rc = fy_agent_inject(&a); break;
    case FY_AGENT_UNDO: rc = fy_agent_undo(&a); break;
    case FY_AGENT_RESTORE: rc = fy_agent_restore(&a); break;
    case FY_AGENT_LIST: rc = fy_agent_list(&a); break;
    case FY_AGENT_VERIFY: rc = fy_agent_verify(&a); break;
    case FY_AGENT_IMPORT: rc = fy_agent_import(&a); break;
    default: rc = FY_EXIT_USAGE;
    }
    fy_agent_fail(&a, rc);
    if (fy_cancel_requested()) fy_agent_fail(&a, FY_EXIT_CANCELLED);
    /* A run that stopped before it reached a personality still leaves its log. */
    static const int log_op[] = {[FY_AGENT_EXTRACT] = FY_OP_EXTRACT + 1, [FY_AGENT_BACKUP] = FY_OP_BACKUP + 1,
                                 [FY_AGENT_INJECT] = FY_OP_INJECT + 1, [FY_AGENT_UNDO] = FY_OP_INJECT + 1,
                                 [FY_AGENT_RESTORE] = FY_OP_RESTORE + 1};
    if (!a.log && a.exit_code >= FY_EXIT_PROGRAM && a.exit_code <= FY_EXIT_CANCELLED &&
        (size_t)o->op < FY_ARRAY_LEN(log_op) && log_op[o->op])
        fy_agent_open_log(&a, (fy_log_op)(log_op[o->op] - 1), a.computer[0] ? a.computer : "UNKNOWN");
    write_report(&a);
    if (a.progress) {
        fy_progress_clear(a.progress);
        fy_progress_free(a.progress);
    }
    if (a.log) fy_log_close(a.log, a.exit_code, NULL, 0);
    if (a.store) fy_store_close(a.store);
    fy_program_free(a.prog);
    free(a.image);
    fy_buf_free(&a.report);
    fy_buf_free(&a.early);
    fy_signal_restore();
    return a.exit_code;
}
