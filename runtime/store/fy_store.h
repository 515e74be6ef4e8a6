/* The data store: personalities (one per user per source computer), their generations,
 * content-addressed objects, password protection, locks, verify, list, import.
 *
 * Layout and formats: docs/store-format.md. In short:
 *
 *   STORE/<DOMAIN>/<user>/<COMPUTER>/   one personality (DOMAIN, COMPUTER upper case, user
 *                                       lower case; looked up case-insensitively)
 *       index                           the current generations (text; replaced by rename)
 *       generations/00000001.cat        one catalogue per generation
 *       objects/ab/cdef...              content objects (zlib; encrypted with a password)
 *       logs/                           operation logs
 *       tmp/                            a writer's temporary files (ignored by readers)
 *       lock                            present while a writer holds the personality
 *
 * Errors: every function returns FY_STORE_OK (0) or one of the FY_STORE_ERR_* codes and,
 * when err is not NULL, writes a one-line message (what, which file, what to do) into
 * err[0..err_size). fy_store_exit_code() maps a code to the agent's exit code.
 *
 * Ownership: handles (fy_store, fy_store_writer, fy_store_reader, fy_store_gen) are freed
 * with their own _close/_free function. Pointers a handle returns (metadata, entries,
 * generation lists) are owned by that handle and stay valid as the function says. Arrays
 * returned through an out-parameter with a matching _free function belong to the caller.
 * Passwords are never copied into long-lived memory; derived keys are wiped
 * (sodium_memzero) when their handle is freed.
 *
 * Threads: a handle is used by one thread at a time; separate handles are independent.
 * Processes: any number of writers on different personalities of one store, any number of
 * readers anywhere; writers of the same personality exclude each other through the lock
 * file (no flock/fcntl: they are unreliable on CIFS/NFS). */
#ifndef FY_STORE_H
#define FY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- error codes ---- */
enum {
    FY_STORE_OK = 0,
    FY_STORE_ERR_USAGE = -1,     /* bad argument (unsafe path, bad user name...): exit 2 */
    FY_STORE_ERR_NOT_FOUND = -2, /* no such store, personality or generation: exit 4 */
    FY_STORE_ERR_LOCKED = -3,    /* a live agent holds the personality (waited): exit 4 */
    FY_STORE_ERR_PASSWORD = -4,  /* password missing, wrong, or not expected: exit 5 */
    FY_STORE_ERR_CORRUPT = -5,   /* damaged index, catalogue or object: exit 4 */
    FY_STORE_ERR_IO = -6,        /* write or read failed (ENOSPC, EFBIG, EIO, EROFS...): exit 7 */
    FY_STORE_ERR_EXISTS = -7,    /* import would replace a different personality: exit 4 */
    FY_STORE_ERR_SOURCE = -8,    /* reading the caller's input fd failed (not the store): the
                                    writer stays usable; the agent skips that file (exit 1) */
};
/* The agent's exit code for a store error code (FY_EXIT_* in fy_common.h). */
int fy_store_exit_code(int rc);
const char *fy_store_strerror(int rc); /* "locked", "corrupt"... (static) */

/* ---- injectable I/O layer (tests: fault injection, crash points, read-only checks) ----
 * Every open, read, write, sync, rename, link, unlink and mkdir the store does goes
 * through this table; stat and readdir do not (they never change anything). Functions
 * return what the POSIX call returns and set errno. */
typedef enum {
    FY_STORE_SYNC_START, /* start write-back only (sync_file_range); advisory */
    FY_STORE_SYNC_DATA,  /* fdatasync */
    FY_STORE_SYNC_FULL,  /* fsync (folders) */
    FY_STORE_SYNC_FS,    /* syncfs: everything on fd's file system (a batch of objects) */
} fy_store_sync_kind;

typedef struct fy_store_io {
    void *ctx;
    int (*openat)(void *ctx, int dirfd, const char *path, int flags, mode_t mode);
    int (*close)(void *ctx, int fd);
    ssize_t (*read)(void *ctx, int fd, void *buf, size_t n);
    ssize_t (*pread)(void *ctx, int fd, void *buf, size_t n, off_t off);
    ssize_t (*write)(void *ctx, int fd, const void *buf, size_t n);
    ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t n, off_t off);
    int (*sync)(void *ctx, int fd, fy_store_sync_kind kind);
    int (*renameat)(void *ctx, int olddir, const char *oldpath, int newdir, const char *newpath);
    int (*linkat)(void *ctx, int olddir, const char *oldpath, int newdir, const char *newpath);
    int (*unlinkat)(void *ctx, int dirfd, const char *path, int flags);
    int (*mkdirat)(void *ctx, int dirfd, const char *path, mode_t mode);
} fy_store_io;

