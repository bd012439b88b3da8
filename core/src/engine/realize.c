/* engine/realize.c -- tinygrad 0.14.0's Tensor.realize + engine/realize.py run_linear, on tgc's devices.
**
** realize: the UOps of the tensors to realize -> transform_to_call (schedule/callify.c) -> the becomes-map applied to every
** live tensor -> create_linear_with_vars (schedule/) -> for each CALL of the LINEAR: a kernel (codegen -> compile, cached
** by source -> launch) or a COPY. Device memory for each BUFFER UOp lives in a side table keyed by the BUFFER (tinygrad's
** `buffers` WeakKeyDictionary): an entry goes when nothing but the table holds its BUFFER. Host inputs (Tensor(list),
** Tensor(numpy): BUFFERs on "PYTHON"/"NPY") are read from the frontend's host table (tensor/tensor.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "codegen/cg_util.h"
#include "codegen/codegen.h"
#include "dtype.h"
#include "helpers.h"
#include "schedule/schedule.h"
#include "tensor/tensor.h"
#include "tgc_internal.h"
#include "uop/ops.h"



/* ---------------- counters (tinygrad's GlobalCounters) ---------------- */

static uint64_t n_kernels, n_compiles, n_copies;

TG_API tg_status tg_counters_get(tg_counters *out) {
  if (!out) return tg_err(TG_ERR_NULL_POINTER, "tg_counters_get: out is NULL");
  if (out->struct_size < TG_STRUCT_SIZE(tg_counters, copy_count))
    return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_counters_get: out->struct_size %zu, expected %zu", out->struct_size, sizeof *out);
  out->kernel_count = __atomic_load_n(&n_kernels, __ATOMIC_RELAXED);
  out->compile_count = __atomic_load_n(&n_compiles, __ATOMIC_RELAXED);
  out->copy_count = __atomic_load_n(&n_copies, __ATOMIC_RELAXED);
  return TG_OK;
}

TG_API tg_status tg_counters_reset(void) {
  __atomic_store_n(&n_kernels, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&n_copies, 0, __ATOMIC_RELAXED);
  return TG_OK;
}

/* ---------------- the buffer table ---------------- */

typedef struct buf_entry {
  tg_uop *key;     /* a BUFFER UOp, retained */
  tg_buffer *buf;  /* its device memory */
} buf_entry;

static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static buf_entry *table;
static size_t table_n, table_cap;

/* Drops entries whose BUFFER nobody else holds. Caller holds table_mu. */
static void table_sweep(void) {
  size_t w = 0;
  for (size_t i = 0; i < table_n; i++) {
    if (tg_uop_refcount(table[i].key) == 1) {
      tg_buffer_release(table[i].buf);
      tg_uop_release(table[i].key);
    } else table[w++] = table[i];
  }
  table_n = w;
}

static tg_buffer *table_get(tg_uop *key) {
  for (size_t i = 0; i < table_n; i++)
    if (table[i].key == key) return table[i].buf;
  return NULL;
}

static tg_status table_put(tg_uop *key, tg_buffer *buf) {
  if (table_n == table_cap) {
    size_t ncap = table_cap ? table_cap * 2 : 64;
    buf_entry *nt = realloc(table, ncap * sizeof *nt);
    if (!nt) return tg_err(TG_ERR_OUT_OF_MEMORY, "realize: out of memory");
    table = nt, table_cap = ncap;
  }
  table[table_n++] = (buf_entry){tg_uop_retain(key), buf};
  return TG_OK;
}

static int is_host_device(const char *dev) { return dev && (!strcasecmp(dev, "PYTHON") || !strcasecmp(dev, "NPY")); }

static size_t buffer_nbytes(tg_uop *b) {
  tgs_shp s;
  if (tgs_shape(b, &s) != 1) return 0;
  return (size_t)tgs_prod(s.d, s.n) * (size_t)tg_dt_itemsize((tg_dtype)b->dtype);
}

static tg_status device_buffer(tg_uop *b, tg_buffer **out);

/* A memory-planner view, BITCAST(SHRINK(BUFFER int8 arena, offset, size)): an alias into the arena's memory. A buffer
** that fills its arena has no SHRINK (a no-op shrink is its source): BITCAST(arena). */
static tg_status view_buffer(tg_uop *v, tg_buffer **out) {
  tg_uop *sh = v->op == TG_OP_BITCAST ? v->src[0] : v, *arena = sh->op == TG_OP_SHRINK ? sh->src[0] : sh;
  if (arena->op != TG_OP_BUFFER || arena == v)
    return tg_err(TG_ERR_UNSUPPORTED, "realize: kernel argument %s is neither a BUFFER nor a view of one", tg_op_name((tg_op)v->op));
  int64_t off[TGS_MAXD] = {0}, size[TGS_MAXD];
  size_t n = 1, isz = (size_t)tg_dt_itemsize((tg_dtype)arena->dtype);
  if (sh == arena) size[0] = (int64_t)(buffer_nbytes(arena) / isz);
  else if (tgs_marg(sh, off, size, &n) || n != 1) return tg_err(TG_ERR_UNSUPPORTED, "realize: a buffer view that is not 1-d");
  tg_buffer *base;
  tg_status st = device_buffer(arena, &base);
  if (st) return st;
  if ((st = tg_buffer_view_internal(base, (size_t)off[0] * isz, (size_t)size[0] * isz, out))) return st;
  if ((st = table_put(v, *out))) tg_buffer_release(*out);
  return st;
}

