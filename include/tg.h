/*
** tg.h -- the public C API of tgc ("tinygrad.c").
**
** tgc is tinygrad's deep-learning engine in C. This header is the whole contract between the library and
** its callers (C, C++, Rust, the Python package): devices, buffers, raw kernels and backends today; tensors
** arrive with the engine and will be declared in the Tensor section below.
**
** A complete program (build: cc demo.c -Iinclude -Lbuild -ltgc):
**
**   #include <stdio.h>
**   #include "tg.h"
**   int main(void) {
**     tg_device *cpu; tg_buffer *buf; float in[4] = {1, 2, 3, 4}, out[4];
**     if (tg_device_get("CPU", &cpu) != TG_OK) { fprintf(stderr, "%s\n", tg_last_error()); return 1; }
**     if (tg_buffer_alloc(cpu, sizeof in, &buf) != TG_OK) { fprintf(stderr, "%s\n", tg_last_error()); return 1; }
**     tg_buffer_copyin(buf, 0, in, sizeof in);
**     tg_buffer_copyout(buf, 0, out, sizeof out);
**     printf("tgc %s: %g %g %g %g\n", tg_version(), out[0], out[1], out[2], out[3]);
**     tg_buffer_release(buf);
**     return 0;
**   }
**
** ERRORS. Every fallible call returns tg_status (TG_OK == 0) and writes results through out-parameters,
** which are left untouched on failure. tg_last_error() then holds a message naming the offending values.
** The library never aborts or exits because of a caller's mistake: NULL pointers, released handles, handles
** of the wrong kind, zero or absurd sizes, out-of-range indices and mismatched lengths all return a status.
**
** OWNERSHIP. Handles are opaque. tg_buffer and tg_program are reference counted: a function that returns
** one hands the caller a new reference, to be dropped with the matching *_release(). Releasing NULL is a
** no-op. tg_device and tg_backend handles are owned by the library and stay valid until process exit.
** Strings returned as `const char *` are owned by the library; see each declaration for how long they live.
**
** THREADING. Every function may be called from any thread; the library serialises access to shared state
** internally. tg_last_error() is per thread: it describes the last failing call made by the calling thread.
*/
#ifndef TG_H
#define TG_H

#include "tg_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef TG_API
#if defined(_WIN32)
#define TG_API __declspec(dllimport)
#else
#define TG_API __attribute__((visibility("default")))
#endif
#endif

/* ---------------- Versions ---------------- */

#define TG_VERSION_MAJOR 0
#define TG_VERSION_MINOR 1
#define TG_VERSION_PATCH 0
#define TG_VERSION_STRING "0.1.0"

/* The library's version as "MAJOR.MINOR.PATCH". Static storage. */
TG_API const char *tg_version(void);

/* The library's version as MAJOR*10000 + MINOR*100 + PATCH, to compare with the TG_VERSION_* macros. */
TG_API int tg_version_number(void);

/* ---------------- Errors ---------------- */

/* A short static description of a status code ("invalid argument"); "unknown status" for unknown codes. */
TG_API const char *tg_status_string(tg_status status);

/* The message of the calling thread's last failing call, "" if none. Owned by the library; valid until the
** calling thread's next tgc call. */
TG_API const char *tg_last_error(void);

/* ---------------- Dtypes ---------------- */

/* What tinygrad's DType carries, for one tg_dtype. Versioned out-struct: set struct_size = sizeof(tg_dtype_info). */
typedef struct tg_dtype_info {
  size_t struct_size;
  char name[24];     /* tinygrad's attribute name: "float32", "bfloat16", "weakint" */
  char c_name[24];   /* tinygrad's DType.name, the C spelling: "float", "__bf16", "unsigned char" */
  char fmt;          /* struct-module format character ('f', 'e', '?', ...) or 0 when none */
  int32_t priority;  /* promotion priority */
  uint32_t bitsize;
  uint32_t itemsize; /* (bitsize + 7) / 8 */
  uint32_t is_float, is_int, is_unsigned, is_bool, is_weak;
  double min, max;   /* the dtype's range (tinygrad's DType.min/max; +-inf for floats, 0/1 for bool) */
} tg_dtype_info;

/* Fills *out for a dtype (storage dtypes and TG_WEAKINT/TG_WEAKFLOAT). TG_ERR_INVALID_ARGUMENT for unknown values. */
TG_API tg_status tg_dtype_get_info(tg_dtype dtype, tg_dtype_info *out);

/* The dtype named `name`, as tinygrad's to_dtype(): "float32", "float", "half", "int", "uchar", ... (case-insensitive).
** TG_ERR_INVALID_ARGUMENT naming the string when unknown. */
TG_API tg_status tg_dtype_from_name(const char *name, tg_dtype *out);

