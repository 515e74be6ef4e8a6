/* The store-only operations: list, verify, import, restore. They work on a read-only store
 * (an SCCM distribution point), restore excepted for its log copy. */
#include "agent/fy_agent_int.h"
#include "io/fy_safepath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int open_store(fy_agent *a, bool create)
{
    char err[512];
    fy_store_opts so = fy_store_opts_default();
    so.create = create;
    int rc = fy_store_open(a->o->store, &so, &a->store, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ferry: %s\n", err);
        return fy_store_exit_code(rc);
    }
    return 0;
}

static void iso_time(int64_t t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

int fy_agent_list(fy_agent *a)
{
    int rc = open_store(a, false);
    if (rc) return rc;
    fy_store_personality *v = NULL;
    size_t n = 0;
    char err[512];
    int src = fy_store_list(a->store, &v, &n, err, sizeof err);
    if (src) {
        fprintf(stderr, "ferry: %s\n", err);
        return fy_store_exit_code(src);
    }
    char t[32];
    if (a->o->json) {
        printf("[");
        for (size_t i = 0; i < n; i++) {
            printf("%s\n  {\"domain\": ", i ? "," : "");
            json_str(stdout, v[i].domain);
            printf(", \"user\": ");
            json_str(stdout, v[i].user);
            printf(", \"computer\": ");
            json_str(stdout, v[i].computer);
            printf(", \"encrypted\": %s, \"locked\": %s, \"generations\": [", v[i].encrypted ? "true" : "false",
                   v[i].locked ? "true" : "false");
            for (size_t g = 0; g < v[i].n_gens; g++) {
                iso_time(v[i].gens[g].time, t, sizeof t);
                printf("%s{\"number\": %u, \"time\": \"%s\", \"files\": %llu, \"registry\": %llu, \"bytes\": %llu}",
                       g ? ", " : "", v[i].gens[g].number, t, (unsigned long long)v[i].gens[g].n_files,
                       (unsigned long long)v[i].gens[g].n_reg, (unsigned long long)v[i].gens[g].bytes);
            }
            printf("]");
            if (v[i].error) {
                printf(", \"error\": ");
                json_str(stdout, v[i].error);
            }
            printf("}");
        }
        printf("%s]\n", n ? "\n" : "");
    } else {
        printf("%-12s %-20s %-14s %5s %-21s %10s %s\n", "DOMAIN", "USER", "COMPUTER", "GENS", "LATEST (UTC)",
               "FILES", "STATE");
        for (size_t i = 0; i < n; i++) {
            const fy_store_gen_info *last = v[i].n_gens ? &v[i].gens[v[i].n_gens - 1] : NULL;
            if (last) iso_time(last->time, t, sizeof t);
            printf("%-12s %-20s %-14s %5zu %-21s %10llu %s%s%s\n", v[i].domain, v[i].user, v[i].computer,
                   v[i].n_gens, last ? t : "-", last ? (unsigned long long)last->n_files : 0ULL,
                   v[i].encrypted ? "encrypted" : "plain", v[i].locked ? ", locked" : "",
                   v[i].error ? ", DAMAGED" : "");
        }
    }
    for (size_t i = 0; i < n; i++)
        if (v[i].error) rc = FY_EXIT_STORE;
    fy_store_list_free(v, n);
    return rc;
}

static void print_damage(void *ctx, const fy_store_damage *d)
{
    (void)ctx;
    printf("DAMAGED %s generation %u: %s%s%s%s%s\n", d->personality, d->generation,
           d->path ? d->path : "", d->path ? ": " : "", d->message, d->object ? " (object " : "",
           d->object ? d->object : "");
    if (d->object) printf(")\n");
}

/* Splits DOMAIN\user. */
static void split_user(const char *du, char **domain, char **user)
{
    const char *bs = strchr(du, '\\');
    *domain = fy_xstrndup(du, (size_t)(bs - du));
    *user = fy_xstrdup(bs + 1);
}

int fy_agent_verify(fy_agent *a)
{
    int rc = open_store(a, false);
    if (rc) return rc;
    char *domain = NULL, *user = NULL, err[512];
    fy_store_id id = {0};
    if (a->o->user) {
        split_user(a->o->user, &domain, &user);
        id = (fy_store_id){domain, user, a->o->source};
    }
    fy_store_verify_stats st = {0};
    int src = fy_store_verify(a->store, a->o->user ? &id : NULL, a->o->password, a->o->password_len,
                              print_damage, NULL, &st, err, sizeof err);
    printf("verified %llu personalities, %llu generations, %llu objects (%llu bytes): %llu damaged\n",
           (unsigned long long)st.personalities, (unsigned long long)st.generations,
           (unsigned long long)st.objects, (unsigned long long)st.bytes, (unsigned long long)st.damaged);
    if (src && src != FY_STORE_ERR_CORRUPT) fprintf(stderr, "ferry: %s\n", err);
    free(domain);
    free(user);
    return src ? fy_store_exit_code(src) : 0;
}

int fy_agent_import(fy_agent *a)
{
    int rc = open_store(a, true);
    if (rc) return rc;
    char err[512];
    int src = fy_store_import(a->store, a->o->import_from, err, sizeof err);
    if (src) {
        fprintf(stderr, "ferry: %s\n", err);
        return fy_store_exit_code(src);
    }
    printf("imported %s\n", a->o->import_from);
    return 0;
}

/* Restore: the files of one generation (every file, or those matching PATTERNs, wildcards
 * on the normalised path) written under --to DIR as TOKEN\...; the registry as a .reg-like
 * listing is not restored (inject does that). */
int fy_agent_restore(fy_agent *a)
{
    const fy_agent_opts *o = a->o;
    int rc = open_store(a, false);
    if (rc) return rc;
    char *domain, *user, err[512];
    split_user(o->user, &domain, &user);
    fy_store_id id = {domain, user, o->source};
    fy_store_reader *r = NULL;
    fy_store_gen *g = NULL;
    fy_safe_root *to = NULL;
    int src = fy_store_reader_open(a->store, &id, o->password, o->password_len, &r, err, sizeof err);
    uint32_t gen = 0;
    if (!src && o->at) {
        char *end;
        unsigned long n = strtoul(o->at, &end, 10);
        int64_t t;
        if (!*end && end != o->at)
            gen = (uint32_t)n;
        else if (fy_agent_parse_time(o->at, &t) == 0)
            src = fy_store_reader_find_time(r, t, &gen, err, sizeof err);
        else {
            fprintf(stderr, "ferry: --at takes a generation number or a time, not '%s'\n", o->at);
            rc = FY_EXIT_USAGE;
            goto out;
        }
    }
    if (!src) src = fy_store_gen_open(r, gen, &g, err, sizeof err);
    if (src) {
        fprintf(stderr, "ferry: %s\n", err);
        rc = fy_store_exit_code(src);
        goto out;
    }
    mkdir(o->to, 0777);
    if (fy_safe_root_open(o->to, 0, &to, err, sizeof err)) {
        fprintf(stderr, "ferry: --to %s: %s\n", o->to, err);
        rc = FY_EXIT_IO;
        goto out;
    }
    if ((rc = fy_agent_open_log(a, FY_OP_RESTORE, fy_store_reader_computer(r)))) goto out;
    fy_store_entry e;
    uint64_t files = 0;
    fy_buf rel = {0};
    while ((src = fy_store_gen_next(g, &e, err, sizeof err)) == 1) {
        if (e.kind != FY_STORE_ENTRY_FILE || !e.file.has_content) continue;
        bool want = o->npatterns == 0;
        for (size_t i = 0; i < o->npatterns && !want; i++)
            want = fy_glob_match(o->patterns[i], strlen(o->patterns[i]), e.file.path, strlen(e.file.path), true);
        if (!want) continue;
        /* <My Documents>\a\b.txt -> My Documents/a/b.txt; C:\x -> C/x */
        rel.len = 0;
        for (const char *p = e.file.path; *p; p++) {
            if (*p == '<' || *p == '>' || *p == ':') continue;
            fy_buf_putc(&rel, *p == '\\' ? '/' : (uint8_t)*p);
        }
        const char *rp = fy_buf_cstr(&rel);
        char *slash = strrchr(rp, '/');
        if (slash) {
            *slash = 0;
            fy_safe_mkdirs(to, rp, NULL, NULL, 0);
            *slash = '/';
        }
        int fd = memfd_create("ferry-restore", MFD_CLOEXEC);
        int orc = fd < 0 ? FY_STORE_ERR_IO : fy_store_read_object(r, &e.file.content, fd, err, sizeof err);
        if (orc == 0) {
            lseek(fd, 0, SEEK_SET);
            fy_place_meta pm = {.set_mtime = true, .mtime = fy_timespec_from_filetime((int64_t)e.file.mtime)};
            fy_place_opts po = {.meta = &pm};
            if (fy_safe_place_fd(to, rp, fd, &po, NULL, err, sizeof err)) {
                fy_agent_msg(a, FY_LOG_ERROR, "%s: %s", e.file.path, err);
                fy_agent_fail(a, FY_EXIT_PARTIAL);
            } else {
                files++;
                fy_log_msg(a->log, FY_LOG_VERBOSE, "restored %s", e.file.path);
            }
        } else {
            fy_agent_msg(a, FY_LOG_ERROR, "%s: %s", e.file.path, err);
            fy_agent_fail(a, FY_EXIT_PARTIAL);
        }
        if (fd >= 0) close(fd);
    }
    fy_buf_free(&rel);
    if (src < 0) {
        fy_agent_msg(a, FY_LOG_ERROR, "%s", err);
        rc = fy_store_exit_code(src);
    }
    printf("restored %llu files of %s generation %u into %s\n", (unsigned long long)files, o->user,
           fy_store_gen_meta(g)->generation, o->to);
out:
    if (to) fy_safe_root_close(to, NULL, 0);
    fy_store_gen_close(g);
    fy_store_reader_close(r);
    free(domain);
    free(user);
    return rc;
}
