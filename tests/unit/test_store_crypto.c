/* runtime/store with a password: encrypted round trip (files, streams, registry, program,
 * logs); missing or wrong password -> FY_STORE_ERR_PASSWORD with nothing changed (tree
 * snapshots); no plaintext of a known file's content, of its name, of registry data or of a
 * log line anywhere in the store's bytes; object names not the plain BLAKE2b of the content;
 * list shows "encrypted"; verify without the password (stored hashes) finds a flipped byte,
 * with the right one checks content, with a wrong one says so; a password cannot be added
 * to a plain personality except by overwrite; backups need the password. Argon2id runs at
 * libsodium's minimum limits here (the limits are stored per personality). */
#include "store_test_util.h"

#include "store/fy_store_int.h"

static char *g_dir;
static const char *PW = "correct horse battery staple";

static int setup(void **state)
{
    (void)state;
    g_dir = tu_mkdtemp();
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmrf(g_dir);
    free(g_dir);
    g_dir = NULL;
    return 0;
}

static fy_store_write_opts pw_opts(const char *pw)
{
    fy_store_write_opts o = {0};
    o.password = pw;
    o.password_len = pw ? strlen(pw) : 0;
    o.kdf_ops = crypto_pwhash_OPSLIMIT_MIN;
    o.kdf_mem = crypto_pwhash_MEMLIMIT_MIN;
    return o;
}

/* Known plaintexts the store must never show. */
#define SECRET_CONTENT "SECRET-CONTENT-7f3a9c The quarterly figures are attached."
#define SECRET_NAME "Geheimprojekt-Zeta"
#define SECRET_REG "SECRET-REGDATA-51c2"
#define SECRET_KEY "SecretVendorKey"
#define SECRET_LOG "LOGLINE-copied Geheimprojekt"

static void write_secret_gen(fy_store *s, const fy_store_write_opts *o)
{
    char err[512];
    fy_store_writer *w;
    int rc = fy_store_writer_begin(s, &TU_ID, o, &w, err, sizeof err);
    if (rc) fail_msg("begin: %s", err);
    /* the content repeated, so that deflate alone would not hide it */
    fy_buf big = {0};
    for (int i = 0; i < 5000; i++)
        fy_buf_puts(&big, SECRET_CONTENT "\n");
    fy_store_file f = {0};
    f.path = "<My Documents>\\" SECRET_NAME "\\" SECRET_NAME ".txt";
    f.size = big.len;
    f.attributes = 0x20;
    f.has_content = true;
    int fd = tu_memfd(big.data, big.len);
    assert_int_equal(fy_store_put_fd(w, fd, &f.content, err, sizeof err), 0);
    close(fd);
    fy_store_ads ads = {"Zone.Identifier", {{0}, {0}, 0, 0}};
    assert_int_equal(
        fy_store_put_mem(w, SECRET_CONTENT, strlen(SECRET_CONTENT), &ads.ref, err, sizeof err), 0);
    f.ads = &ads;
    f.n_ads = 1;
    assert_int_equal(fy_store_add_file(w, &f, err, sizeof err), 0);
    /* a small file too (the in-memory path) */
    assert_int_equal(tu_add(w, "<Desktop>\\" SECRET_NAME ".lnk", SECRET_CONTENT,
                            strlen(SECRET_CONTENT), 5, err, sizeof err),
                     0);
    fy_store_reg r = {0};
    r.key = "HKCU\\Software\\" SECRET_KEY;
    r.value = SECRET_KEY "Value";
    r.type = 1;
    r.data = (const uint8_t *)SECRET_REG;
    r.len = strlen(SECRET_REG);
    assert_int_equal(fy_store_add_reg(w, &r, err, sizeof err), 0);
    fy_buf bigreg = {0};
    for (int i = 0; i < 400; i++)
        fy_buf_puts(&bigreg, SECRET_REG);
    r.value = "Big";
    r.data = bigreg.data;
    r.len = bigreg.len;
    assert_int_equal(fy_store_add_reg(w, &r, err, sizeof err), 0);
    assert_int_equal(
        fy_store_set_program(w, SECRET_CONTENT, strlen(SECRET_CONTENT) - 3, err, sizeof err), 0);
    fy_store_meta m = {0};
    m.user = "CONTOSO\\alice";
    m.sid = "S-1-5-21-" SECRET_NAME;
    m.time = 1000;
    assert_int_equal(fy_store_commit(w, &m, NULL, err, sizeof err), 0);
    int lfd = tu_memfd(SECRET_LOG "\n", strlen(SECRET_LOG) + 1);
    assert_int_equal(fy_store_add_log(w, "PC-01_2024-01-01_00-00-00_Ext.log", lfd, err, sizeof err),
                     0);
    close(lfd);
    fy_store_writer_free(w);
    fy_buf_free(&big);
    fy_buf_free(&bigreg);
}

