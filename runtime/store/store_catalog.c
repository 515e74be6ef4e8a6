/* Catalogues: one per generation; written as a stream of compressed (and, with a
 * password, sealed) blocks of records, then a meta block, the plaintext list of object
 * references, and a footer with a checksum over the whole file. Memory stays flat while
 * writing (one block and a spool file of references) and while reading (one block).
 * Format: docs/store-format.md, "Catalogues". */
#include "fy_store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t cat_magic[8] = {'F', 'Y', 'C', 'A', 'T', 0x1a, '\r', '\n'};
static const uint8_t end_magic[8] = {'F', 'Y', 'C', 'A', 'T', 'E', 'N', 'D'};
#define CAT_MAJOR 1
#define CAT_MINOR 0
#define CAT_F_ENC 1u
#define BLK_NONCE 24
#define REF_CACHE 910 /* references read at a time (65520 bytes) */

/* ---- record encoding ---- */
static void put_str(fy_buf *b, const char *s, size_t n)
{
    fy_buf_u32(b, (uint32_t)n);
    fy_buf_put(b, s, n);
}

static void put_cstr(fy_buf *b, const char *s)
{
    put_str(b, s ? s : "", s ? strlen(s) : 0);
}

static void put_ref(fy_buf *b, const fy_store_objref *r)
{
    fy_buf_put(b, r->id, 32);
    fy_buf_put(b, r->stored_hash, 32);
    fy_buf_u64(b, r->stored_size);
    fy_buf_u64(b, r->size);
}

/* ---- writer ---- */
static int cat_write(st_catw *c, const void *p, size_t n, char *err, size_t en)
{
    crypto_generichash_update(&c->file_h, p, n);
    if (st_write_all(c->s, c->fd, p, n) < 0)
        return st_fail_errno(err, en, FY_STORE_ERR_IO, errno, "cannot write the catalogue");
    c->off += n;
    return FY_STORE_OK;
}

int st_catw_begin(st_catw *c, const fy_store *s, int tmpdir, const st_keys *k, int level,
                  uint32_t generation, const uint8_t puid[ST_UID_LEN], char *err, size_t n)
{
    memset(c, 0, sizeof *c);
    c->s = s;
    c->k = k;
    c->level = level;
    c->tmpdir = tmpdir;
    c->fd = c->spool_fd = -1;
    st_tmpname(c->name, "cat");
    st_tmpname(c->spool_name, "refs");
    c->fd = st_open(s, tmpdir, c->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (c->fd < 0)
        return st_fail_errno(err, n, FY_STORE_ERR_IO, errno, "cannot create a catalogue");
    c->spool_fd = st_open(s, tmpdir, c->spool_name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (c->spool_fd < 0)
        return st_fail_errno(err, n, FY_STORE_ERR_IO, errno, "cannot create a catalogue");
    crypto_generichash_init(&c->file_h, NULL, 0, 32);
    randombytes_buf(c->cat_uid, sizeof c->cat_uid);
    uint8_t h[ST_CAT_HDR] = {0};
    memcpy(h, cat_magic, 8);
    fy_put_le16(h + 8, CAT_MAJOR);
    fy_put_le16(h + 10, CAT_MINOR);
    fy_put_le32(h + 12, k && k->enc ? CAT_F_ENC : 0);
    fy_put_le32(h + 16, generation);
    fy_put_le32(h + 20, ST_CAT_HDR);
    memcpy(h + 24, c->cat_uid, 16);
    memcpy(h + 40, puid, 16);
    return cat_write(c, h, sizeof h, err, n);
}

static void block_ad(uint8_t ad[32], const uint8_t uid[16], const uint8_t hdr[16])
{
    memcpy(ad, uid, 16);
    memcpy(ad + 16, hdr, 16);
}

static void block_check(const uint8_t hdr[16], const uint8_t *stored, size_t n, uint8_t out[16])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 16);
    crypto_generichash_update(&h, hdr, 16);
    crypto_generichash_update(&h, stored, n);
    crypto_generichash_final(&h, out, 16);
}

