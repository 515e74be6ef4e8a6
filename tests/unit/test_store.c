/* runtime/store: round trip of a personality (0-byte, multi-MB, binary, non-ASCII names,
 * folders, alternate data streams, registry inline/big/default/key-only, program image,
 * metadata, logs); generations and incremental backup (objects counted); deleted files in
 * earlier generations; restore by number and by time; overwrite and collection; list;
 * case-insensitive lookup; path safety and zip-slip (doctored catalogues refused); verify
 * (flipped byte, truncated/missing catalogue, missing object); corrupt index; import. */
#include "store_test_util.h"

#include "store/fy_store_int.h"

static char *g_dir;

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

static char *pers_path(const char *sub)
{
    return fy_xasprintf("%s/CONTOSO/alice/PC-01%s%s", g_dir, sub ? "/" : "", sub ? sub : "");
}

static void test_path_safe(void **state)
{
    (void)state;
    const char *good[] = {
        "<My Documents>",
        "<My Documents>\\Project Data\\a.txt",
        "<Application Data>\\WinSCP\\winscp.ini",
        "C:\\Data\\x",
        "D:",
        "<Desktop>\\Überprüfung\\日本語.txt",
        "C:\\Data\\<User Name>\\x",
        "<Profile>\\.config\\a",
        "<My Documents>\\a..b\\...x",
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(good); i++) {
        if (!fy_store_path_safe(good[i])) fail_msg("refused: %s", good[i]);
    }
    const char *bad[] = {
        "",
        "..\\..\\etc\\x",
        "C:\\..\\x",
        "/etc/passwd",
        "\\etc\\passwd",
        "\\\\server\\share\\x",
        "\\\\?\\C:\\x",
        "<My Documents>\\..\\..\\x",
        "<My Documents>\\a\\.\\b",
        "<My Documents>\\a\\. .\\b",
        "<My Documents>\\a\\.. \\b",
        "<My Documents>\\a/../../b",
        "<My Documents>\\a\\\\b",
        "<My Documents>\\a\\",
        "<My Documents>x",
        "<my documents>\\x",
        "<Nope>\\x",
        "<User Name>\\x",
        "c:\\x",
        "*:\\x",
        "C:x",
        "CC:\\x",
        "C:\\a:stream",
        "C:\\a\\b\x01",
        "C:\\a*",
        "C:\\a<b",
        "C:\\a|b",
        "x\\y",
        "<My Documents>\\a\\<Desktop>\\b",
        "<My Documents>\\\xff\xfe",
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++) {
        if (fy_store_path_safe(bad[i])) fail_msg("accepted: %s", bad[i]);
    }
    assert_false(fy_store_path_safe(NULL));
    assert_true(fy_store_regkey_safe("HKCU\\Software\\X"));
    assert_true(fy_store_regkey_safe("HKLM"));
    assert_false(fy_store_regkey_safe("HKU\\S-1-5-18"));
    assert_false(fy_store_regkey_safe("HKCU\\\\x"));
    assert_false(fy_store_regkey_safe("HKCU\\x\\"));
    assert_false(fy_store_regkey_safe("HKCUx"));
    /* filetime */
    assert_int_equal(fy_store_filetime_from_unix_ns(0), 116444736000000000ull);
    assert_int_equal(fy_store_filetime_to_unix_ns(116444736000000000ull + 15), 1500);
    assert_int_equal(fy_store_exit_code(FY_STORE_ERR_LOCKED), FY_EXIT_STORE);
    assert_int_equal(fy_store_exit_code(FY_STORE_ERR_PASSWORD), FY_EXIT_PASSWORD);
    assert_int_equal(fy_store_exit_code(FY_STORE_ERR_IO), FY_EXIT_IO);
    assert_int_equal(fy_store_exit_code(FY_STORE_ERR_CORRUPT), FY_EXIT_STORE);
}

typedef struct rt_file {
    const char *path;
    uint8_t *data;
    size_t n;
    bool seen;
} rt_file;

