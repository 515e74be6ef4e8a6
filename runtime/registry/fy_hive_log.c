/* Recovery of dirty hives: replays the transaction logs found beside a hive into a
 * temporary copy, the way Windows does when it loads the hive (see docs/hive-format.md).
 *
 * New format (Windows 8.1+, log file type 6): a 512-byte base block, then "HvLE" entries at
 * 512-byte boundaries, each {size, flags, sequence, hive bins data size, page count, two
 * Marvin32 hashes, page references, pages}. Entries from .LOG1 and .LOG2 are taken in
 * sequence order; entries older than the hive's secondary sequence number are skipped; the
 * first damaged or out-of-sequence entry ends the replay.
 * Old format (Vista to 8, type 1/2): a base block, a "DIRT" bitmap of dirty 512-byte pages
 * of the hive bins data at offset 512, and those pages from the next sector on.
 *
 * The hive and its logs are only ever opened read-only. Every length and offset read from
 * them is checked against the bytes actually present. */
#include "fy_hive.h"
#include "fy_hive_format.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LOG_SIZE (1ull << 30)  /* a bigger "log" is not one Windows wrote */
#define MAX_HBINS_SIZE 0x7FFFF000u /* hives stop short of 2 GB */

static inline uint32_t rotl32(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void marvin_block(uint32_t *lo, uint32_t *hi)
{
    uint32_t a = *lo, b = *hi;
    b ^= a;
    a = rotl32(a, 20);
    a += b;
    b = rotl32(b, 9);
    b ^= a;
    a = rotl32(a, 27);
    a += b;
    b = rotl32(b, 19);
    *lo = a;
    *hi = b;
}

uint64_t fy_hive_marvin32(const uint8_t *p, size_t n, uint64_t seed)
{
    uint32_t lo = (uint32_t)seed, hi = (uint32_t)(seed >> 32);
    for (; n >= 4; p += 4, n -= 4) {
        lo += fy_le32(p);
        marvin_block(&lo, &hi);
    }
    uint32_t fin;
    switch (n) {
    case 0:
        fin = 0x80u;
        break;
    case 1:
        fin = 0x8000u | p[0];
        break;
    case 2:
        fin = 0x800000u | fy_le16(p);
        break;
    default:
        fin = 0x80000000u | fy_le16(p) | ((uint32_t)p[2] << 16);
        break;
    }
    lo += fin;
    marvin_block(&lo, &hi);
    marvin_block(&lo, &hi);
    return ((uint64_t)hi << 32) | lo;
}

/* ---- files ---- */

typedef struct {
    char *path; /* full path */
    char *name; /* file name, for messages */
    uint8_t *data;
    size_t len;
    uint32_t type, seq; /* from its base block, when usable */
    uint64_t stamp;
    bool usable;
} logfile;

typedef struct {
    int log;    /* index into the logs */
    size_t off; /* of the entry in the log */
    uint32_t size, seq, hbins, flags, npages;
} hvle;

typedef struct {
    uint64_t dst;       /* file offset in the recovered hive */
    const uint8_t *src; /* inside a log's data */
    uint32_t len;
} pagew;

typedef struct {
    const char *path; /* the hive */
    fy_diags *diags;
    char *err;
    size_t err_size;
} rctx;

static void warn(rctx *r, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(rctx *r, const char *check, const char *fmt, ...)
{
    if (!r->diags) return;
    va_list ap;
    va_start(ap, fmt);
    fy_diag_vadd(r->diags, FY_DIAG_WARNING, r->path, 0, 0, check, fmt, ap);
    va_end(ap);
}

static void note(rctx *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(rctx *r, const char *fmt, ...)
{
    if (!r->diags) return;
    va_list ap;
    va_start(ap, fmt);
    fy_diag_vadd(r->diags, FY_DIAG_NOTE, r->path, 0, 0, "hive-log", fmt, ap);
    va_end(ap);
}

/* Reads a whole file (read-only). -1 with errno on failure; -2 when larger than max. */
static int read_file(const char *path, size_t max, uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int e = errno ? errno : EINVAL;
        close(fd);
        errno = S_ISREG(st.st_mode) ? e : EINVAL;
        return -1;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return -2;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    uint8_t *buf = fy_xmalloc(cap ? cap : 1);
    while (n < cap) {
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return -1;
        }
        if (k == 0) break; /* shrank meanwhile: use what is there */
        n += (size_t)k;
    }
    close(fd);
    *data = buf;
    *len = n;
    return 0;
}

static bool base_checksum_ok(const uint8_t *b)
{
    return fy_regf_checksum(b) == fy_le32(b + FY_REGF_CHECKSUM);
}

/* Finds "<base><suffix>" in dir, ignoring case; the exact spelling wins when both exist.
 * Returns the file name (malloc'd) or NULL. */
static char *find_ci(const char *dir, const char *want)
{
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char *best = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!fy_streq_ci(e->d_name, want)) continue;
        if (!best || strcmp(e->d_name, want) == 0 ||
            (strcmp(best, want) != 0 && strcmp(e->d_name, best) < 0)) {
            free(best);
            best = fy_xstrdup(e->d_name);
        }
    }
    closedir(d);
    return best;
}