static int flush_block(st_catw *c, int kind, char *err, size_t n)
{
    if (kind == ST_BLK_ENTRIES && c->block.len == 0) return FY_STORE_OK;
    bool enc = c->k && c->k->enc;
    uLong bound = compressBound((uLong)c->block.len);
    c->out.len = 0;
    fy_buf_reserve(&c->out, ST_BLK_HDR + BLK_NONCE + bound + ST_TAG);
    uint8_t *z = c->out.data + ST_BLK_HDR + BLK_NONCE;
    uLongf zl = bound;
    if (compress2(z, &zl, c->block.data, (uLong)c->block.len, c->level) != Z_OK)
        return st_fail(err, n, FY_STORE_ERR_IO, "cannot compress a catalogue block");
    uint8_t *hdr = c->out.data;
    memset(hdr, 0, ST_BLK_HDR);
    hdr[0] = (uint8_t)kind;
    fy_put_le32(hdr + 4, c->block_idx);
    size_t stored_len;
    uint8_t *stored;
    if (enc) {
        stored_len = BLK_NONCE + zl + ST_TAG;
        fy_put_le32(hdr + 8, (uint32_t)stored_len);
        fy_put_le32(hdr + 12, (uint32_t)c->block.len);
        stored = hdr + ST_BLK_HDR;
        randombytes_buf(stored, BLK_NONCE);
        uint8_t ad[32];
        block_ad(ad, c->cat_uid, hdr);
        unsigned long long cl;
        /* In place: the ciphertext starts where the compressed bytes are. */
        crypto_aead_xchacha20poly1305_ietf_encrypt(z, &cl, z, zl, ad, sizeof ad, NULL, stored,
                                                   c->k->data);
    } else {
        /* No nonce in plain blocks: move the compressed bytes up to follow the header. */
        memmove(hdr + ST_BLK_HDR, z, zl);
        stored_len = zl;
        fy_put_le32(hdr + 8, (uint32_t)stored_len);
        fy_put_le32(hdr + 12, (uint32_t)c->block.len);
        stored = hdr + ST_BLK_HDR;
    }
    block_check(hdr, stored, stored_len, hdr + 16);
    sodium_memzero(c->block.data, c->block.len);
    c->block.len = 0;
    c->block_idx++;
    return cat_write(c, hdr, ST_BLK_HDR + stored_len, err, n);
}

static int add_record(st_catw *c, int type, char *err, size_t n)
{
    if (c->rec.len > ST_BLK_MAX - 64)
        return st_fail(err, n, FY_STORE_ERR_USAGE, "catalogue entry too big (%zu bytes)",
                       c->rec.len);
    if (c->block.len + 5 + c->rec.len > ST_BLK_MAX) {
        int rc = flush_block(c, ST_BLK_ENTRIES, err, n);
        if (rc) return rc;
    }
    fy_buf_putc(&c->block, (uint8_t)type);
    fy_buf_u32(&c->block, (uint32_t)c->rec.len);
    fy_buf_put(&c->block, c->rec.data, c->rec.len);
    sodium_memzero(c->rec.data, c->rec.len);
    c->rec.len = 0;
    if (type != ST_REC_META && c->block.len >= ST_BLK_TARGET)
        return flush_block(c, ST_BLK_ENTRIES, err, n);
    return FY_STORE_OK;
}

int st_catw_ref(st_catw *c, const fy_store_objref *r, char *err, size_t n)
{
    fy_buf_put(&c->spool, r->id, 32);
    fy_buf_put(&c->spool, r->stored_hash, 32);
    fy_buf_u64(&c->spool, r->stored_size);
    c->n_refs++;
    if (c->spool.len >= 65536) {
        if (st_write_all(c->s, c->spool_fd, c->spool.data, c->spool.len) < 0)
            return st_fail_errno(err, n, FY_STORE_ERR_IO, errno, "cannot write the catalogue");
        c->spool.len = 0;
    }
    return FY_STORE_OK;
}

int st_catw_file(st_catw *c, const fy_store_file *f, char *err, size_t n)
{
    fy_buf *b = &c->rec;
    uint8_t flags = (uint8_t)((f->has_content ? 1 : 0) | (f->dest ? 2 : 0));
    fy_buf_putc(b, flags);
    put_cstr(b, f->path);
    fy_buf_u64(b, f->size);
    fy_buf_u64(b, f->mtime);
    fy_buf_u64(b, f->ctime);
    fy_buf_u32(b, f->attributes);
    if (f->has_content) put_ref(b, &f->content);
    fy_buf_u32(b, (uint32_t)f->n_ads);
    for (size_t i = 0; i < f->n_ads; i++) {
        put_cstr(b, f->ads[i].name);
        put_ref(b, &f->ads[i].ref);
    }
    if (f->dest) put_cstr(b, f->dest);
    int rc = add_record(c, ST_REC_FILE, err, n);
    if (rc) return rc;
    if (f->has_content && (rc = st_catw_ref(c, &f->content, err, n))) return rc;
    for (size_t i = 0; i < f->n_ads; i++)
        if ((rc = st_catw_ref(c, &f->ads[i].ref, err, n))) return rc;
    c->n_files++;
    c->bytes += f->size;
    return FY_STORE_OK;
}

