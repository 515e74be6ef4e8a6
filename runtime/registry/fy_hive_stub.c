/* Placeholder until the hive writer and log replay land (they replace this file). */
#include "fy_hive.h"

#include <stdio.h>

int fy_hive_serialize(const fy_regtree *t, fy_buf *out, char *err, size_t err_size)
{
    (void)t, (void)out;
    snprintf(err, err_size, "hive writer not built yet");
    return -1;
}

int fy_hive_write_file(const fy_regtree *t, const char *path, char *err, size_t err_size)
{
    (void)t, (void)path;
    snprintf(err, err_size, "hive writer not built yet");
    return -1;
}

int fy_hive_remove_logs(const char *path)
{
    (void)path;
    return 0;
}

int fy_hive_recover(const char *path, const char *tmp_dir, fy_hive_state *state,
                    char **recovered_path, fy_diags *warnings, char *err, size_t err_size)
{
    (void)path, (void)tmp_dir, (void)warnings, (void)err, (void)err_size;
    *state = FY_HIVE_CLEAN;
    *recovered_path = NULL;
    return 0;
}
