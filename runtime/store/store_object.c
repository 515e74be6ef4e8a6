/* Content objects: one pass over the plaintext hashes it (the id), deflates it, seals it in
 * 64 KiB chunks when the personality is encrypted, and hashes the stored bytes (the
 * trailer), so that a file is read once whatever its size. Format: docs/store-format.md,
 * "Objects". */
#include "fy_store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

const uint8_t st_obj_magic[8] = {'F', 'Y', 'O', 'B', 0x1a, '\r', '\n', 0};

#define OBJ_F_ZLIB 1u
#define OBJ_F_ENC 2u
/* After this much input, data that deflate cannot shrink by 3% is stored (level 0): JPEGs,
 * ZIP-based Office files and the like would only cost CPU time. */
#define PROBE_AT (256u << 10)

void st_obj_relpath(const uint8_t id[32], char out[68])
{
    char hex[65];
    st_hex(id, 32, hex);
    out[0] = hex[0];
    out[1] = hex[1];
    out[2] = '/';
    memcpy(out + 3, hex + 2, 63); /* 62 digits and the NUL */
}

static void chunk_ad(uint8_t ad[13], uint64_t idx, bool final)
{
    memcpy(ad, "FYOB", 4);
    fy_put_le64(ad + 4, idx);
    ad[12] = final ? 1 : 0;
}

static void chunk_nonce(uint8_t nonce[24], const uint8_t prefix[ST_OBJ_NONCE], uint64_t idx)
{
    memcpy(nonce, prefix, ST_OBJ_NONCE);
    fy_put_le64(nonce + ST_OBJ_NONCE, idx);
}

/* ---- encoder ---- */
static int emit(st_enc *e, const void *p, size_t n, bool hash)
{
    if (e->err) return -1;
    if (hash) crypto_generichash_update(&e->stored_h, p, n);
    if (e->sink(e->sink_ctx, p, n) < 0) {
        e->err = errno ? errno : EIO;
        return -1;
    }
    e->payload_len += n;
    return 0;
}

static int seal(st_enc *e, bool final)
{
    if (!e->k || !e->k->enc) {
        int r = e->chunk_len ? emit(e, e->chunk, e->chunk_len, true) : 0;
        e->chunk_len = 0;
        return r;
    }
    uint8_t nonce[24], ad[13], ct[ST_CHUNK + ST_TAG];
    chunk_nonce(nonce, e->nonce, e->chunk_idx);
    chunk_ad(ad, e->chunk_idx, final);
    unsigned long long cl;
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &cl, e->chunk, e->chunk_len, ad, sizeof ad, NULL,
                                               nonce, e->k->data);
    e->chunk_idx++;
    e->chunk_len = 0;
    int r = emit(e, ct, (size_t)cl, true);
    sodium_memzero(ct, sizeof ct);
    return r;
}

/* Compressed bytes go into the chunk; a full chunk is sealed only once more bytes follow,
 * so that the last chunk (marked final in its associated data) is known when sealed. */
static int push(st_enc *e, const uint8_t *p, size_t n)
{
    while (n) {
        if (e->chunk_len == ST_CHUNK && seal(e, false) < 0) return -1;
        size_t take = ST_CHUNK - e->chunk_len;
        if (take > n) take = n;
        memcpy(e->chunk + e->chunk_len, p, take);
        e->chunk_len += take;
        p += take;
        n -= take;
    }
    return 0;
}

static int deflate_run(st_enc *e, int flush)
{
    int r;
    do {
        e->z.next_out = e->zout;
        e->z.avail_out = ST_CHUNK;
        r = deflate(&e->z, flush);
        if (r == Z_STREAM_ERROR) {
            e->err = EIO;
            return -1;
        }
        size_t got = ST_CHUNK - e->z.avail_out;
        if (got && push(e, e->zout, got) < 0) return -1;
    } while (e->z.avail_out == 0 || (flush == Z_FINISH && r != Z_STREAM_END));
    return 0;
}

