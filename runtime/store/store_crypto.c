/* Password keys (Argon2id -> two subkeys), the key check value, content ids, and a small
 * set of ids. Construction: docs/store-format.md, "Encryption". */
#include "fy_store_int.h"

#include <stdlib.h>
#include <string.h>

static const char kdf_ctx[crypto_kdf_CONTEXTBYTES] = {'F', 'Y', 'S', 'T', 'O', 'R', 'E', '1'};
static const char kcv_ad[] = "ferry-store-key-check";

int st_kdf(const char *pw, size_t pwlen, const uint8_t salt[ST_SALT_LEN], uint64_t ops,
           uint64_t mem, st_keys *k, char *err, size_t err_size)
{
    uint8_t master[32];
    memset(k, 0, sizeof *k);
    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_MAX ||
        mem < crypto_pwhash_MEMLIMIT_MIN || mem > crypto_pwhash_MEMLIMIT_MAX || mem > SIZE_MAX)
        return st_fail(err, err_size, FY_STORE_ERR_CORRUPT,
                       "key derivation limits out of range (ops %llu, memory %llu)",
                       (unsigned long long)ops, (unsigned long long)mem);
    if (crypto_pwhash(master, sizeof master, pw, pwlen, salt, ops, (size_t)mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return st_fail(err, err_size, FY_STORE_ERR_IO,
                       "key derivation failed: not enough memory for Argon2id (%llu bytes)",
                       (unsigned long long)mem);
    crypto_kdf_derive_from_key(k->data, sizeof k->data, 1, kdf_ctx, master);
    crypto_kdf_derive_from_key(k->name, sizeof k->name, 2, kdf_ctx, master);
    sodium_memzero(master, sizeof master);
    k->enc = true;
    k->have = true;
    return FY_STORE_OK;
}

/* nonce || AEAD(32 zero bytes, ad = kcv_ad || uid) */
void st_kcv_make(const st_keys *k, const uint8_t uid[ST_UID_LEN], uint8_t kcv[ST_KCV_LEN])
{
    uint8_t zero[32] = {0}, ad[sizeof kcv_ad + ST_UID_LEN];
    memcpy(ad, kcv_ad, sizeof kcv_ad);
    memcpy(ad + sizeof kcv_ad, uid, ST_UID_LEN);
    randombytes_buf(kcv, 24);
    unsigned long long cl;
    crypto_aead_xchacha20poly1305_ietf_encrypt(kcv + 24, &cl, zero, sizeof zero, ad, sizeof ad,
                                               NULL, kcv, k->data);
}

bool st_kcv_check(const st_keys *k, const uint8_t uid[ST_UID_LEN], const uint8_t kcv[ST_KCV_LEN])
{
    uint8_t out[32], ad[sizeof kcv_ad + ST_UID_LEN];
    memcpy(ad, kcv_ad, sizeof kcv_ad);
    memcpy(ad + sizeof kcv_ad, uid, ST_UID_LEN);
    unsigned long long ol;
    int r = crypto_aead_xchacha20poly1305_ietf_decrypt(out, &ol, NULL, kcv + 24, ST_KCV_LEN - 24,
                                                       ad, sizeof ad, kcv, k->data);
    sodium_memzero(out, sizeof out);
    return r == 0 && ol == 32;
}

void st_keys_wipe(st_keys *k)
{
    sodium_memzero(k, sizeof *k);
}

void st_content_id(const st_keys *k, const void *p, size_t n, uint8_t id[32])
{
    bool keyed = k && k->enc && k->have;
    crypto_generichash(id, 32, p, n, keyed ? k->name : NULL, keyed ? sizeof k->name : 0);
}

/* ---- id set: open addressing, linear probing; ids are hashes, so their first bytes are
 * already uniformly distributed. ---- */
static size_t slot_of(const uint8_t id[32], size_t cap)
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    return (size_t)(h & (cap - 1));
}

bool st_idset_has(const st_idset *set, const uint8_t id[32])
{
    if (!set->cap) return false;
    for (size_t i = slot_of(id, set->cap);; i = (i + 1) & (set->cap - 1)) {
        if (!set->used[i]) return false;
        if (memcmp(set->keys[i], id, 32) == 0) return true;
    }
}

bool st_idset_add(st_idset *set, const uint8_t id[32])
{
    if ((set->n + 1) * 4 > set->cap * 3) {
        size_t ncap = set->cap ? set->cap * 2 : 1024;
        st_idset big = {fy_xcalloc(ncap, 32), fy_xcalloc(ncap, 1), ncap, 0};
        for (size_t i = 0; i < set->cap; i++)
            if (set->used[i]) st_idset_add(&big, set->keys[i]);
        st_idset_free(set);
        *set = big;
    }
    for (size_t i = slot_of(id, set->cap);; i = (i + 1) & (set->cap - 1)) {
        if (!set->used[i]) {
            set->used[i] = 1;
            memcpy(set->keys[i], id, 32);
            set->n++;
            return true;
        }
        if (memcmp(set->keys[i], id, 32) == 0) return false;
    }
}

void st_idset_free(st_idset *set)
{
    free(set->keys);
    free(set->used);
    memset(set, 0, sizeof *set);
}