static void test_encrypted_roundtrip(void **state)
{
    (void)state;
    char err[512];
    const char *needles[] = {"SECRET-CONTENT", SECRET_NAME,      SECRET_REG,
                             SECRET_KEY,       "LOGLINE-copied", "quarterly figures"};
    /* Without compression (level 0) deflate hides nothing, so only the encryption can. The
     * control: the same generation without a password shows every needle. */
    fy_store_opts so = fy_store_opts_default();
    so.create = true;
    so.zlib_level = 0;
    char *plain_root = tu_mkdtemp();
    fy_store *ps = tu_open(plain_root, &so);
    write_secret_gen(ps, NULL);
    for (size_t i = 0; i < FY_ARRAY_LEN(needles); i++)
        if (!tu_grep_tree(plain_root, needles[i], strlen(needles[i])))
            fail_msg("control: \"%s\" not found in the plain store", needles[i]);
    fy_store_close(ps);
    tu_rmrf(plain_root);
    free(plain_root);
    fy_store *s = tu_open(g_dir, &so);
    fy_store_write_opts o = pw_opts(PW);
    write_secret_gen(s, &o);
    /* nothing readable in the store's bytes, nor in its file names */
    for (size_t i = 0; i < FY_ARRAY_LEN(needles); i++)
        if (tu_grep_tree(g_dir, needles[i], strlen(needles[i])))
            fail_msg("plaintext \"%s\" found in the store", needles[i]);
    /* UTF-16 spellings neither */
    size_t u16n;
    uint8_t *u16 = fy_utf8_to_utf16le(SECRET_NAME, strlen(SECRET_NAME), &u16n);
    assert_false(tu_grep_tree(g_dir, u16, u16n));
    free(u16);
    /* object names: not the plain BLAKE2b of a known content */
    uint8_t id[32];
    char hex[65];
    crypto_generichash(id, 32, (const uint8_t *)SECRET_CONTENT, strlen(SECRET_CONTENT), NULL, 0);
    st_hex(id, 32, hex);
    assert_false(tu_grep_tree(g_dir, hex + 2, 20));
    char *objpath = fy_xasprintf("%s/CONTOSO/alice/PC-01/objects/%.2s/%s", g_dir, hex, hex + 2);
    struct stat st;
    assert_int_not_equal(stat(objpath, &st), 0);
    free(objpath);
    /* read back */
    fy_store_reader *r;
    assert_int_equal(fy_store_reader_open(s, &TU_ID, PW, strlen(PW), &r, err, sizeof err), 0);
    assert_true(fy_store_reader_encrypted(r));
    fy_store_gen *g;
    assert_int_equal(fy_store_gen_open(r, 0, &g, err, sizeof err), 0);
    assert_string_equal(fy_store_gen_meta(g)->sid, "S-1-5-21-" SECRET_NAME);
    uint8_t *prog;
    size_t pn;
    assert_int_equal(fy_store_gen_program(g, &prog, &pn, err, sizeof err), 0);
    assert_int_equal(pn, strlen(SECRET_CONTENT) - 3);
    assert_memory_equal(prog, SECRET_CONTENT, pn);
    free(prog);
    fy_store_entry e;
    int rc, nfiles = 0, nreg = 0;
    while ((rc = fy_store_gen_next(g, &e, err, sizeof err)) == 1) {
        if (e.kind == FY_STORE_ENTRY_REG) {
            nreg++;
            assert_string_equal(e.reg.key, "HKCU\\Software\\" SECRET_KEY);
            uint8_t *d = NULL;
            size_t dn = e.reg.len;
            if (e.reg.data_is_object)
                assert_int_equal(
                    fy_store_read_object_mem(r, &e.reg.data_ref, 1 << 20, &d, &dn, err, sizeof err),
                    0);
            assert_int_equal(dn % strlen(SECRET_REG), 0);
            assert_memory_equal(d ? d : e.reg.data, SECRET_REG, strlen(SECRET_REG));
            free(d);
            continue;
        }
        nfiles++;
        int ofd = tu_memfd("", 0);
        assert_int_equal(fy_store_read_object(r, &e.file.content, ofd, err, sizeof err), 0);
        size_t on;
        uint8_t *od = tu_slurp_fd(ofd, &on);
        close(ofd);
        assert_int_equal(on, e.file.size);
        assert_memory_equal(od, SECRET_CONTENT, strlen(SECRET_CONTENT));
        free(od);
        if (e.file.n_ads) {
            uint8_t *d;
            size_t dn;
            assert_int_equal(
                fy_store_read_object_mem(r, &e.file.ads[0].ref, 4096, &d, &dn, err, sizeof err), 0);
            assert_int_equal(dn, strlen(SECRET_CONTENT));
            free(d);
        }
    }
    assert_int_equal(rc, 0);
    assert_int_equal(nfiles, 2);
    assert_int_equal(nreg, 2);
    fy_store_gen_close(g);
    char **names;
    size_t nn;
    assert_int_equal(fy_store_reader_logs(r, &names, &nn, err, sizeof err), 0);
    assert_int_equal(nn, 1);
    int ofd = tu_memfd("", 0);
    assert_int_equal(fy_store_reader_read_log(r, names[0], ofd, err, sizeof err), 0);
    size_t ln;
    uint8_t *lt = tu_slurp_fd(ofd, &ln);
    assert_int_equal(ln, strlen(SECRET_LOG) + 1);
    assert_memory_equal(lt, SECRET_LOG, ln - 1);
    free(lt);
    close(ofd);
    fy_store_strv_free(names, nn);
    fy_store_reader_close(r);
    /* list: exists, encrypted, not locked */
    fy_store_personality *pl;
    size_t np;
    assert_int_equal(fy_store_list(s, &pl, &np, err, sizeof err), 0);
    assert_int_equal(np, 1);
    assert_true(pl[0].encrypted);
    assert_false(pl[0].locked);
    assert_int_equal(pl[0].n_gens, 1);
    fy_store_list_free(pl, np);
    /* verify: without the password (stored hashes), with it (content too) */
    fy_store_verify_stats vs;
    int nd = 0;
    assert_int_equal(
        fy_store_verify(s, &TU_ID, NULL, 0, tu_damage_print, &nd, &vs, err, sizeof err), 0);
    assert_int_equal(vs.objects, 4); /* big file, small file (= the stream), big reg, program */
    assert_int_equal(tu_verify(s, &TU_ID, PW, NULL), 0);
    assert_int_equal(fy_store_verify(s, &TU_ID, "nope", 4, NULL, NULL, NULL, err, sizeof err),
                     FY_STORE_ERR_PASSWORD);
    /* a backup with the password adds a generation */
    assert_int_equal(tu_write_gen(s, &TU_ID, &o, 3, 2, 2000, err, sizeof err), 0);
    int nf;
    assert_int_equal(tu_check_gen(s, &TU_ID, PW, 0, &nf), 0);
    assert_int_equal(nf, 3);
    assert_int_equal(tu_verify(s, &TU_ID, PW, NULL), 0);
    fy_store_close(s);
}