/* Loads and checks a log's base block. Empty files (the .LOG Windows keeps for backward
 * compatibility) are silently unusable. */
static void load_log(rctx *r, logfile *lf)
{
    int rc = read_file(lf->path, MAX_LOG_SIZE, &lf->data, &lf->len);
    if (rc == -2) {
        warn(r, "hive-log", "%s is larger than any transaction log Windows writes; ignored",
             lf->name);
        return;
    }
    if (rc < 0) {
        warn(r, "hive-log", "cannot read %s: %s", lf->name, strerror(errno));
        return;
    }
    if (lf->len == 0) return;
    const uint8_t *b = lf->data;
    const char *why = NULL;
    if (lf->len < FY_LOG_SECTOR || memcmp(b, "regf", 4) != 0)
        why = "no regf base block";
    else if (!base_checksum_ok(b))
        why = "its base block checksum is wrong";
    else if (fy_le32(b + FY_REGF_SEQ1) != fy_le32(b + FY_REGF_SEQ2))
        why = "it was being written when the machine stopped (its sequence numbers differ)";
    else {
        lf->type = fy_le32(b + FY_REGF_TYPE);
        if (lf->type != FY_REGF_TYPE_LOG_NEW && lf->type != FY_REGF_TYPE_LOG_OLD &&
            lf->type != FY_REGF_TYPE_LOG_VERYOLD)
            why = "its file type is not a transaction log";
    }
    if (why) {
        warn(r, "hive-log", "%s is not a usable transaction log: %s", lf->name, why);
        return;
    }
    lf->seq = fy_le32(b + FY_REGF_SEQ1);
    lf->stamp = fy_le64(b + FY_REGF_TIMESTAMP);
    lf->usable = true;
}

/* Serial-number order of u32 sequence numbers (they may wrap). */
static int32_t seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

/* Checks one HvLE entry at off; NULL when it is sound, else why not. */
static const char *check_entry(const logfile *lf, size_t off, hvle *e)
{
    const uint8_t *p = lf->data + off;
    size_t avail = lf->len - off;
    uint32_t size = fy_le32(p + FY_HVLE_SIZE);
    e->size = size;
    e->seq = fy_le32(p + FY_HVLE_SEQ);
    e->flags = fy_le32(p + FY_HVLE_FLAGS);
    e->hbins = fy_le32(p + FY_HVLE_HBINS_SIZE);
    e->npages = fy_le32(p + FY_HVLE_NPAGES);
    if (size < FY_HVLE_HDR || size % FY_LOG_SECTOR) return "its size is not a multiple of 512";
    if (size > avail) return "it runs past the end of the file (truncated log)";
    if (fy_hive_marvin32(p, 32, FY_MARVIN_SEED) != fy_le64(p + FY_HVLE_HASH2))
        return "its header hash does not match";
    if (fy_hive_marvin32(p + FY_HVLE_HDR, size - FY_HVLE_HDR, FY_MARVIN_SEED) !=
        fy_le64(p + FY_HVLE_HASH1))
        return "its data hash does not match";
    if (e->hbins == 0 || e->hbins % FY_HBIN_ALIGN || e->hbins > MAX_HBINS_SIZE)
        return "its hive bins data size is not a multiple of 4096";
    if (e->npages == 0 || (uint64_t)e->npages * 8 > size - FY_HVLE_HDR)
        return "its dirty page count does not fit it";
    uint64_t room = size - FY_HVLE_HDR - (uint64_t)e->npages * 8, sum = 0;
    for (uint32_t i = 0; i < e->npages; i++) {
        uint32_t po = fy_le32(p + FY_HVLE_HDR + 8 * i), ps = fy_le32(p + FY_HVLE_HDR + 8 * i + 4);
        if (ps == 0 || (uint64_t)po + ps > e->hbins) return "a dirty page lies outside the hive";
        sum += ps;
        if (sum > room) return "its dirty pages do not fit it";
    }
    return NULL;
}