int st_catw_reg(st_catw *c, const fy_store_reg *r, char *err, size_t n)
{
    fy_buf *b = &c->rec;
    bool key_only = r->value == NULL;
    fy_buf_putc(b, (uint8_t)((key_only ? 1 : 0) | (!key_only && r->data_is_object ? 2 : 0)));
    put_cstr(b, r->key);
    if (!key_only) {
        put_cstr(b, r->value);
        fy_buf_u32(b, r->type);
        if (r->data_is_object)
            put_ref(b, &r->data_ref);
        else
            put_str(b, (const char *)r->data, r->len);
    }
    int rc = add_record(c, ST_REC_REG, err, n);
    if (rc) return rc;
    if (!key_only && r->data_is_object && (rc = st_catw_ref(c, &r->data_ref, err, n))) return rc;
    c->n_reg++;
    return FY_STORE_OK;
}

int st_catw_finish(st_catw *c, const fy_store_meta *m, uint8_t hash[32], char *err, size_t n)
{
    int rc = flush_block(c, ST_BLK_ENTRIES, err, n);
    if (rc) return rc;
    fy_buf *b = &c->rec;
    put_cstr(b, m->user);
    put_cstr(b, m->sid);
    put_cstr(b, m->computer);
    put_cstr(b, m->os_name);
    put_cstr(b, m->os_version);
    fy_buf_u64(b, (uint64_t)m->time);
    fy_buf_u32(b, (uint32_t)m->n_apps);
    for (size_t i = 0; i < m->n_apps; i++) {
        put_cstr(b, m->apps[i].id);
        put_cstr(b, m->apps[i].version);
    }
    put_cstr(b, m->program_hash);
    put_cstr(b, m->tool_version);
    fy_buf_u32(b, (uint32_t)m->n_kv);
    for (size_t i = 0; i < m->n_kv; i++) {
        put_cstr(b, m->kv[i].key);
        put_cstr(b, m->kv[i].value);
    }
    fy_buf_u32(b, (uint32_t)m->n_logs);
    for (size_t i = 0; i < m->n_logs; i++)
        put_cstr(b, m->logs[i]);
    fy_buf_putc(b, m->has_program ? 1 : 0);
    if (m->has_program) put_ref(b, &m->program);
    fy_buf_u64(b, c->n_files);
    fy_buf_u64(b, c->n_reg);
    fy_buf_u64(b, c->bytes);
    if (m->has_program && (rc = st_catw_ref(c, &m->program, err, n))) return rc;
    if ((rc = add_record(c, ST_REC_META, err, n))) return rc;
    uint64_t meta_off = c->off;
    if ((rc = flush_block(c, ST_BLK_META, err, n))) return rc;
    uint64_t refs_off = c->off;
    /* the references: spool file, then what is still buffered */
    uint8_t *buf = fy_xmalloc(65536);
    uint64_t pos = 0;
    while (true) {
        ssize_t k = st_pread_full(c->s, c->spool_fd, buf, 65536, (off_t)pos);
        if (k < 0) {
            free(buf);
            return st_fail_errno(err, n, FY_STORE_ERR_IO, errno, "cannot read back the catalogue");
        }
        if (k == 0) break;
        if ((rc = cat_write(c, buf, (size_t)k, err, n))) {
            free(buf);
            return rc;
        }
        pos += (uint64_t)k;
    }
    free(buf);
    if (c->spool.len && (rc = cat_write(c, c->spool.data, c->spool.len, err, n))) return rc;
    if (c->off - refs_off != c->n_refs * ST_REF_LEN)
        return st_fail(err, n, FY_STORE_ERR_IO, "the catalogue's reference list is incomplete");
    uint8_t f[ST_CAT_FOOTER] = {0};
    memcpy(f, end_magic, 8);
    fy_put_le64(f + 8, ST_CAT_HDR);
    fy_put_le64(f + 16, meta_off);
    fy_put_le64(f + 24, refs_off);
    fy_put_le64(f + 32, c->n_refs);
    fy_put_le32(f + 40, c->block_idx);
    fy_put_le64(f + 48, c->n_files);
    fy_put_le64(f + 56, c->n_reg);
    fy_put_le64(f + 64, c->bytes);
    crypto_generichash_update(&c->file_h, f, 96);
    crypto_generichash_final(&c->file_h, f + 96, 32);
    if (st_write_all(c->s, c->fd, f, sizeof f) < 0 || st_sync(c->s, c->fd, FY_STORE_SYNC_DATA) < 0)
        return st_fail_errno(err, n, FY_STORE_ERR_IO, errno, "cannot write the catalogue");
    int fd = c->fd;
    c->fd = -1;
    if (c->s->io->close(c->s->io->ctx, fd) < 0)
        return st_fail_errno(err, n, FY_STORE_ERR_IO, errno, "cannot write the catalogue");
    memcpy(hash, f + 96, 32);
    c->finished = true;
    st_close(c->s, c->spool_fd);
    c->spool_fd = -1;
    st_unlink(c->s, c->tmpdir, c->spool_name, 0);
    fy_buf_free(&c->block);
    fy_buf_free(&c->rec);
    fy_buf_free(&c->out);
    fy_buf_free(&c->spool);
    return FY_STORE_OK;
}

