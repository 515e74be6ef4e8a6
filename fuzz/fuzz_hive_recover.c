/* libFuzzer target: fy_hive_recover on arbitrary bytes.
 *
 * Input: one mode byte, then a hive file; "FYLOG" separates the hive from its .LOG1, and
 * a second "FYLOG" the .LOG1 from its .LOG2. The files go into a fresh temporary folder.
 * Random bytes almost never carry a right XOR checksum or Marvin32 hashes, so the mode byte
 * asks the harness to fix them up and let the fuzzer reach the replay itself:
 *   bit 0: recompute the base block checksum of each log;
 *   bit 1: recompute the hashes of every HvLE entry found at 512-byte steps;
 *   bit 2: recompute the hive's own checksum (so only the sequence numbers make it dirty).
 * Seeds: fuzz/corpus/fuzz_hive_recover/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/fy_hive.h"
#include "registry/fy_hive_format.h"

static void fix_base(uint8_t *p, size_t n)
{
    if (n >= 512) fy_put_le32(p + FY_REGF_CHECKSUM, fy_regf_checksum(p));
}

static void fix_entries(uint8_t *p, size_t n)
{
    for (size_t off = 512; off + FY_HVLE_HDR <= n; off += 512) {
        if (memcmp(p + off, "HvLE", 4) != 0) continue;
        uint32_t size = fy_le32(p + off + FY_HVLE_SIZE);
        if (size < FY_HVLE_HDR || size > n - off) continue;
        fy_put_le64(p + off + FY_HVLE_HASH1,
                    fy_hive_marvin32(p + off + FY_HVLE_HDR, size - FY_HVLE_HDR, FY_MARVIN_SEED));
        fy_put_le64(p + off + FY_HVLE_HASH2, fy_hive_marvin32(p + off, 32, FY_MARVIN_SEED));
    }
}

static int put(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    if (n) fwrite(p, 1, n, f);
    return fclose(f);
}

static void drop(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t mode = data[0];
    uint8_t *buf = malloc(size);
    memcpy(buf, data + 1, size - 1);
    size_t n = size - 1;

    uint8_t *part[3] = {buf, NULL, NULL};
    size_t len[3] = {n, 0, 0};
    for (int i = 0; i < 2; i++) {
        uint8_t *sep = memmem(part[i], len[i], "FYLOG", 5);
        if (!sep) break;
        part[i + 1] = sep + 5;
        len[i + 1] = (size_t)(part[i] + len[i] - part[i + 1]);
        len[i] = (size_t)(sep - part[i]);
    }
    if (mode & 4) fix_base(part[0], len[0]);
    for (int i = 1; i < 3; i++) {
        if (!part[i]) continue;
        if (mode & 1) fix_base(part[i], len[i]);
        if (mode & 2) fix_entries(part[i], len[i]);
    }

    const char *t = getenv("TMPDIR");
    char dir[256];
    snprintf(dir, sizeof dir, "%s/fy-fuzz-hive-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        free(buf);
        return 0;
    }
    static const char *const names[3] = {"HIVE", "HIVE.LOG1", "HIVE.LOG2"};
    for (int i = 0; i < 3; i++)
        if (part[i]) put(dir, names[i], part[i], len[i]);

    char path[512], err[512];
    snprintf(path, sizeof path, "%s/HIVE", dir);
    fy_hive_state st;
    char *rec = NULL;
    fy_diags d = {0};
    int rc = fy_hive_recover(path, dir, &st, &rec, &d, err, sizeof err);
    if (rc == 0 && st == FY_HIVE_RECOVERED && !rec) abort(); /* the contract */
    if (rec) {
        unlink(rec);
        free(rec);
    }
    fy_diags_free(&d);
    for (int i = 0; i < 3; i++)
        drop(dir, names[i]);
    rmdir(dir);
    free(buf);
    return 0;
}