/* Collects the chain of consecutive entries of a new-format log. */
static void scan_new_log(rctx *r, int li, const logfile *lf, uint32_t hive_seq, hvle **v, size_t *n,
                         size_t *cap)
{
    size_t off = FY_LOG_SECTOR;
    bool have = false;
    uint32_t prev = 0;
    while (off + FY_HVLE_HDR <= lf->len) {
        if (memcmp(lf->data + off, "HvLE", 4) != 0) break; /* end of the entries */
        hvle e = {.log = li, .off = off};
        const char *why = check_entry(lf, off, &e);
        if (why) {
            /* A torn or corrupt entry: what it claims cannot be trusted, but if it may be
             * newer than the hive the newest changes are lost with it. */
            if (seq_diff(e.seq, hive_seq) >= 0 || (have && e.seq == prev + 1))
                warn(r, "hive-log",
                     "%s: the log entry at offset %zu is damaged (%s); "
                     "replay stops at the last good entry before it",
                     lf->name, off, why);
            break;
        }
        if (have && e.seq != prev + 1) {
            /* Older entries (sequence going back) are what remains of an earlier round of
             * the log: the end. A jump forward means entries are missing. */
            if (seq_diff(e.seq, prev) > 0 && seq_diff(e.seq, hive_seq) >= 0)
                warn(r, "hive-log",
                     "%s: the log entry at offset %zu has sequence number %u "
                     "after %u (out of sequence); replay stops before it",
                     lf->name, off, e.seq, prev);
            break;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 32;
            *v = fy_xrealloc(*v, *cap * sizeof(**v));
        }
        (*v)[(*n)++] = e;
        have = true;
        prev = e.seq;
        off += e.size;
    }
}

typedef struct {
    hvle e;
    uint32_t key; /* seq - hive_seq */
} hvle_key;

static int cmp_entries(const void *pa, const void *pb)
{
    const hvle_key *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    if (a->e.log != b->e.log) return a->e.log < b->e.log ? -1 : 1;
    return a->e.off < b->e.off ? -1 : a->e.off > b->e.off;
}

static void push_page(pagew **v, size_t *n, size_t *cap, uint64_t dst, const uint8_t *src,
                      uint32_t len)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = fy_xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = (pagew){.dst = dst, .src = src, .len = len};
}

static char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s) return fy_xstrdup(".");
    if (s == path) return fy_xstrdup("/");
    return fy_xstrndup(path, (size_t)(s - path));
}

static const char *base_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static ssize_t pread_full(int fd, void *buf, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (uint8_t *)buf + got, n - got, off + (off_t)got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -1;
        if (k == 0) break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static int pwrite_full(int fd, const void *buf, size_t n, off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = pwrite(fd, (const uint8_t *)buf + done, n - done, off + (off_t)done);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -1;
        done += (size_t)k;
    }
    return 0;
}

/* Writes the recovered hive: a copy of the primary (up to the recovered size), the pages,
 * then the base block; truncated or extended to 4096 + hbins. */