static void test_roundtrip(void **state)
{
    (void)state;
    char err[512];
    fy_store *s = tu_open(g_dir, NULL);
    size_t big_n = 5u * 1024 * 1024 + 123;
    uint8_t *big = fy_xmalloc(big_n);
    tu_fill(big, big_n, 7);
    /* make a part compressible so both deflate paths run */
    memset(big + 1024 * 1024, 'A', 1024 * 1024);
    uint8_t bin[300];
    for (int i = 0; i < 300; i++)
        bin[i] = (uint8_t)i;
    rt_file files[] = {
        {"<My Documents>\\empty.txt", (uint8_t *)"", 0, false},
        {"<My Documents>\\Project Data\\big.bin", big, big_n, false},
        {"<My Documents>\\Project Data\\a.txt", (uint8_t *)"hello\r\nworld\r\n", 14, false},
        {"<Desktop>\\Überprüfung\\日本語 ファイル.bin", bin, sizeof bin, false},
        {"<My Documents>\\copy of a.txt", (uint8_t *)"hello\r\nworld\r\n", 14, false},
    };
    fy_store_writer *w;
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &w, err, sizeof err), 0);
    for (size_t i = 0; i < FY_ARRAY_LEN(files); i++) {
        fy_store_file f = {0};
        f.path = files[i].path;
        f.size = files[i].n;
        f.mtime = 133000000000000000ull + i;
        f.ctime = 132000000000000000ull + i;
        f.attributes = i == 3 ? 0x21 : 0x20;
        f.has_content = true;
        int fd = tu_memfd(files[i].data, files[i].n);
        assert_int_equal(fy_store_put_fd(w, fd, &f.content, err, sizeof err), 0);
        close(fd);
        assert_int_equal(f.content.size, files[i].n);
        fy_store_ads ads[1];
        if (i == 2) {
            const char *zi = "[ZoneTransfer]\r\nZoneId=3\r\n";
            ads[0].name = "Zone.Identifier";
            assert_int_equal(fy_store_put_mem(w, zi, strlen(zi), &ads[0].ref, err, sizeof err), 0);
            f.ads = ads;
            f.n_ads = 1;
            f.dest = "<My Documents>\\Moved\\a.txt";
        }
        assert_int_equal(fy_store_add_file(w, &f, err, sizeof err), 0);
    }
    /* a folder entry */
    fy_store_file dir = {0};
    dir.path = "<My Documents>\\Empty Folder";
    dir.attributes = FY_STORE_ATTR_DIRECTORY;
    assert_int_equal(fy_store_add_file(w, &dir, err, sizeof err), 0);
    /* refused entries: unsafe path, link, folder with content */
    fy_store_file bad = dir;
    bad.path = "<My Documents>\\..\\x";
    assert_int_equal(fy_store_add_file(w, &bad, err, sizeof err), FY_STORE_ERR_USAGE);
    bad.path = "<My Documents>\\link";
    bad.attributes = FY_STORE_ATTR_REPARSE_POINT;
    assert_int_equal(fy_store_add_file(w, &bad, err, sizeof err), FY_STORE_ERR_USAGE);
    bad.attributes = 0x20; /* a file without content */
    assert_int_equal(fy_store_add_file(w, &bad, err, sizeof err), FY_STORE_ERR_USAGE);
    /* registry */
    uint8_t bigreg[10000];
    tu_fill(bigreg, sizeof bigreg, 3);
    fy_store_reg regs[] = {
        {.key = "HKCU\\Software\\X",
         .value = "Name",
         .type = 1,
         .data = (const uint8_t *)"v\0a\0l\0\0\0",
         .len = 8},
        {.key = "HKCU\\Software\\X",
         .value = "",
         .type = 4,
         .data = (const uint8_t *)"\x01\0\0\0",
         .len = 4},
        {.key = "HKCU\\Software\\X\\Big",
         .value = "Blob",
         .type = 3,
         .data = bigreg,
         .len = sizeof bigreg},
        {.key = "HKCU\\Software\\Empty", .value = NULL, .type = 0, .data = NULL, .len = 0},
        {.key = "HKLM\\Software\\Y", .value = "Z", .type = 3, .data = NULL, .len = 0},
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(regs); i++)
        assert_int_equal(fy_store_add_reg(w, &regs[i], err, sizeof err), 0);
    fy_store_reg badreg = {.key = "HKU\\x", .value = "v", .type = 1, .data = NULL, .len = 0};
    assert_int_equal(fy_store_add_reg(w, &badreg, err, sizeof err), FY_STORE_ERR_USAGE);
    const char *prog = "FYPROGRAM bytes";
    assert_int_equal(fy_store_set_program(w, prog, strlen(prog), err, sizeof err), 0);
    assert_int_equal(fy_store_note_log(w, "PC-01_2024-01-02_03-04-05_Ext.log", err, sizeof err), 0);
    fy_store_app apps[] = {{"office", "16.0"}, {"winscp", "5.1"}};
    fy_store_kv kv[] = {{"template", "SE.cfg"}};
    fy_store_meta m = {0};
    m.user = "CONTOSO\\alice";
    m.sid = "S-1-5-21-1-2-3-1001";
    m.computer = "PC-01";
    m.os_name = "Windows 7 Professional";
    m.os_version = "6.1.7601";
    m.time = 1700000000;
    m.apps = apps;
    m.n_apps = 2;
    m.program_hash = "abc123";
    m.kv = kv;
    m.n_kv = 1;
    uint32_t gen = 0;
    assert_int_equal(fy_store_commit(w, &m, &gen, err, sizeof err), 0);
    assert_int_equal(gen, 1);
    const char *logtext = "log line 1\nlog line 2\n";
    int lfd = tu_memfd(logtext, strlen(logtext));
    assert_int_equal(fy_store_add_log(w, "PC-01_2024-01-02_03-04-05_Ext.log", lfd, err, sizeof err),
                     0);
    lseek(lfd, 0, SEEK_SET);
    assert_int_equal(fy_store_add_log(w, "PC-01_2024-01-02_03-04-05_Ext.log", lfd, err, sizeof err),
                     0);
    close(lfd);
    /* a committed writer takes no more entries */
    assert_int_equal(fy_store_add_file(w, &dir, err, sizeof err), FY_STORE_ERR_USAGE);
    fy_store_writer_free(w);

    /* the lock is gone, the layout is browsable */
    char *lock = pers_path("lock"), *idx = pers_path("index");
    struct stat st;
    assert_int_not_equal(stat(lock, &st), 0);
    assert_int_equal(stat(idx, &st), 0);
    free(lock);
    free(idx);
    char *tmp = pers_path("tmp");
    assert_int_equal(tu_count_files(tmp), 0);
    free(tmp);

    /* read back, case-insensitively */
    fy_store_id lower = {"contoso", "ALICE", "pc-01"};
    fy_store_reader *r;
    assert_int_equal(fy_store_reader_open(s, &lower, NULL, 0, &r, err, sizeof err), 0);
    assert_string_equal(fy_store_reader_domain(r), "CONTOSO");
    assert_string_equal(fy_store_reader_user(r), "alice");
    assert_string_equal(fy_store_reader_computer(r), "PC-01");
    assert_false(fy_store_reader_encrypted(r));
    fy_store_gen *g;
    assert_int_equal(fy_store_gen_open(r, 0, &g, err, sizeof err), 0);
    const fy_store_meta *gm = fy_store_gen_meta(g);
    assert_string_equal(gm->user, "CONTOSO\\alice");
    assert_string_equal(gm->sid, "S-1-5-21-1-2-3-1001");
    assert_string_equal(gm->os_name, "Windows 7 Professional");
    assert_string_equal(gm->os_version, "6.1.7601");
    assert_int_equal(gm->time, 1700000000);
    assert_int_equal(gm->n_apps, 2);
    assert_string_equal(gm->apps[1].id, "winscp");
    assert_string_equal(gm->apps[1].version, "5.1");
    assert_string_equal(gm->kv[0].value, "SE.cfg");
    assert_string_equal(gm->program_hash, "abc123");
    assert_string_equal(gm->tool_version, FERRY_VERSION);
    assert_int_equal(gm->n_logs, 1);
    assert_int_equal(gm->n_files, FY_ARRAY_LEN(files) + 1);
    assert_int_equal(gm->n_reg, FY_ARRAY_LEN(regs));
    assert_int_equal(gm->generation, 1);
    uint8_t *pb;
    size_t pn;
    assert_int_equal(fy_store_gen_program(g, &pb, &pn, err, sizeof err), 0);
    assert_int_equal(pn, strlen(prog));
    assert_memory_equal(pb, prog, pn);
    free(pb);
    fy_store_entry e;
    int rc;
    size_t nreg = 0;
    bool saw_dir = false;
    while ((rc = fy_store_gen_next(g, &e, err, sizeof err)) == 1) {
        if (e.kind == FY_STORE_ENTRY_REG) {
            const fy_store_reg *want = &regs[nreg++];
            assert_string_equal(e.reg.key, want->key);
            if (!want->value) {
                assert_null(e.reg.value);
                continue;
            }
            assert_string_equal(e.reg.value, want->value);
            assert_int_equal(e.reg.type, want->type);
            assert_int_equal(e.reg.len, want->len);
            if (want->len > FY_STORE_REG_INLINE_MAX) {
                assert_true(e.reg.data_is_object);
                uint8_t *d;
                size_t dn;
                assert_int_equal(
                    fy_store_read_object_mem(r, &e.reg.data_ref, 1 << 20, &d, &dn, err, sizeof err),
                    0);
                assert_int_equal(dn, want->len);
                assert_memory_equal(d, want->data, dn);
                free(d);
            } else if (want->len) {
                assert_false(e.reg.data_is_object);
                assert_memory_equal(e.reg.data, want->data, want->len);
            }
            continue;
        }
        if (!strcmp(e.file.path, "<My Documents>\\Empty Folder")) {
            saw_dir = true;
            assert_false(e.file.has_content);
            continue;
        }
        size_t i = 0;
        while (i < FY_ARRAY_LEN(files) && strcmp(files[i].path, e.file.path))
            i++;
        assert_true(i < FY_ARRAY_LEN(files));
        files[i].seen = true;
        assert_int_equal(e.file.size, files[i].n);
        assert_int_equal(e.file.mtime, 133000000000000000ull + i);
        assert_int_equal(e.file.ctime, 132000000000000000ull + i);
        assert_int_equal(e.file.attributes, i == 3 ? 0x21 : 0x20);
        int ofd = tu_memfd("", 0);
        assert_int_equal(fy_store_read_object(r, &e.file.content, ofd, err, sizeof err), 0);
        size_t on;
        uint8_t *od = tu_slurp_fd(ofd, &on);
        close(ofd);
        assert_int_equal(on, files[i].n);
        if (on) assert_memory_equal(od, files[i].data, on);
        free(od);
        if (i == 2) {
            assert_int_equal(e.file.n_ads, 1);
            assert_string_equal(e.file.ads[0].name, "Zone.Identifier");
            assert_string_equal(e.file.dest, "<My Documents>\\Moved\\a.txt");
        } else {
            assert_int_equal(e.file.n_ads, 0);
            assert_null(e.file.dest);
        }
    }
    assert_int_equal(rc, 0);
    assert_true(saw_dir);
    assert_int_equal(nreg, FY_ARRAY_LEN(regs));
    for (size_t i = 0; i < FY_ARRAY_LEN(files); i++)
        assert_true(files[i].seen);
    fy_store_gen_close(g);
    /* identical content is stored once: two copies of a.txt, so files - 1 content objects, plus
     * the stream, the big registry value and the program */
    char *objs = pers_path("objects");
    assert_int_equal(tu_count_files(objs), FY_ARRAY_LEN(files) - 1 + 3);
    free(objs);
    /* logs */
    char **names;
    size_t nn;
    assert_int_equal(fy_store_reader_logs(r, &names, &nn, err, sizeof err), 0);
    assert_int_equal(nn, 2);
    assert_string_equal(names[0], "PC-01_2024-01-02_03-04-05_Ext-2.log");
    assert_string_equal(names[1], "PC-01_2024-01-02_03-04-05_Ext.log");
    int ofd = tu_memfd("", 0);
    assert_int_equal(fy_store_reader_read_log(r, names[1], ofd, err, sizeof err), 0);
    size_t ln;
    uint8_t *lt = tu_slurp_fd(ofd, &ln);
    assert_int_equal(ln, strlen(logtext));
    assert_memory_equal(lt, logtext, ln);
    free(lt);
    close(ofd);
    fy_store_strv_free(names, nn);
    assert_int_equal(fy_store_reader_read_log(r, "../index", 1, err, sizeof err),
                     FY_STORE_ERR_USAGE);
    fy_store_reader_close(r);
    /* missing personality, bad names */
    fy_store_id nobody = {"CONTOSO", "bob", "PC-01"};
    assert_int_equal(fy_store_reader_open(s, &nobody, NULL, 0, &r, err, sizeof err),
                     FY_STORE_ERR_NOT_FOUND);
    fy_store_id evil = {"..", "bob", "PC-01"};
    assert_int_equal(fy_store_writer_begin(s, &evil, NULL, &w, err, sizeof err),
                     FY_STORE_ERR_USAGE);
    fy_store_id slash = {"CONTOSO", "a/b", "PC-01"};
    assert_int_equal(fy_store_writer_begin(s, &slash, NULL, &w, err, sizeof err),
                     FY_STORE_ERR_USAGE);
    /* list and verify */
    fy_store_personality *pl;
    size_t np;
    assert_int_equal(fy_store_list(s, &pl, &np, err, sizeof err), 0);
    assert_int_equal(np, 1);
    assert_string_equal(pl[0].dir, "CONTOSO/alice/PC-01");
    assert_false(pl[0].encrypted);
    assert_false(pl[0].locked);
    assert_null(pl[0].error);
    assert_int_equal(pl[0].n_gens, 1);
    assert_int_equal(pl[0].gens[0].n_files, FY_ARRAY_LEN(files) + 1);
    assert_int_equal(pl[0].gens[0].time, 1700000000);
    fy_store_list_free(pl, np);
    fy_store_verify_stats vs;
    int nd = 0;
    assert_int_equal(fy_store_verify(s, NULL, NULL, 0, tu_damage_print, &nd, &vs, err, sizeof err),
                     0);
    assert_int_equal(nd, 0);
    assert_int_equal(vs.personalities, 1);
    assert_int_equal(vs.generations, 1);
    assert_int_equal(vs.objects, FY_ARRAY_LEN(files) - 1 + 3);
    free(big);
    fy_store_close(s);
}

