/* What the agent's operations share: the loaded program, the log, the store, the run's
 * outcome. Private to runtime/agent/. */
#ifndef FY_AGENT_INT_H
#define FY_AGENT_INT_H

#include "agent/fy_agent.h"
#include "agent/fy_translate.h"
#include "fy_program.h"
#include "fy_vm.h"
#include "io/fy_log.h"
#include "io/fy_progress.h"
#include "machine/fy_machine.h"
#include "registry/fy_reg.h"
#include "store/fy_store.h"

typedef struct fy_agent {
    const fy_agent_opts *o;
    int64_t now;
    uint8_t *image; /* the program image (embedded into personalities) */
    size_t image_size;
    fy_program *prog;
    fy_log *log;
    fy_progress *progress;
    fy_store *store;
    int exit_code; /* the worst so far (FY_EXIT_*; "highest wins") */
    uint64_t objects_ok, objects_skipped, objects_failed, bytes;
    fy_buf report; /* JSON array body of per-user results for --report */
    fy_buf early;  /* messages from before the log was open: "LEVEL<TAB>text" lines */
    char computer[64]; /* for the log's name, once known ("" = not yet) */
} fy_agent;

/* Records an outcome: the highest code wins (docs/agent.md). */
void fy_agent_fail(fy_agent *a, int code);
/* Logs at a level and on stderr for errors/warnings (when no terminal progress is drawn). */
void fy_agent_msg(fy_agent *a, fy_log_level lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Loads the program: --program, --config (compiled in-process), or `embedded` (an image
 * from a personality; may be NULL). Exit code 0 or FY_EXIT_PROGRAM (message printed). */
int fy_agent_load_program(fy_agent *a, const uint8_t *embedded, size_t embedded_size);
/* fy_agent_policy (the .cfg policy value) is declared in fy_agent.h. */

/* Opens --machine (with --drive volumes); 0 or an exit code (message printed). */
int fy_agent_open_machine(fy_agent *a, fy_machine **m);

/* Opens the log for an operation on `computer`; 0 or an exit code. */
int fy_agent_open_log(fy_agent *a, fy_log_op op, const char *computer);
void fy_agent_log_header(fy_agent *a, const fy_machine *m);

/* Registry views of one user on one machine, for host calls and extraction: HKCU
 * (NTUSER.DAT), HKCU\Software\Classes (UsrClass.dat), HKLM\SOFTWARE and HKLM\SYSTEM.
 * Hives are opened on first use. */
typedef struct fy_agent_hives {
    const fy_machine *m;
    const fy_machine_user *u;
    fy_reg *hkcu, *classes, *software, *system;
    bool tried_hkcu, tried_classes, tried_software, tried_system;
    fy_diags *warnings;
} fy_agent_hives;

/* The root and key path for a normalised key ("HKCU\Software\X" -> NTUSER.DAT, "Software\X").
 * NULL when that hive is missing or the root is not served. */
fy_reg *fy_agent_hive_for(fy_agent_hives *h, const char *key, const char **rest);
void fy_agent_hives_close(fy_agent_hives *h);

/* The VM host for detection on (m, u) with its hives; for conversions, with a translate
 * table (paths, accounts). */
typedef struct fy_agent_host {
    fy_agent_hives *hives;
    const fy_translate *tr;
    bool translate_paths;
    fy_vm_host host;
} fy_agent_host;
void fy_agent_host_init(fy_agent_host *h, fy_agent_hives *hives, const fy_translate *tr);

/* Reads a Windows file's version resource (VS_FIXEDFILEINFO) as "a.b.c.d". 0 or -1. */
int fy_file_version(const char *hostpath, char *out, size_t out_size);

/* Detects every app of the program for (m, u): detected[app] = 1 and version[app] = the
 * VERSIONS index (FY_NONE when not detected). Arrays have p->napps entries. */
void fy_agent_detect(fy_agent *a, fy_vm *vm, uint8_t *detected, uint32_t *version);

/* Operations */
int fy_agent_extract(fy_agent *a);
int fy_agent_inject(fy_agent *a);
int fy_agent_undo(fy_agent *a);
int fy_agent_restore(fy_agent *a);
int fy_agent_list(fy_agent *a);
int fy_agent_verify(fy_agent *a);
int fy_agent_import(fy_agent *a);

#endif