static int write_recovered(rctx *r, int hive_fd, uint64_t hive_size, const uint8_t *base,
                           const pagew *pw, size_t npw, uint32_t hbins, const char *tmp_dir,
                           char **out_path)
{
    const char *dir = tmp_dir;
    if (!dir || !*dir) dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    char *path = fy_xasprintf("%s/%s.recovered-XXXXXX", dir, base_of(r->path));
    uint64_t final = FY_REGF_BASE_SIZE + (uint64_t)hbins;
    size_t bufsz = 1 << 20;
    uint8_t *buf = NULL;
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(r->err, r->err_size, "cannot create a temporary file in %s: %s", dir,
                 strerror(errno));
        free(path);
        return -1;
    }
    buf = fy_xmalloc(bufsz);
    uint64_t end = hive_size < final ? hive_size : final;
    for (uint64_t pos = FY_REGF_BASE_SIZE; pos < end;) {
        size_t want = end - pos < bufsz ? (size_t)(end - pos) : bufsz;
        ssize_t k = pread_full(hive_fd, buf, want, (off_t)pos);
        if (k < 0) {
            snprintf(r->err, r->err_size, "cannot read %s: %s", r->path, strerror(errno));
            goto fail;
        }
        if (k == 0) break;
        if (pwrite_full(fd, buf, (size_t)k, (off_t)pos) < 0) goto werr;
        pos += (uint64_t)k;
    }
    for (size_t i = 0; i < npw; i++)
        if (pwrite_full(fd, pw[i].src, pw[i].len, (off_t)pw[i].dst) < 0) goto werr;
    if (pwrite_full(fd, base, FY_REGF_BASE_SIZE, 0) < 0 || ftruncate(fd, (off_t) final) < 0)
        goto werr;
    int c = close(fd);
    fd = -1;
    if (c < 0) goto werr;
    free(buf);
    *out_path = path;
    return 0;
werr:
    snprintf(r->err, r->err_size, "cannot write the recovered hive %s: %s", path, strerror(errno));
fail:
    if (fd >= 0) close(fd);
    unlink(path); /* ours: mkstemp created it */
    free(path);
    free(buf);
    return -1;
}

/* Old format: the pages a log's dirty vector marks. Returns false when the log does not
 * belong to this write of the hive or has no dirty vector. */
static bool old_log_pages(rctx *r, const logfile *lf, pagew **pw, size_t *npw, size_t *cap,
                          uint32_t *hbins)
{
    const uint8_t *b = lf->data;
    uint32_t hb = fy_le32(b + FY_REGF_HBINS_SIZE);
    if (hb == 0 || hb % FY_HBIN_ALIGN || hb > MAX_HBINS_SIZE) {
        warn(r, "hive-log", "%s: its hive bins data size %u is not valid", lf->name, hb);
        return false;
    }
    size_t vec = hb / 4096; /* one bit per 512 bytes */
    if (lf->len < FY_LOG_SECTOR + 4 + vec || memcmp(b + FY_LOG_SECTOR, "DIRT", 4) != 0) {
        warn(r, "hive-log", "%s: no dirty page vector (DIRT) after its base block", lf->name);
        return false;
    }
    const uint8_t *bits = b + FY_LOG_SECTOR + 4;
    size_t src = (FY_LOG_SECTOR + 4 + vec + FY_LOG_SECTOR - 1) / FY_LOG_SECTOR * FY_LOG_SECTOR;
    for (size_t bit = 0; bit < (size_t)hb / FY_LOG_SECTOR; bit++) {
        if (!(bits[bit / 8] >> (bit % 8) & 1)) continue;
        if (src + FY_LOG_SECTOR > lf->len) {
            warn(r, "hive-log",
                 "%s: the log ends before its last dirty pages (truncated); "
                 "replay stops at the last complete page",
                 lf->name);
            break;
        }
        push_page(pw, npw, cap, FY_REGF_BASE_SIZE + (uint64_t)bit * FY_LOG_SECTOR, b + src,
                  FY_LOG_SECTOR);
        src += FY_LOG_SECTOR;
    }
    *hbins = hb;
    return true;
}