int st_enc_begin(st_enc *e, const st_keys *k, int level, st_sink_fn sink, void *ctx)
{
    memset(e, 0, sizeof *e);
    e->k = k;
    e->level = level;
    e->sink = sink;
    e->sink_ctx = ctx;
    bool enc = k && k->enc;
    if (deflateInit(&e->z, level) != Z_OK) {
        e->err = ENOMEM;
        return -1;
    }
    e->z_ready = true;
    e->chunk = fy_xmalloc(ST_CHUNK);
    e->zout = fy_xmalloc(ST_CHUNK);
    crypto_generichash_init(&e->plain_h, enc ? k->name : NULL, enc ? sizeof k->name : 0, 32);
    crypto_generichash_init(&e->stored_h, NULL, 0, 32);
    uint8_t hdr[ST_OBJ_HDR + ST_OBJ_NONCE] = {0};
    memcpy(hdr, st_obj_magic, 8);
    hdr[8] = 1;
    hdr[9] = (uint8_t)(OBJ_F_ZLIB | (enc ? OBJ_F_ENC : 0));
    fy_put_le32(hdr + 12, enc ? ST_CHUNK : 0);
    size_t hl = ST_OBJ_HDR;
    if (enc) {
        randombytes_buf(e->nonce, ST_OBJ_NONCE);
        memcpy(hdr + ST_OBJ_HDR, e->nonce, ST_OBJ_NONCE);
        hl += ST_OBJ_NONCE;
    }
    if (emit(e, hdr, hl, true) < 0) return -1;
    e->payload_len = 0; /* counts payload only from here */
    return 0;
}

int st_enc_update(st_enc *e, const void *p, size_t n)
{
    if (e->err) return -1;
    crypto_generichash_update(&e->plain_h, p, n);
    e->plain_size += n;
    e->z.next_in = (Bytef *)(uintptr_t)p;
    /* avail_in is 32-bit: feed big buffers in slices */
    const uint8_t *q = p;
    while (n) {
        size_t take = n > (1u << 30) ? (1u << 30) : n;
        e->z.next_in = (Bytef *)(uintptr_t)q;
        e->z.avail_in = (uInt)take;
        if (deflate_run(e, Z_NO_FLUSH) < 0) return -1;
        q += take;
        n -= take;
    }
    if (!e->probed && e->plain_size >= PROBE_AT) {
        e->probed = true;
        if (e->level > 0 && (uint64_t)e->z.total_out * 100 >= (uint64_t)e->z.total_in * 97) {
            /* deflateParams flushes what it holds first and wants output room for that. */
            for (int tries = 0; tries < 64; tries++) {
                e->z.next_out = e->zout;
                e->z.avail_out = ST_CHUNK;
                int r = deflateParams(&e->z, 0, Z_DEFAULT_STRATEGY);
                size_t got = ST_CHUNK - e->z.avail_out;
                if (got && push(e, e->zout, got) < 0) return -1;
                if (r != Z_BUF_ERROR || !got) break;
            }
        }
    }
    return 0;
}

int st_enc_finish(st_enc *e, fy_store_objref *ref)
{
    if (e->err) return -1;
    e->z.next_in = NULL;
    e->z.avail_in = 0;
    if (deflate_run(e, Z_FINISH) < 0) return -1;
    if (seal(e, true) < 0) return -1;
    bool enc = e->k && e->k->enc;
    uint8_t tr[ST_OBJ_TRAILER];
    fy_put_le64(tr, enc ? 0 : e->plain_size);
    fy_put_le64(tr + 8, e->payload_len);
    crypto_generichash_update(&e->stored_h, tr, 16);
    crypto_generichash_final(&e->stored_h, tr + 16, 32);
    uint64_t hdr_len = ST_OBJ_HDR + (enc ? ST_OBJ_NONCE : 0);
    uint64_t payload = e->payload_len;
    if (emit(e, tr, sizeof tr, false) < 0) return -1;
    crypto_generichash_final(&e->plain_h, ref->id, 32);
    memcpy(ref->stored_hash, tr + 16, 32);
    ref->stored_size = hdr_len + payload + ST_OBJ_TRAILER;
    ref->size = e->plain_size;
    return 0;
}