/* A buffer of a dtype the device does not declare (tg_device_caps.dtypes: WebGPU has no 64-bit types) is refused before
** anything is allocated or launched, as tinygrad's is_dtype_supported would keep it off that device. */
static tg_status check_dtype(tg_device *dev, const char *devname, int dt) {
  if (dt < 0 || dt >= TG_DTYPE_COUNT) return TG_OK;
  tg_device_caps caps = {.struct_size = sizeof caps};
  tg_status st = tg_device_get_caps(dev, &caps);
  if (st || (caps.dtypes >> dt & 1)) return st;
  char have[256];
  tg_sb hb = tg_sb_fixed(have, sizeof have);
  for (int d = 0; d < TG_DTYPE_COUNT; d++)
    if (caps.dtypes >> d & 1) tg_sb_printf(&hb, "%s%s", hb.len ? " " : "", tg_dtype_repr_name(d));
  return tg_err(TG_ERR_UNSUPPORTED, "%s does not support dtypes.%s (its dtypes: %s)", devname, tg_dtype_repr_name(dt), have);
}

/* The device memory of a BUFFER UOp (allocated on first use) or of a view of one. Caller holds table_mu. */
static tg_status device_buffer(tg_uop *b, tg_buffer **out) {
  if ((*out = table_get(b))) return TG_OK;
  if (b->op != TG_OP_BUFFER) return view_buffer(b, out);
  const char *devname = tgs_pa_device(b);
  if (!devname) return tg_err(TG_ERR_UNSUPPORTED, "realize: BUFFER without a device");
  tg_device *dev;
  tg_status st = tg_device_get(devname, &dev);
  if (st) return st;
  if ((st = check_dtype(dev, devname, b->dtype))) return st;
  size_t n = buffer_nbytes(b);
  if ((st = tg_buffer_alloc(dev, n ? n : 1, out))) return st;
  if ((st = table_put(b, *out))) tg_buffer_release(*out);
  return st;
}

/* ---------------- kernels ---------------- */

typedef struct prog_entry {
  tg_uop *ast;               /* the kernel AST it was generated from (retained): interned, so equal graphs hit */
  char *source;
  tg_device *dev;
  tg_program *handle;  /* the compiled program (tg.h) */
  cg_program *info;          /* codegen's description: buffer slots, variables, global size */
} prog_entry;

static prog_entry *progs;
static size_t progs_n, progs_cap;

/* Codegen for one kernel AST, or the cached entry: the same AST on the same device costs nothing, the same source
** shares one entry. A new entry is registered uncompiled (handle NULL); compile_entries or get_program compiles it. */
static tg_ptrset prog_by_ast; /* AST -> 1 + index of its first entry in progs */

static tg_status lower_program(tg_device *dev, tg_uop *ast, size_t *out_index) {
  uint64_t *hit = prog_by_ast.cap ? tg_ptrset_get(&prog_by_ast, ast) : NULL;
  if (hit && progs[*hit - 1].dev == dev) return *out_index = (size_t)(*hit - 1), TG_OK; /* same AST, same device: no codegen */
  if (hit) /* the same AST on another device */
    for (size_t i = 0; i < progs_n; i++)
      if (progs[i].ast == ast && progs[i].dev == dev) return *out_index = i, TG_OK;
  tg_device_caps caps = {.struct_size = sizeof caps};
  tg_status st = tg_device_get_caps(dev, &caps);
  if (st) return st;
  cg_program *cg = NULL;
  if ((st = tg_codegen_kernel(ast, &caps, NULL, &cg))) return st;
  for (size_t i = 0; i < progs_n; i++)
    if (progs[i].dev == dev && !strcmp(progs[i].source, cg->source)) {
      cg_program_free(cg);
      return *out_index = i, TG_OK;
    }
  if (progs_n == progs_cap) {
    size_t ncap = progs_cap ? progs_cap * 2 : 32;
    prog_entry *np = realloc(progs, ncap * sizeof *np);
    if (!np) return cg_program_free(cg), tg_err(TG_ERR_OUT_OF_MEMORY, "realize: out of memory");
    progs = np, progs_cap = ncap;
  }
  prog_entry *e = &progs[progs_n];
  *e = (prog_entry){tg_uop_retain(ast), strdup(cg->source), dev, NULL, cg};
  if (!e->source) return tg_uop_release(e->ast), cg_program_free(cg), tg_err(TG_ERR_OUT_OF_MEMORY, "realize: out of memory");
  if (tg_getenv_int("DEBUG", 0) >= 3) { /* do_linearize's line: the kernel's applied opts (a TC among them) */
    const tg_arg *ao = cg_tuple_item(&cg->sink->arg, 4);
    if (ao && ao->kind == TG_ARG_TUPLE && ao->n) {
      tg_sb b = {0};
      b.grow = 1;
      tg_sb_arg(&b, ao, 0);
      fprintf(stderr, "%-25s opts: %s\n", cg->name, b.buf ? b.buf : "?");
      free(b.buf);
    }
  }
  if (tg_getenv_int("DEBUG", 0) >= 4) fprintf(stderr, "%s\n", cg->source);
  if (!prog_by_ast.cap && !tg_ptrset_init(&prog_by_ast, 64)) prog_by_ast.cap = 0;
  if (prog_by_ast.cap) tg_ptrset_put(&prog_by_ast, ast, progs_n + 1); /* keeps the first entry when present */
  *out_index = progs_n++;
  return TG_OK;
}

