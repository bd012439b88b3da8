/* renderer/cstyle.h -- tinygrad 0.14.0's renderer/cstyle.py: the C-family printer (CStyleLanguage._render) driven by
** a per-dialect table, and the "c" dialect (ClangRenderer) whose kernels follow tg_backend.h's launch ABI.
**
** The "c" dialect compiles with gcc and clang alike: vectors are __attribute__((vector_size(N))) typedefs, bit casts
** go through __builtin_memcpy, half is _Float16 and bfloat16 is stored as its 16 bits (every bf16 value is widened
** to float before arithmetic by the extra matcher, as tinygrad does for CPUs without native bf16).
** Kernel shape: tinygrad's function rendered `static`, named NAME_, plus the exported entry
**   void NAME(void *const *bufs, const int64_t *vals, const uint32_t gid[3])
** that passes bufs[i] (globals in slot order), vals[j] (variables in slot order) and gid[0] as core_id. */
#ifndef TG_RENDERER_CSTYLE_H
#define TG_RENDERER_CSTYLE_H
#include <stddef.h>

#include "uop/ops.h"

typedef struct cs_lang cs_lang;

/* The table of a dialect by name ("c"), NULL when there is none. */
const cs_lang *cs_lang_named(const char *dialect);

/* CStyleLanguage.render over a linearized program (uops borrowed). Returns malloc'd source, or NULL with an error.
** fname: the function name (tinygrad's function_name). */
char *cs_render(const cs_lang *L, tg_uop *const *uops, size_t n, const char *fname);

#endif
