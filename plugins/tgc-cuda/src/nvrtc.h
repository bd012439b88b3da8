/* nvrtc.h -- NVRTC (CUDA C -> PTX), declared by us and dlopen'ed at run time. Shared by the plugin (cuda.c) and the
** compile-only test tool (tests/nvrtc_ptx.c), so CI compiles kernels through exactly the plugin's code and flags.
**
** Where NVRTC comes from, first hit wins:
**   1. $TGC_NVRTC_PATH: the library file, or a directory holding it (the tgc_cuda hook sets this to the libnvrtc of the
**      nvidia-cuda-nvrtc wheel when the user has not set it);
**   2. libnvrtc.so.13, libnvrtc.so.12, libnvrtc.so by the dynamic loader's search (LD_LIBRARY_PATH, ldconfig);
**   3. $CUDA_PATH/lib64 and /usr/local/cuda/lib64.
** A libnvrtc-builtins.so.* next to a library loaded by path is opened first with RTLD_GLOBAL (the 13.0 wheel has no RPATH).
** Headers for #include <cuda_fp16.h> etc.: ../include next to the library (the nvidia-cuda-runtime wheel puts them there),
** $CUDA_PATH/include, /usr/local/cuda/include -- each passed as -I when it exists.
** Thread-safety: every function may be called from any thread. */
#ifndef TGC_CUDA_NVRTC_H
#define TGC_CUDA_NVRTC_H
#include <stddef.h>
#include "tg_backend.h"

/* Loads NVRTC once. TG_OK, or TG_ERR_UNAVAILABLE with *why (static storage) saying what was tried and what to install. */
tg_status tgcu_nvrtc_load(const char **why);

/* NVRTC's version as major*1000 + minor*10 (CUDA's encoding: 13.0 -> 13000); 0 before a successful load. */
int tgcu_nvrtc_version(void);

/* "NVRTC 13.0 (/path/libnvrtc.so.13)" after a successful load, else "". Static storage. */
const char *tgcu_nvrtc_describe(void);

/* Compiles `source` to PTX for compute capability `cc` (major*10 + minor; 90 = sm_90), lowered to the newest arch this
** NVRTC supports when it does not know `cc` (PTX runs on newer GPUs through the driver's JIT). On success *ptx is a
** malloc'd NUL-terminated PTX text and *size counts its bytes including the NUL. On failure returns TG_ERR_COMPILE (the
** message holds NVRTC's log), TG_ERR_UNAVAILABLE (no NVRTC) or TG_ERR_OUT_OF_MEMORY, and *msg is a malloc'd message
** (NULL only if even that allocation failed). Free both with free(). */
tg_status tgcu_nvrtc_compile(const char *source, const char *name, int cc, char **ptx, size_t *size, char **msg);

#endif
