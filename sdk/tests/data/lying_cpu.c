/* lying_cpu.c -- the built-in CPU backend (core/src/runtime/cpu.c, included whole, unchanged) with one planted lie,
** selected by -DLIE_<X>; built by sdk/tests/test_validate.py with cc, -I include -I core/src, plus core/src/helpers.c.
** `tgc-sdk validate` must catch each:
**   LIE_F64         claims float64, but its compiler demotes double to float (as a device without fp64 might)
**   LIE_GLOBAL      claims global_max 65536 in every dimension without has_threads, but launch refuses more than 256
**   LIE_LOCAL       claims has_local with local_max[0] 1024, but launch refuses workgroups above 256
**   LIE_THREADS     claims has_threads over 8 threads, but runs every launch on the calling thread
**   LIE_SHARED      claims 48 KiB of shared memory: a "c" kernel has no workgroup to share it
**   LIE_ALIGN       claims 4096-byte buffer alignment, but allocates at 64
**   LIE_RULES       inconsistent caps: vector_width 3, local_prod_max 2 over local_max (1,1,1), mem_max_alloc > mem_total,
**                   a dtype bit and an ALU bit beyond the enums
**   LIE_UNDECLARED  honest but modest: float64 and MUL work but are not declared (warnings, not errors)
**   LIE_SQRT        honest caps, one op computed wrong: float square roots come out 2^-8 too large (2^15
**                   float32 ulps), which only the conformance suite's numerics tier sees */
#include "runtime/cpu.c"

static tg_status lie_caps(int index, tg_device_caps *out) {
  tg_status s = cpu_device_caps(index, out);
  if (s != TG_OK || out->struct_size < TG_STRUCT_SIZE(tg_device_caps, mem_max_alloc)) return s;
#if defined(LIE_GLOBAL)
  out->has_threads = 0, out->global_max[0] = out->global_max[1] = out->global_max[2] = 65536;
#elif defined(LIE_LOCAL)
  out->has_local = 1, out->global_max[0] = 65536, out->local_max[0] = 1024, out->local_prod_max = 1024;
#elif defined(LIE_THREADS)
  out->global_max[0] = 8;
#elif defined(LIE_SHARED)
  out->has_shared = 1, out->shared_max = 49152;
#elif defined(LIE_ALIGN)
  out->alignment = 4096;
#elif defined(LIE_RULES)
  out->vector_width = 3, out->local_prod_max = 2, out->mem_max_alloc = out->mem_total + 1;
  out->dtypes |= 1ull << 20, out->alu_ops |= 1ull << 40;
#elif defined(LIE_UNDECLARED)
  out->dtypes &= ~(1ull << TG_FLOAT64), out->alu_ops &= ~(1ull << TG_ALU_MUL);
#endif
  return s;
}

static tg_status lie_launch(tg_backend_device *dev, tg_backend_program *prog, const tg_launch_params *p) {
#if defined(LIE_GLOBAL)
  if (p->global[0] > 256 || p->global[1] > 256 || p->global[2] > 256)
    return fail(TG_ERR_INVALID_ARGUMENT, "liar: launch: global (%u,%u,%u) beyond 256", p->global[0], p->global[1], p->global[2]);
#elif defined(LIE_LOCAL)
  if (p->local[0] > 256) return fail(TG_ERR_INVALID_ARGUMENT, "liar: launch: local[0]=%u beyond 256", p->local[0]);
  tg_launch_params q = *p;
  q.local[0] = q.local[1] = q.local[2] = 1;
  return cpu_launch(dev, prog, &q);
#endif
  return cpu_launch(dev, prog, p);
}

static tg_status lie_compile(tg_backend_device *dev, const char *source, const char *name, tg_blob *out) {
#if defined(LIE_F64) || defined(LIE_SQRT)
#ifdef LIE_F64
  const char *lie = "#define double float\n";
#else
  const char *lie = "#define __builtin_sqrtf(x) (__builtin_sqrtf(x) * (1.0f + 1.0f / 256))\n";
#endif
  size_t n = strlen(source) + strlen(lie) + 1;
  char *s = malloc(n);
  if (s == NULL) return fail(TG_ERR_OUT_OF_MEMORY, "liar: out of memory");
  snprintf(s, n, "%s%s", lie, source);
  tg_status st = cpu_compile(dev, s, name, out);
  free(s);
  return st;
#else
  return cpu_compile(dev, source, name, out);
#endif
}

TG_BACKEND_EXPORT const tg_manifest tg_backend_manifest = {TG_BACKEND_MAGIC, sizeof(tg_manifest), TG_BACKEND_ABI_MAJOR, 0, TG_BACKEND_ABI_MINOR,
                                                           "LIAR", "0.0.1", "release", "c"};

TG_BACKEND_EXPORT tg_status tg_backend_entry_v1(const tg_backend_host *host, const tg_backend_api **out) {
  tg_status s = tg_cpu_backend_entry(host, out);
  if (s != TG_OK) return s;
#ifdef LIE_THREADS
  g_nthreads = 1; /* the pool never starts a worker: every grid point runs on the calling thread */
#endif
  g_api.device_caps = lie_caps, g_api.launch = lie_launch, g_api.compile = lie_compile;
  return TG_OK;
}
