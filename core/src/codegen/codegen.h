/* codegen/codegen.h -- tinygrad 0.14.0's codegen (codegen/__init__.py: full_rewrite_to_sink, to_program) in C.
**
** Input: a kernel AST exactly as tinygrad's scheduler writes it (SINK(KernelInfo) of END(STORE(INDEX(PARAM..), ..)) with
** RANGEs, REDUCEs and weak index math). Output: a cg_program -- the rendered source for the device's dialect and the
** ProgramInfo a launch needs (function name, buffer slots, variables, global size).
**
** What the passes may emit is read only from tg_device_caps (dialect, alu_ops, dtypes, has_local/has_threads,
** vector_width, global_max, ...). NOOPT (opts->noopt, or the NOOPT environment variable when opts is NULL) skips
** the heuristic optimizations as tinygrad's NOOPT=1 does; every other pass runs either way.
**
** Ownership: tg_codegen_kernel borrows the AST and the caps; the program it returns is owned by the caller and freed
** with cg_program_free(). Threading: independent kernels may be compiled concurrently on different threads. */
#ifndef TG_CODEGEN_CODEGEN_H
#define TG_CODEGEN_CODEGEN_H
#include <stddef.h>
#include <stdint.h>

#include "tg_backend.h"
#include "uop/ops.h"

/* The renderer's properties, derived from tg_device_caps (tinygrad's Renderer fields). */
struct tg_renderer;
typedef struct cg_ren {
  char dialect[16];
  const struct tg_renderer *rd; /* the dialect's printer and extra_matcher (renderer/renderer.h) */
  tg_opset alu;              /* code_for_op keys: the ALU ops the dialect renders */
  uint64_t dtypes;           /* bit (1 << tg_dtype) per supported storage dtype */
  int has_local, has_shared, has_threads;
  int supports_float4;       /* vector_width > 1 */
  int vector_width;
  int64_t global_max[3], local_max[3];
  int64_t shared_max;
  char arch[32];
  const struct cg_tc *tcs[16]; /* tensor_cores: the core's descriptions (opt/tc.h) of the entries the caps declare */
  int n_tcs;
} cg_ren;
/* Fills r from caps. TG_ERR_INVALID_ARGUMENT when the dialect has no renderer here ("c" for now). */
tg_status cg_ren_from_caps(const tg_device_caps *caps, cg_ren *r);

typedef struct tg_codegen_opts {
  int noopt;                 /* 1: NOOPT=1 (no heuristic opts); -1: read $NOOPT */
  /* called after each named pass with the graph it produced (borrowed); for tests and DEBUG dumps */
  void (*on_stage)(const char *name, tg_uop *sink, void *user);
  void *user;
} tg_codegen_opts;

/* A variable the kernel reads (tinygrad's ProgramInfo.vars, in slot order). The "c" entry reads vars[j] from vals[j];
** core_id's entry in vals is not read (the kernel takes gid[0]): pass any value, e.g. 0. */
typedef struct cg_program_var {
  char *name;
  int64_t vmin, vmax;
  int is_core_id;            /* the thread index: read from gid[0], not from vals */
} cg_program_var;

/* How a realize step runs a program on a "c" device:
**   tg_codegen_kernel(ast, &caps, &opts, &prog);
**   backend->compile(prog->source) -> blob; backend->load(blob, prog->name) -> program;
**   launch(program, bufs = the buffers of slots prog->globals[0..n_globals) in that order,
**          vals = one int64 per prog->vars[j], global = prog->global_size, local = prog->local_size);
** The buffers of slot s are the kernel CALL's argument s (the AST's PARAM slot s). */
typedef struct cg_program {
  char *name;                /* the C function name (tinygrad's function_name): the symbol to load */
  char *display_name;        /* KernelInfo.name with tinygrad's ANSI colors */
  char *source;              /* the rendered source */
  int64_t global_size[3];    /* launch grid ((core_id.vmax+1, 1, 1) for threaded CPU kernels) */
  int64_t local_size[3];
  int has_local_size;
  size_t n_globals;          /* buffer slots in bufs[] order (sorted), and which are written/read */
  int64_t *globals;
  size_t n_outs, n_ins;
  int64_t *outs, *ins;
  size_t n_vars;
  cg_program_var *vars;
  tg_uop *sink;              /* the full_rewrite_to_sink result (owned) */
  tg_uop **lin;              /* the linearized program (owned references), n_lin of them */
  size_t n_lin;
} cg_program;

/* AST -> program. Returns TG_OK and *out, or an error (message in tg_last_error()) and *out NULL. */
tg_status tg_codegen_kernel(tg_uop *ast, const tg_device_caps *caps, const tg_codegen_opts *opts, cg_program **out);
/* Empties the memo of movement-op index math (mops.c) that codegen keeps across kernels, as tinygrad caches it. */
void tg_codegen_mops_cache_clear(void);
void cg_program_free(cg_program *p);

/* ---- the stages, for tests ---- */
/* full_rewrite_to_sink: new reference or NULL with an error. */
tg_uop *tg_codegen_full_rewrite(tg_uop *ast, const cg_ren *ren, const tg_codegen_opts *opts);
/* One named pass of full_rewrite_to_sink applied alone to sink (the names tinygrad gives its graph_rewrite calls:
** "initial symbolic", "remove reduces", ...). NULL with an error for an unknown name. */
tg_uop *tg_codegen_pass(const char *name, tg_uop *sink, const cg_ren *ren, int noopt);
/* linearize (+ the IF/ENDIF cleanups): a malloc'd array of new references, n in *n. */
tg_uop **tg_codegen_linearize(tg_uop *sink, size_t *n);

#endif
