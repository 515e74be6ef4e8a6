/* Test helpers: build fy_program values by hand on the heap (free with fy_program_free),
 * and poke at serialized images the way the documented layout says
 * (docs/program-format.md), independently of vm/fy_format.c's own constants. */
#ifndef TESTPROG_H
#define TESTPROG_H

#include "fy_program.h"

/* An empty program (format version and compiler version set, source hash 00 01 02 ...). */
fy_program *tp_new(void);
/* String index of s (added once: later calls with the same bytes return the same index). */
uint32_t tp_str(fy_program *p, const char *s);
/* Adds n raw bytes as a new string, even invalid UTF-8 (for negative tests). */
uint32_t tp_strn(fy_program *p, const char *s, uint32_t n);
uint32_t tp_const(fy_program *p, int64_t v);
uint32_t tp_regex(fy_program *p, const char *pattern, uint32_t flags);
/* Appends an instruction; returns its pc (byte offset). */
uint32_t tp_emit(fy_program *p, unsigned op, unsigned a, unsigned b, uint32_t c);
/* Current end of code (the pc the next instruction gets). */
uint32_t tp_pc(const fy_program *p);
/* Sets the jump target (operand c) of the instruction at pc. */
void tp_patch(fy_program *p, uint32_t pc, uint32_t target);
void tp_debug(fy_program *p, uint32_t pc, const char *file, uint32_t line, uint32_t col);
uint32_t tp_rule(fy_program *p, fy_prog_rule r);
uint32_t tp_root(fy_program *p, fy_prog_root r);
uint32_t tp_dnode(fy_program *p, fy_prog_dnode d);
uint32_t tp_dref(fy_program *p, uint32_t rule);
uint32_t tp_dext(fy_program *p, fy_prog_dext e);
uint32_t tp_app(fy_program *p, fy_prog_app a);
uint32_t tp_component(fy_program *p, fy_prog_component c);
uint32_t tp_version(fy_program *p, fy_prog_version v);
uint32_t tp_conv(fy_program *p, fy_prog_conv c);
uint32_t tp_map(fy_program *p, fy_prog_map m);
uint32_t tp_mapent(fy_program *p, const char *from, const char *to);
uint32_t tp_policy(fy_program *p, const char *section, const char *key, const char *value);
uint32_t tp_source(fy_program *p, const char *file);

/* A realistic program that uses every opcode, every host call and every section: five
 * rules (CLS), two roots, a dispatch tree, one app with two versions (one DET block) and
 * two components, two conversions (CNV), a map, policies, sources and a debug table.
 * Rule 0's block starts at pc 0: NODE, JF (pc 0x0008, SE.rul:4:9), LEAF (SE.rul:4:20), HALT. */
fy_program *tp_realistic(void);
/* A second, small valid program (one rule, no apps): another fuzz seed. */
fy_program *tp_small(void);

/* Index of the nth (0-based) instruction with this opcode, or FY_NONE. */
uint32_t tp_find_op(const fy_program *p, unsigned op, unsigned nth);

/* ---- serialized images (layout from docs/program-format.md) ---- */
#define TP_OFF_MINOR 14
#define TP_OFF_MAJOR 12
#define TP_OFF_TOTAL 24
#define TP_OFF_CRC 28
#define TP_OFF_FLAGS 36
#define TP_OFF_NSEC 40
#define TP_SECTAB 80

/* Recomputes the CRC field (zlib crc32 over everything but the field). */
void tp_fix_crc(uint8_t *img, size_t size);
/* Pointer to the section-table entry {type, offset, length} of a type, or NULL. */
uint8_t *tp_secent(uint8_t *img, size_t size, uint32_t type);
/* Offset of a section's first byte (0 if absent). */
uint32_t tp_sec_off(uint8_t *img, size_t size, uint32_t type);

#endif