void st_catw_abort(st_catw *c)
{
    if (!c->s) return;
    if (c->fd >= 0) st_close(c->s, c->fd);
    if (c->fd >= 0 || c->finished) st_unlink(c->s, c->tmpdir, c->name, 0);
    c->finished = false;
    if (c->spool_fd >= 0) {
        st_close(c->s, c->spool_fd);
        st_unlink(c->s, c->tmpdir, c->spool_name, 0);
    }
    c->fd = c->spool_fd = -1;
    if (c->block.data) sodium_memzero(c->block.data, c->block.len);
    if (c->rec.data) sodium_memzero(c->rec.data, c->rec.len);
    fy_buf_free(&c->block);
    fy_buf_free(&c->rec);
    fy_buf_free(&c->out);
    fy_buf_free(&c->spool);
}

/* ---- reader ---- */
/* 0 ok, -1 I/O error (errno), 1 beyond the end */
static int src_read(const st_src *s, uint64_t off, void *p, size_t n)
{
    if (off > s->size || n > s->size - off) return 1;
    if (!s->s) {
        memcpy(p, s->mem + off, n);
        return 0;
    }
    ssize_t k = st_pread_full(s->s, s->fd, p, n, (off_t)off);
    if (k < 0) return -1;
    return (size_t)k == n ? 0 : 1;
}

static int corrupt(char *err, size_t n, const char *what)
{
    return st_fail(err, n, FY_STORE_ERR_CORRUPT, "catalogue damaged: %s", what);
}

static int read_at(st_catr *c, uint64_t off, void *p, size_t len, char *err, size_t n)
{
    int r = src_read(&c->src, off, p, len);
    if (r < 0) return st_fail_errno(err, n, FY_STORE_ERR_IO, errno, "cannot read the catalogue");
    if (r > 0) return corrupt(err, n, "truncated");
    return FY_STORE_OK;
}

typedef struct cur {
    const uint8_t *p;
    size_t n, i;
    bool bad;
} cur;

static bool need(cur *c, size_t k)
{
    if (c->bad || k > c->n - c->i) {
        c->bad = true;
        return false;
    }
    return true;
}
static uint8_t g8(cur *c)
{
    return need(c, 1) ? c->p[c->i++] : 0;
}
static uint32_t g32(cur *c)
{
    if (!need(c, 4)) return 0;
    uint32_t v = fy_le32(c->p + c->i);
    c->i += 4;
    return v;
}
static uint64_t g64(cur *c)
{
    if (!need(c, 8)) return 0;
    uint64_t v = fy_le64(c->p + c->i);
    c->i += 8;
    return v;
}
static void gref(cur *c, fy_store_objref *r)
{
    if (!need(c, ST_OBJREF_LEN)) return;
    memcpy(r->id, c->p + c->i, 32);
    memcpy(r->stored_hash, c->p + c->i + 32, 32);
    r->stored_size = fy_le64(c->p + c->i + 64);
    r->size = fy_le64(c->p + c->i + 72);
    c->i += ST_OBJREF_LEN;
}

/* A string: bytes in the record, length-counted; *nul says whether it holds a NUL. */
static const uint8_t *graw(cur *c, size_t *len)
{
    uint32_t n = g32(c);
    if (!need(c, n)) return NULL;
    const uint8_t *p = c->p + c->i;
    c->i += n;
    *len = n;
    return p;
}

/* Copies a string into the scratch buffer with a NUL; NULL when bad or when it holds a NUL
 * (text fields never do). */
static const char *gstr(cur *c, uint8_t **sb, size_t *sb_left)
{
    size_t len = 0;
    const uint8_t *p = graw(c, &len);
    if (!p || len + 1 > *sb_left || memchr(p, 0, len)) {
        c->bad = true;
        return NULL;
    }
    char *out = (char *)*sb;
    memcpy(out, p, len);
    out[len] = 0;
    *sb += len + 1;
    *sb_left -= len + 1;
    return out;
}