static void test_wrong_password(void **state)
{
    (void)state;
    char err[512];
    fy_store *s = tu_open(g_dir, NULL);
    fy_store_write_opts o = pw_opts(PW);
    assert_int_equal(tu_write_gen(s, &TU_ID, &o, 3, 1, 1000, err, sizeof err), 0);
    char *before = tu_snapshot(g_dir);
    fy_store_write_opts none = pw_opts(NULL), wrong = pw_opts("Correct horse battery staple");
    fy_store_writer *w;
    /* writers: missing, wrong, even with overwrite */
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, &none, &w, err, sizeof err),
                     FY_STORE_ERR_PASSWORD);
    assert_non_null(strstr(err, "password"));
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, &wrong, &w, err, sizeof err),
                     FY_STORE_ERR_PASSWORD);
    assert_non_null(strstr(err, "wrong password"));
    wrong.overwrite = true;
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, &wrong, &w, err, sizeof err),
                     FY_STORE_ERR_PASSWORD);
    none.overwrite = true;
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, &none, &w, err, sizeof err),
                     FY_STORE_ERR_PASSWORD);
    /* readers */
    fy_store_reader *r;
    fy_store_id lower = {"contoso", "alice", "pc-01"};
    assert_int_equal(fy_store_reader_open(s, &lower, NULL, 0, &r, err, sizeof err),
                     FY_STORE_ERR_PASSWORD);
    assert_int_equal(fy_store_reader_open(s, &lower, "x", 1, &r, err, sizeof err),
                     FY_STORE_ERR_PASSWORD);
    assert_int_equal(fy_store_exit_code(FY_STORE_ERR_PASSWORD), FY_EXIT_PASSWORD);
    char *after = tu_snapshot(g_dir);
    assert_string_equal(before, after); /* nothing written, not even a lock */
    free(after);
    /* a plain personality cannot take a password, except by starting afresh */
    fy_store_id bob = {"CONTOSO", "bob", "PC-01"};
    assert_int_equal(tu_write_gen(s, &bob, NULL, 2, 1, 1000, err, sizeof err), 0);
    free(before);
    before = tu_snapshot(g_dir);
    assert_int_equal(fy_store_writer_begin(s, &bob, &o, &w, err, sizeof err),
                     FY_STORE_ERR_PASSWORD);
    after = tu_snapshot(g_dir);
    assert_string_equal(before, after);
    free(after);
    fy_store_write_opts ow = pw_opts(PW);
    ow.overwrite = true;
    assert_int_equal(tu_write_gen(s, &bob, &ow, 2, 2, 2000, err, sizeof err), 0);
    assert_int_equal(fy_store_reader_open(s, &bob, NULL, 0, &r, err, sizeof err),
                     FY_STORE_ERR_PASSWORD);
    int nf;
    assert_int_equal(tu_check_gen(s, &bob, PW, 0, &nf), 0);
    assert_int_equal(nf, 2);
    /* an encrypted one cannot be started afresh without its password */
    fy_store_write_opts ow2 = pw_opts(PW);
    ow2.overwrite = true;
    ow2.password = NULL;
    ow2.password_len = 0;
    assert_int_equal(tu_write_gen(s, &bob, &ow2, 1, 3, 3000, err, sizeof err),
                     FY_STORE_ERR_PASSWORD);
    assert_int_equal(tu_verify(s, NULL, NULL, NULL), 0);
    free(before);
    fy_store_close(s);
}

