/* The VM's host calls on a real (offline) machine: registry look-ups in a user's hives,
 * files and their version resources, and the run-time translations of conversions. */
#include "agent/fy_agent_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static fy_reg *open_hive(fy_agent_hives *h, const char *hostpath, bool *tried, fy_reg **slot)
{
    if (*tried) return *slot;
    *tried = true;
    if (!hostpath) return NULL;
    char err[512];
    if (fy_reg_open_hive(hostpath, 0, h->warnings, slot, err, sizeof err)) {
        if (h->warnings) fy_diag_add(h->warnings, FY_DIAG_WARNING, hostpath, 0, 0, "hive", "%s", err);
        *slot = NULL;
    }
    return *slot;
}

static const char *after_prefix(const char *key, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strlen(key) < n || fy_strcasecmp_u8(key, n, prefix, n) != 0) return NULL;
    if (key[n] == 0) return key + n;
    if (key[n] != '\\') return NULL;
    return key + n + 1;
}

fy_reg *fy_agent_hive_for(fy_agent_hives *h, const char *key, const char **rest)
{
    const char *r;
    if ((r = after_prefix(key, "HKCU\\Software\\Classes"))) {
        *rest = r;
        return open_hive(h, h->u ? h->u->usrclass : NULL, &h->tried_classes, &h->classes);
    }
    if ((r = after_prefix(key, "HKCU"))) {
        *rest = r;
        return open_hive(h, h->u ? h->u->ntuser : NULL, &h->tried_hkcu, &h->hkcu);
    }
    if ((r = after_prefix(key, "HKLM\\SOFTWARE"))) {
        *rest = r;
        return open_hive(h, h->m->software_hive, &h->tried_software, &h->software);
    }
    if ((r = after_prefix(key, "HKLM\\SYSTEM"))) {
        *rest = r;
        return open_hive(h, h->m->system_hive, &h->tried_system, &h->system);
    }
    return NULL;
}

void fy_agent_hives_close(fy_agent_hives *h)
{
    fy_reg_close(h->hkcu);
    fy_reg_close(h->classes);
    fy_reg_close(h->software);
    fy_reg_close(h->system);
    h->hkcu = h->classes = h->software = h->system = NULL;
    h->tried_hkcu = h->tried_classes = h->tried_software = h->tried_system = false;
}

/* HKLM\SYSTEM\CurrentControlSet is the control set Select\Current names. */
static char *system_path(const fy_agent_hives *h, const char *rest)
{
    const char *r = after_prefix(rest, "CurrentControlSet");
    if (!r) return fy_xstrdup(rest);
    return fy_xasprintf("ControlSet%03u%s%s", h->m->control_set ? h->m->control_set : 1,
                        *r ? "\\" : "", r);
}

/* Opens a normalised key; HKLM\Software keys are also looked for under WOW6432Node. */
static fy_reg_key *find_key(fy_agent_hives *h, const char *key, fy_reg **root)
{
    const char *rest;
    fy_reg *r = fy_agent_hive_for(h, key, &rest);
    if (!r) return NULL;
    *root = r;
    char *path = r == h->system ? system_path(h, rest) : fy_xstrdup(rest);
    fy_reg_key *k = fy_reg_key_open(r, NULL, path);
    if (!k && r == h->software) {
        char *wow = fy_xasprintf("WOW6432Node\\%s", path);
        k = fy_reg_key_open(r, NULL, wow);
        free(wow);
    }
    free(path);
    return k;
}

static int h_key_exists(void *ctx, fy_vm_call *c)
{
    fy_agent_host *h = ctx;
    fy_reg *r;
    fy_reg_key *k = find_key(h->hives, c->s[0], &r);
    if (!k) return 0;
    fy_reg_key_close(r, k);
    return 1;
}

static int h_value_get(void *ctx, fy_vm_call *c)
{
    fy_agent_host *h = ctx;
    fy_reg *r;
    fy_reg_key *k = find_key(h->hives, c->s[0], &r);
    if (!k) return 0;
    fy_reg_value v;
    int found = fy_reg_get_value(r, k, c->s[1] ? c->s[1] : "", &v) == 0;
    if (found) {
        *c->vtype = v.type;
        fy_buf_put(c->v, v.data, v.len);
    }
    fy_reg_key_close(r, k);
    return found;
}