static const char *astr(cur *c, fy_arena *a)
{
    size_t len = 0;
    const uint8_t *p = graw(c, &len);
    if (!p || memchr(p, 0, len)) {
        c->bad = true;
        return NULL;
    }
    return fy_arena_strndup(a, (const char *)p, len);
}

/* Loads block at off: checks its header and check value; with decode, its plaintext goes
 * to c->plain. *end gets the offset after it. */
static int load_block(st_catr *c, uint64_t off, uint64_t limit, int want_kind, uint32_t want_idx,
                      uint64_t *end, char *err, size_t n)
{
    uint8_t hdr[ST_BLK_HDR];
    int rc = read_at(c, off, hdr, sizeof hdr, err, n);
    if (rc) return rc;
    uint32_t stored_len = fy_le32(hdr + 8), plain_len = fy_le32(hdr + 12);
    if (hdr[0] != want_kind || hdr[1] || fy_le16(hdr + 2) || fy_le32(hdr + 4) != want_idx)
        return corrupt(err, n, "blocks out of order");
    size_t min = c->enc ? BLK_NONCE + ST_TAG + 1 : 1;
    if (stored_len < min || stored_len > ST_BLK_MAX + 4096 || plain_len > ST_BLK_MAX ||
        off + ST_BLK_HDR + stored_len > limit)
        return corrupt(err, n, "bad block size");
    uint8_t *stored = fy_xmalloc(stored_len);
    rc = read_at(c, off + ST_BLK_HDR, stored, stored_len, err, n);
    if (rc) goto out;
    if (!(c->flags & FY_STORE_CHECK_NO_CHECKSUMS)) {
        uint8_t chk[16];
        block_check(hdr, stored, stored_len, chk);
        if (memcmp(chk, hdr + 16, 16) != 0) {
            rc = corrupt(err, n, "a block does not match its check value");
            goto out;
        }
    }
    *end = off + ST_BLK_HDR + stored_len;
    c->plain_len = c->pos = 0;
    if (!c->decode) goto out;
    const uint8_t *z = stored;
    size_t zl = stored_len;
    if (c->enc) {
        uint8_t ad[32];
        block_ad(ad, c->cat_uid, hdr);
        unsigned long long ml;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(stored + BLK_NONCE, &ml, NULL,
                                                       stored + BLK_NONCE, stored_len - BLK_NONCE,
                                                       ad, sizeof ad, stored, c->k->data) != 0) {
            rc = corrupt(err, n, "a block does not decrypt");
            goto out;
        }
        z = stored + BLK_NONCE;
        zl = (size_t)ml;
    }
    free(c->plain);
    c->plain = fy_xmalloc(plain_len ? plain_len : 1);
    uLongf got = plain_len;
    if (uncompress(c->plain, &got, z, (uLong)zl) != Z_OK || got != plain_len) {
        rc = corrupt(err, n, "a block does not decompress");
        goto out;
    }
    c->plain_len = plain_len;
    if (c->sbuf_cap < 2 * (size_t)plain_len + 64) {
        free(c->sbuf);
        c->sbuf_cap = 2 * (size_t)plain_len + 64;
        c->sbuf = fy_xmalloc(c->sbuf_cap);
    }
out:
    if (c->enc) sodium_memzero(stored, stored_len);
    free(stored);
    return rc;
}