/* Incremental backup: unchanged files are passed by reference from the previous generation. */
static int backup_gen(fy_store *s, int n, const int *changed, size_t nchanged, int skip,
                      int64_t time, size_t *reused)
{
    char err[512];
    fy_store_writer *w;
    int rc = fy_store_writer_begin(s, &TU_ID, NULL, &w, err, sizeof err);
    if (rc) return rc;
    *reused = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (i == skip) continue; /* deleted since */
        char path[64], data[64];
        snprintf(path, sizeof path, "<My Documents>\\f%d.txt", i);
        bool ch = false;
        for (size_t k = 0; k < nchanged; k++)
            ch |= changed[k] == i;
        snprintf(data, sizeof data, "file %d v%d", i, ch ? 2 : 1);
        uint64_t mtime = 130000000000000000ull + (uint64_t)i + (ch ? 1000 : 0);
        const fy_store_file *prev;
        if (fy_store_prev_file(w, path, &prev) && prev->size == strlen(data) &&
            prev->mtime == mtime) {
            fy_store_file f = *prev;
            rc = fy_store_add_file(w, &f, err, sizeof err);
            (*reused)++;
        } else {
            rc = tu_add(w, path, data, strlen(data), mtime, err, sizeof err);
        }
    }
    fy_store_meta m = {0};
    m.time = time;
    if (!rc) rc = fy_store_commit(w, &m, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "backup: %s\n", err);
    fy_store_writer_free(w);
    return rc;
}