void st_enc_end(st_enc *e)
{
    if (e->z_ready) deflateEnd(&e->z);
    e->z_ready = false;
    if (e->k && e->k->enc) { /* plaintext (compressed) of an encrypted personality */
        if (e->chunk) sodium_memzero(e->chunk, ST_CHUNK);
        if (e->zout) sodium_memzero(e->zout, ST_CHUNK);
    }
    free(e->chunk);
    free(e->zout);
    e->chunk = e->zout = NULL;
}

/* ---- reader ---- */
int st_obj_peek(const fy_store *s, int dirfd, const char *path, fy_store_objref *got)
{
    int fd = st_open(s, dirfd, path, O_RDONLY | O_NOFOLLOW, 0);
    if (fd < 0) return -1;
    struct stat st;
    uint8_t tr[ST_OBJ_TRAILER];
    int r = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size >= ST_OBJ_HDR + ST_OBJ_TRAILER &&
        st_pread_full(s, fd, tr, sizeof tr, st.st_size - ST_OBJ_TRAILER) == ST_OBJ_TRAILER) {
        memcpy(got->stored_hash, tr + 16, 32);
        got->stored_size = (uint64_t)st.st_size;
        got->size = fy_le64(tr);
        r = 0;
    } else {
        errno = EINVAL;
    }
    int e = errno;
    st_close(s, fd);
    errno = e;
    return r;
}

typedef struct objread {
    z_stream z;
    bool z_ready, z_end, failed;
    const char *why;
    crypto_generichash_state plain_h;
    uint64_t plain;
    uint8_t *out;
    st_sink_fn sink;
    void *sink_ctx;
    bool sink_failed;
    int sink_errno;
} objread;

/* Feeds compressed bytes to inflate; plaintext goes to the hash and the sink. */
static void inflate_feed(objread *o, const uint8_t *p, size_t n)
{
    if (o->failed || o->sink_failed) return;
    if (o->z_end) {
        if (n) {
            o->failed = true;
            o->why = "data after the end of the compressed stream";
        }
        return;
    }
    o->z.next_in = (Bytef *)(uintptr_t)p;
    o->z.avail_in = (uInt)n;
    do {
        o->z.next_out = o->out;
        o->z.avail_out = ST_CHUNK;
        int r = inflate(&o->z, Z_NO_FLUSH);
        if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
            o->failed = true;
            o->why = "the compressed stream is damaged";
            return;
        }
        size_t got = ST_CHUNK - o->z.avail_out;
        if (got) {
            crypto_generichash_update(&o->plain_h, o->out, got);
            o->plain += got;
            if (o->sink && o->sink(o->sink_ctx, o->out, got) < 0) {
                o->sink_failed = true;
                o->sink_errno = errno ? errno : EIO;
                return;
            }
        }
        if (r == Z_STREAM_END) {
            o->z_end = true;
            if (o->z.avail_in) {
                o->failed = true;
                o->why = "data after the end of the compressed stream";
            }
            return;
        }
        if (r == Z_BUF_ERROR && got == 0) return; /* needs more input */
    } while (o->z.avail_in || o->z.avail_out == 0);
}

static int damage(char *err, size_t n, fy_store_damage_kind *kind, fy_store_damage_kind k,
                  const char *path, const char *what)
{
    if (kind) *kind = k;
    return st_fail(err, n, k == FY_STORE_DMG_IO ? FY_STORE_ERR_IO : FY_STORE_ERR_CORRUPT,
                   "object %s: %s", path, what);
}