static char *host_of(const fy_agent_hives *h, const char *norm)
{
    char *win = fy_machine_denormalise(h->m, h->u, norm);
    if (!win) return NULL;
    char *host = NULL;
    int rc = fy_machine_host_path(h->m, win, &host);
    free(win);
    if (rc != 1) {
        free(host);
        return NULL;
    }
    return host;
}

static int h_file_exists(void *ctx, fy_vm_call *c)
{
    fy_agent_host *h = ctx;
    char *host = host_of(h->hives, c->s[0]);
    struct stat st;
    int r = host && lstat(host, &st) == 0;
    free(host);
    return r;
}

static int h_file_version(void *ctx, fy_vm_call *c)
{
    fy_agent_host *h = ctx;
    char *host = host_of(h->hives, c->s[0]);
    char ver[64];
    int r = host && fy_file_version(host, ver, sizeof ver) == 0;
    if (r) fy_buf_puts(c->version, ver);
    free(host);
    return r;
}

static int h_translate(void *ctx, fy_vm_call *c)
{
    fy_agent_host *h = ctx;
    if (!h->tr || !h->translate_paths) return 0;
    return fy_translate_regdata(h->tr, c->obj->type, &c->obj->data, true, false);
}

static int h_domain(void *ctx, fy_vm_call *c)
{
    fy_agent_host *h = ctx;
    if (!h->tr) return 0;
    return fy_translate_regdata(h->tr, c->obj->type, &c->obj->data, false, true);
}

void fy_agent_host_init(fy_agent_host *h, fy_agent_hives *hives, const fy_translate *tr)
{
    memset(h, 0, sizeof(*h));
    h->hives = hives;
    h->tr = tr;
    h->translate_paths = true;
    h->host.ctx = h;
    h->host.fn[FY_HOST_REG_KEY_EXISTS] = h_key_exists;
    h->host.fn[FY_HOST_REG_VALUE_GET] = h_value_get;
    h->host.fn[FY_HOST_FILE_EXISTS] = h_file_exists;
    h->host.fn[FY_HOST_FILE_VERSION] = h_file_version;
    h->host.fn[FY_HOST_TRANSLATE_PATHS] = h_translate;
    h->host.fn[FY_HOST_MAP_DOMAIN] = h_domain;
}

void fy_agent_detect(fy_agent *a, fy_vm *vm, uint8_t *detected, uint32_t *version)
{
    const fy_program *p = a->prog;
    for (uint32_t i = 0; i < p->napps; i++) {
        const fy_prog_app *app = &p->apps[i];
        bool any_detect = false;
        for (uint32_t v = 0; v < app->nversions; v++)
            any_detect |= p->versions[app->first_version + v].detect != FY_NONE;
        version[i] = fy_vm_detect_app(vm, i);
        /* An app that says nothing about detection (a file set) is always there. */
        detected[i] = version[i] != FY_NONE || !any_detect;
        if (fy_vm_error(vm)[0])
            fy_agent_msg(a, FY_LOG_WARNING, "detecting %s: %s", fy_prog_str(p, app->id), fy_vm_error(vm));
    }
}

/* The version resource of a PE file: VS_FIXEDFILEINFO begins with the signature
 * 0xFEEF04BD, followed by the struct version and the file version (MS, LS). Searching the
 * image for the signature finds it without walking the resource directory, as many
 * inventory tools do; a file without one has no version. */
int fy_file_version(const char *hostpath, char *out, size_t out_size)
{
    int fd = open(hostpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 64 && st.st_size < (1 << 30)) {
        const uint8_t *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            size_t n = (size_t)st.st_size;
            if (p[0] == 'M' && p[1] == 'Z') {
                for (size_t i = 0; i + 16 <= n; i += 4) {
                    if (fy_le32(p + i) == 0xFEEF04BDu) {
                        uint32_t ms = fy_le32(p + i + 8), ls = fy_le32(p + i + 12);
                        snprintf(out, out_size, "%u.%u.%u.%u", ms >> 16, ms & 0xFFFF, ls >> 16,
                                 ls & 0xFFFF);
                        rc = 0;
                        break;
                    }
                }
            }
            munmap((void *)p, n);
        }
    }
    close(fd);
    return rc;
}