static void test_generations(void **state)
{
    (void)state;
    char err[512];
    fy_store *s = tu_open(g_dir, NULL);
    char *objs = pers_path("objects");
    size_t reused;
    assert_int_equal(backup_gen(s, 20, NULL, 0, -1, 1000, &reused), 0);
    assert_int_equal(reused, 0);
    assert_int_equal(tu_count_files(objs), 20);
    /* f3 changed, f25 new (n=26 adds 20..25: 6 new), f7 deleted */
    int changed[] = {3};
    assert_int_equal(backup_gen(s, 26, changed, 1, 7, 2000, &reused), 0);
    assert_int_equal(reused, 18); /* 20 - changed - deleted */
    assert_int_equal(tu_count_files(objs), 20 + 1 + 6);
    /* the previous table is case-insensitive */
    fy_store_writer *w;
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &w, err, sizeof err), 0);
    assert_true(fy_store_prev_file(w, "<MY DOCUMENTS>\\F3.TXT", NULL));
    assert_false(fy_store_prev_file(w, "<My Documents>\\f7.txt", NULL));
    fy_store_writer_free(w); /* dropped: no generation */
    fy_store_reader *r;
    assert_int_equal(fy_store_reader_open(s, &TU_ID, NULL, 0, &r, err, sizeof err), 0);
    size_t ng;
    const fy_store_gen_info *gi = fy_store_reader_gens(r, &ng);
    assert_int_equal(ng, 2);
    assert_int_equal(gi[0].number, 1);
    assert_int_equal(gi[1].number, 2);
    assert_int_equal(gi[1].n_files, 25);
    uint32_t gnum;
    assert_int_equal(fy_store_reader_find_time(r, 1500, &gnum, err, sizeof err), 0);
    assert_int_equal(gnum, 1);
    assert_int_equal(fy_store_reader_find_time(r, 2000, &gnum, err, sizeof err), 0);
    assert_int_equal(gnum, 2);
    assert_int_equal(fy_store_reader_find_time(r, 999, &gnum, err, sizeof err),
                     FY_STORE_ERR_NOT_FOUND);
    fy_store_gen *g;
    assert_int_equal(fy_store_gen_open(r, 3, &g, err, sizeof err), FY_STORE_ERR_NOT_FOUND);
    /* the deleted file is still in generation 1, with its old content */
    assert_int_equal(fy_store_gen_open(r, 1, &g, err, sizeof err), 0);
    fy_store_entry e;
    bool seen7 = false;
    int rc;
    while ((rc = fy_store_gen_next(g, &e, err, sizeof err)) == 1) {
        if (strcmp(e.file.path, "<My Documents>\\f7.txt") &&
            strcmp(e.file.path, "<My Documents>\\f3.txt"))
            continue;
        uint8_t *d;
        size_t dn;
        assert_int_equal(
            fy_store_read_object_mem(r, &e.file.content, 100, &d, &dn, err, sizeof err), 0);
        assert_true(dn >= 8 && !memcmp(d + dn - 2, "v1", 2));
        seen7 |= !strcmp(e.file.path, "<My Documents>\\f7.txt");
        free(d);
    }
    assert_int_equal(rc, 0);
    assert_true(seen7);
    fy_store_gen_close(g);
    fy_store_reader_close(r);
    int nf;
    assert_int_equal(tu_check_gen(s, &TU_ID, NULL, 1, &nf), 0);
    assert_int_equal(nf, 20);
    assert_int_equal(tu_check_gen(s, &TU_ID, NULL, 2, &nf), 0);
    assert_int_equal(nf, 25);
    /* a personality from a second computer: the reader without a computer picks the latest */
    fy_store_id other = {"CONTOSO", "alice", "LAPTOP"};
    assert_int_equal(tu_write_gen(s, &other, NULL, 2, 1, 5000, err, sizeof err), 0);
    fy_store_id any = {"CONTOSO", "alice", NULL};
    assert_int_equal(fy_store_reader_open(s, &any, NULL, 0, &r, err, sizeof err), 0);
    assert_string_equal(fy_store_reader_computer(r), "LAPTOP");
    fy_store_reader_close(r);
    int nd;
    assert_int_equal(tu_verify(s, &any, NULL, &nd), 0);
    /* overwrite: one generation left, the old objects collected */
    fy_store_write_opts ow = {0};
    ow.overwrite = true;
    assert_int_equal(tu_write_gen(s, &TU_ID, &ow, 3, 9, 6000, err, sizeof err), 0);
    assert_int_equal(fy_store_reader_open(s, &TU_ID, NULL, 0, &r, err, sizeof err), 0);
    gi = fy_store_reader_gens(r, &ng);
    assert_int_equal(ng, 1);
    assert_int_equal(gi[0].number, 3); /* numbers are never reused */
    fy_store_reader_close(r);
    assert_int_equal(tu_count_files(objs), 3);
    char *gens = pers_path("generations");
    assert_int_equal(tu_count_files(gens), 1);
    free(gens);
    assert_int_equal(tu_verify(s, &TU_ID, NULL, &nd), 0);
    free(objs);
    fy_store_close(s);
}