int fy_hive_recover(const char *path, const char *tmp_dir, fy_hive_state *state,
                    char **recovered_path, fy_diags *warnings, char *err, size_t err_size)
{
    *state = FY_HIVE_CLEAN;
    *recovered_path = NULL;
    rctx r = {.path = path, .diags = warnings, .err = err, .err_size = err_size};
    int rc = -1, fd = -1, nlogs = 0;
    logfile logs[3];
    memset(logs, 0, sizeof logs);
    hvle *ents = NULL;
    hvle_key *keys = NULL;
    pagew *pw = NULL;
    size_t nents = 0, ecap = 0, npw = 0, pwcap = 0;
    char *dir = NULL;
    uint8_t base[FY_REGF_BASE_SIZE];

    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, err_size, "%s is not a regular file", path);
        goto out;
    }
    ssize_t got = pread_full(fd, base, sizeof base, 0);
    if (got < 0) {
        snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (got < 4 || memcmp(base, "regf", 4) != 0) {
        snprintf(err, err_size, "%s is not a registry hive (no regf signature)", path);
        goto out;
    }
    if ((size_t)got < sizeof base) {
        snprintf(err, err_size,
                 "%s is not a registry hive: it ends inside its base block "
                 "(%zd bytes)",
                 path, got);
        goto out;
    }
    uint32_t type = fy_le32(base + FY_REGF_TYPE), major = fy_le32(base + FY_REGF_MAJOR);
    if (type != FY_REGF_TYPE_PRIMARY) {
        snprintf(err, err_size,
                 "%s is a transaction log or another registry file (file type "
                 "%u), not a hive",
                 path, type);
        goto out;
    }
    if (major != 1) {
        snprintf(err, err_size, "%s: unsupported hive format version %u.%u", path, major,
                 fy_le32(base + FY_REGF_MINOR));
        goto out;
    }
    bool ck_ok = base_checksum_ok(base);
    uint32_t seq1 = fy_le32(base + FY_REGF_SEQ1), seq2 = fy_le32(base + FY_REGF_SEQ2);
    if (ck_ok && seq1 == seq2) {
        rc = 0;
        goto out;
    }

    /* Dirty: look for the logs. */
    dir = dir_of(path);
    static const char *const suffix[3] = {".LOG1", ".LOG2", ".LOG"};
    for (int i = 0; i < 3; i++) {
        char *want = fy_xasprintf("%s%s", base_of(path), suffix[i]);
        char *nm = find_ci(dir, want);
        free(want);
        if (!nm) continue;
        logfile *lf = &logs[nlogs++];
        lf->name = nm;
        lf->path = fy_xasprintf("%s/%s", dir, nm);
        load_log(&r, lf);
    }

    /* New format: every entry of every log, in sequence order from the hive's own. */
    for (int i = 0; i < nlogs; i++)
        if (logs[i].usable && logs[i].type == FY_REGF_TYPE_LOG_NEW)
            scan_new_log(&r, i, &logs[i], seq2, &ents, &nents, &ecap);
    keys = fy_xmalloc((nents ? nents : 1) * sizeof(*keys));
    size_t nkeep = 0, skipped = 0;
    for (size_t i = 0; i < nents; i++) {
        if (seq_diff(ents[i].seq, seq2) < 0)
            skipped++;
        else
            keys[nkeep++] = (hvle_key){.e = ents[i], .key = ents[i].seq - seq2};
    }
    qsort(keys, nkeep, sizeof(*keys), cmp_entries);
    size_t napplied = 0, npages = 0;
    uint32_t first_seq = 0, last_seq = 0, hbins = 0, flags = 0;
    int first_log = -1;
    bool used[3] = {false, false, false};
    for (size_t k = 0; k < nkeep; k++) {
        const hvle *e = &keys[k].e;
        if (napplied && e->seq == last_seq) continue; /* the same entry in both logs */
        if (napplied && e->seq != last_seq + 1) {
            warn(&r, "hive-log",
                 "the transaction logs hold no entry with sequence number %u "
                 "(the next is %u); replay stops after %u",
                 last_seq + 1, e->seq, last_seq);
            break;
        }
        const uint8_t *p = logs[e->log].data + e->off;
        const uint8_t *src = p + FY_HVLE_HDR + (size_t)e->npages * 8;
        for (uint32_t i = 0; i < e->npages; i++) {
            uint32_t po = fy_le32(p + FY_HVLE_HDR + 8 * i);
            uint32_t ps = fy_le32(p + FY_HVLE_HDR + 8 * i + 4);
            push_page(&pw, &npw, &pwcap, FY_REGF_BASE_SIZE + (uint64_t)po, src, ps);
            src += ps;
        }
        if (!napplied) {
            first_seq = e->seq;
            first_log = e->log;
        }
        napplied++;
        npages += e->npages;
        last_seq = e->seq;
        hbins = e->hbins;
        flags = e->flags;
        used[e->log] = true;
    }

    uint8_t nb[FY_REGF_BASE_SIZE];
    uint64_t stamp = 0;
    bool stamp_set = false;
    if (napplied) {
        if (ck_ok) {
            memcpy(nb, base, sizeof nb);
        } else {
            /* The base block itself is damaged: take the log's copy, as Windows does. */
            memset(nb, 0, sizeof nb);
            memcpy(nb, logs[first_log].data, FY_LOG_SECTOR);
            warn(&r, "hive-log", "the base block checksum of %s is wrong; it is rebuilt from %s",
                 path, logs[first_log].name);
        }
        fy_put_le32(nb + FY_REGF_FLAGS, flags);
    } else {
        /* Old format: the log written for the write the primary was stopped in. */
        uint64_t hive_stamp = fy_le64(base + FY_REGF_TIMESTAMP);
        uint8_t hb[FY_HBIN_HDR];
        if (!ck_ok && pread_full(fd, hb, sizeof hb, FY_REGF_BASE_SIZE) == (ssize_t)sizeof hb &&
            memcmp(hb, "hbin", 4) == 0)
            hive_stamp = fy_le64(hb + FY_HBIN_TIMESTAMP);
        int best = -1;
        for (int i = 0; i < nlogs; i++) {
            const logfile *lf = &logs[i];
            if (!lf->usable || lf->type == FY_REGF_TYPE_LOG_NEW) continue;
            if (seq_diff(lf->seq, seq2) < 0 || (lf->stamp != hive_stamp && lf->seq != seq1))
                continue; /* an earlier write's log */
            if (best < 0 || seq_diff(lf->seq, logs[best].seq) > 0) best = i;
        }
        if (best >= 0 && old_log_pages(&r, &logs[best], &pw, &npw, &pwcap, &hbins) && npw) {
            const logfile *lf = &logs[best];
            if (ck_ok) {
                memcpy(nb, base, sizeof nb);
            } else {
                memset(nb, 0, sizeof nb);
                memcpy(nb, lf->data, FY_LOG_SECTOR);
                warn(&r, "hive-log",
                     "the base block checksum of %s is wrong; it is rebuilt "
                     "from %s",
                     path, lf->name);
            }
            napplied = 1;
            npages = npw;
            first_seq = last_seq = lf->seq;
            used[best] = true;
            stamp = lf->stamp;
            stamp_set = true;
        }
    }

    if (!napplied) {
        warn(&r, "hive-dirty",
             "%s was not closed cleanly (%s) and no usable transaction log "
             "(.LOG1/.LOG2) was found beside it; it is read as it stands and its newest "
             "changes may be missing",
             path, ck_ok ? "its sequence numbers differ" : "its base block checksum is wrong");
        *state = FY_HIVE_STALE;
        rc = 0;
        goto out;
    }

    fy_put_le32(nb + FY_REGF_SEQ1, last_seq);
    fy_put_le32(nb + FY_REGF_SEQ2, last_seq);
    if (stamp_set) fy_put_le64(nb + FY_REGF_TIMESTAMP, stamp);
    fy_put_le32(nb + FY_REGF_TYPE, FY_REGF_TYPE_PRIMARY);
    fy_put_le32(nb + FY_REGF_HBINS_SIZE, hbins);
    fy_put_le32(nb + FY_REGF_CHECKSUM, fy_regf_checksum(nb));
    if (write_recovered(&r, fd, (uint64_t)st.st_size, nb, pw, npw, hbins, tmp_dir, recovered_path) <
        0)
        goto out;

    char names[256] = "";
    for (int i = 0; i < nlogs; i++) {
        if (!used[i]) continue;
        size_t l = strlen(names);
        snprintf(names + l, sizeof names - l, "%s%s", l ? " and " : "", logs[i].name);
    }
    note(&r,
         "replayed %zu log entr%s (sequence %u to %u, %zu dirty pages) from %s; %zu older "
         "entr%s skipped",
         napplied, napplied == 1 ? "y" : "ies", first_seq, last_seq, npages, names, skipped,
         skipped == 1 ? "y" : "ies");
    *state = FY_HIVE_RECOVERED;
    rc = 0;
out:
    if (fd >= 0) close(fd);
    for (int i = 0; i < nlogs; i++) {
        free(logs[i].path);
        free(logs[i].name);
        free(logs[i].data);
    }
    free(ents);
    free(keys);
    free(pw);
    free(dir);
    return rc;
}