/* The plain POSIX table (static; ctx unused). */
const fy_store_io *fy_store_io_posix(void);

/* ---- opening a store ---- */
typedef struct fy_store_opts {
    const fy_store_io *io; /* NULL: fy_store_io_posix() */
    bool create;           /* create the store folder (and parents) when missing */
    unsigned lock_wait_ms; /* how long a writer waits for a held lock (60000) */
    unsigned lock_poll_ms; /* how often it looks again (250) */
    unsigned lock_stale_s; /* a heartbeat older than this is stale (600) */
    unsigned heartbeat_s;  /* a writer refreshes its heartbeat at most this often (30) */
    int zlib_level;        /* 0 (store) .. 9; FY_STORE_ZLIB_LEVEL; docs/store-format.md */
    const char *host;      /* host name written into locks; NULL: gethostname() */
} fy_store_opts;

#define FY_STORE_ZLIB_LEVEL 1
/* Defaults as documented above. */
fy_store_opts fy_store_opts_default(void);

typedef struct fy_store fy_store;

/* Opens the store folder root (opts NULL: defaults). Readers never need write access. */
int fy_store_open(const char *root, const fy_store_opts *opts, fy_store **out, char *err,
                  size_t err_size);
void fy_store_close(fy_store *s);

/* ---- identities, paths ---- */
typedef struct fy_store_id {
    const char *domain;   /* NETBIOS domain; a local user's is the computer name */
    const char *user;     /* SAM account name */
    const char *computer; /* source computer; NULL when reading: the user's most recent */
} fy_store_id;

/* True when a normalised catalogue path is safe to place: it begins with a known-folder
 * token (<My Documents>) or a drive letter (C:), its components are separated by '\', and
 * no component is empty, ".", "..", made only of dots and spaces, or holds '/', ':', a
 * control character or one of * ? " | < > (bar the text tokens <User Name>, <User
 * Domain>). A NUL inside a length-counted path is refused by the catalogue reader. */
bool fy_store_path_safe(const char *normalised_path);
/* The same for a registry key (HKCU or HKLM, no empty component). */
bool fy_store_regkey_safe(const char *key);

/* FILETIME (100 ns since 1601-01-01 UTC) <-> Unix time in nanoseconds. */
uint64_t fy_store_filetime_from_unix_ns(int64_t ns);
int64_t fy_store_filetime_to_unix_ns(uint64_t ft);

/* ---- what a generation holds ---- */
#define FY_STORE_HASH_LEN 32
#define FY_STORE_ATTR_DIRECTORY 0x10u      /* a folder entry: no content */
#define FY_STORE_ATTR_REPARSE_POINT 0x400u /* links and junctions: refused */
#define FY_STORE_REG_INLINE_MAX 4096       /* bigger registry data is stored as an object */

typedef struct fy_store_objref {
    uint8_t id[FY_STORE_HASH_LEN];          /* BLAKE2b-256 of the plaintext (keyed with a
                                               password: the object's file name) */
    uint8_t stored_hash[FY_STORE_HASH_LEN]; /* BLAKE2b-256 of the object file (its trailer) */
    uint64_t stored_size;                   /* object file size */
    uint64_t size;                          /* plaintext size */
} fy_store_objref;

typedef struct fy_store_ads {
    const char *name; /* stream name without ':' ("Zone.Identifier") */
    fy_store_objref ref;
} fy_store_ads;

typedef struct fy_store_file {
    const char *path;    /* normalised, UTF-8: <My Documents>\Project Data\a.txt */
    uint64_t size;       /* bytes (folders: 0) */
    uint64_t mtime;      /* FILETIME */
    uint64_t ctime;      /* FILETIME (creation) */
    uint32_t attributes; /* Windows FILE_ATTRIBUTE_* */
    bool has_content;    /* false for folders (FY_STORE_ATTR_DIRECTORY) */
    fy_store_objref content;
    const fy_store_ads *ads;
    size_t n_ads;
    const char *dest; /* destination remap text, or NULL */
} fy_store_file;