/* Rewrites generation 1's catalogue with the entries given, bypassing the writer's checks,
 * and fixes the index's hash so that only the entry itself is wrong. */
static void doctor_catalog(fy_store *s, const fy_store_file *f, const fy_store_reg *reg)
{
    char err[512];
    char *gdir = pers_path("generations"), *pdir = pers_path(NULL);
    int gfd = open(gdir, O_RDONLY | O_DIRECTORY), pfd = open(pdir, O_RDONLY | O_DIRECTORY);
    assert_true(gfd >= 0 && pfd >= 0);
    st_index ix;
    assert_int_equal(st_index_load(s, pfd, &ix, err, sizeof err), 0);
    st_keys k = {.enc = false, .have = true};
    st_catw c;
    assert_int_equal(st_catw_begin(&c, s, gfd, &k, 3, 1, ix.uid, err, sizeof err), 0);
    if (f) assert_int_equal(st_catw_file(&c, f, err, sizeof err), 0);
    if (reg) assert_int_equal(st_catw_reg(&c, reg, err, sizeof err), 0);
    fy_store_meta m = {0};
    uint8_t hash[32];
    assert_int_equal(st_catw_finish(&c, &m, hash, err, sizeof err), 0);
    assert_int_equal(renameat(gfd, c.name, gfd, "00000001.cat"), 0);
    memcpy(ix.gens[0].hash, hash, 32);
    ix.gens[0].n_files = c.n_files;
    fy_buf b = {0};
    st_index_format(&ix, &b);
    int fd = openat(pfd, "index", O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
    close(fd);
    fy_buf_free(&b);
    st_index_free(&ix);
    close(gfd);
    close(pfd);
    free(gdir);
    free(pdir);
}

static void test_zip_slip(void **state)
{
    (void)state;
    char err[512];
    fy_store *s = tu_open(g_dir, NULL);
    assert_int_equal(tu_write_gen(s, &TU_ID, NULL, 1, 1, 100, err, sizeof err), 0);
    const char *evil[] = {"..\\..\\etc\\x",
                          "C:\\..\\x",
                          "/etc/passwd",
                          "<My Documents>\\..\\..\\x",
                          "<My Documents>\\a\\. .\\b",
                          "<My Documents>\\a/../b"};
    for (size_t i = 0; i < FY_ARRAY_LEN(evil) + 2; i++) {
        fy_store_file f = {0};
        f.path = i < FY_ARRAY_LEN(evil) ? evil[i] : "<My Documents>\\ok.txt";
        f.attributes = i == FY_ARRAY_LEN(evil)
                           ? FY_STORE_ATTR_DIRECTORY | FY_STORE_ATTR_REPARSE_POINT
                           : FY_STORE_ATTR_DIRECTORY;
        fy_store_ads bad_ads = {.name = "..\\x"};
        if (i == FY_ARRAY_LEN(evil) + 1) {
            f.attributes = FY_STORE_ATTR_DIRECTORY;
            f.ads = &bad_ads;
            f.n_ads = 1;
        }
        doctor_catalog(s, &f, NULL);
        fy_store_reader *r;
        fy_store_gen *g;
        assert_int_equal(fy_store_reader_open(s, &TU_ID, NULL, 0, &r, err, sizeof err), 0);
        assert_int_equal(fy_store_gen_open(r, 1, &g, err, sizeof err), 0);
        fy_store_entry e;
        int rc = fy_store_gen_next(g, &e, err, sizeof err);
        if (rc != FY_STORE_ERR_CORRUPT) fail_msg("entry %zu not refused (%d)", i, rc);
        fy_store_gen_close(g);
        fy_store_reader_close(r);
        int nd;
        assert_int_equal(tu_verify(s, &TU_ID, NULL, &nd), FY_STORE_ERR_CORRUPT);
        assert_true(nd >= 1); /* the entry (and, for the stream, its made-up object) */
    }
    fy_store_reg reg = {
        .key = "HKU\\S-1-5-18\\x", .value = "v", .type = 1, .data = (const uint8_t *)"x", .len = 1};
    doctor_catalog(s, NULL, &reg);
    fy_store_reader *r;
    fy_store_gen *g;
    assert_int_equal(fy_store_reader_open(s, &TU_ID, NULL, 0, &r, err, sizeof err), 0);
    assert_int_equal(fy_store_gen_open(r, 1, &g, err, sizeof err), 0);
    fy_store_entry e;
    assert_int_equal(fy_store_gen_next(g, &e, err, sizeof err), FY_STORE_ERR_CORRUPT);
    fy_store_gen_close(g);
    fy_store_reader_close(r);
    fy_store_close(s);
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    if (off < 0) off += st.st_size;
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

typedef struct dmg_list {
    int n;
    fy_store_damage_kind kind[16];
    char path[16][128];
    char obj[16][65];
    char file[16][128];
} dmg_list;

static void collect(void *ctx, const fy_store_damage *d)
{
    dmg_list *l = ctx;
    if (l->n < 16) {
        l->kind[l->n] = d->kind;
        snprintf(l->path[l->n], 128, "%s", d->path ? d->path : "");
        snprintf(l->obj[l->n], 65, "%s", d->object ? d->object : "");
        snprintf(l->file[l->n], 128, "%s", d->file ? d->file : "");
    }
    l->n++;
}

static char *object_file(fy_store *s, const char *path, uint32_t gen)
{
    char err[512];
    fy_store_reader *r;
    fy_store_gen *g;
    assert_int_equal(fy_store_reader_open(s, &TU_ID, NULL, 0, &r, err, sizeof err), 0);
    assert_int_equal(fy_store_gen_open(r, gen, &g, err, sizeof err), 0);
    fy_store_entry e;
    char *res = NULL;
    while (fy_store_gen_next(g, &e, err, sizeof err) == 1)
        if (e.kind == FY_STORE_ENTRY_FILE && !strcmp(e.file.path, path)) {
            char hex[65];
            st_hex(e.file.content.id, 32, hex);
            char *objs = pers_path("objects");
            res = fy_xasprintf("%s/%.2s/%s", objs, hex, hex + 2);
            free(objs);
        }
    fy_store_gen_close(g);
    fy_store_reader_close(r);
    assert_non_null(res);
    return res;
}

static void test_verify_damage(void **state)
{
    (void)state;
    char err[512];
    fy_store *s = tu_open(g_dir, NULL);
    assert_int_equal(tu_write_gen(s, &TU_ID, NULL, 5, 1, 100, err, sizeof err), 0);
    assert_int_equal(tu_write_gen(s, &TU_ID, NULL, 5, 2, 200, err, sizeof err), 0);
    /* a flipped byte in an object: reported once, with its path */
    char *f2 = object_file(s, "<My Documents>\\f2.txt", 2);
    flip_byte(f2, 20);
    dmg_list l = {0};
    assert_int_equal(fy_store_verify(s, &TU_ID, NULL, 0, collect, &l, NULL, err, sizeof err),
                     FY_STORE_ERR_CORRUPT);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.kind[0], FY_STORE_DMG_STORED_HASH);
    assert_string_equal(l.path[0], "<My Documents>\\f2.txt");
    assert_non_null(strstr(f2, l.obj[0] + 2));
    /* reading it is refused too */
    fy_store_reader *r;
    fy_store_gen *g;
    assert_int_equal(fy_store_reader_open(s, &TU_ID, NULL, 0, &r, err, sizeof err), 0);
    assert_int_equal(fy_store_gen_open(r, 2, &g, err, sizeof err), 0);
    fy_store_entry e;
    int bad = 0;
    while (fy_store_gen_next(g, &e, err, sizeof err) == 1) {
        int ofd = tu_memfd("", 0);
        if (fy_store_read_object(r, &e.file.content, ofd, err, sizeof err) == FY_STORE_ERR_CORRUPT)
            bad++;
        close(ofd);
    }
    assert_int_equal(bad, 1);
    fy_store_gen_close(g);
    fy_store_reader_close(r);
    flip_byte(f2, 20); /* repaired */
    assert_int_equal(tu_verify(s, &TU_ID, NULL, NULL), 0);
    /* a missing object */
    char *f1 = object_file(s, "<My Documents>\\f1.txt", 1);
    char *aside = fy_xasprintf("%s.aside", f1);
    assert_int_equal(rename(f1, aside), 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(fy_store_verify(s, &TU_ID, NULL, 0, collect, &l, NULL, err, sizeof err),
                     FY_STORE_ERR_CORRUPT);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.kind[0], FY_STORE_DMG_MISSING);
    assert_string_equal(l.path[0], "<My Documents>\\f1.txt");
    assert_int_equal(rename(aside, f1), 0);
    /* a truncated catalogue */
    char *cat = pers_path("generations/00000002.cat");
    struct stat st;
    assert_int_equal(stat(cat, &st), 0);
    assert_int_equal(truncate(cat, st.st_size - 50), 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(fy_store_verify(s, &TU_ID, NULL, 0, collect, &l, NULL, err, sizeof err),
                     FY_STORE_ERR_CORRUPT);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.kind[0], FY_STORE_DMG_CATALOG);
    assert_string_equal(l.file[0], "generations/00000002.cat");
    assert_int_equal(fy_store_reader_open(s, &TU_ID, NULL, 0, &r, err, sizeof err), 0);
    assert_int_equal(fy_store_gen_open(r, 2, &g, err, sizeof err), FY_STORE_ERR_CORRUPT);
    assert_int_equal(fy_store_gen_open(r, 1, &g, err, sizeof err), 0); /* the other is fine */
    fy_store_gen_close(g);
    fy_store_reader_close(r);
    /* a flipped byte inside a catalogue block */
    assert_int_equal(truncate(cat, 0), 0);
    assert_int_equal(unlink(cat), 0);
    memset(&l, 0, sizeof l);
    assert_int_equal(fy_store_verify(s, &TU_ID, NULL, 0, collect, &l, NULL, err, sizeof err),
                     FY_STORE_ERR_CORRUPT);
    assert_int_equal(l.n, 1);
    char *cat1 = pers_path("generations/00000001.cat");
    flip_byte(cat1, 64 + 40);
    memset(&l, 0, sizeof l);
    assert_int_equal(fy_store_verify(s, &TU_ID, NULL, 0, collect, &l, NULL, err, sizeof err),
                     FY_STORE_ERR_CORRUPT);
    assert_true(l.n >= 2); /* missing gen 2, damaged gen 1 */
    /* a corrupt index: clear errors, never a crash */
    char *idx = pers_path("index");
    flip_byte(idx, 30);
    assert_int_equal(fy_store_reader_open(s, &TU_ID, NULL, 0, &r, err, sizeof err),
                     FY_STORE_ERR_CORRUPT);
    assert_non_null(strstr(err, "index"));
    fy_store_writer *w;
    assert_int_equal(fy_store_writer_begin(s, &TU_ID, NULL, &w, err, sizeof err),
                     FY_STORE_ERR_CORRUPT);
    memset(&l, 0, sizeof l);
    assert_int_equal(fy_store_verify(s, &TU_ID, NULL, 0, collect, &l, NULL, err, sizeof err),
                     FY_STORE_ERR_CORRUPT);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.kind[0], FY_STORE_DMG_INDEX);
    fy_store_personality *pl;
    size_t np;
    assert_int_equal(fy_store_list(s, &pl, &np, err, sizeof err), 0);
    assert_int_equal(np, 1);
    assert_non_null(pl[0].error);
    fy_store_list_free(pl, np);
    /* an overwrite starts afresh over the wreck */
    fy_store_write_opts ow = {.overwrite = true};
    assert_int_equal(tu_write_gen(s, &TU_ID, &ow, 2, 1, 300, err, sizeof err), 0);
    assert_int_equal(tu_verify(s, &TU_ID, NULL, NULL), 0);
    free(idx);
    free(cat);
    free(cat1);
    free(aside);
    free(f1);
    free(f2);
    fy_store_close(s);
}

