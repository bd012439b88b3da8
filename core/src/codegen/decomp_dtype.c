/* codegen/decomp_dtype.c -- tinygrad 0.14.0's codegen/decomp/dtype.py driver (pm_dtype_decomps + pm_commit_weak):
** the dtypes the kernel uses that the device lacks are emulated (long as two ints, small floats through float).
** The emulation itself (pm_long_decomp, pm_float_decomp) is not ported yet: a kernel that needs it fails with
** TG_ERR_UNSUPPORTED naming the dtype. The CPU supports every dtype it stores, so it never needs them.
** A dtype the device lacks that tinygrad never emulates (float64 on Metal or WebGPU) is refused here, before anything is
** rendered or launched: tinygrad renders it anyway and the device's compiler fails on it. */
#include "codegen/passes.h"

static int supported(const cg_ren *ren, int dt) { return dt < TG_DTYPE_COUNT && (ren->dtypes >> dt) & 1; }

tg_uop *cg_dtype_decomps(tg_uop *sink, const cg_ren *ren) {
  cg_list t = {0};
  if (cg_toposort(sink, &t)) return NULL;
  int bad = -1, never = -1;
  for (size_t i = 0; i < t.n && bad < 0 && never < 0; i++) {
    int dt = t.v[i]->dtype;
    int cand = tg_dt_is_fp8((tg_dtype)dt) || dt == TG_BFLOAT16 || dt == TG_FLOAT16 || dt == TG_INT64 || dt == TG_UINT64;
    if (cand && !supported(ren, dt == TG_UINT64 ? TG_INT64 : dt)) bad = dt;
    else if (!cand && dt < TG_DTYPE_COUNT && !supported(ren, dt)) never = dt;
  }
  cg_list_free(&t);
  if (never >= 0) {
    cg_err(TG_ERR_DTYPE, "codegen: the %s device has no %s (its caps do not declare it, and tinygrad emulates it nowhere): cast to a dtype it "
           "has first", ren->dialect, tg_dt_name((tg_dtype)never));
    return NULL;
  }
  if (bad >= 0) {
    cg_err(TG_ERR_UNSUPPORTED, "codegen: the device lacks %s and its emulation (decomp/dtype.py) is not ported yet", tg_dt_name((tg_dtype)bad));
    return NULL;
  }
  return tg_graph_rewrite(sink, cg_pm_commit_weak(), NULL, 0, NULL);
}