static tg_status compile_entry(prog_entry *e) {
  tg_status st = tg_program_compile(e->dev, e->source, e->info->name, &e->handle);
  if (!st) __atomic_add_fetch(&n_compiles, 1, __ATOMIC_RELAXED);
  return st;
}

static tg_status get_program(tg_device *dev, tg_uop *ast, prog_entry **out) {
  size_t i;
  tg_status st = lower_program(dev, ast, &i);
  if (!st && !progs[i].handle) st = compile_entry(&progs[i]);
  if (!st) *out = &progs[i];
  return st;
}

/* ---------------- parallel compile of a schedule's new kernels ---------------- */

typedef struct compile_job {
  size_t *idx, n;           /* entries of progs to compile */
  size_t next;              /* next job, taken atomically */
  tg_status st;             /* the first failure, with its message */
  char msg[8192];
  pthread_mutex_t mu;
} compile_job;

static void *compile_worker(void *arg) {
  compile_job *j = arg;
  for (size_t k; (k = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n;) {
    tg_status st = compile_entry(&progs[j->idx[k]]);
    if (st) {
      pthread_mutex_lock(&j->mu);
      if (!j->st) j->st = st, snprintf(j->msg, sizeof j->msg, "%s", tg_last_error());
      pthread_mutex_unlock(&j->mu);
      __atomic_store_n(&j->next, j->n, __ATOMIC_RELAXED); /* stop taking work */
    }
  }
  return NULL;
}

/* Every kernel of the LINEAR is generated first (in schedule order, so DEBUG=4 prints in that order), then the ones
** not compiled yet are compiled together: on a device whose backend declares compile_concurrent, on up to one
** thread per core (TGC_COMPILE_THREADS overrides), else one after the other. tinygrad compiles them in order. */
static tg_status precompile_linear(tg_uop *linear) {
  size_t *idx = calloc(linear->nsrc ? linear->nsrc : 1, sizeof *idx), n = 0;
  if (!idx) return tg_err(TG_ERR_OUT_OF_MEMORY, "realize: out of memory");
  tg_status st = TG_OK;
  for (size_t i = 0; i < linear->nsrc && !st; i++) {
    tg_uop *call = linear->src[i];
    if (call->op != TG_OP_CALL || call->nsrc < 2 || call->src[0]->op != TG_OP_SINK) continue;
    tg_buffer *b = NULL;
    tg_device *dev = NULL;
    size_t e;
    if ((st = device_buffer(call->src[1], &b)) || (st = tg_buffer_device(b, &dev)) || (st = lower_program(dev, call->src[0], &e))) break;
    int dup = progs[e].handle != NULL;
    for (size_t k = 0; k < n && !dup; k++) dup = idx[k] == e;
    if (!dup) idx[n++] = e;
  }
  if (!st && n) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = (size_t)tg_getenv_int("TGC_COMPILE_THREADS", cores > 0 ? (int)cores : 1);
    tg_device_caps caps = {.struct_size = sizeof caps};
    for (size_t k = 0; k < n && nt > 1; k++)
      if (tg_device_get_caps(progs[idx[k]].dev, &caps) || !caps.compile_concurrent) nt = 1;
    if (nt > n) nt = n;
    if (nt <= 1) {
      for (size_t k = 0; k < n && !st; k++) st = compile_entry(&progs[idx[k]]);
    } else {
      compile_job j = {idx, n, 0, TG_OK, {0}, PTHREAD_MUTEX_INITIALIZER};
      pthread_t *th = calloc(nt, sizeof *th);
      size_t started = 0;
      if (th)
        for (; started < nt - 1; started++) /* this thread is the last worker */
          if (pthread_create(&th[started], NULL, compile_worker, &j)) break;
      compile_worker(&j);
      for (size_t t = 0; t < started; t++) pthread_join(th[t], NULL);
      free(th);
      pthread_mutex_destroy(&j.mu);
      if (j.st) st = tg_err(j.st, "%s", j.msg);
    }
  }
  free(idx);
  return st;
}