static void test_index_parser(void **state)
{
    (void)state;
    char err[256];
    const char *bad[] = {
        "",
        "ferry-personality 1\n",
        "ferry-personality 2\nuid 00\n",
        "ferry-personality 1\nuid 0123456789abcdef0123456789abcdef\ndomain A\nuser b\ncomputer C\n"
        "crypto none\nnext 1\n",
        "ferry-personality 1\nuid 0123456789abcdef0123456789abcdef\ndomain A\nuser b\ncomputer C\n"
        "crypto none\nnext 2\ngen 5 time=1 files=1 reg=0 bytes=1 hash=00\nend 00\n",
        "ferry-personality 1\nuid 0123456789abcdef0123456789abcdef\ndomain %2\nuser b\ncomputer C\n"
        "crypto none\nnext 1\nend 00\n",
    };
    for (size_t i = 0; i < FY_ARRAY_LEN(bad); i++)
        assert_int_equal(
            fy_store_index_check_mem((const uint8_t *)bad[i], strlen(bad[i]), 0, err, sizeof err),
            FY_STORE_ERR_CORRUPT);
    st_index ix = {0};
    memset(ix.uid, 0xab, sizeof ix.uid);
    ix.domain = fy_xstrdup("DOM AIN%");
    ix.user = fy_xstrdup("ünï");
    ix.computer = fy_xstrdup("PC");
    ix.next = 3;
    st_gen g[2] = {{.number = 1, .time = 10, .n_files = 1, .n_reg = 2, .bytes = 3},
                   {.number = 2, .time = 20, .n_files = 4, .n_reg = 5, .bytes = 6}};
    ix.gens = g;
    ix.n_gens = 2;
    fy_buf b = {0};
    st_index_format(&ix, &b);
    st_index back;
    assert_int_equal(st_index_parse(b.data, b.len, 0, &back, err, sizeof err), 0);
    assert_string_equal(back.domain, "DOM AIN%");
    assert_string_equal(back.user, "ünï");
    assert_int_equal(back.n_gens, 2);
    assert_int_equal(back.gens[1].bytes, 6);
    assert_string_equal(back.gens[1].catalog, "00000002.cat");
    st_index_free(&back);
    /* any truncation fails cleanly */
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(fy_store_index_check_mem(b.data, n, 0, err, sizeof err), 0);
    fy_buf_free(&b);
    free(ix.domain);
    free(ix.user);
    free(ix.computer);
}