int st_obj_read(const fy_store *s, int dirfd, const char *path, const st_keys *k, bool decode,
                const fy_store_objref *expect, st_sink_fn out, void *out_ctx, fy_store_objref *got,
                fy_store_damage_kind *kind, char *err, size_t err_size)
{
    int rc = FY_STORE_OK;
    objread o;
    memset(&o, 0, sizeof o);
    uint8_t *buf = NULL, *pt = NULL;
    bool enc_obj = false;
    int fd = st_open(s, dirfd, path, O_RDONLY | O_NOFOLLOW, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return damage(err, err_size, kind, FY_STORE_DMG_MISSING, path, "missing");
        char m[160];
        snprintf(m, sizeof m, "cannot open: %s", strerror(errno));
        return damage(err, err_size, kind, FY_STORE_DMG_IO, path, m);
    }
    struct stat st;
    uint8_t hdr[ST_OBJ_HDR + ST_OBJ_NONCE], tr[ST_OBJ_TRAILER];
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = damage(err, err_size, kind, FY_STORE_DMG_FORMAT, path, "not a regular file");
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < ST_OBJ_HDR + ST_OBJ_TRAILER) {
        rc = damage(err, err_size, kind, FY_STORE_DMG_FORMAT, path, "truncated");
        goto out;
    }
    ssize_t k1 = st_pread_full(s, fd, hdr, ST_OBJ_HDR, 0);
    ssize_t k2 = st_pread_full(s, fd, tr, ST_OBJ_TRAILER, (off_t)(size - ST_OBJ_TRAILER));
    if (k1 < 0 || k2 < 0) {
        char m[160];
        snprintf(m, sizeof m, "cannot read: %s", strerror(errno));
        rc = damage(err, err_size, kind, FY_STORE_DMG_IO, path, m);
        goto out;
    }
    if (k1 != ST_OBJ_HDR || k2 != ST_OBJ_TRAILER || memcmp(hdr, st_obj_magic, 8) != 0 ||
        hdr[8] != 1 || (hdr[9] & ~(OBJ_F_ZLIB | OBJ_F_ENC)) || !(hdr[9] & OBJ_F_ZLIB) ||
        fy_le16(hdr + 10) != 0) {
        rc = damage(err, err_size, kind, FY_STORE_DMG_FORMAT, path, "bad header");
        goto out;
    }
    bool enc = hdr[9] & OBJ_F_ENC;
    enc_obj = enc;
    uint64_t hdr_len = ST_OBJ_HDR + (enc ? ST_OBJ_NONCE : 0);
    if (fy_le32(hdr + 12) != (enc ? ST_CHUNK : 0u) || size < hdr_len + ST_OBJ_TRAILER ||
        fy_le64(tr + 8) != size - hdr_len - ST_OBJ_TRAILER || (enc && fy_le64(tr) != 0)) {
        rc = damage(err, err_size, kind, FY_STORE_DMG_FORMAT, path,
                    "bad sizes in header or trailer");
        goto out;
    }
    if (k && enc != k->enc) {
        rc = damage(err, err_size, kind, FY_STORE_DMG_FORMAT, path,
                    enc ? "encrypted object in a personality without a password"
                        : "unencrypted object in a password-protected personality");
        goto out;
    }
    if (enc && st_pread_full(s, fd, hdr + ST_OBJ_HDR, ST_OBJ_NONCE, ST_OBJ_HDR) != ST_OBJ_NONCE) {
        rc = damage(err, err_size, kind, FY_STORE_DMG_FORMAT, path, "truncated");
        goto out;
    }
    uint64_t payload = size - hdr_len - ST_OBJ_TRAILER;
    if (got) {
        memset(got, 0, sizeof *got);
        memcpy(got->stored_hash, tr + 16, 32);
        got->stored_size = size;
        got->size = fy_le64(tr);
    }
    if (expect && (expect->stored_size != size || memcmp(expect->stored_hash, tr + 16, 32) != 0)) {
        rc = damage(err, err_size, kind, FY_STORE_DMG_STORED_HASH, path,
                    "not the object the catalogue recorded (stored size or hash differ)");
        goto out;
    }
    bool can_decode = decode && (!enc || (k && k->have));
    uint64_t last_len = 0, n_chunks = 0;
    if (enc) {
        n_chunks = (payload + ST_CHUNK + ST_TAG - 1) / (ST_CHUNK + ST_TAG);
        last_len = payload - (n_chunks ? (n_chunks - 1) * (uint64_t)(ST_CHUNK + ST_TAG) : 0);
        if (n_chunks == 0 || last_len <= ST_TAG) {
            rc = damage(err, err_size, kind, FY_STORE_DMG_FORMAT, path, "bad chunk sizes");
            goto out;
        }
    }
    crypto_generichash_state sh;
    crypto_generichash_init(&sh, NULL, 0, 32);
    crypto_generichash_update(&sh, hdr, hdr_len);
    if (can_decode) {
        if (inflateInit(&o.z) != Z_OK) {
            rc = damage(err, err_size, kind, FY_STORE_DMG_IO, path, "out of memory");
            goto out;
        }
        o.z_ready = true;
        o.out = fy_xmalloc(ST_CHUNK);
        o.sink = out;
        o.sink_ctx = out_ctx;
        crypto_generichash_init(&o.plain_h, enc ? k->name : NULL, enc ? sizeof k->name : 0, 32);
    }
    size_t bsz = ST_CHUNK + ST_TAG;
    buf = fy_xmalloc(bsz);
    pt = fy_xmalloc(ST_CHUNK);
    uint64_t off = hdr_len, idx = 0;
    while (off < hdr_len + payload) {
        uint64_t left = hdr_len + payload - off;
        size_t want = left < bsz ? (size_t)left : bsz;
        ssize_t kr = st_pread_full(s, fd, buf, want, (off_t)off);
        if (kr < 0) {
            char m[160];
            snprintf(m, sizeof m, "cannot read: %s", strerror(errno));
            rc = damage(err, err_size, kind, FY_STORE_DMG_IO, path, m);
            goto out;
        }
        if ((size_t)kr != want) {
            rc = damage(err, err_size, kind, FY_STORE_DMG_FORMAT, path,
                        "shorter than its header says");
            goto out;
        }
        crypto_generichash_update(&sh, buf, want);
        if (can_decode && !o.failed && !o.sink_failed) {
            if (enc) {
                uint8_t nonce[24], ad[13];
                bool final = idx + 1 == n_chunks;
                chunk_nonce(nonce, hdr + ST_OBJ_HDR, idx);
                chunk_ad(ad, idx, final);
                unsigned long long pl;
                if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &pl, NULL, buf, want, ad,
                                                               sizeof ad, nonce, k->data) != 0) {
                    o.failed = true;
                    o.why = "a chunk does not decrypt (damaged, or another key)";
                } else {
                    inflate_feed(&o, pt, (size_t)pl);
                }
            } else {
                inflate_feed(&o, buf, want);
            }
        }
        if (o.sink_failed) break; /* the output is what failed: no point reading on */
        off += want;
        idx++;
    }
    if (o.sink_failed) {
        rc = st_fail_errno(err, err_size, FY_STORE_ERR_IO, o.sink_errno,
                           "cannot write the content of %s", path);
        if (kind) *kind = FY_STORE_DMG_IO;
        goto out;
    }
    crypto_generichash_update(&sh, tr, 16);
    uint8_t h[32];
    crypto_generichash_final(&sh, h, 32);
    if (memcmp(h, tr + 16, 32) != 0) {
        rc = damage(err, err_size, kind, FY_STORE_DMG_STORED_HASH, path,
                    "its bytes do not match their hash (damaged)");
        goto out;
    }
    if (!can_decode) goto out;
    if (!o.failed && !o.z_end) {
        o.failed = true;
        o.why = "the compressed stream ends early";
    }
    if (o.failed) {
        rc = damage(err, err_size, kind, FY_STORE_DMG_CONTENT, path, o.why);
        goto out;
    }
    uint8_t id[32];
    crypto_generichash_final(&o.plain_h, id, 32);
    if (got) {
        memcpy(got->id, id, 32);
        got->size = o.plain;
    }
    if ((!enc && fy_le64(tr) != o.plain) ||
        (expect && expect->size != ST_SIZE_ANY && expect->size != o.plain)) {
        rc = damage(err, err_size, kind, FY_STORE_DMG_CONTENT, path, "content size differs");
        goto out;
    }
    if (expect && memcmp(expect->id, id, 32) != 0) {
        rc = damage(err, err_size, kind, FY_STORE_DMG_CONTENT, path,
                    "content does not match its id");
        goto out;
    }
out:
    if (o.z_ready) inflateEnd(&o.z);
    if (o.out && enc_obj) sodium_memzero(o.out, ST_CHUNK);
    free(o.out);
    if (pt) sodium_memzero(pt, ST_CHUNK);
    free(pt);
    free(buf);
    st_close(s, fd);
    return rc;
}