static tg_status run_kernel(tg_uop *call) {
  tg_uop *ast = call->src[0];
  size_t nargs = call->nsrc - 1;
  tg_buffer **bufs = calloc(nargs ? nargs : 1, sizeof *bufs);
  if (!bufs) return tg_err(TG_ERR_OUT_OF_MEMORY, "realize: out of memory");
  tg_status st = TG_OK;
  for (size_t i = 0; i < nargs && !st; i++) st = device_buffer(call->src[1 + i], &bufs[i]);
  tg_device *dev = NULL;
  if (!st && nargs) st = tg_buffer_device(bufs[0], &dev);
  if (!st && !nargs) st = tg_err(TG_ERR_UNSUPPORTED, "realize: a kernel with no buffers");
  prog_entry *pe = NULL;
  if (!st) st = get_program(dev, ast, &pe);
  if (!st) {
    cg_program *cg = pe->info;
    tg_buffer **ordered = calloc(cg->n_globals ? cg->n_globals : 1, sizeof *ordered);
    if (!ordered) st = tg_err(TG_ERR_OUT_OF_MEMORY, "realize: out of memory");
    for (size_t i = 0; !st && i < cg->n_globals; i++) {
      int64_t slot = cg->globals[i];
      if (slot < 0 || (size_t)slot >= nargs) st = tg_err(TG_ERR_INTERNAL, "realize: kernel %s reads slot %lld of %zu arguments", cg->name, (long long)slot, nargs);
      else ordered[i] = bufs[slot];
    }
    for (size_t i = 0; !st && i < cg->n_vars; i++)
      if (!cg->vars[i].is_core_id) st = tg_err(TG_ERR_UNSUPPORTED, "realize: kernel %s needs variable %s (symbolic shapes are not supported yet)", cg->name, cg->vars[i].name);
    uint32_t global[3], local[3];
    for (int d = 0; d < 3; d++) {
      global[d] = (uint32_t)(cg->global_size[d] > 0 ? cg->global_size[d] : 1);
      local[d] = (uint32_t)(cg->local_size[d] > 0 ? cg->local_size[d] : 1);
    }
    int dbg = tg_getenv_int("DEBUG", 0);
    struct timespec t0, t1;
    if (dbg >= 2) clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!st) st = tg_program_launch(pe->handle, ordered, cg->n_globals, NULL, 0, global, local);
    if (!st) __atomic_add_fetch(&n_kernels, 1, __ATOMIC_RELAXED);
    if (!st && dbg >= 2) { /* tinygrad's DEBUG=2 line: each kernel waited for and timed */
      st = tg_device_synchronize(pe->dev);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      double us = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
      const char *dn = "?";
      (void)tg_device_name(pe->dev, &dn);
      fprintf(stderr, "*** %-8s %6lu %-40s arg %3zu global (%lld,%lld,%lld) local (%lld,%lld,%lld) tm %10.2fus\n", dn,
              (unsigned long)n_kernels, cg->name, cg->n_globals, (long long)cg->global_size[0], (long long)cg->global_size[1],
              (long long)cg->global_size[2], (long long)cg->local_size[0], (long long)cg->local_size[1], (long long)cg->local_size[2], us);
    }
    free(ordered);
  }
  free(bufs);
  return st;
}

static tg_status run_copy(tg_uop *call) {
  if (call->nsrc != 3) return tg_err(TG_ERR_INTERNAL, "realize: COPY call with %u arguments", call->nsrc - 1);
  tg_uop *dst = call->src[1], *src = call->src[2];
  tg_buffer *d = NULL;
  tg_status st = device_buffer(dst, &d);
  if (st) return st;
  size_t n = buffer_nbytes(dst);
  if (src->op == TG_OP_BUFFER && is_host_device(tgs_pa_device(src))) {
    size_t have = 0;
    const void *data = tg_tensor_host_data(src, &have);
    if (!data || have < n) return tg_err(TG_ERR_INTERNAL, "realize: host buffer holds %zu bytes, the copy needs %zu", have, n);
    st = n ? tg_buffer_copyin(d, 0, data, n) : TG_OK;
  } else {
    tg_buffer *s = NULL;
    if ((st = device_buffer(src, &s))) return st;
    void *tmp = malloc(n ? n : 1);
    if (!tmp) return tg_err(TG_ERR_OUT_OF_MEMORY, "realize: out of memory for a %zu-byte copy", n);
    st = n ? tg_buffer_copyout(s, 0, tmp, n) : TG_OK;
    if (!st && n) st = tg_buffer_copyin(d, 0, tmp, n);
    free(tmp);
  }
  if (!st) __atomic_add_fetch(&n_copies, 1, __ATOMIC_RELAXED), __atomic_add_fetch(&n_kernels, 1, __ATOMIC_RELAXED); /* tinygrad counts every CALL */
  return st;
}

static tg_status run_linear(tg_uop *linear) {
  for (size_t i = 0; i < linear->nsrc; i++) {
    tg_uop *call = linear->src[i];
    if (call->op != TG_OP_CALL || !call->nsrc) return tg_err(TG_ERR_INTERNAL, "realize: LINEAR item %zu is %s, not a CALL", i, tg_op_name((tg_op)call->op));
    tg_op body = (tg_op)call->src[0]->op;
    tg_status st = body == TG_OP_SINK ? run_kernel(call)
                   : body == TG_OP_COPY ? run_copy(call)
                                        : tg_err(TG_ERR_UNSUPPORTED, "realize: cannot run a CALL of %s yet", tg_op_name(body));
    if (st) return st;
  }
  return TG_OK;
}

/* Called when a tensor dies: device memory whose BUFFER nobody holds any more is freed at once. */
void tg_realize_sweep(void) {
  pthread_mutex_lock(&table_mu);
  if (table_n) table_sweep();
  pthread_mutex_unlock(&table_mu);
}

int tg_realize_is_allocated(tg_uop *buffer) {
  pthread_mutex_lock(&table_mu);
  int r = table_get(buffer) != NULL;
  pthread_mutex_unlock(&table_mu);
  return r;
}

TG_API tg_status tg_debug_live_uops(size_t *out_count) {
  if (!out_count) return tg_err(TG_ERR_NULL_POINTER, "tg_debug_live_uops: out_count is NULL");
  *out_count = tg_uop_live_count();
  return TG_OK;
}

static int needs_realize(tg_uop *u);
/* ---------------- TinyJit: capture the kernels of some realizes, replay them with other input buffers ---------------- */

static int jit_capturing;        /* guarded by table_mu where it matters; capture is one thread's business, as in tinygrad */
static tg_uop **jit_calls;       /* the CALLs recorded so far (retained) */
static size_t jit_ncalls, jit_cap;