static void test_catalog_parser(void **state)
{
    (void)state;
    char err[512];
    fy_store *s = tu_open(g_dir, NULL);
    assert_int_equal(tu_write_gen(s, &TU_ID, NULL, 50, 1, 100, err, sizeof err), 0);
    char *cat = pers_path("generations/00000001.cat");
    int fd = open(cat, O_RDONLY);
    size_t n;
    uint8_t *data = tu_slurp_fd(fd, &n);
    close(fd);
    assert_int_equal(fy_store_catalog_check_mem(data, n, 0, err, sizeof err), 0);
    /* every truncation and a flip of every byte is refused (or, for a byte the checksum
     * alone covers, still refused by the checksum); never a crash */
    for (size_t k = 0; k < n; k++) {
        assert_int_not_equal(fy_store_catalog_check_mem(data, k, 0, err, sizeof err), 0);
        data[k] ^= 1;
        assert_int_not_equal(fy_store_catalog_check_mem(data, n, 0, err, sizeof err), 0);
        fy_store_catalog_check_mem(data, n, FY_STORE_CHECK_NO_CHECKSUMS, err, sizeof err);
        data[k] ^= 1;
    }
    free(data);
    free(cat);
    fy_store_close(s);
}

static void test_import(void **state)
{
    (void)state;
    char err[512];
    char *src_root = fy_xasprintf("%s/src", g_dir), *dst_root = fy_xasprintf("%s/dst", g_dir);
    fy_store *src = tu_open(src_root, NULL);
    assert_int_equal(tu_write_gen(src, &TU_ID, NULL, 4, 1, 100, err, sizeof err), 0);
    fy_store *dst = tu_open(dst_root, NULL);
    char *folder = fy_xasprintf("%s/CONTOSO/alice/PC-01", src_root);
    /* a folder that is not a personality */
    assert_int_equal(fy_store_import(dst, g_dir, err, sizeof err), FY_STORE_ERR_NOT_FOUND);
    assert_int_equal(fy_store_import(dst, folder, err, sizeof err), 0);
    assert_int_equal(tu_verify(dst, &TU_ID, NULL, NULL), 0);
    int nf;
    assert_int_equal(tu_check_gen(dst, &TU_ID, NULL, 1, &nf), 0);
    assert_int_equal(nf, 4);
    /* again: nothing to do; then a newer generation comes along */
    assert_int_equal(fy_store_import(dst, folder, err, sizeof err), 0);
    assert_int_equal(tu_write_gen(src, &TU_ID, NULL, 6, 2, 200, err, sizeof err), 0);
    assert_int_equal(fy_store_import(dst, folder, err, sizeof err), 0);
    assert_int_equal(tu_check_gen(dst, &TU_ID, NULL, 2, &nf), 0);
    assert_int_equal(nf, 6);
    char *a = fy_xasprintf("%s/CONTOSO/alice/PC-01", src_root),
         *b = fy_xasprintf("%s/CONTOSO/alice/PC-01", dst_root);
    char *sa = tu_snapshot(a), *sb = tu_snapshot(b);
    assert_string_equal(sa, sb);
    free(sa);
    free(sb);
    /* the store's copy moves on: importing the older folder would lose a generation */
    assert_int_equal(tu_write_gen(dst, &TU_ID, NULL, 1, 3, 300, err, sizeof err), 0);
    sb = tu_snapshot(b);
    assert_int_equal(fy_store_import(dst, folder, err, sizeof err), FY_STORE_ERR_EXISTS);
    char *sb2 = tu_snapshot(b);
    assert_string_equal(sb, sb2);
    free(sb2);
    /* a different personality of the same name (started afresh) is refused */
    fy_store_write_opts ow = {.overwrite = true};
    assert_int_equal(tu_write_gen(src, &TU_ID, &ow, 2, 5, 400, err, sizeof err), 0);
    assert_int_equal(fy_store_import(dst, folder, err, sizeof err), FY_STORE_ERR_EXISTS);
    assert_non_null(strstr(err, "different personality"));
    sb2 = tu_snapshot(b);
    assert_string_equal(sb, sb2);
    free(sb2);
    free(sb);
    /* a damaged folder is refused before anything is written */
    char *dst2 = fy_xasprintf("%s/dst2", g_dir);
    fy_store *d2 = tu_open(dst2, NULL);
    char *objs = fy_xasprintf("%s/objects", folder);
    DIR *d = opendir(objs);
    struct dirent *de;
    char *victim = NULL;
    while (!victim && (de = readdir(d)))
        if (de->d_name[0] != '.') {
            char *sub = fy_xasprintf("%s/%s", objs, de->d_name);
            DIR *d3 = opendir(sub);
            struct dirent *de3;
            while (!victim && (de3 = readdir(d3)))
                if (de3->d_name[0] != '.') victim = fy_xasprintf("%s/%s", sub, de3->d_name);
            closedir(d3);
            free(sub);
        }
    closedir(d);
    flip_byte(victim, 17);
    assert_int_equal(fy_store_import(d2, folder, err, sizeof err), FY_STORE_ERR_CORRUPT);
    assert_int_equal(tu_count_files(dst2), 0);
    fy_store_close(d2);
    free(victim);
    free(objs);
    free(dst2);
    free(a);
    free(b);
    free(folder);
    fy_store_close(src);
    fy_store_close(dst);
    free(src_root);
    free(dst_root);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_safe),
        cmocka_unit_test(test_index_parser),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zip_slip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog_parser, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