/* tinygrad's least_upper_dtype(*dtypes): the smallest dtype all of dtypes[0..n) promote to (JAX-style lattice, weak
** scalars included). n >= 1. */
TG_API tg_status tg_dtype_promote(const tg_dtype *dtypes, size_t n, tg_dtype *out);

/* tinygrad's least_upper_float(dtype): dtype itself if it is a float, else its promotion with the default float. */
TG_API tg_status tg_dtype_least_upper_float(tg_dtype dtype, tg_dtype *out);

/* tinygrad's sum_acc_dtype(dtype): the accumulator dtype of sum() over that dtype. */
TG_API tg_status tg_dtype_sum_acc(tg_dtype dtype, tg_dtype *out);

/* tinygrad's can_lossless_cast(from, to): 1 if every value of `from` is exactly representable in `to`, else 0. */
TG_API tg_status tg_dtype_can_lossless_cast(tg_dtype from, tg_dtype to, int *out);

/* tinygrad's truncate[dtype](value): value rounded/wrapped to what the dtype can hold (round-to-nearest-even for
** float16/bfloat16/fp8 with their overflow and NaN rules, the sign of NaN kept; C wrap-around for ints, exact while the
** value fits a double; nonzero -> 1 for bool). */
TG_API tg_status tg_dtype_truncate(tg_dtype dtype, double value, double *out);

/* ---------------- Backends ---------------- */

typedef struct tg_backend tg_backend;

/* State of a backend in tg_backend_info.state. */
typedef enum tg_backend_state {
  TG_BACKEND_READY = 0,       /* loaded, at least one device */
  TG_BACKEND_UNAVAILABLE = 1, /* loaded, but no device or vendor runtime (reason says why) */
  TG_BACKEND_QUARANTINED = 2  /* refused: wrong ABI, bad manifest, failing entry, nonsense caps (reason says why) */
} tg_backend_state;

/* Description of a backend. Versioned out-struct: set struct_size = sizeof(tg_backend_info) before the call. */
typedef struct tg_backend_info {
  size_t struct_size;
  char name[32];        /* "CPU", "CUDA", ... ("" if the manifest could not be read) */
  char version[32];     /* the backend's own version */
  char flavor[16];      /* "release", "debug", "asan" */
  char dialects[64];    /* comma-separated dialects from the manifest */
  char path[512];       /* library path, "" for built-in backends */
  uint32_t abi_major;   /* from the manifest */
  uint32_t abi_minor;   /* negotiated; 0 when not loaded */
  uint32_t state;       /* tg_backend_state */
  int32_t device_count;
  uint32_t builtin;     /* 1 for the CPU backend compiled into libtgc */
  uint32_t reserved;
  char reason[1024];    /* why unavailable or quarantined; "" when ready */
} tg_backend_info;

/* Loads the backend library at `path` (dlopen), checks its manifest and ABI, calls its entry, validates the caps
** of each of its devices and registers its devices. On success *out is the backend (library-owned). On failure
** the backend is kept as TG_BACKEND_QUARANTINED (visible through tg_backend_at) and the call returns
** TG_ERR_LOAD, TG_ERR_ABI or TG_ERR_INVALID_ARGUMENT with a message naming the library and the reason; the
** backends already loaded stay usable. Loading the same path twice returns the first backend.
** Backends listed in $TGC_BACKEND_PATH (':'-separated library paths) are loaded on first use of the registry. */
TG_API tg_status tg_backend_load(const char *path, tg_backend **out);

/* Number of known backends, including quarantined ones and the built-in CPU backend. */
TG_API tg_status tg_backend_count(int *out_count);

/* The index-th backend, 0 <= index < tg_backend_count(). Library-owned handle: never released by the caller. */
TG_API tg_status tg_backend_at(int index, tg_backend **out);

/* Fills *out (see tg_backend_info). */
TG_API tg_status tg_backend_get_info(tg_backend *backend, tg_backend_info *out);

/* ---------------- Devices ---------------- */

typedef struct tg_device tg_device;

/* Number of devices over all ready backends. */
TG_API tg_status tg_device_count(int *out_count);

/* The index-th device, 0 <= index < tg_device_count(). Library-owned handle. */
TG_API tg_status tg_device_at(int index, tg_device **out);

/* The device named `name`, tinygrad-style and case-insensitive: "CPU", "CUDA" (= "CUDA:0"), "CUDA:1".
** Library-owned handle: never released by the caller. TG_ERR_OUT_OF_RANGE for an unknown name or index,
** TG_ERR_UNAVAILABLE for a backend that has no device. */
TG_API tg_status tg_device_get(const char *name, tg_device **out);