static tg_status jit_record(tg_uop *linear) {
  for (size_t i = 0; i < linear->nsrc; i++) {
    if (jit_ncalls == jit_cap) {
      size_t nc = jit_cap ? 2 * jit_cap : 64;
      tg_uop **n = realloc(jit_calls, nc * sizeof *n);
      if (!n) return tg_err(TG_ERR_OUT_OF_MEMORY, "jit: out of memory recording a kernel");
      jit_calls = n, jit_cap = nc;
    }
    jit_calls[jit_ncalls++] = tg_uop_retain(linear->src[i]);
  }
  return TG_OK;
}

typedef struct jit_obj {
  tg_uop **calls; size_t ncalls;       /* retained */
  tg_uop **in_bufs; size_t nin;        /* the captured inputs' BUFFERs (retained) */
  tgs_shp *in_shape; int *in_dtype; const char **in_dev;
} jit_obj;

static void jit_free(jit_obj *j) {
  if (!j) return;
  for (size_t i = 0; i < j->ncalls; i++) tg_uop_release(j->calls[i]);
  for (size_t i = 0; i < j->nin; i++) tg_uop_release(j->in_bufs[i]);
  free(j->calls), free(j->in_bufs), free(j->in_shape), free(j->in_dtype), free(j->in_dev), free(j);
}

/* A JIT input: a realized tensor whose UOp is a BUFFER behind RESHAPEs (tinygrad: "JIT inputs must be real buffers"). */
static tg_status jit_input(tg_tensor *t, size_t i, tg_tv *v, tg_uop **buf) {
  char what[40];
  snprintf(what, sizeof what, "jit: inputs[%zu]", i);
  tg_status st = tgt_tensor_get(t, what, v);
  if (st) return st;
  if (!v->dev || tg_dt_is_weak((tg_dtype)v->u->dtype)) return tg_err(TG_ERR_INVALID_ARGUMENT, "JIT inputs must be real buffers; use .clone() (inputs[%zu])", i);
  if (needs_realize(v->u)) {
    if ((st = tg_tensor_realize(&t, 1)) || (st = tgt_tensor_get(t, what, v))) return st;
  }
  tg_uop *b = v->u;
  while (b->op == TG_OP_RESHAPE) b = b->src[0];
  if (b->op != TG_OP_BUFFER)
    return tg_err(TG_ERR_INVALID_ARGUMENT, "JIT inputs must be real buffers (inputs[%zu] is a view: %s); use .contiguous()", i, tg_op_name((tg_op)b->op));
  *buf = b;
  return TG_OK;
}

TG_API tg_status tg_jit_capture_begin(void) {
  pthread_mutex_lock(&table_mu);
  int was = jit_capturing;
  if (!was) jit_capturing = 1, jit_ncalls = 0;
  pthread_mutex_unlock(&table_mu);
  return was ? tg_err(TG_ERR_INVALID_ARGUMENT, "having TinyJit inside another TinyJit is not supported") : TG_OK;
}

TG_API tg_status tg_jit_capture_end(tg_tensor *const *inputs, size_t n, tg_jit **out) {
  pthread_mutex_lock(&table_mu);
  int was = jit_capturing;
  jit_capturing = 0;
  tg_uop **calls = jit_calls;
  size_t ncalls = jit_ncalls;
  jit_calls = NULL, jit_ncalls = jit_cap = 0;
  pthread_mutex_unlock(&table_mu);
  jit_obj *j = NULL;
  tg_status st = TG_OK;
  if (!was) st = tg_err(TG_ERR_INVALID_ARGUMENT, "tg_jit_capture_end: no capture in progress");
  else if (!out) st = tg_err(TG_ERR_NULL_POINTER, "tg_jit_capture_end: out is NULL");
  else if (n && !inputs) st = tg_err(TG_ERR_NULL_POINTER, "tg_jit_capture_end: inputs is NULL with n=%zu", n);
  else if (!ncalls) st = tg_err(TG_ERR_INVALID_ARGUMENT, "didn't JIT anything!");
  else if (!(j = calloc(1, sizeof *j)) || !(j->in_bufs = calloc(n + 1, sizeof *j->in_bufs)) || !(j->in_shape = calloc(n + 1, sizeof *j->in_shape)) ||
           !(j->in_dtype = calloc(n + 1, sizeof *j->in_dtype)) || !(j->in_dev = calloc(n + 1, sizeof *j->in_dev)))
    st = tg_err(TG_ERR_OUT_OF_MEMORY, "jit: out of memory");
  if (j) j->calls = calls, j->ncalls = ncalls, calls = NULL;
  for (size_t i = 0; !st && i < n; i++) {
    tg_tv v;
    tg_uop *b;
    if ((st = jit_input(inputs[i], i, &v, &b))) break;
    for (size_t k = 0; k < i && !st; k++)
      if (j->in_bufs[k] == b) st = tg_err(TG_ERR_INVALID_ARGUMENT, "duplicate inputs to JIT (inputs[%zu] and inputs[%zu])", k, i);
    if (st) break;
    j->in_bufs[j->nin++] = tg_uop_retain(b);
    tgs_shape(v.u, &j->in_shape[i]);
    j->in_dtype[i] = v.u->dtype, j->in_dev[i] = v.dev;
  }
  void *h = NULL;
  if (!st && !(h = tg_handle_new(TG_H_JIT, j))) st = tg_err(TG_ERR_OUT_OF_MEMORY, "jit: out of memory");
  if (st) {
    for (size_t i = 0; calls && i < ncalls; i++) tg_uop_release(calls[i]);
    free(calls);
    jit_free(j);
    return st;
  }
  *out = h;
  return TG_OK;
}