typedef struct fy_store_reg {
    const char *key;   /* normalised: HKCU\Software\X */
    const char *value; /* value name ("" default value); NULL: a key-only entry */
    uint32_t type;     /* REG_* */
    const uint8_t *data;
    size_t len;
    /* Reader side: big data is an object (data NULL, len = data_ref.size); read it with
     * fy_store_read_object_mem. Writers pass data/len and the store decides. */
    bool data_is_object;
    fy_store_objref data_ref;
} fy_store_reg;

typedef struct fy_store_app {
    const char *id, *version;
} fy_store_app;
typedef struct fy_store_kv {
    const char *key, *value;
} fy_store_kv;

typedef struct fy_store_meta {
    const char *user; /* DOMAIN\name */
    const char *sid;
    const char *computer; /* source computer */
    const char *os_name, *os_version;
    int64_t time; /* Unix seconds, UTC, of the operation (0 at commit: now) */
    const fy_store_app *apps;
    size_t n_apps;
    const char *program_hash; /* the program's source hash (text) */
    const char *tool_version; /* NULL at commit: FERRY_VERSION */
    const fy_store_kv *kv;
    size_t n_kv;
    /* Filled by readers (ignored by fy_store_commit): */
    const char *const *logs; /* names noted with fy_store_note_log */
    size_t n_logs;
    uint32_t generation;
    bool has_program;
    fy_store_objref program;
    uint64_t n_files, n_reg, bytes;
} fy_store_meta;

/* ---- writing: one generation (extract or backup) ---- */
typedef struct fy_store_write_opts {
    bool overwrite;       /* start afresh: the new generation replaces all older ones */
    const char *password; /* NULL: none (an encrypted personality then fails) */
    size_t password_len;
    /* Argon2id limits for a new (or overwritten) encrypted personality; 0: libsodium's
     * MODERATE. Tests pass crypto_pwhash_OPSLIMIT_MIN / MEMLIMIT_MIN. */
    unsigned long long kdf_ops;
    size_t kdf_mem;
} fy_store_write_opts;

typedef struct fy_store_writer fy_store_writer;

/* Checks the password against an existing personality (before anything is written), takes
 * the personality's lock (waiting up to lock_wait_ms: FY_STORE_ERR_LOCKED), cleans what a
 * crashed writer left, and loads the previous generation's file table for
 * fy_store_prev_file. Creates the personality's folders when new. */
int fy_store_writer_begin(fy_store *s, const fy_store_id *id, const fy_store_write_opts *o,
                          fy_store_writer **out, char *err, size_t err_size);

/* Streams fd (from its current offset to EOF) into an object: hashed, compressed and, with
 * a password, encrypted in one pass; constant memory. Identical content is stored once. */
int fy_store_put_fd(fy_store_writer *w, int fd, fy_store_objref *ref, char *err, size_t err_size);
int fy_store_put_mem(fy_store_writer *w, const void *data, size_t n, fy_store_objref *ref,
                     char *err, size_t err_size);

/* The previous generation's entry for a path (case-insensitive), so that a backup can
 * skip files whose size and mtime did not change and pass the old content (and stream)
 * references to fy_store_add_file. Returns true when found; *out points into the writer,
 * valid until the next call (its dest is always NULL: the remap is decided anew). Always
 * false under overwrite or for a new personality. */
bool fy_store_prev_file(fy_store_writer *w, const char *path, const fy_store_file **out);

/* Appends entries to the catalogue (streamed to disk; memory does not grow with the count).
 * Paths must be safe (fy_store_path_safe); content references must come from this
 * writer's fy_store_put_* or fy_store_prev_file. */
int fy_store_add_file(fy_store_writer *w, const fy_store_file *f, char *err, size_t err_size);
int fy_store_add_reg(fy_store_writer *w, const fy_store_reg *r, char *err, size_t err_size);
/* Stores the program image (.fyb bytes) that extracted this personality. */
int fy_store_set_program(fy_store_writer *w, const void *fyb, size_t n, char *err, size_t err_size);
/* Names a log that belongs to this generation (the file itself: fy_store_add_log). */
int fy_store_note_log(fy_store_writer *w, const char *name, char *err, size_t err_size);

/* Refreshes the lock's heartbeat when heartbeat_s has passed (cheap otherwise); the writer
 * also calls it on every object. FY_STORE_ERR_LOCKED when another agent took the lock over
 * (this writer then can only be freed). */
int fy_store_heartbeat(fy_store_writer *w, char *err, size_t err_size);