/* The device's canonical name ("CPU", "CUDA:1"). Library-owned, valid until process exit. */
TG_API tg_status tg_device_name(tg_device *device, const char **out);

/* Fills *out. Versioned out-struct: set out->struct_size = sizeof(*out) and zero the rest before the call. */
TG_API tg_status tg_device_get_properties(tg_device *device, tg_device_properties *out);

/* Fills *out with the device's capabilities, as tg_device_get_properties. */
TG_API tg_status tg_device_get_caps(tg_device *device, tg_device_caps *out);

/* The backend that provides the device. Library-owned handle: never released by the caller. */
TG_API tg_status tg_device_backend(tg_device *device, tg_backend **out);

/* Blocks until all work queued on the device is done. */
TG_API tg_status tg_device_synchronize(tg_device *device);

/* ---------------- Buffers ---------------- */

typedef struct tg_buffer tg_buffer;

/* Allocates nbytes (> 0) of device memory. Returns a new reference owned by the caller; release with
** tg_buffer_release(). TG_ERR_INVALID_ARGUMENT for 0 or a size above PTRDIFF_MAX (a negative number cast to
** size_t), TG_ERR_OUT_OF_MEMORY when the device cannot hold it. Contents are unspecified. */
TG_API tg_status tg_buffer_alloc(tg_device *device, size_t nbytes, tg_buffer **out);

/* Copies nbytes from host memory `src` into the buffer at byte `offset`. src: borrowed for the call.
** TG_ERR_OUT_OF_RANGE when [offset, offset+nbytes) is not inside the buffer. */
TG_API tg_status tg_buffer_copyin(tg_buffer *buffer, size_t offset, const void *src, size_t nbytes);

/* Copies nbytes at byte `offset` of the buffer into host memory `dst`, after the device's queued work. */
TG_API tg_status tg_buffer_copyout(tg_buffer *buffer, size_t offset, void *dst, size_t nbytes);

/* The buffer's size in bytes. */
TG_API tg_status tg_buffer_size(tg_buffer *buffer, size_t *out);

/* The device the buffer lives on. Library-owned handle: never released by the caller. */
TG_API tg_status tg_buffer_device(tg_buffer *buffer, tg_device **out);

/* Adds a reference. */
TG_API tg_status tg_buffer_retain(tg_buffer *buffer);

/* Drops a reference; the memory is freed with the last one. NULL is a no-op; a handle already released returns
** TG_ERR_INVALID_HANDLE. */
TG_API tg_status tg_buffer_release(tg_buffer *buffer);

/* ---------------- Programs ---------------- */

/* A raw kernel in a device's dialect (tinygrad's Device[d].compiler + runtime). The engine emits these itself;
** this API is for hand-written kernels, tests and tools. For the "c" dialect `name` is a function
**   void name(void *const *bufs, const int64_t *vals, const uint32_t gid[3])
** called once per grid point (see tg_launch_params). */
typedef struct tg_program tg_program;

/* Compiles `source` for the device and loads the function `name`. Returns a new reference; release with
** tg_program_release(). Compiler errors return TG_ERR_COMPILE with the compiler's log in tg_last_error(). */
TG_API tg_status tg_program_compile(tg_device *device, const char *source, const char *name, tg_program **out);

/* Runs the program over the grid global[0..2] (each >= 1, within the device's global_max unless the device has_threads,
** which spreads any grid over its threads) with workgroups of
** local[0..2] (NULL = 1,1,1). bufs: n_bufs buffers of the program's device; vals: n_vals integers. Arrays are
** borrowed for the call. Returns when the launch is queued; tg_device_synchronize() waits for it. */
TG_API tg_status tg_program_launch(tg_program *program, tg_buffer *const *bufs, size_t n_bufs, const int64_t *vals, size_t n_vals,
                                   const uint32_t global[3], const uint32_t local[3]);

/* Adds a reference. */
TG_API tg_status tg_program_retain(tg_program *program);

/* Drops a reference. NULL is a no-op; a handle already released returns TG_ERR_INVALID_HANDLE. */
TG_API tg_status tg_program_release(tg_program *program);

/* ---------------- Diagnostics ---------------- */

/* Number of live handles of every kind (buffers, programs): for leak checks in tests and tools. */
TG_API tg_status tg_debug_live_handles(size_t *out_count);

/* ---------------- Tensor ---------------- */

/* The tensor API (tg_tensor_*) arrives with the engine. */

#ifdef __cplusplus
}
#endif
#endif /* TG_H */