TG_API tg_status tg_jit_run(tg_jit *jit, tg_tensor *const *inputs, size_t n) {
  void *o;
  tg_status st = tg_handle_get(jit, TG_H_JIT, "jit", &o);
  if (st) return st;
  jit_obj *j = o;
  if (n != j->nin) return tg_err(TG_ERR_INVALID_ARGUMENT, "args mismatch in JIT: captured with %zu input tensors, called with %zu", j->nin, n);
  if (n && !inputs) return tg_err(TG_ERR_NULL_POINTER, "tg_jit_run: inputs is NULL with n=%zu", n);
  tg_uop **from = calloc(n + 1, sizeof *from), **to = calloc(n + 1, sizeof *to);
  if (!from || !to) return free(from), free(to), tg_err(TG_ERR_OUT_OF_MEMORY, "jit: out of memory");
  for (size_t i = 0; !st && i < n; i++) {
    tg_tv v;
    tg_uop *b;
    if ((st = jit_input(inputs[i], i, &v, &b))) break;
    tgs_shp s;
    tgs_shape(v.u, &s);
    if (s.n != j->in_shape[i].n || memcmp(s.d, j->in_shape[i].d, s.n * sizeof *s.d) || v.u->dtype != j->in_dtype[i] || v.dev != j->in_dev[i]) {
      char a[256], c[256];
      tgt_tuple_str(j->in_shape[i].d, j->in_shape[i].n, a, sizeof a), tgt_tuple_str(s.d, s.n, c, sizeof c);
      st = tg_err(TG_ERR_SHAPE, "args mismatch in JIT: inputs[%zu] was captured as %s dtypes.%s on %s, called with %s dtypes.%s on %s", i, a,
                  tg_dtype_repr_name(j->in_dtype[i]), j->in_dev[i], c, tg_dtype_repr_name(v.u->dtype), v.dev);
      break;
    }
    for (size_t k = 0; k < i && !st; k++)
      if (to[k] == b) st = tg_err(TG_ERR_INVALID_ARGUMENT, "duplicate inputs to JIT (inputs[%zu] and inputs[%zu])", k, i);
    if (!st) from[i] = j->in_bufs[i], to[i] = b;
  }
  if (!st) {
    pthread_mutex_lock(&table_mu);
    tgs_clear_status();
    for (size_t c = 0; !st && c < j->ncalls; c++) {
      tg_uop *call = j->calls[c], *sub = tg_uop_substitute(call, from, to, n);
      if (!sub) { st = tg_err(TG_ERR_OUT_OF_MEMORY, "jit: out of memory rebinding inputs"); break; }
      tg_op body = (tg_op)sub->src[0]->op;
      st = body == TG_OP_SINK ? run_kernel(sub) : body == TG_OP_COPY ? run_copy(sub)
                                                   : tg_err(TG_ERR_UNSUPPORTED, "jit: cannot run a CALL of %s", tg_op_name(body));
      tg_uop_release(sub);
    }
    pthread_mutex_unlock(&table_mu);
  }
  free(from), free(to);
  return st;
}

TG_API tg_status tg_jit_release(tg_jit *jit) {
  if (!jit) return TG_OK;
  void *dead = NULL;
  tg_status st = tg_handle_release(jit, TG_H_JIT, "jit", &dead);
  if (dead) {
    pthread_mutex_lock(&table_mu);
    jit_free(dead);
    table_sweep();
    pthread_mutex_unlock(&table_mu);
  }
  return st;
}

/* ---------------- public ---------------- */

/* Whether a tensor's UOp already is memory (a BUFFER, maybe behind movement ops) or needs no realize. */
static int needs_realize(tg_uop *u) { return !tgs_has_buffer_identity(u, 0) && u->op != TG_OP_CONST; }