/* Makes the generation visible: objects durable, catalogue, then the index (atomically).
 * *generation (may be NULL) gets its number. Nothing changes visibly on failure. The lock
 * is still held afterwards (for fy_store_add_log) until fy_store_writer_free. */
int fy_store_commit(fy_store_writer *w, const fy_store_meta *meta, uint32_t *generation, char *err,
                    size_t err_size);
/* Drops an uncommitted generation (its temporary files) and releases the lock. */
void fy_store_writer_free(fy_store_writer *w);

/* Copies the log in fd into logs/<name> (encrypted with the personality's key when it has a
 * password). Atomic (temporary name, rename); an existing name gets a "-2", "-3"... suffix. */
int fy_store_add_log(fy_store_writer *w, const char *name, int fd, char *err, size_t err_size);

/* ---- reading (inject, restore): never writes, needs no lock ---- */
typedef struct fy_store_gen_info {
    uint32_t number;
    int64_t time; /* Unix seconds, UTC */
    uint64_t n_files, n_reg, bytes;
} fy_store_gen_info;

typedef struct fy_store_reader fy_store_reader;
typedef struct fy_store_gen fy_store_gen;

/* Opens a personality (id->computer NULL: the one of that user with the latest
 * generation). An encrypted personality needs its password (FY_STORE_ERR_PASSWORD). */
int fy_store_reader_open(fy_store *s, const fy_store_id *id, const char *password,
                         size_t password_len, fy_store_reader **out, char *err, size_t err_size);
void fy_store_reader_close(fy_store_reader *r);
/* Canonical identity and state (owned by r). */
const char *fy_store_reader_domain(const fy_store_reader *r);
const char *fy_store_reader_user(const fy_store_reader *r);
const char *fy_store_reader_computer(const fy_store_reader *r);
bool fy_store_reader_encrypted(const fy_store_reader *r);
/* Generations, oldest first (owned by r). */
const fy_store_gen_info *fy_store_reader_gens(const fy_store_reader *r, size_t *n);
/* The number of the latest generation at or before t (Unix seconds); NOT_FOUND if none. */
int fy_store_reader_find_time(const fy_store_reader *r, int64_t t, uint32_t *generation, char *err,
                              size_t err_size);

/* Opens one generation's catalogue (number 0: the latest). */
int fy_store_gen_open(fy_store_reader *r, uint32_t number, fy_store_gen **out, char *err,
                      size_t err_size);
void fy_store_gen_close(fy_store_gen *g);
/* Metadata of the generation (owned by g). */
const fy_store_meta *fy_store_gen_meta(const fy_store_gen *g);

typedef enum { FY_STORE_ENTRY_FILE = 1, FY_STORE_ENTRY_REG = 2 } fy_store_entry_kind;
typedef struct fy_store_entry {
    fy_store_entry_kind kind;
    fy_store_file file; /* kind FILE */
    fy_store_reg reg;   /* kind REG */
} fy_store_entry;
/* Next entry in catalogue order: 1 and *e filled (its pointers valid until the next call),
 * 0 at the end, or an error code (CORRUPT: includes unsafe paths and link entries). */
int fy_store_gen_next(fy_store_gen *g, fy_store_entry *e, char *err, size_t err_size);

/* Writes an object's plaintext to out_fd (streaming, constant memory); checks its hashes
 * and size while reading and returns CORRUPT when they do not match (the bytes written so
 * far must then be discarded by the caller). */
int fy_store_read_object(fy_store_reader *r, const fy_store_objref *ref, int out_fd, char *err,
                         size_t err_size);
/* The same into memory (malloc'd, caller frees); USAGE when ref->size > max. */
int fy_store_read_object_mem(fy_store_reader *r, const fy_store_objref *ref, size_t max,
                             uint8_t **out, size_t *len, char *err, size_t err_size);
/* The program image of generation g (malloc'd, caller frees); NOT_FOUND when none. */
int fy_store_gen_program(fy_store_gen *g, uint8_t **out, size_t *len, char *err, size_t err_size);

/* Adds a log to the personality from a reader (inject, restore), as fy_store_add_log; the
 * store must be writable (IO otherwise). Takes no lock: log names do not collide. */
int fy_store_reader_add_log(fy_store_reader *r, const char *name, int fd, char *err,
                            size_t err_size);
