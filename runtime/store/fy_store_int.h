/* Private to runtime/store: shared pieces of the store's implementation. Formats are
 * described in docs/store-format.md; keep both in step. */
#ifndef FY_STORE_INT_H
#define FY_STORE_INT_H

#include "fy_common.h"
#include "fy_store.h"

#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <zlib.h>

struct fy_store {
    int rootfd;
    char *root;
    fy_store_opts o;
    const fy_store_io *io;
    char host[256];
};

/* ---- errors ---- */
int st_fail(char *err, size_t n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Appends ": strerror(e)"; the code is ERR_IO unless given. */
int st_fail_errno(char *err, size_t n, int code, int e, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- I/O through the store's table ---- */
int st_open(const fy_store *s, int dirfd, const char *path, int flags, mode_t mode);
void st_close(const fy_store *s, int fd);
int st_write_all(const fy_store *s, int fd, const void *p, size_t n); /* 0 / -1 errno */
int st_pwrite_all(const fy_store *s, int fd, const void *p, size_t n, off_t off);
/* Reads up to n bytes (fewer only at end of file); -1 errno. */
ssize_t st_read_full(const fy_store *s, int fd, void *p, size_t n);
ssize_t st_pread_full(const fy_store *s, int fd, void *p, size_t n, off_t off);
int st_sync(const fy_store *s, int fd, fy_store_sync_kind kind);
int st_rename(const fy_store *s, int od, const char *op, int nd, const char *np);
int st_unlink(const fy_store *s, int dirfd, const char *path, int flags);
int st_mkdir(const fy_store *s, int dirfd, const char *path); /* EEXIST is success */
int st_open_dir(const fy_store *s, int dirfd, const char *path);
int st_sync_dir(const fy_store *s, int dirfd, const char *path);
/* "prefix-<16 random hex>" into out[64]. */
void st_tmpname(char out[64], const char *prefix);
/* Reads a whole small file (at most max bytes) into *out (malloc'd). -1 errno (EFBIG when
 * larger than max). */
int st_read_small(const fy_store *s, int dirfd, const char *path, size_t max, uint8_t **out,
                  size_t *len);
/* Writes data to tmpdir/<tmp>, syncs it, renames it to dirfd/name and syncs dirfd. */
int st_write_atomic(const fy_store *s, int tmpdir, int dirfd, const char *name, const void *data,
                    size_t n, char *err, size_t err_size);
/* Removes every plain file in a folder (temporary files of a crashed writer). */
void st_clear_dir(const fy_store *s, int dirfd);

/* ---- text ---- */
void st_hex(const uint8_t *p, size_t n, char *out); /* out holds 2n+1 */
bool st_unhex(const char *s, size_t sn, uint8_t *out, size_t n);
bool st_is_hex(const char *s, size_t n);
/* Canonical folder names: upper case (domain, computer) or lower case (user). NULL when the
 * name cannot be a folder name (empty, ".", "..", '/', '\\', control characters, invalid
 * UTF-8, over 255 bytes). malloc'd. */
char *st_name_upper(const char *s);
char *st_name_lower(const char *s);
/* Finds a folder entry matching name case-insensitively (the exact name first); the
 * found spelling is copied into out (at most 256 bytes). */
bool st_find_ci(int dirfd, const char *name, char out[256]);
bool st_ads_name_safe(const char *s, size_t n);

/* ---- keys ---- */
#define ST_SALT_LEN 16
#define ST_UID_LEN 16
#define ST_KCV_LEN (24 + 32 + 16)
typedef struct st_keys {
    bool enc;         /* the personality is encrypted */
    bool have;        /* ... and the keys below are set (always true for plain personalities) */
    uint8_t data[32]; /* XChaCha20-Poly1305 key: objects, catalogues, logs */
    uint8_t name[32]; /* BLAKE2b key: object ids */
} st_keys;
int st_kdf(const char *pw, size_t pwlen, const uint8_t salt[ST_SALT_LEN], uint64_t ops,
           uint64_t mem, st_keys *k, char *err, size_t err_size);
void st_kcv_make(const st_keys *k, const uint8_t uid[ST_UID_LEN], uint8_t kcv[ST_KCV_LEN]);
bool st_kcv_check(const st_keys *k, const uint8_t uid[ST_UID_LEN], const uint8_t kcv[ST_KCV_LEN]);
void st_keys_wipe(st_keys *k);
/* Content id: BLAKE2b-256, keyed with k->name when encrypted. */
void st_content_id(const st_keys *k, const void *p, size_t n, uint8_t id[32]);

/* ---- objects ---- */
#define ST_OBJ_HDR 16
#define ST_OBJ_NONCE 16
#define ST_OBJ_TRAILER 48
#define ST_CHUNK 65536
#define ST_TAG 16
extern const uint8_t st_obj_magic[8];

typedef int (*st_sink_fn)(void *ctx, const void *p, size_t n); /* 0 / -1 errno */

/* One-pass encoder: plaintext in, stored bytes (header, payload, trailer) out to sink. */
typedef struct st_enc {
    const st_keys *k;
    z_stream z;
    bool z_ready;
    int level;
    crypto_generichash_state plain_h, stored_h;
    uint8_t nonce[ST_OBJ_NONCE];
    uint64_t chunk_idx;
    uint8_t *chunk; /* compressed bytes not yet sealed: up to ST_CHUNK */
    size_t chunk_len;
    uint8_t *zout;
    uint64_t plain_size, payload_len;
    bool probed; /* incompressible-data check done */
    st_sink_fn sink;
    void *sink_ctx;
    int err; /* errno of the first failure */
} st_enc;
int st_enc_begin(st_enc *e, const st_keys *k, int level, st_sink_fn sink, void *ctx);
int st_enc_update(st_enc *e, const void *p, size_t n);
int st_enc_finish(st_enc *e, fy_store_objref *ref);
void st_enc_end(st_enc *e);

/* "ab/cdef..." (66 bytes with NUL) for an id. */
void st_obj_relpath(const uint8_t id[32], char out[68]);

/* expect->size meaning "not known: compare the id alone" */
#define ST_SIZE_ANY UINT64_MAX
/* Reads an object file dirfd/path. Always checks the header, sizes and the stored-bytes
 * hash (against the trailer, and against expect->stored_hash/stored_size when expect is
 * given). With decode (plain objects always decodable; encrypted ones need k->enc), also
 * decompresses (decrypts), sends the plaintext to out (may be NULL) and checks content id
 * and size against expect (when given). Errors: CORRUPT with *kind (MISSING, FORMAT,
 * STORED_HASH, CONTENT), IO with kind IO (also a failing out sink). got (may be NULL)
 * receives what the file says about itself (stored hash, sizes; id when decoded). */
int st_obj_read(const fy_store *s, int dirfd, const char *path, const st_keys *k, bool decode,
                const fy_store_objref *expect, st_sink_fn out, void *out_ctx, fy_store_objref *got,
                fy_store_damage_kind *kind, char *err, size_t err_size);
/* Reads only the header and trailer of an existing object (dedup): stored hash and size. */
int st_obj_peek(const fy_store *s, int dirfd, const char *path, fy_store_objref *got);

/* ---- catalogue ---- */
#define ST_CAT_HDR 64
#define ST_CAT_FOOTER 128
#define ST_BLK_HDR 32
#define ST_BLK_TARGET 65536
#define ST_BLK_MAX (16u << 20)
#define ST_REF_LEN 72
#define ST_OBJREF_LEN 80
enum { ST_BLK_ENTRIES = 1, ST_BLK_META = 2 };
enum { ST_REC_FILE = 1, ST_REC_REG = 2, ST_REC_META = 3 };

typedef struct st_catw {
    const fy_store *s;
    const st_keys *k;
    int level;
    int tmpdir;
    int fd, spool_fd;
    char name[64], spool_name[64];
    uint8_t cat_uid[ST_UID_LEN];
    crypto_generichash_state file_h;
    uint64_t off;
    uint32_t block_idx;
    fy_buf block, rec, out, spool;
    uint64_t n_refs, n_files, n_reg, bytes;
    bool finished; /* written and closed under c->name in tmpdir, not yet renamed */
} st_catw;

int st_catw_begin(st_catw *c, const fy_store *s, int tmpdir, const st_keys *k, int level,
                  uint32_t generation, const uint8_t puid[ST_UID_LEN], char *err, size_t n);
/* Entries must already be checked (paths safe, big registry data turned into objects). */
int st_catw_file(st_catw *c, const fy_store_file *f, char *err, size_t n);
int st_catw_reg(st_catw *c, const fy_store_reg *r, char *err, size_t n);
/* Records an object reference in the plaintext reference list (program image too). */
int st_catw_ref(st_catw *c, const fy_store_objref *r, char *err, size_t n);
/* Writes the last blocks, the meta block, the references and the footer, syncs the file.
 * The caller renames c->name from tmpdir. meta->logs, program, counts are taken from m. */
int st_catw_finish(st_catw *c, const fy_store_meta *m, uint8_t hash[32], char *err, size_t n);
/* Closes and removes its temporary files (the finished catalogue too: call it only when
 * the catalogue was not renamed into place). */
void st_catw_abort(st_catw *c);

typedef struct st_src {
    const fy_store *s; /* NULL: mem */
    int fd;
    const uint8_t *mem;
    uint64_t size;
} st_src;

typedef struct st_catr {
    st_src src;
    const st_keys *k; /* NULL or !enc: plain only */
    unsigned flags;
    bool enc, decode;
    uint16_t minor;
    uint32_t generation;
    uint8_t cat_uid[ST_UID_LEN], puid[ST_UID_LEN];
    uint64_t body_off, meta_off, refs_off, n_refs, footer_off;
    uint32_t n_blocks;
    uint64_t n_files, n_reg, bytes;
    uint8_t hash[32];
    /* iteration */
    uint64_t next_off;
    uint32_t next_idx;
    uint8_t *plain;
    size_t plain_len, pos;
    uint8_t *sbuf;
    size_t sbuf_cap;
    fy_store_ads *ads;
    size_t ads_cap;
    /* references read ahead (st_catr_ref walks the list in order) */
    uint8_t *refbuf;
    uint64_t ref_first, ref_count;
    /* meta */
    fy_arena arena;
    fy_store_meta meta;
    bool have_meta;
} st_catr;

/* Opens a catalogue: header, footer, block chain (structure); with decode (plain, or a key
 * for an encrypted one) also the meta block. Errors are CORRUPT (IO for read failures). */
int st_catr_open(st_catr *c, st_src src, const st_keys *k, unsigned flags, char *err, size_t n);
/* Walks every block (checks each block's check value and, when decoding, every record). */
int st_catr_next(st_catr *c, fy_store_entry *e, char *err, size_t n);
/* Reference i of the plaintext list (id, stored_hash, stored_size; size 0). */
int st_catr_ref(st_catr *c, uint64_t i, fy_store_objref *r, char *err, size_t n);
/* BLAKE2b-256 of the whole file before the footer's hash, compared with the footer. */
int st_catr_check_hash(st_catr *c, uint8_t out[32], char *err, size_t n);
void st_catr_close(st_catr *c);

/* ---- index ---- */
typedef struct st_gen {
    uint32_t number;
    int64_t time;
    uint64_t n_files, n_reg, bytes;
    char catalog[32];
    uint8_t hash[32];
} st_gen;

typedef struct st_index {
    uint8_t uid[ST_UID_LEN];
    char *domain, *user, *computer;
    bool enc;
    uint64_t kdf_ops, kdf_mem;
    uint8_t salt[ST_SALT_LEN];
    uint8_t kcv[ST_KCV_LEN];
    uint32_t next;
    st_gen *gens;
    size_t n_gens;
} st_index;

int st_index_parse(const uint8_t *p, size_t n, unsigned flags, st_index *ix, char *err,
                   size_t err_size);
void st_index_format(const st_index *ix, fy_buf *out);
void st_index_free(st_index *ix);
/* Reads pfd/index: OK, NOT_FOUND (no index), CORRUPT, IO. */
int st_index_load(const fy_store *s, int pfd, st_index *ix, char *err, size_t err_size);
void st_catalog_name(uint32_t number, char out[32]);

/* ---- lock ---- */
typedef struct st_lockinfo {
    bool present, parsed;
    char host[256];
    long pid;
    unsigned long long pid_start;
    char token[33];
    int64_t heartbeat;
} st_lockinfo;

typedef struct st_lock {
    int pfd; /* not owned */
    int fd;
    bool held;
    char token[33];
    char content[512];
    size_t content_len;
    int64_t last_beat; /* monotonic seconds */
} st_lock;

int st_lock_acquire(const fy_store *s, int pfd, const char *what, st_lock *l, char *err,
                    size_t err_size);
int st_lock_heartbeat(const fy_store *s, st_lock *l, bool force, char *err, size_t err_size);
/* LOCKED when the lock file no longer holds our token. */
int st_lock_check(const fy_store *s, st_lock *l, char *err, size_t err_size);
void st_lock_release(const fy_store *s, st_lock *l);
/* Reads the lock file (never writes); *stale says whether a writer would take it over. */
void st_lock_inspect(const fy_store *s, int pfd, st_lockinfo *li, bool *stale);
int64_t st_now(void);     /* wall clock, Unix seconds */
int64_t st_mono_ms(void); /* monotonic milliseconds */

/* ---- personalities ---- */
/* Opens STORE/<domain>/<user>/<computer> (case-insensitive); NOT_FOUND when missing.
 * rel (may be NULL) gets the found "DOMAIN/user/COMPUTER" (malloc'd). */
int st_pers_open(const fy_store *s, const char *domain, const char *user, const char *computer,
                 int *pfd, char **rel, char *err, size_t err_size);

/* Garbage collection under the lock: removes objects no catalogue in ix refers to and
 * catalogues ix does not list. */
int st_gc(const fy_store *s, int pfd, const st_index *ix, char *err, size_t err_size);
/* True when generations/ holds a catalogue that ix does not list (a crash or an
 * interrupted collection: st_gc is due). */
bool st_gc_due(const fy_store *s, int pfd, const st_index *ix);

/* Simple open-addressing set of 32-byte ids. */
typedef struct st_idset {
    uint8_t (*keys)[32];
    uint8_t *used;
    size_t cap, n;
} st_idset;
/* Returns true when id was added (false: already present). */
bool st_idset_add(st_idset *set, const uint8_t id[32]);
bool st_idset_has(const st_idset *set, const uint8_t id[32]);
void st_idset_free(st_idset *set);

#endif