/* The UOps a realize (or a lowering) of these tensors computes: tinygrad's realize skips virtual tensors (UOp.is_virtual:
** no device, or a weak dtype that has no width to store) and those that already are memory. *out: caller frees, even on
** failure. */
static tg_status collect_uops(tg_tensor *const *tensors, size_t n, const char *fn, tg_uop ***out, size_t *k) {
  *k = 0;
  if (n && !tensors) return tg_err(TG_ERR_NULL_POINTER, "%s: tensors is NULL with n=%zu", fn, n);
  if (!(*out = calloc(n ? n : 1, sizeof **out))) return tg_err(TG_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
  for (size_t i = 0; i < n; i++) {
    tg_tv v;
    if (tgt_tensor_get(tensors[i], fn, &v)) { /* the message names the index only on failure */
      char what[64];
      snprintf(what, sizeof what, "%s: tensors[%zu]", fn, i);
      return tgt_tensor_get(tensors[i], what, &v);
    }
    if (v.dev && !tg_dt_is_weak((tg_dtype)v.u->dtype) && needs_realize(v.u)) (*out)[(*k)++] = v.u;
  }
  return TG_OK;
}

TG_API tg_status tg_tensor_realize(tg_tensor *const *tensors, size_t n) {
  tg_uop **uops = NULL;
  size_t k = 0;
  tg_status st = collect_uops(tensors, n, "tg_tensor_realize", &uops, &k);
  tg_uop *sink = NULL, *call = NULL, *linear = NULL;
  tg_schedule_map map = {0};
  if (!st && k) {
    pthread_mutex_lock(&table_mu);
    tgs_clear_status();
    if (!(sink = tg_uop_new(TG_OP_SINK, TG_DT_VOID, uops, k, tg_arg_none()))) st = TG_ERR_OUT_OF_MEMORY;
    if (!st && (st = tg_schedule_callify(sink, &call, &map)) == TG_OK) {
      st = tgt_apply_map(map.from, map.to, map.n);
      if (!st) st = tg_schedule_linear(call, &linear);
      if (!st) st = precompile_linear(linear);
      if (!st) st = jit_capturing ? jit_record(linear) : run_linear(linear);
    }
    table_sweep();
    pthread_mutex_unlock(&table_mu);
  }
  tg_schedule_map_free(&map);
  tg_uop_release(linear);
  tg_uop_release(call);
  tg_uop_release(sink);
  free(uops);
  return st;
}

/* Schedule + codegen only (tinygrad's schedule_linear and the render half of to_program): nothing is compiled, run
** or cached, and the tensors keep their graphs, so the same graph can be lowered again and timed (bench/). */
TG_API tg_status tg_tensor_lower(tg_tensor *const *tensors, size_t n, size_t *n_kernels) {
  tg_uop **uops = NULL;
  size_t k = 0, nk = 0;
  tg_status st = collect_uops(tensors, n, "tg_tensor_lower", &uops, &k);
  tg_uop *sink = NULL, *call = NULL, *linear = NULL;
  tg_schedule_map map = {0};
  if (!st && k) {
    pthread_mutex_lock(&table_mu);
    tgs_clear_status();
    if (!(sink = tg_uop_new(TG_OP_SINK, TG_DT_VOID, uops, k, tg_arg_none()))) st = TG_ERR_OUT_OF_MEMORY;
    if (!st) st = tg_schedule_callify(sink, &call, &map);
    if (!st) st = tg_schedule_linear(call, &linear);
    for (size_t i = 0; !st && i < linear->nsrc; i++) {
      tg_uop *c = linear->src[i];
      if (c->op != TG_OP_CALL || c->nsrc < 2 || c->src[0]->op != TG_OP_SINK) continue;
      tg_uop *b0 = c->src[1];
      while (b0->op != TG_OP_BUFFER && b0->nsrc) b0 = b0->src[0]; /* a planner view: BITCAST(SHRINK(BUFFER)) */
      const char *dname = b0->op == TG_OP_BUFFER ? tgs_pa_device(b0) : NULL;
      tg_device *dev = NULL;
      tg_device_caps caps = {.struct_size = sizeof caps};
      cg_program *cg = NULL;
      if (!dname) st = tg_err(TG_ERR_INTERNAL, "tg_tensor_lower: kernel %zu has no device", i);
      if (!st) st = tg_device_get(dname, &dev);
      if (!st) st = tg_device_get_caps(dev, &caps);
      if (!st) st = tg_codegen_kernel(c->src[0], &caps, NULL, &cg);
      if (!st) nk++;
      cg_program_free(cg);
    }
    pthread_mutex_unlock(&table_mu);
  }
  tg_schedule_map_free(&map);
  tg_uop_release(linear);
  tg_uop_release(call);
  tg_uop_release(sink);
  free(uops);
  if (!st && n_kernels) *n_kernels = nk;
  return st;
}

/* A device-less 0-d CONST reads as its value in the strong dtype (weakint -> int32, weakfloat -> float32). */
static tg_status const_data(tg_uop *u, void *dst, size_t nbytes) {
  tg_dtype dt = tg_dt_strong((tg_dtype)u->dtype);
  size_t want = (size_t)tg_dt_itemsize(dt);
  if (nbytes != want) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_data: %zu bytes asked, the tensor holds %zu", nbytes, want);
  if (u->arg.kind == TG_ARG_INVALID) return tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_data: the tensor is Invalid");
  tg_dt_scalar v;
  if (tg_dt_is_float(dt)) v.f = u->arg.kind == TG_ARG_FLOAT ? u->arg.f : (double)u->arg.i;
  else v.i = u->arg.kind == TG_ARG_FLOAT ? (int64_t)u->arg.f : u->arg.i;
  uint64_t bits = tg_dt_to_bits(dt, tg_dt_truncate(dt, v));
  memcpy(dst, &bits, want); /* little-endian: the low bytes are the value */
  return TG_OK;
}

/* tinygrad's UOp.clone(device="CPU") of a device-less value: empty_like(x) on the CPU, then AFTER(e, STORE(e, x)). */
static tg_status clone_to_cpu(tg_tv x, tg_tensor **out) {
  tgs_shp s;
  if (tgs_shape(x.u, &s) != 1) return tg_err(TG_ERR_UNSUPPORTED, "tg_tensor_data: a tensor without a concrete shape");
  tg_dtype dt = tg_dt_strong((tg_dtype)x.u->dtype);
  tg_tensor *e = NULL;
  tg_status st = tg_tensor_empty(s.d, s.n, dt, "CPU", &e);
  tg_tv ev;
  if (!st) st = tgt_tensor_get(e, "clone", &ev);
  if (st) return tg_tensor_release(e), st;
  tgt_scope S = {0};
  tg_tv xs = tgt_cast(&S, x, dt), pair[2] = {ev, xs};
  tg_tv store = tgt_mk(&S, TG_OP_STORE, TG_DT_VOID, pair, 2, tg_arg_none(), NULL);
  pair[1] = store;
  tg_tv after = tgt_mk(&S, TG_OP_AFTER, TG_DT_AUTO, pair, 2, tg_arg_none(), NULL);
  st = S.st;
  if (!st) st = tgt_tensor_set_uop(e, after.u);
  tgt_scope_end(&S);
  if (st) return tg_tensor_release(e), st;
  *out = e;
  return TG_OK;
}

/* tinygrad's UOp.buffer of a realized tensor: through CONTIGUOUS/RESHAPE/AFTER to a BUFFER, or a movement view that is a
** contiguous range of one (a shrink, a permute of size-1 dims), at element offset *off. *b NULL: a CONST, no buffer. */
static tg_status data_buffer(tg_uop *u, tg_uop **b, int64_t *off) {
  while (u->op == TG_OP_CONTIGUOUS || u->op == TG_OP_CONTIGUOUS_BACKWARD || u->op == TG_OP_RESHAPE || u->op == TG_OP_DETACH ||
         u->op == TG_OP_AFTER)
    u = u->src[0];
  *b = NULL, *off = 0;
  if (u->op == TG_OP_BUFFER) return *b = u, TG_OK;
  if (tgs_base(u)->op == TG_OP_CONST) return TG_OK;
  tgs_clear_status();
  if (tgs_session_begin()) return tgs_last_status();
  tgs_pool P = {0};
  tg_uop *vb = NULL;
  int r = tgs_contiguous_view(&P, u, &vb, off);
  /* the BUFFER found is the one u's graph holds, so the pointer outlives the pool */
  if (r == 1 && vb->op == TG_OP_BUFFER) *b = vb;
  tgs_pool_free(&P);
  tgs_session_end();
  if (r < 0) return tgs_last_status() ? tgs_last_status() : tg_err(TG_ERR_INTERNAL, "tg_tensor_data: contiguous_view failed");
  if (!*b) return tg_err(TG_ERR_INTERNAL, "tg_tensor_data: realized tensor is %s, not a BUFFER or a contiguous view of one", tg_op_name((tg_op)u->op));
  return TG_OK;
}

TG_API tg_status tg_tensor_data(tg_tensor *t, void *dst, size_t nbytes) {
  tg_tv v;
  tg_status st = tgt_tensor_get(t, "tg_tensor_data: tensor", &v);
  if (st) return st;
  if (!dst && nbytes) return tg_err(TG_ERR_NULL_POINTER, "tg_tensor_data: dst is NULL for %zu bytes", nbytes);
  if (v.u->op == TG_OP_CONST && !v.dev) return const_data(v.u, dst, nbytes); /* Tensor(3): no device, no kernel */
  if (jit_capturing) return tg_err(TG_ERR_INVALID_ARGUMENT, "cannot access tensor data during JIT capture, the value will be baked in");
  tgs_shp s0;
  if (tgs_shape(v.u, &s0) == 1 && tgs_prod(s0.d, s0.n) == 0) /* tinygrad's data(): no elements, nothing to realize */
    return nbytes ? tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_data: %zu bytes asked, the tensor holds 0", nbytes) : TG_OK;
  tg_tensor *c = NULL;
  if (tg_dt_is_weak((tg_dtype)v.u->dtype)) { /* tinygrad's data(): a weak tensor is read in its strong dtype */
    if ((st = tg_tensor_cast(t, tg_dt_strong((tg_dtype)v.u->dtype), &c))) return st;
    st = tg_tensor_data(c, dst, nbytes);
    tg_tensor_release(c);
    return st;
  }
  /* tinygrad's _buffer(): a contiguous copy, realized; its UOp is then a BUFFER (maybe reshaped). A virtual tensor (no
  ** device, e.g. Tensor.arange) is cloned onto the CPU first: a fresh buffer that stores the value (UOp.clone). */
  if (v.dev) st = tg_tensor_contiguous(t, &c);
  else st = clone_to_cpu(v, &c);
  if (st) return st;
  if (!(st = tg_tensor_realize(&c, 1))) st = tgt_tensor_get(c, "tg_tensor_data: tensor", &v);
  if (!st) {
    tg_uop *b = NULL;
    int64_t off = 0;
    st = data_buffer(v.u, &b, &off);
    tgs_shp s;
    size_t want = tgs_shape(v.u, &s) == 1 ? (size_t)tgs_prod(s.d, s.n) * (size_t)tg_dt_itemsize((tg_dtype)v.u->dtype) : 0;
    if (st) {
    } else if (nbytes != want) st = tg_err(TG_ERR_INVALID_ARGUMENT, "tg_tensor_data: %zu bytes asked, the tensor holds %zu", nbytes, want);
    else if (!b || !want) {
      st = tg_err(TG_ERR_UNSUPPORTED, "tg_tensor_data: the tensor has no buffer");
    } else {
      pthread_mutex_lock(&table_mu);
      tg_buffer *buf = NULL;
      st = device_buffer(b, &buf); /* tinygrad's ensure_allocated(): an empty() nobody wrote to has no memory yet */
      size_t at = (size_t)off * (size_t)tg_dt_itemsize((tg_dtype)b->dtype);
      if (!st) st = tg_buffer_copyout(buf, at, dst, nbytes);
      pthread_mutex_unlock(&table_mu);
    }
  }
  tg_tensor_release(c);
  return st;
}