static int decode_meta(st_catr *c, char *err, size_t n)
{
    if (c->plain_len < 5 || c->plain[0] != ST_REC_META)
        return corrupt(err, n, "the meta block holds no metadata");
    uint32_t len = fy_le32(c->plain + 1);
    if (len != c->plain_len - 5) return corrupt(err, n, "bad metadata record");
    cur k = {c->plain + 5, len, 0, false};
    fy_arena *a = &c->arena;
    fy_store_meta *m = &c->meta;
    memset(m, 0, sizeof *m);
    m->user = astr(&k, a);
    m->sid = astr(&k, a);
    m->computer = astr(&k, a);
    m->os_name = astr(&k, a);
    m->os_version = astr(&k, a);
    m->time = (int64_t)g64(&k);
    uint32_t na = g32(&k);
    if (na > len / 8) k.bad = true;
    if (!k.bad && na) {
        fy_store_app *apps = fy_arena_alloc(a, na * sizeof *apps);
        for (uint32_t i = 0; i < na && !k.bad; i++) {
            apps[i].id = astr(&k, a);
            apps[i].version = astr(&k, a);
        }
        m->apps = apps;
        m->n_apps = na;
    }
    m->program_hash = astr(&k, a);
    m->tool_version = astr(&k, a);
    uint32_t nk = g32(&k);
    if (nk > len / 8) k.bad = true;
    if (!k.bad && nk) {
        fy_store_kv *kv = fy_arena_alloc(a, nk * sizeof *kv);
        for (uint32_t i = 0; i < nk && !k.bad; i++) {
            kv[i].key = astr(&k, a);
            kv[i].value = astr(&k, a);
        }
        m->kv = kv;
        m->n_kv = nk;
    }
    uint32_t nl = g32(&k);
    if (nl > len / 4) k.bad = true;
    if (!k.bad && nl) {
        const char **logs = fy_arena_alloc(a, nl * sizeof *logs);
        for (uint32_t i = 0; i < nl && !k.bad; i++)
            logs[i] = astr(&k, a);
        m->logs = logs;
        m->n_logs = nl;
    }
    uint8_t hp = g8(&k);
    if (hp > 1) k.bad = true;
    m->has_program = hp == 1;
    if (m->has_program) gref(&k, &m->program);
    m->n_files = g64(&k);
    m->n_reg = g64(&k);
    m->bytes = g64(&k);
    if (k.bad || (k.i != k.n && c->minor == CAT_MINOR))
        return corrupt(err, n, "bad metadata record");
    if (m->n_files != c->n_files || m->n_reg != c->n_reg || m->bytes != c->bytes)
        return corrupt(err, n, "metadata and footer disagree");
    m->generation = c->generation;
    c->have_meta = true;
    c->plain_len = c->pos = 0;
    return FY_STORE_OK;
}

int st_catr_open(st_catr *c, st_src src, const st_keys *k, unsigned flags, char *err, size_t n)
{
    memset(c, 0, sizeof *c);
    c->src = src;
    c->k = k;
    c->flags = flags;
    uint64_t size = src.size;
    if (size < ST_CAT_HDR + ST_BLK_HDR + ST_CAT_FOOTER) return corrupt(err, n, "too short");
    uint8_t h[ST_CAT_HDR], f[ST_CAT_FOOTER];
    int rc = read_at(c, 0, h, sizeof h, err, n);
    if (!rc) rc = read_at(c, size - ST_CAT_FOOTER, f, sizeof f, err, n);
    if (rc) return rc;
    if (memcmp(h, cat_magic, 8) != 0) return corrupt(err, n, "not a ferry catalogue (bad magic)");
    if (fy_le16(h + 8) != CAT_MAJOR)
        return st_fail(err, n, FY_STORE_ERR_CORRUPT,
                       "catalogue format %u is not supported by this ferry (it reads %u)",
                       fy_le16(h + 8), CAT_MAJOR);
    c->minor = fy_le16(h + 10);
    uint32_t fl = fy_le32(h + 12);
    if ((fl & ~CAT_F_ENC) || fy_le32(h + 20) != ST_CAT_HDR) return corrupt(err, n, "bad header");
    for (int i = 56; i < ST_CAT_HDR; i++)
        if (h[i]) return corrupt(err, n, "bad header");
    c->enc = fl & CAT_F_ENC;
    c->generation = fy_le32(h + 16);
    memcpy(c->cat_uid, h + 24, 16);
    memcpy(c->puid, h + 40, 16);
    if (k && k->enc != c->enc)
        return corrupt(err, n,
                       c->enc ? "encrypted catalogue in a personality without a password"
                              : "unencrypted catalogue in a password-protected personality");
    c->decode = !c->enc || (k && k->have);
    if (memcmp(f, end_magic, 8) != 0) return corrupt(err, n, "bad footer (truncated?)");
    c->footer_off = size - ST_CAT_FOOTER;
    c->body_off = fy_le64(f + 8);
    c->meta_off = fy_le64(f + 16);
    c->refs_off = fy_le64(f + 24);
    c->n_refs = fy_le64(f + 32);
    c->n_blocks = fy_le32(f + 40);
    c->n_files = fy_le64(f + 48);
    c->n_reg = fy_le64(f + 56);
    c->bytes = fy_le64(f + 64);
    memcpy(c->hash, f + 96, 32);
    for (int i = 44; i < 48; i++)
        if (f[i]) return corrupt(err, n, "bad footer");
    for (int i = 72; i < 96; i++)
        if (f[i]) return corrupt(err, n, "bad footer");
    if (c->body_off != ST_CAT_HDR || c->meta_off < c->body_off || c->refs_off <= c->meta_off ||
        c->refs_off > c->footer_off || c->n_refs > (c->footer_off - c->refs_off) / ST_REF_LEN ||
        c->refs_off + c->n_refs * ST_REF_LEN != c->footer_off || c->n_blocks == 0)
        return corrupt(err, n, "bad offsets in the footer");
    uint64_t end = 0;
    rc = load_block(c, c->meta_off, c->refs_off, ST_BLK_META, c->n_blocks - 1, &end, err, n);
    if (rc) return rc;
    if (end != c->refs_off) return corrupt(err, n, "bad meta block size");
    if (c->decode && (rc = decode_meta(c, err, n))) return rc;
    c->next_off = c->body_off;
    c->next_idx = 0;
    return FY_STORE_OK;
}