static void test_encrypted_damage(void **state)
{
    (void)state;
    char err[512];
    fy_store *s = tu_open(g_dir, NULL);
    fy_store_write_opts o = pw_opts(PW);
    assert_int_equal(tu_write_gen(s, &TU_ID, &o, 4, 1, 1000, err, sizeof err), 0);
    /* flip one byte in the middle of the first object found */
    char *objs = fy_xasprintf("%s/CONTOSO/alice/PC-01/objects", g_dir);
    DIR *d = opendir(objs);
    struct dirent *de;
    char *victim = NULL;
    while (!victim && (de = readdir(d)))
        if (de->d_name[0] != '.') {
            char *sub = fy_xasprintf("%s/%s", objs, de->d_name);
            DIR *d2 = opendir(sub);
            struct dirent *de2;
            while (!victim && (de2 = readdir(d2)))
                if (de2->d_name[0] != '.') victim = fy_xasprintf("%s/%s", sub, de2->d_name);
            closedir(d2);
            free(sub);
        }
    closedir(d);
    int fd = open(victim, O_RDWR);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, 40), 1);
    b ^= 1;
    assert_int_equal(pwrite(fd, &b, 1, 40), 1);
    close(fd);
    int nd = 0;
    /* without the password: found by its stored hash, no path known */
    assert_int_equal(tu_verify(s, &TU_ID, NULL, &nd), FY_STORE_ERR_CORRUPT);
    assert_int_equal(nd, 1);
    /* with it: found, with its path */
    assert_int_equal(tu_verify(s, &TU_ID, PW, &nd), FY_STORE_ERR_CORRUPT);
    assert_int_equal(nd, 1);
    /* a damaged catalogue block is found without the password too */
    char *cat = fy_xasprintf("%s/CONTOSO/alice/PC-01/generations/00000001.cat", g_dir);
    fd = open(cat, O_RDWR);
    assert_int_equal(pread(fd, &b, 1, 64 + 32 + 30), 1);
    b ^= 1;
    assert_int_equal(pwrite(fd, &b, 1, 64 + 32 + 30), 1);
    close(fd);
    assert_int_equal(tu_verify(s, &TU_ID, NULL, &nd), FY_STORE_ERR_CORRUPT);
    assert_true(nd >= 2);
    free(cat);
    free(victim);
    free(objs);
    fy_store_close(s);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_encrypted_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encrypted_damage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