/* Logs in logs/ (names malloc'd, caller frees with fy_store_strv_free), and one log's
 * text (decrypted when the personality has a password) copied to out_fd. */
int fy_store_reader_logs(fy_store_reader *r, char ***names, size_t *n, char *err, size_t err_size);
int fy_store_reader_read_log(fy_store_reader *r, const char *name, int out_fd, char *err,
                             size_t err_size);
void fy_store_strv_free(char **v, size_t n);

/* ---- list ---- */
typedef struct fy_store_personality {
    char *domain, *user, *computer; /* folder names */
    char *dir;                      /* "DOMAIN/user/COMPUTER" under the store */
    bool encrypted;
    bool locked;     /* a lock file is present */
    bool lock_stale; /* ... and would be taken over */
    char *lock_host; /* holder, when readable (else NULL) */
    long lock_pid;
    int64_t lock_heartbeat;
    fy_store_gen_info *gens; /* oldest first */
    size_t n_gens;
    char *error; /* non-NULL: the index could not be read (then gens is empty) */
} fy_store_personality;

/* Every personality in the store (sorted by domain, user, computer), as data; folders
 * without an index (a first extraction that never finished) are left out. */
int fy_store_list(fy_store *s, fy_store_personality **out, size_t *n, char *err, size_t err_size);
void fy_store_list_free(fy_store_personality *v, size_t n);

/* ---- verify ---- */
typedef enum {
    FY_STORE_DMG_INDEX = 1,   /* the index is unreadable or damaged */
    FY_STORE_DMG_CATALOG,     /* a catalogue is missing, damaged, or holds an unsafe entry */
    FY_STORE_DMG_MISSING,     /* an object file is missing */
    FY_STORE_DMG_FORMAT,      /* an object file is malformed (header, sizes) */
    FY_STORE_DMG_STORED_HASH, /* its bytes do not match their recorded hash */
    FY_STORE_DMG_CONTENT,     /* its content does not match its id or size */
    FY_STORE_DMG_IO,          /* it could not be read */
} fy_store_damage_kind;

typedef struct fy_store_damage {
    const char *personality; /* "DOMAIN/user/COMPUTER" */
    uint32_t generation;     /* 0: not about one generation */
    const char *path;        /* catalogue path of the entry (NULL: unknown, e.g. encrypted) */
    const char *object;      /* object id in hex (NULL: not about an object) */
    const char *file;        /* file in the personality folder */
    fy_store_damage_kind kind;
    const char *message;
} fy_store_damage;

typedef void (*fy_store_damage_fn)(void *ctx, const fy_store_damage *d);

typedef struct fy_store_verify_stats {
    uint64_t personalities, generations, objects, bytes, damaged;
} fy_store_verify_stats;

/* Verifies one personality (id->computer NULL: every computer of that user) or, with id
 * NULL, every personality. Re-reads each object of each generation once and checks its
 * stored-bytes hash; without a password (or with the right one) also its content hash and
 * size; checks each catalogue's checksum and structure. Each damage goes to fn. Returns OK
 * when nothing is damaged, CORRUPT when something is, NOT_FOUND when id matches nothing,
 * PASSWORD when a password is given and wrong. Never writes. */
int fy_store_verify(fy_store *s, const fy_store_id *id, const char *password, size_t password_len,
                    fy_store_damage_fn fn, void *ctx, fy_store_verify_stats *stats, char *err,
                    size_t err_size);

/* ---- import ---- */
/* Takes in a personality folder copied from elsewhere (the folder that holds "index";
 * archives are not read: unpack them first). Verifies it (stored hashes; no password
 * needed), then copies it to its place in this store under the lock, index last. Where a
 * personality already exists there it must be the same one (same uid) with no generation
 * the import lacks; otherwise FY_STORE_ERR_EXISTS and nothing is changed. */
int fy_store_import(fy_store *s, const char *folder, char *err, size_t err_size);

/* ---- for fuzzing and tools: parse bytes in memory ---- */
#define FY_STORE_CHECK_NO_CHECKSUMS 1u /* skip checksum checks (fuzzing only) */
/* Parses a catalogue (plain: every record; encrypted: its structure) and checks it. */
int fy_store_catalog_check_mem(const uint8_t *data, size_t n, unsigned flags, char *err,
                               size_t err_size);
/* Parses an index file. */
int fy_store_index_check_mem(const uint8_t *data, size_t n, unsigned flags, char *err,
                             size_t err_size);

#endif