static int decode_file(st_catr *c, cur *k, fy_store_file *f, char *err, size_t n)
{
    uint8_t *sb = c->sbuf;
    size_t left = c->sbuf_cap;
    memset(f, 0, sizeof *f);
    uint8_t flags = g8(k);
    if (flags & ~3u) return corrupt(err, n, "bad file entry");
    f->path = gstr(k, &sb, &left);
    f->size = g64(k);
    f->mtime = g64(k);
    f->ctime = g64(k);
    f->attributes = g32(k);
    f->has_content = flags & 1;
    if (f->has_content) gref(k, &f->content);
    uint32_t na = g32(k);
    if (k->bad || na > (k->n - k->i) / (4 + ST_OBJREF_LEN))
        return corrupt(err, n, "bad file entry");
    if (na > c->ads_cap) {
        free(c->ads);
        c->ads_cap = na;
        c->ads = fy_xcalloc(na, sizeof *c->ads);
    }
    for (uint32_t i = 0; i < na && !k->bad; i++) {
        c->ads[i].name = gstr(k, &sb, &left);
        gref(k, &c->ads[i].ref);
        if (!k->bad && !st_ads_name_safe(c->ads[i].name, strlen(c->ads[i].name)))
            return corrupt(err, n, "unsafe alternate data stream name");
    }
    f->ads = na ? c->ads : NULL;
    f->n_ads = na;
    if (flags & 2) f->dest = gstr(k, &sb, &left);
    if (k->bad || (k->i != k->n && c->minor == CAT_MINOR)) return corrupt(err, n, "bad file entry");
    if (!fy_store_path_safe(f->path))
        return st_fail(err, n, FY_STORE_ERR_CORRUPT,
                       "catalogue refused: unsafe path \"%.200s\" (.., absolute, unknown drive "
                       "or token)",
                       f->path);
    if (f->dest && !fy_store_path_safe(f->dest))
        return st_fail(err, n, FY_STORE_ERR_CORRUPT,
                       "catalogue refused: unsafe destination \"%.200s\"", f->dest);
    if (f->attributes & FY_STORE_ATTR_REPARSE_POINT)
        return st_fail(err, n, FY_STORE_ERR_CORRUPT,
                       "catalogue refused: \"%.200s\" is a link (reparse point)", f->path);
    bool dir = f->attributes & FY_STORE_ATTR_DIRECTORY;
    if (dir == f->has_content || (f->has_content && f->content.size != f->size))
        return corrupt(err, n, "file entry sizes disagree");
    return FY_STORE_OK;
}

static int decode_reg(st_catr *c, cur *k, fy_store_reg *r, char *err, size_t n)
{
    uint8_t *sb = c->sbuf;
    size_t left = c->sbuf_cap;
    memset(r, 0, sizeof *r);
    uint8_t flags = g8(k);
    if (flags & ~3u || flags == 3) return corrupt(err, n, "bad registry entry");
    r->key = gstr(k, &sb, &left);
    if (!(flags & 1)) {
        r->value = gstr(k, &sb, &left);
        r->type = g32(k);
        if (flags & 2) {
            r->data_is_object = true;
            gref(k, &r->data_ref);
            r->len = (size_t)r->data_ref.size;
        } else {
            size_t len = 0;
            const uint8_t *p = graw(k, &len);
            if (p && len + 1 <= left) {
                memcpy(sb, p, len);
                sb[len] = 0;
                r->data = sb;
                r->len = len;
                sb += len + 1;
                left -= len + 1;
            } else {
                k->bad = true;
            }
        }
    }
    if (k->bad || (k->i != k->n && c->minor == CAT_MINOR))
        return corrupt(err, n, "bad registry entry");
    if (!fy_store_regkey_safe(r->key))
        return st_fail(err, n, FY_STORE_ERR_CORRUPT,
                       "catalogue refused: bad registry key \"%.200s\"", r->key);
    return FY_STORE_OK;
}

int st_catr_next(st_catr *c, fy_store_entry *e, char *err, size_t n)
{
    while (true) {
        if (c->pos < c->plain_len) {
            if (c->plain_len - c->pos < 5) return corrupt(err, n, "truncated record");
            uint8_t type = c->plain[c->pos];
            uint32_t len = fy_le32(c->plain + c->pos + 1);
            if (len > c->plain_len - c->pos - 5) return corrupt(err, n, "truncated record");
            cur k = {c->plain + c->pos + 5, len, 0, false};
            c->pos += 5 + (size_t)len;
            memset(e, 0, sizeof *e);
            if (type == ST_REC_FILE) {
                e->kind = FY_STORE_ENTRY_FILE;
                return decode_file(c, &k, &e->file, err, n) ?: 1;
            }
            if (type == ST_REC_REG) {
                e->kind = FY_STORE_ENTRY_REG;
                return decode_reg(c, &k, &e->reg, err, n) ?: 1;
            }
            if (c->minor == CAT_MINOR) return corrupt(err, n, "unknown record type");
            continue; /* a newer minor version's record: skipped */
        }
        if (c->next_off == c->meta_off) {
            if (c->next_idx != c->n_blocks - 1) return corrupt(err, n, "blocks missing");
            return 0;
        }
        uint64_t end = 0;
        int rc = load_block(c, c->next_off, c->meta_off, ST_BLK_ENTRIES, c->next_idx, &end, err, n);
        if (rc) return rc;
        c->next_off = end;
        c->next_idx++;
    }
}

int st_catr_ref(st_catr *c, uint64_t i, fy_store_objref *r, char *err, size_t n)
{
    if (i >= c->n_refs) return st_fail(err, n, FY_STORE_ERR_USAGE, "reference out of range");
    if (i < c->ref_first || i >= c->ref_first + c->ref_count) {
        uint64_t cnt = c->n_refs - i < REF_CACHE ? c->n_refs - i : REF_CACHE;
        if (!c->refbuf) c->refbuf = fy_xmalloc(REF_CACHE * ST_REF_LEN);
        c->ref_count = 0;
        int rc =
            read_at(c, c->refs_off + i * ST_REF_LEN, c->refbuf, (size_t)cnt * ST_REF_LEN, err, n);
        if (rc) return rc;
        c->ref_first = i;
        c->ref_count = cnt;
    }
    const uint8_t *b = c->refbuf + (i - c->ref_first) * ST_REF_LEN;
    memset(r, 0, sizeof *r);
    memcpy(r->id, b, 32);
    memcpy(r->stored_hash, b + 32, 32);
    r->stored_size = fy_le64(b + 64);
    return FY_STORE_OK;
}

int st_catr_check_hash(st_catr *c, uint8_t out[32], char *err, size_t n)
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, 32);
    uint8_t *buf = fy_xmalloc(65536);
    uint64_t end = c->src.size - 32, off = 0;
    int rc = FY_STORE_OK;
    while (off < end) {
        size_t want = end - off > 65536 ? 65536 : (size_t)(end - off);
        if ((rc = read_at(c, off, buf, want, err, n))) break;
        crypto_generichash_update(&h, buf, want);
        off += want;
    }
    free(buf);
    if (rc) return rc;
    crypto_generichash_final(&h, out, 32);
    if (memcmp(out, c->hash, 32) != 0) return corrupt(err, n, "checksum mismatch");
    return FY_STORE_OK;
}

void st_catr_close(st_catr *c)
{
    if (c->plain) sodium_memzero(c->plain, c->plain_len);
    free(c->plain);
    if (c->sbuf) sodium_memzero(c->sbuf, c->sbuf_cap);
    free(c->sbuf);
    free(c->ads);
    free(c->refbuf);
    fy_arena_free(&c->arena);
    memset(c, 0, sizeof *c);
}

int fy_store_catalog_check_mem(const uint8_t *data, size_t n, unsigned flags, char *err,
                               size_t err_size)
{
    st_src src = {NULL, -1, data, n};
    st_catr c;
    int rc = st_catr_open(&c, src, NULL, flags, err, err_size);
    if (!rc) {
        fy_store_entry e;
        while ((rc = st_catr_next(&c, &e, err, err_size)) == 1)
            continue;
    }
    if (!rc) {
        fy_store_objref r;
        for (uint64_t i = 0; i < c.n_refs && !rc; i++)
            rc = st_catr_ref(&c, i, &r, err, err_size);
    }
    if (!rc && !(flags & FY_STORE_CHECK_NO_CHECKSUMS)) {
        uint8_t h[32];
        rc = st_catr_check_hash(&c, h, err, err_size);
    }
    st_catr_close(&c);
    return rc;
}
