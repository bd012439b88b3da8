/*
** tg.h -- the public C API of tgc ("tinygrad.c").
**
** tgc is tinygrad's deep-learning engine in C. This header is the whole contract between the library and
** its callers (C, C++, Rust, the Python package): devices, buffers, raw kernels, backends, dtypes and lazy tensors.
** Tensors build tinygrad's UOp graph today; realizing them (scheduler, codegen, realize) arrives with the rest of
** the engine, and its calls will be declared when they work.
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

/* Drops a reference; the memory is freed with the last one: kept in the device's cache of freed buffers for the next
** tg_buffer_alloc() of the same size (tinygrad's LRU allocator; at most 1 GiB per device, given back when an allocation
** fails; LRU=0 in the environment frees at once). NULL is a no-op; a handle already released returns
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

/* Number of live handles of every kind (buffers, programs, tensors, safetensors files): for leak checks in tests and tools. */
TG_API tg_status tg_debug_live_handles(size_t *out_count);

/* Number of live UOps (graph nodes) in the process: for leak checks in tests and tools. */
TG_API tg_status tg_debug_live_uops(size_t *out_count);

/* ---------------- Tensor ---------------- */

/* A tg_tensor is tinygrad's Tensor: a lazy value in the engine's UOp graph, built exactly as tinygrad 0.14.0 builds it
** (tensor.py and its mixins), plus the device it lives on. Every tg_tensor_* call below is graph building only: nothing
** is computed or allocated on a device. tinygrad's `(Tensor.empty(2, 3) + 1.0).sum(axis=1)`:
**
**   tg_tensor *a, *one, *b, *c;
**   tg_tensor_empty((int64_t[]){2, 3}, 2, TG_DTYPE_NONE, NULL, &a);
**   tg_tensor_const_float(TG_WEAKFLOAT, 1.0, &one);          // a Python float
**   tg_tensor_binary(TG_BINARY_ADD, a, one, &b);
**   tg_tensor_reduce(TG_REDUCE_SUM, b, (int64_t[]){1}, 1, 0, TG_DTYPE_NONE, &c);
**   tg_tensor_release(a), tg_tensor_release(one), tg_tensor_release(b);   // c keeps what it needs
**
** Ownership: tensors are reference counted like tg_buffer. Every call that returns a tensor hands the caller a new
** reference, released with tg_tensor_release(); operands are borrowed for the call (the result keeps what it needs).
**
** Python scalars: where tinygrad takes a Python int, float or bool, pass a 0-d constant tensor made by
** tg_tensor_const_int/tg_tensor_const_float with dtype TG_WEAKINT, TG_WEAKFLOAT or TG_BOOL (tinygrad's Tensor(3),
** Tensor(1.5), Tensor(True)): `a + 1.5` is tg_tensor_binary(TG_BINARY_ADD, a, c, &out) with c such a constant. A bare
** constant of those dtypes is read as a Python scalar where tinygrad's behaviour depends on it (pow's integer check,
** pad's value, full's fill, arange's bounds).
**
** Shapes and errors: shapes are int64 arrays (at most 64 dims; a dim of 0 is allowed). Shape and dtype rules are
** checked when the tensor is built, and a failure returns TG_ERR_SHAPE / TG_ERR_DTYPE / TG_ERR_OUT_OF_RANGE /
** TG_ERR_INVALID_ARGUMENT with tinygrad's own message in tg_last_error() ("size mismatch, can't reshape ((2, 3)) ->
** ((4,))", "dim=5 out of range [-2, 1]"). tinygrad raises some of these lazily, when the shape is first asked for.
**
** Threading: every call is thread-safe; a tensor may be shared between threads.
**
** Optional dtypes: parameters named `dtype` of type int take a tg_dtype or TG_DTYPE_NONE (tinygrad's dtype=None). */
typedef struct tg_tensor tg_tensor;

#define TG_DTYPE_NONE (-1)

/* How tg_tensor_from_host reads its bytes (the host pseudo-device tinygrad stages them on). */
typedef enum tg_host_kind {
  TG_HOST_ARRAY = 0, /* an array of `dtype` (tinygrad's Tensor(numpy.ndarray): a BUFFER on "NPY", reshaped, copied) */
  TG_HOST_LIST = 1   /* values packed from a Python list (tinygrad's Tensor(list): a BUFFER on "PYTHON"; for bfloat16
                        and fp8 the bytes are float32 and the graph casts on the host before the copy) */
} tg_host_kind;

/* Elementwise ops of one operand, each built as tinygrad's method of that name builds it. */
typedef enum tg_unary_op {
  TG_UNARY_NEG = 0, TG_UNARY_RECIPROCAL = 1, TG_UNARY_SQRT = 2, TG_UNARY_RSQRT = 3, TG_UNARY_EXP2 = 4, TG_UNARY_LOG2 = 5,
  TG_UNARY_EXP = 6, TG_UNARY_LOG = 7, TG_UNARY_LOG10 = 8, TG_UNARY_SIN = 9, TG_UNARY_COS = 10, TG_UNARY_TAN = 11,
  TG_UNARY_TRUNC = 12, TG_UNARY_FLOOR = 13, TG_UNARY_CEIL = 14, TG_UNARY_ROUND = 15, TG_UNARY_ABS = 16,
  TG_UNARY_SIGN = 17, TG_UNARY_RELU = 18, TG_UNARY_SIGMOID = 19, TG_UNARY_TANH = 20, TG_UNARY_SILU = 21,
  TG_UNARY_SQUARE = 22, TG_UNARY_LOGICAL_NOT = 23, TG_UNARY_BITWISE_NOT = 24, TG_UNARY_ISNAN = 25,
  TG_UNARY_ISINF = 26, TG_UNARY_ISFINITE = 27,
  TG_UNARY_DETACH = 28,               /* x.detach(): the same value, no gradient flows through it */
  TG_UNARY_CONTIGUOUS_BACKWARD = 29   /* x.contiguous_backward(): contiguous gradient, the same value */
} tg_unary_op;

/* Elementwise ops of two operands: tg_tensor_binary(op, x, y) is tinygrad's x.<method>(y), with its broadcasting and
** dtype promotion. DIV is true division (x / y), FLOORDIV is x // y (div with rounding_mode="floor"), TRUNCDIV is
** div(rounding_mode="trunc"), MOD is x % y, FMOD is x.fmod(y), MAXIMUM/MINIMUM are x.maximum/minimum(y), the
** comparisons are x < y ... x != y, AND/OR/XOR/SHL/SHR are x & y ... x >> y. */
typedef enum tg_binary_op {
  TG_BINARY_ADD = 0, TG_BINARY_SUB = 1, TG_BINARY_MUL = 2, TG_BINARY_DIV = 3, TG_BINARY_FLOORDIV = 4,
  TG_BINARY_TRUNCDIV = 5, TG_BINARY_MOD = 6, TG_BINARY_FMOD = 7, TG_BINARY_POW = 8, TG_BINARY_MAXIMUM = 9,
  TG_BINARY_MINIMUM = 10, TG_BINARY_LT = 11, TG_BINARY_GT = 12, TG_BINARY_LE = 13, TG_BINARY_GE = 14,
  TG_BINARY_EQ = 15, TG_BINARY_NE = 16, TG_BINARY_AND = 17, TG_BINARY_OR = 18, TG_BINARY_XOR = 19,
  TG_BINARY_SHL = 20, TG_BINARY_SHR = 21,
  TG_BINARY_THREEFRY = 22, /* x.threefry(key): threefry2x32 of uint64 x keyed by uint64 key (tinygrad's random bits) */
  TG_BINARY_LOGADDEXP = 23, TG_BINARY_COPYSIGN = 24
} tg_binary_op;

/* Reductions, as tinygrad's sum/prod/max/min/mean/any/all. */
typedef enum tg_reduce_op {
  TG_REDUCE_SUM = 0, TG_REDUCE_PROD = 1, TG_REDUCE_MAX = 2, TG_REDUCE_MIN = 3, TG_REDUCE_MEAN = 4, TG_REDUCE_ANY = 5,
  TG_REDUCE_ALL = 6
} tg_reduce_op;

/* A tensor holding host data, as tinygrad's Tensor(data, device, dtype) builds it (see tg_host_kind): shape[0..ndim)
** (ndim may be 0), `data` holds nbytes = prod(shape) * itemsize bytes of `dtype` (float32 for TG_HOST_LIST with
** bfloat16/fp8), copied before return (NULL allowed when nbytes is 0). device NULL: $DEV, else "CPU" (names are
** canonicalised as tinygrad's Device.canonicalize). Returns a new reference. Errors: TG_ERR_INVALID_ARGUMENT naming
** both sizes when nbytes does not match the shape, TG_ERR_DTYPE for weak dtypes ("cannot create storage for weak
** dtype dtypes.weakint"). */
TG_API tg_status tg_tensor_from_host(tg_host_kind kind, tg_dtype dtype, const int64_t *shape, size_t ndim, const void *data,
                                     size_t nbytes, const char *device, tg_tensor **out);

/* A 0-d constant (tinygrad's Tensor(value, dtype=dtype), which has no device): TG_WEAKINT for a Python int, TG_BOOL
** for a Python bool (value 0/1), or any dtype, the value converted as tinygrad's DType.const does. Returns a new
** reference. TG_ERR_INVALID_ARGUMENT for an unknown dtype. */
TG_API tg_status tg_tensor_const_int(tg_dtype dtype, int64_t value, tg_tensor **out);

/* The same from a double: TG_WEAKFLOAT for a Python float; for an integer dtype the value is truncated toward zero
** (TG_ERR_INVALID_ARGUMENT for NaN and infinities, which Python's int() refuses). Returns a new reference. */
TG_API tg_status tg_tensor_const_float(tg_dtype dtype, double value, tg_tensor **out);

/* tinygrad's Tensor.empty(*shape, device=device, dtype=dtype): an unfilled buffer. dtype TG_DTYPE_NONE: the default
** float. Returns a new reference. TG_ERR_DTYPE for weak dtypes. */
TG_API tg_status tg_tensor_empty(const int64_t *shape, size_t ndim, int dtype, const char *device, tg_tensor **out);

/* tinygrad's Tensor.full(shape, fill, dtype, device, buffer): `fill` is a 0-d tensor, normally a Python scalar (see
** above; zeros/ones are fills of 0.0/1.0); dtype TG_DTYPE_NONE takes the fill's. buffer != 0 stores the value into a
** new buffer (a STORE + AFTER); buffer == 0 returns the broadcast constant. Returns a new reference. */
TG_API tg_status tg_tensor_full(const int64_t *shape, size_t ndim, tg_tensor *fill, int dtype, const char *device, int buffer,
                                tg_tensor **out);

/* tinygrad's Tensor.arange(start, stop, step, dtype): start/stop/step are Python scalars (stop NULL: arange(start);
** step NULL: 1); dtype TG_DTYPE_NONE picks tinygrad's. The result has no device, as in tinygrad. Returns a new
** reference. TG_ERR_OUT_OF_RANGE when the range does not fit the dtype, TG_ERR_INVALID_ARGUMENT for step 0. */
TG_API tg_status tg_tensor_arange(tg_tensor *start, tg_tensor *stop, tg_tensor *step, int dtype, tg_tensor **out);

/* Adds a reference. */
TG_API tg_status tg_tensor_retain(tg_tensor *t);

/* Drops a reference; the graph it holds is released with the last one. NULL is a no-op; a handle already released
** returns TG_ERR_INVALID_HANDLE. */
TG_API tg_status tg_tensor_release(tg_tensor *t);

/* The shape: *ndim receives the number of dims; the first min(cap, ndim) dims are written to dims (dims may be NULL
** when cap is 0, to ask for ndim only). dims: written by the call, owned by the caller. */
TG_API tg_status tg_tensor_shape(tg_tensor *t, int64_t *dims, size_t cap, size_t *ndim);

/* The dtype, written to *out (caller-owned); weak dtypes (TG_WEAKINT/TG_WEAKFLOAT) for tensors that only hold Python
** scalars. */
TG_API tg_status tg_tensor_dtype(tg_tensor *t, tg_dtype *out);

/* The device name ("CPU", "CUDA:1"), or NULL for a tensor without one (constants, arange). Library-owned, valid until
** process exit. */
TG_API tg_status tg_tensor_device(tg_tensor *t, const char **out);

/* Elementwise op of one operand (tg_unary_op). Returns a new reference. */
TG_API tg_status tg_tensor_unary(tg_unary_op op, tg_tensor *x, tg_tensor **out);

/* Elementwise op of two operands (tg_binary_op), broadcast and promoted as tinygrad does. Returns a new reference.
** TG_ERR_SHAPE when the shapes do not broadcast; TG_ERR_DTYPE for shifts of non-integers; TG_ERR_DTYPE for an
** integer pow with a negative Python-scalar exponent ("base needs to be float"). */
TG_API tg_status tg_tensor_binary(tg_binary_op op, tg_tensor *x, tg_tensor *y, tg_tensor **out);

/* cond.where(x, y). cond must be bool (TG_ERR_DTYPE otherwise). Returns a new reference. */
TG_API tg_status tg_tensor_where(tg_tensor *cond, tg_tensor *x, tg_tensor *y, tg_tensor **out);

/* x.cast(dtype) (x itself when the dtype is the same). Returns a new reference. */
TG_API tg_status tg_tensor_cast(tg_tensor *x, tg_dtype dtype, tg_tensor **out);

/* x.bitcast(dtype): the last dim is rescaled when the itemsizes differ. TG_ERR_DTYPE for weak dtypes, TG_ERR_SHAPE when
** the last dim does not divide. Returns a new reference. */
TG_API tg_status tg_tensor_bitcast(tg_tensor *x, tg_dtype dtype, tg_tensor **out);

/* x.reshape(shape): one dim may be -1 (inferred). TG_ERR_SHAPE on a size mismatch; TG_ERR_INVALID_ARGUMENT for more
** than one -1. Returns a new reference. */
TG_API tg_status tg_tensor_reshape(tg_tensor *x, const int64_t *shape, size_t ndim, tg_tensor **out);

/* x.permute(order): negative axes count from the end. TG_ERR_OUT_OF_RANGE for an axis out of range,
** TG_ERR_INVALID_ARGUMENT when order is not a permutation. Returns a new reference. */
TG_API tg_status tg_tensor_permute(tg_tensor *x, const int64_t *order, size_t n, tg_tensor **out);

/* x.expand(shape): -1 keeps a dim; new dims are added on the left. TG_ERR_SHAPE when x does not broadcast to it.
** Returns a new reference. */
TG_API tg_status tg_tensor_expand(tg_tensor *x, const int64_t *shape, size_t ndim, tg_tensor **out);

/* x.pad(padding, value=value): pads[2*i], pads[2*i+1] are the elements added before and after dim i (ndim pairs;
** negative values shrink, as tinygrad's). value: a Python scalar, NULL for 0. TG_ERR_SHAPE when ndim is not x's.
** Returns a new reference. */
TG_API tg_status tg_tensor_pad(tg_tensor *x, const int64_t *pads, size_t ndim, tg_tensor *value, tg_tensor **out);

/* x.shrink(arg): bounds[2*i], bounds[2*i+1] are dim i's start and end. TG_ERR_SHAPE when out of range. Returns a new
** reference. */
TG_API tg_status tg_tensor_shrink(tg_tensor *x, const int64_t *bounds, size_t ndim, tg_tensor **out);

/* x.flip(axes). TG_ERR_OUT_OF_RANGE for an axis out of range, TG_ERR_INVALID_ARGUMENT for a repeated one. Returns a new
** reference. */
TG_API tg_status tg_tensor_flip(tg_tensor *x, const int64_t *axes, size_t n, tg_tensor **out);

/* x.<op>(axis, keepdim, dtype): axes NULL reduces all dims (axis=None); n == 0 with axes non-NULL reduces none
** (axis=()). dtype is the accumulation dtype of SUM and PROD (TG_DTYPE_NONE: tinygrad's default), ignored otherwise.
** TG_ERR_OUT_OF_RANGE for a bad axis. Returns a new reference. */
TG_API tg_status tg_tensor_reduce(tg_reduce_op op, tg_tensor *x, const int64_t *axes, size_t n, int keepdim, int dtype,
                                  tg_tensor **out);

/* x.contiguous(). Returns a new reference. */
TG_API tg_status tg_tensor_contiguous(tg_tensor *x, tg_tensor **out);

/* x.dot(w, dtype) (= x @ w, tinygrad's matmul): dtype is the accumulation dtype or TG_DTYPE_NONE.
** TG_ERR_SHAPE for 0-d operands or mismatched inner dims ("cannot dot (2, 3) and (2, 3)"). Returns a new reference. */
TG_API tg_status tg_tensor_dot(tg_tensor *x, tg_tensor *w, int dtype, tg_tensor **out);

/* One index of x[...] (tinygrad's __getitem__): an int, a slice start:stop:step (fields present per `has`), None (a
** new dim of size 1), Ellipsis, or a tensor of indices. */
typedef enum tg_index_kind { TG_INDEX_INT = 0, TG_INDEX_SLICE = 1, TG_INDEX_NONE = 2, TG_INDEX_ELLIPSIS = 3, TG_INDEX_TENSOR = 4 } tg_index_kind;
#define TG_INDEX_HAS_START 1u
#define TG_INDEX_HAS_STOP 2u
#define TG_INDEX_HAS_STEP 4u
#define TG_INDEX_WRAPPED 8u /* TG_INDEX_TENSOR: the values are already non-negative (tinygrad wraps a Python list's negative
                               values itself, and applies no (index < 0).where(index + size, index) to it) */
typedef struct tg_index {
  tg_index_kind kind;
  uint32_t has;        /* TG_INDEX_HAS_* for a slice: the parts given (Python's None otherwise) */
  int64_t start;       /* the int of TG_INDEX_INT; a slice's start */
  int64_t stop, step;  /* a slice's stop and step */
  tg_tensor *tensor;   /* TG_INDEX_TENSOR (borrowed) */
} tg_index;

/* x[idx[0], ..., idx[n-1]] as tinygrad indexes: ints, slices, None and Ellipsis are views (shrink, flip, strided
** reshape) and one reshape; tensor indices (advanced indexing: any int dtype, negative values count from the end,
** several broadcast together, out-of-range positions read 0) select with one-hot masks summed away, or with one linear
** index when they index consecutive dims. Index tensors are borrowed. Errors as tinygrad's: TG_ERR_OUT_OF_RANGE
** "index=5 is out of bounds with size=3", "too many indices (3) for 2D", "indices can only have a single ellipsis",
** "index dtype dtypes.float is not supported", "shape mismatch: objects cannot be broadcast to a single shape ((2,),
** (3,))"; TG_ERR_INVALID_ARGUMENT for a 0 step and for "expected index and self on the same device, ...";
** TG_ERR_NULL_POINTER for a TG_INDEX_TENSOR without a tensor. Returns a new reference. */
TG_API tg_status tg_tensor_getitem(tg_tensor *x, const tg_index *idx, size_t n, tg_tensor **out);

/* self[idx] = v (tinygrad's Tensor.__setitem__): mutates self. v is a tensor of self's dtype (a weak-dtype v, a Python
** scalar, is cast to it), broadcast to the indexed shape. As tinygrad, an unrealized float self (or one with no buffer
** under basic indexing) gets the new value functionally, advanced indexing assigns the whole new value (where(mask, v,
** self)) and basic indexing of a buffer assigns into the view. v is borrowed. Errors: TG_ERR_DTYPE "cannot setitem into
** a weak tensor; it has no storage" and "setitem dtype mismatch: self.dtype=dtypes.float != v.dtype=dtypes.int";
** TG_ERR_INVALID_ARGUMENT "can't setitem on a tensor with other uses" when another live tensor reads self's buffer
** graph; indexing errors as tg_tensor_getitem. */
TG_API tg_status tg_tensor_setitem(tg_tensor *self, const tg_index *idx, size_t n, tg_tensor *v);

/* How tg_tensor_scatter / tg_tensor_scatter_reduce combine values that land on one position. */
typedef enum tg_scatter_reduce {
  TG_SCATTER_NONE = 0, /* scatter(reduce=None): the last src value written wins */
  TG_SCATTER_SUM = 1,  /* "sum" (scatter's "add") */
  TG_SCATTER_PROD = 2, /* "prod" (scatter's "multiply") */
  TG_SCATTER_MEAN = 3, TG_SCATTER_AMAX = 4, TG_SCATTER_AMIN = 5
} tg_scatter_reduce;

/* x.gather(dim, index): out[i][j] = x[index[i][j]][j] for dim 0 (and so on), index of any int dtype with x's ndim and no
** dim larger than x's outside dim. Errors: TG_ERR_INVALID_ARGUMENT for differing ndims ("self.ndim must equal
** index.ndim, ...") or sizes ("requires self.shape[d] >= index.shape[d] for all d != dim") or devices;
** TG_ERR_OUT_OF_RANGE for dim; TG_ERR_DTYPE for a non-int index. Returns a new reference. */
TG_API tg_status tg_tensor_gather(tg_tensor *x, int64_t dim, tg_tensor *index, tg_tensor **out);

/* x.scatter(dim, index, src, reduce): src is a tensor of x's dtype and ndim, or a Python scalar (filled to index's
** shape); reduce TG_SCATTER_SUM ("add") or TG_SCATTER_PROD ("multiply") need a Python-scalar src. Errors:
** TG_ERR_INVALID_ARGUMENT for another reduce, a tensor src with a reduce, mismatched ndims or shapes; TG_ERR_DTYPE
** "expect self.dtype=dtypes.float to be equal to src.dtype=dtypes.int". Returns a new reference. */
TG_API tg_status tg_tensor_scatter(tg_tensor *x, int64_t dim, tg_tensor *index, tg_tensor *src, tg_scatter_reduce reduce,
                                   tg_tensor **out);

/* x.scatter_reduce(dim, index, src, reduce, include_self): reduce is SUM, PROD, MEAN, AMAX or AMIN; include_self 0
** leaves x's own values out of the positions written. Errors as tg_tensor_scatter. Returns a new reference. */
TG_API tg_status tg_tensor_scatter_reduce(tg_tensor *x, int64_t dim, tg_tensor *index, tg_tensor *src, tg_scatter_reduce reduce,
                                          int include_self, tg_tensor **out);

/* x.one_hot(num_classes): int x, a new last dim of num_classes holding 1 at x's value (an int tensor of x's dtype
** promoted with a Python int). TG_ERR_DTYPE "expect integer dtype, ...", TG_ERR_INVALID_ARGUMENT for num_classes < 0.
** Returns a new reference. */
TG_API tg_status tg_tensor_one_hot(tg_tensor *x, int64_t num_classes, tg_tensor **out);

/* x._one_hot_along_dim(num_classes, dim): the bool mask x == arange(num_classes), the classes laid along dim (dim
** counts in x's dims; x usually has a size-1 dim there). TG_ERR_DTYPE for a non-int x. Returns a new reference. */
TG_API tg_status tg_tensor_one_hot_along_dim(tg_tensor *x, int64_t num_classes, int64_t dim, tg_tensor **out);

/* x.masked_fill(mask, value): mask.where(value, x); value a tensor or a Python scalar. Returns a new reference. */
TG_API tg_status tg_tensor_masked_fill(tg_tensor *x, tg_tensor *mask, tg_tensor *value, tg_tensor **out);

/* Cumulative ops along axis: x.cumsum(axis) (TG_REDUCE_SUM), x.cumprod(axis) (PROD), x.cummax(axis) (MAX), x.cummin(axis)
** (MIN). *out: the values. indices: NULL, or for MAX/MIN it receives the int32 indices tinygrad's cummax/cummin return
** (a new reference). Errors: TG_ERR_INVALID_ARGUMENT for another op or indices with SUM/PROD; TG_ERR_OUT_OF_RANGE for
** axis. Returns new references. */
TG_API tg_status tg_tensor_cumalu(tg_reduce_op op, tg_tensor *x, int64_t axis, tg_tensor **out, tg_tensor **indices);

/* x.triu(diagonal) (lower 0) or x.tril(diagonal) (lower != 0) over the last two dims. TG_ERR_OUT_OF_RANGE for x of
** fewer than 2 dims. Returns a new reference. */
TG_API tg_status tg_tensor_triu(tg_tensor *x, int64_t diagonal, int lower, tg_tensor **out);

/* Tensor.eye(n, m, dtype): n x m, ones on the diagonal; dtype TG_DTYPE_NONE: the default float. No device, as in
** tinygrad. TG_ERR_INVALID_ARGUMENT "cannot have negative n=-1, m_=2". Returns a new reference. */
TG_API tg_status tg_tensor_eye(int64_t n, int64_t m, int dtype, tg_tensor **out);

/* x.sort(dim, descending): *values the sorted tensor, *indices (default int) where each came from; equal values keep
** their order. Built as tinygrad's bitonic network of movement ops. TG_ERR_OUT_OF_RANGE for dim. Returns two new
** references (both or neither). */
TG_API tg_status tg_tensor_sort(tg_tensor *x, int64_t dim, int descending, tg_tensor **values, tg_tensor **indices);

/* x.topk(k, dim, largest) (sorted): the first k of x.sort(dim, descending=largest). TG_ERR_INVALID_ARGUMENT "selected
** index k=5 is out of range". Returns two new references (both or neither). */
TG_API tg_status tg_tensor_topk(tg_tensor *x, int64_t k, int64_t dim, int largest, tg_tensor **values, tg_tensor **indices);

/* tensors[0].stack(*tensors[1:], dim=dim): n >= 1 tensors of one shape (TG_ERR_SHAPE naming them otherwise), borrowed,
** stacked along a new dim. Returns a new reference. */
TG_API tg_status tg_tensor_stack(tg_tensor *const *tensors, size_t n, int64_t dim, tg_tensor **out);
/* tensors[0].cat(*tensors[1:], dim=dim): shapes equal outside dim (TG_ERR_SHAPE naming them otherwise). Returns a new
** reference. */
TG_API tg_status tg_tensor_cat(tg_tensor *const *tensors, size_t n, int64_t dim, tg_tensor **out);

/* x.softmax(axis, dtype), or x.log_softmax(axis, dtype) when log is nonzero, as tinygrad builds them (the max is
** detached). dtype: TG_DTYPE_NONE or the dtype the shifted input is cast to. Returns a new reference. */
TG_API tg_status tg_tensor_softmax(tg_tensor *x, int64_t axis, int dtype, int log, tg_tensor **out);

/* x.logsumexp(axis, keepdim): axes NULL for all of them (tinygrad's axis=None). Returns a new reference. */
TG_API tg_status tg_tensor_logsumexp(tg_tensor *x, const int64_t *axes, size_t n, int keepdim, tg_tensor **out);

/* x.argmax(axis, keepdim) (x.argmin when is_min is nonzero): int32 indices of the first maximum; axis NULL for the
** index into the flattened tensor. TG_ERR_OUT_OF_RANGE for a bad axis. Returns a new reference. */
TG_API tg_status tg_tensor_argmax(tg_tensor *x, const int64_t *axis, int keepdim, int is_min, tg_tensor **out);

/* x.var(axis, keepdim, correction) (x.std(...) when std is nonzero): axes NULL for all. Float results (float32 for int
** inputs), divided by max(n - correction, 0) as tinygrad does. Returns a new reference. */
TG_API tg_status tg_tensor_var(tg_tensor *x, const int64_t *axes, size_t n, int keepdim, double correction, int std, tg_tensor **out);

/* x.layernorm(axis, eps): normalized over the n >= 1 given axes, no affine terms. Returns a new reference. */
TG_API tg_status tg_tensor_layernorm(tg_tensor *x, const int64_t *axes, size_t n, double eps, tg_tensor **out);

/* The reduction argument of the losses (tinygrad's ReductionStr). */
typedef enum tg_reduction { TG_REDUCTION_NONE = 0, TG_REDUCTION_MEAN = 1, TG_REDUCTION_SUM = 2 } tg_reduction;

/* x.sparse_categorical_crossentropy(Y, ignore_index, label_smoothing, reduction): x logits (..., classes), Y int class
** indices (...); ignore_index -1 for none. The mean divides by the count of non-ignored targets. Returns a new reference. */
TG_API tg_status tg_tensor_sparse_categorical_crossentropy(tg_tensor *x, tg_tensor *Y, int64_t ignore_index, double label_smoothing,
                                                           tg_reduction reduction, tg_tensor **out);

/* x.cross_entropy(Y, reduction, label_smoothing): Y class probabilities shaped like x, or class indices shaped like x
** without its class dim (dim 1, or 0 for 1-d x). TG_ERR_SHAPE "shape mismatch: ..." otherwise. Returns a new reference. */
TG_API tg_status tg_tensor_cross_entropy(tg_tensor *x, tg_tensor *Y, tg_reduction reduction, double label_smoothing, tg_tensor **out);

/* tinygrad's elementwise compositions beyond the ALU ops, with their parameters in p[] (defaults in brackets):
** HARDSIGMOID p = {alpha [1/6], beta [0.5]}, HARDTANH {min [-1], max [1]; integral values act as Python ints},
** LEAKY_RELU {neg_slope [0.01]}, ELU/CELU {alpha [1]}, SELU {alpha [1.67326], gamma [1.0507]}, SOFTPLUS {beta [1]},
** GELU {0: approximate="tanh", nonzero: "none" (erf)}; the others take none. */
typedef enum tg_activation {
  TG_ACT_RELU6 = 0, TG_ACT_HARDSWISH = 1, TG_ACT_HARDSIGMOID = 2, TG_ACT_HARDTANH = 3, TG_ACT_LEAKY_RELU = 4, TG_ACT_ELU = 5,
  TG_ACT_CELU = 6, TG_ACT_SELU = 7, TG_ACT_SOFTPLUS = 8, TG_ACT_MISH = 9, TG_ACT_LOGSIGMOID = 10, TG_ACT_QUICK_GELU = 11,
  TG_ACT_GELU = 12, TG_ACT_SOFTSIGN = 13, TG_ACT_SINH = 14, TG_ACT_COSH = 15, TG_ACT_ATANH = 16, TG_ACT_ASINH = 17,
  TG_ACT_ACOSH = 18, TG_ACT_ASIN = 19, TG_ACT_ACOS = 20, TG_ACT_ATAN = 21, TG_ACT_ERF = 22
} tg_activation;

/* x.<op>(*p) for a tg_activation, built as tinygrad builds it. p: at least 2 values, read as the op needs (NULL is
** allowed for ops without parameters). TG_ERR_INVALID_ARGUMENT for an unknown op. Returns a new reference. */
TG_API tg_status tg_tensor_activation(tg_activation op, tg_tensor *x, const double *p, tg_tensor **out);

/* ---------------- Tensor: functional nn and processing ----------------
** tinygrad's compositions of the documented "nn functional", "processing" and "linear algebra" Tensor methods, built
** as tinygrad builds them. A "Python scalar" argument is a 0-d weakint/weakfloat/bool constant made with
** tg_tensor_const_int/_float (what Python's 3, 2.5, True become); optional operands are NULL for tinygrad's None. All
** operands are borrowed. Every *out receives a new reference owned by the caller (release with tg_tensor_release). */

/* x.normalize(p, dim, eps): x / ||x||_p along dim (keepdim), the norm clamped below at eps; p == 0 counts nonzeros.
** p: a Python scalar, NULL for 2.0. TG_ERR_OUT_OF_RANGE for dim. */
TG_API tg_status tg_tensor_normalize(tg_tensor *x, tg_tensor *p, int64_t dim, double eps, tg_tensor **out);

/* x.isclose(other, rtol, atol, equal_nan): bool, |x - other| <= atol + rtol * |other| where both are finite, equal
** infinities, and (equal_nan nonzero) NaN against NaN. other: a tensor or a Python scalar. */
TG_API tg_status tg_tensor_isclose(tg_tensor *x, tg_tensor *other, double rtol, double atol, int equal_nan, tg_tensor **out);

/* x.allclose(other, rtol, atol, equal_nan): x.isclose(...).all(), a 0-d bool. */
TG_API tg_status tg_tensor_allclose(tg_tensor *x, tg_tensor *other, double rtol, double atol, int equal_nan, tg_tensor **out);

/* x.lerp(end, weight): x + (end - x) * weight; weight a tensor or a Python scalar. A uint8 x with a tensor weight is
** interpolated in 7-bit fixed point, as tinygrad does. */
TG_API tg_status tg_tensor_lerp(tg_tensor *x, tg_tensor *end, tg_tensor *weight, tg_tensor **out);

/* x.clamp(min_, max_) (= clip): min, max tensors or Python scalars, NULL for None. TG_ERR_DTYPE "at least one of
** 'min_' or 'max_' must not be None" when both are NULL. */
TG_API tg_status tg_tensor_clamp(tg_tensor *x, tg_tensor *min, tg_tensor *max, tg_tensor **out);

/* x.isinf(detect_positive, detect_negative): bool, True at +inf (when detect_positive) and -inf (detect_negative). */
TG_API tg_status tg_tensor_isinf(tg_tensor *x, int detect_positive, int detect_negative, tg_tensor **out);

/* x.softmin(axis, dtype): (-x).softmax(axis, dtype); dtype TG_DTYPE_NONE or as tg_tensor_softmax takes it. */
TG_API tg_status tg_tensor_softmin(tg_tensor *x, int64_t axis, int dtype, tg_tensor **out);

/* x.var_mean(axis, keepdim, correction) (x.std_mean(...) when std is nonzero): *var as tg_tensor_var gives it and
** *mean = x.mean(axis, keepdim). axes NULL for all. Two new references (both or neither). */
TG_API tg_status tg_tensor_var_mean(tg_tensor *x, const int64_t *axes, size_t n, int keepdim, double correction, int std,
                                    tg_tensor **var, tg_tensor **mean);

/* x.linear(weight, bias, dtype): x * weight for a 1-d weight, else x.dot(weight); plus bias (NULL: none). dtype
** TG_DTYPE_NONE, or a dtype all three are cast to first. */
TG_API tg_status tg_tensor_linear(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, int dtype, tg_tensor **out);

/* x.batchnorm(weight, bias, mean, invstd, axis): (x - mean) * weight * invstd + bias, the parameters reshaped to 1s
** except at the n axes (tinygrad compares them with the non-negative dim numbers as given). weight, bias: NULL for
** None. invstd is reshaped only when its ndim equals n. */
TG_API tg_status tg_tensor_batchnorm(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, tg_tensor *mean, tg_tensor *invstd,
                                     const int64_t *axes, size_t n, tg_tensor **out);

/* x.binary_crossentropy(Y, reduction): x probabilities. TG_ERR_INVALID_ARGUMENT for a bad reduction. */
TG_API tg_status tg_tensor_binary_crossentropy(tg_tensor *x, tg_tensor *Y, tg_reduction reduction, tg_tensor **out);

/* x.binary_crossentropy_logits(Y, reduction, pos_weight): x logits; pos_weight NULL for None. */
TG_API tg_status tg_tensor_binary_crossentropy_logits(tg_tensor *x, tg_tensor *Y, tg_reduction reduction, tg_tensor *pos_weight,
                                                      tg_tensor **out);

/* x.nll_loss(Y, weight, ignore_index, reduction): x log-probabilities (N, C, ...), Y int class indices (N, ...);
** weight (C,) or NULL; ignore_index NULL for None, else the class to leave out (the mean divides by the summed
** weights of the targets kept). */
TG_API tg_status tg_tensor_nll_loss(tg_tensor *x, tg_tensor *Y, tg_tensor *weight, const int64_t *ignore_index, tg_reduction reduction,
                                    tg_tensor **out);

/* x.logcumsumexp(axis): log(cumsum(exp(x))) along axis, computed stably; a 0-d x is returned as is.
** TG_ERR_OUT_OF_RANGE for axis. */
TG_API tg_status tg_tensor_logcumsumexp(tg_tensor *x, int64_t axis, tg_tensor **out);

/* x.masked_select(mask, size, fill_value): the 1-d elements of x where the bool mask (broadcast to x) is True.
** size NULL: as many as there are -- the count is computed at once (this call realizes part of the graph, as tinygrad's
** .item() does); else exactly *size elements, padded with fill_value (a Python scalar, NULL for 0) or cut.
** TG_ERR_DTYPE "masked_select expects bool mask tensor, got dtypes.float" for a non-bool mask. */
TG_API tg_status tg_tensor_masked_select(tg_tensor *x, tg_tensor *mask, const int64_t *size, tg_tensor *fill_value, tg_tensor **out);

/* x.nonzero(size, fill_value): the (count, ndim) indices of x's nonzero elements; size and fill_value as for
** tg_tensor_masked_select (a NULL size realizes the count). */
TG_API tg_status tg_tensor_nonzero(tg_tensor *x, const int64_t *size, tg_tensor *fill_value, tg_tensor **out);

/* q.scaled_dot_product_attention(k, v, attn_mask, dropout_p, is_causal, enable_gqa): softmax(q k^T / sqrt(d) + mask) v,
** the scores accumulated in at least float32 and cast back to q's dtype. attn_mask: NULL, a bool mask (False is
** -inf) or an additive float mask. is_causal: a lower-triangular mask (TG_ERR_DTYPE "cannot set attn_mask when
** is_causal=True" with attn_mask). enable_gqa: k and v heads (dim -3) repeated to q's. dropout_p applies to the
** attention weights only when `training` is nonzero (see tg_tensor_dropout). */
TG_API tg_status tg_tensor_scaled_dot_product_attention(tg_tensor *q, tg_tensor *k, tg_tensor *v, tg_tensor *attn_mask, double dropout_p,
                                                        int is_causal, int enable_gqa, int training, tg_tensor **out);

/* The modes of tg_tensor_interpolate. */
typedef enum tg_interpolate_mode {
  TG_INTERPOLATE_LINEAR = 0,       /* "linear" (bilinear, trilinear... over the given dims) */
  TG_INTERPOLATE_NEAREST = 1,      /* "nearest" */
  TG_INTERPOLATE_NEAREST_EXACT = 2 /* "nearest-exact" */
} tg_interpolate_mode;

/* x.interpolate(size, mode, align_corners): x resized to size over its last n dims (1 <= n <= ndim); align_corners
** only with TG_INTERPOLATE_LINEAR. TG_ERR_INVALID_ARGUMENT "invalid size=(...)", "only supports linear, nearest or
** nearest-exact interpolate", "align_corners option can only be set with the interpolating mode linear". */
TG_API tg_status tg_tensor_interpolate(tg_tensor *x, const int64_t *size, size_t n, tg_interpolate_mode mode, int align_corners,
                                       tg_tensor **out);

/* Tensor.einsum(formula, *operands, dtype): Einstein summation as tinygrad evaluates it -- "ij,jk->ik", implicit
** outputs ("ij,jk"), traces ("ii"), ellipses ("...ij,...jk->...ik"); spaces are ignored. formula: NUL-terminated,
** borrowed. dtype: TG_DTYPE_NONE or the sum's dtype. Errors: TG_ERR_INVALID_ARGUMENT "number of operands doesn't
** match, expected 2, got 1"; TG_ERR_DTYPE "... contains different values for the same key" for a letter of two sizes;
** shape errors from the permutes for a term that does not fit its operand. */
TG_API tg_status tg_tensor_einsum(const char *formula, tg_tensor *const *operands, size_t n, int dtype, tg_tensor **out);

/* nn.Embedding's lookup (Embedding.__call__): weight (vocab, embed), idx an int tensor; out (*idx.shape, embed) of
** weight's dtype, rows selected by a one-hot comparison summed away. TG_ERR_DTYPE "Expected integer dtype for index
** in embedding, got dtypes.float" for a non-int idx. */
TG_API tg_status tg_tensor_embedding(tg_tensor *weight, tg_tensor *idx, tg_tensor **out);

/* x.qr(): the Householder QR of the last two dims (m, n): *Q (..., m, m) orthogonal, *R (..., m, n) upper triangular.
** TG_ERR_SHAPE "expected two or more dimensions, got 1". Two new references (both or neither). */
TG_API tg_status tg_tensor_qr(tg_tensor *x, tg_tensor **Q, tg_tensor **R);

/* x.svd(full_matrices): U, S, V^T of the last two dims (m, n) by tinygrad's QR plus one-sided Jacobi rotations (4 *
** min(m, n) rounds, unrolled into the graph); S descending. U is (..., m, m), or (..., m, min(m, n)) when
** full_matrices is 0 and m >= n. TG_ERR_SHAPE for fewer than 2 dims; TG_ERR_INVALID_ARGUMENT "not enough values to
** unpack (expected 2, got 1)" when min(m, n) < 2, as tinygrad fails. Three new references (all or none). */
TG_API tg_status tg_tensor_svd(tg_tensor *x, int full_matrices, tg_tensor **U, tg_tensor **S, tg_tensor **Vt);

/* x.newton_schulz(steps, params, eps): `steps` iterations of the odd polynomial sum_i params[i] * (G G^T)^i G from
** G = x / (||x||_F + eps) (a tall x is done transposed). params: n >= 1 coefficients; integral values act as Python
** ints. TG_ERR_SHAPE "NS only works for two or more dims". */
TG_API tg_status tg_tensor_newton_schulz(tg_tensor *x, int64_t steps, const double *params, size_t n, double eps, tg_tensor **out);

/* Tensor.manual_seed(seed): restarts every device's random stream (tinygrad's per-device key and counter). */
TG_API tg_status tg_tensor_manual_seed(uint64_t seed);

/* Tensor.rand(*shape, device, dtype, contiguous): uniform values in [0, 1) of a float dtype (float16, bfloat16,
** float32, float64), drawn from the device's threefry stream exactly as tinygrad draws them (the same seed gives the
** same numbers). device NULL: the default device. TG_ERR_INVALID_ARGUMENT for other dtypes or negative dims.
** Returns a new reference. */
TG_API tg_status tg_tensor_rand(const int64_t *shape, size_t ndim, tg_dtype dtype, const char *device, int contiguous, tg_tensor **out);

/* x.const_like(value, dtype): the constant `value` (a Python scalar made with tg_tensor_const_int/_float, or a bool)
** broadcast to x's shape without storage; dtype TG_DTYPE_NONE for x's dtype. Returns a new reference. */
TG_API tg_status tg_tensor_const_like(tg_tensor *x, tg_tensor *value, int dtype, tg_tensor **out);

/* x.to(device) (tinygrad's Tensor.to): a lazy copy onto another device; x itself when it has no device or is already
** there. device: a name as tg_device_get takes it (canonicalised). Returns a new reference. */
TG_API tg_status tg_tensor_to(tg_tensor *x, const char *device, tg_tensor **out);

/* x.clone(device) (tinygrad's Tensor.clone): a new buffer holding x's value, on `device` (NULL: x's device, or the
** default device for a device-less x). Returns a new reference. */
TG_API tg_status tg_tensor_clone(tg_tensor *x, const char *device, tg_tensor **out);

/* ---------------- Tensor: more creation and movement ---------------- */

/* Tensor.linspace(start, stop, steps, dtype): steps values from start to stop inclusive; start and stop are Python
** scalars (tg_tensor_const_int/_float). dtype TG_DTYPE_NONE: the default float. No device, as in tinygrad.
** TG_ERR_INVALID_ARGUMENT "number of steps must be non-negative", "linspace with bool dtype is not supported". Returns
** a new reference. */
TG_API tg_status tg_tensor_linspace(tg_tensor *start, tg_tensor *stop, int64_t steps, int dtype, tg_tensor **out);

/* x.empty_like(dtype, device): an unfilled buffer of x's shape; dtype TG_DTYPE_NONE: x's (made strong: weakint ->
** the default int), device NULL: x's (the default device for a device-less x). Returns a new reference. */
TG_API tg_status tg_tensor_empty_like(tg_tensor *x, int dtype, const char *device, tg_tensor **out);

/* x.full_like(fill, dtype, device, buffer) (zeros_like/ones_like are fills of 0/1): tg_tensor_full over x's shape with
** dtype TG_DTYPE_NONE meaning x's dtype and device NULL meaning x's. TG_ERR_DTYPE for a weak x with buffer != 0.
** Returns a new reference. */
TG_API tg_status tg_tensor_full_like(tg_tensor *x, tg_tensor *fill, int dtype, const char *device, int buffer, tg_tensor **out);

/* How tg_tensor_pad_mode fills (tinygrad's pad modes). */
typedef enum tg_pad_mode { TG_PAD_CONSTANT = 0, TG_PAD_REFLECT = 1, TG_PAD_REPLICATE = 2, TG_PAD_CIRCULAR = 3 } tg_pad_mode;

/* x.pad(padding, mode, value): tg_tensor_pad with a mode. value (a Python scalar, NULL for 0) is read by
** TG_PAD_CONSTANT only. Negative pads shrink (after reflecting or replicating, before wrapping). Errors as tinygrad's:
** TG_ERR_SHAPE "padding length is improper, ..."; TG_ERR_INVALID_ARGUMENT "Padding (3, 0) should be less than the input
** size=3 for dim=1." (reflect), "Padding value causes wrapping around more than once." (circular); TG_ERR_UNSUPPORTED for
** an unknown mode. Returns a new reference. */
TG_API tg_status tg_tensor_pad_mode(tg_tensor *x, const int64_t *pads, size_t ndim, tg_pad_mode mode, tg_tensor *value, tg_tensor **out);

/* x.pad_to(shape, value=value): pads each dim at its end up to shape (ndim entries; an entry equal to the dim keeps it).
** value: a Python scalar, NULL for 0. TG_ERR_SHAPE when ndim is not x's. Returns a new reference. */
TG_API tg_status tg_tensor_pad_to(tg_tensor *x, const int64_t *shape, size_t ndim, tg_tensor *value, tg_tensor **out);

/* x.shrink_to(shape): keeps the first shape[i] elements of each dim. TG_ERR_SHAPE when ndim is not x's. Returns a new
** reference. */
TG_API tg_status tg_tensor_shrink_to(tg_tensor *x, const int64_t *shape, size_t ndim, tg_tensor **out);

/* x.flatten(start_dim, end_dim): dims start_dim..end_dim (negatives count from the end) merged into one.
** TG_ERR_OUT_OF_RANGE for a bad dim. Returns a new reference. */
TG_API tg_status tg_tensor_flatten(tg_tensor *x, int64_t start_dim, int64_t end_dim, tg_tensor **out);

/* x.unflatten(dim, sizes): dim split into n dims (one may be -1). TG_ERR_SHAPE when the sizes do not multiply to the
** dim. Returns a new reference. */
TG_API tg_status tg_tensor_unflatten(tg_tensor *x, int64_t dim, const int64_t *sizes, size_t n, tg_tensor **out);

/* x.squeeze(dim): dim NULL removes every size-1 dim, else *dim when it has size 1 (x itself otherwise). Returns a new
** reference. */
TG_API tg_status tg_tensor_squeeze(tg_tensor *x, const int64_t *dim, tg_tensor **out);

/* x.unsqueeze(dim): a new size-1 dim at dim (-1: last). Returns a new reference. */
TG_API tg_status tg_tensor_unsqueeze(tg_tensor *x, int64_t dim, tg_tensor **out);

/* x.transpose(dim0, dim1): the two dims swapped. TG_ERR_OUT_OF_RANGE for a bad dim. Returns a new reference. */
TG_API tg_status tg_tensor_transpose(tg_tensor *x, int64_t dim0, int64_t dim1, tg_tensor **out);

/* x.repeat(repeats): x tiled repeats[i] times along dim i (n >= x's ndim; extra leading dims are new). Returns a new
** reference. TG_ERR_SHAPE when n is less than x's ndim or a repeat is negative (tinygrad's reshape errors). */
TG_API tg_status tg_tensor_repeat(tg_tensor *x, const int64_t *repeats, size_t n, tg_tensor **out);

/* x.repeat_interleave(repeats, dim): every element repeated along dim (dim NULL: of the flattened x). Returns a new
** reference. */
TG_API tg_status tg_tensor_repeat_interleave(tg_tensor *x, int64_t repeats, const int64_t *dim, tg_tensor **out);

/* x.roll(shifts, dims): elements shifted circularly by shifts[i] along dims[i]; dims NULL rolls the flattened x by
** one shift. TG_ERR_INVALID_ARGUMENT "len(dims)=1 != len(shifts)=2". Returns a new reference. */
TG_API tg_status tg_tensor_roll(tg_tensor *x, const int64_t *shifts, size_t nshifts, const int64_t *dims, size_t ndims, tg_tensor **out);

/* x.diag(): the n x n matrix with 1-d x on its diagonal. TG_ERR_INVALID_ARGUMENT "expect input to be 1-D, getting
** 2-D". Returns a new reference. */
TG_API tg_status tg_tensor_diag(tg_tensor *x, tg_tensor **out);

/* x.diagonal(offset, dim1, dim2): the diagonal of dims dim1 and dim2 (above it for offset > 0) as the last dim.
** TG_ERR_INVALID_ARGUMENT "dim1 and dim2 cannot be the same dimension". Returns a new reference. */
TG_API tg_status tg_tensor_diagonal(tg_tensor *x, int64_t offset, int64_t dim1, int64_t dim2, tg_tensor **out);

/* x.unfold(dim, size, step): dim replaced by its windows of `size` every `step` elements, as (n_windows, ..., size)
** with the window last. TG_ERR_INVALID_ARGUMENT "size must be >= 0 ...", "step must be > 0 ...", "maximum size for
** tensor at dimension 0 is 4 but size is 5"; TG_ERR_OUT_OF_RANGE for a bad dim. Returns a new reference. */
TG_API tg_status tg_tensor_unfold(tg_tensor *x, int64_t dim, int64_t size, int64_t step, tg_tensor **out);

/* x.rearrange(formula, **sizes): einops' rearrange ("b (h w) c -> b c h w", with "...", "( )" and "1"), names[i]
** having size sizes[i] (n of them; NUL-terminated UTF-8, borrowed). TG_ERR_INVALID_ARGUMENT with tinygrad's message
** for a bad formula ('need exactly one "->" in formula', "bracket mismatch", "name mismatch in ...", "invalid axis
** name ...", "axis x is not used in transform", "size provided for dimension x incorrect"). Returns a new reference. */
TG_API tg_status tg_tensor_rearrange(tg_tensor *x, const char *formula, const char *const *names, const int64_t *sizes, size_t n,
                                     tg_tensor **out);

/* x.split(sizes, dim): pieces of x along dim, as views. sizes NULL: x.split(size, dim), pieces of `size` (the last one
** smaller); else the nsizes given sizes, which must add up to the dim (TG_ERR_INVALID_ARGUMENT "expect sizes to sum
** exactly to 5, but got 4"). *nout receives the number of pieces; when cap >= *nout, outs[0..*nout) receive new
** references, otherwise nothing is written (ask with cap 0 and outs NULL first). */
TG_API tg_status tg_tensor_split(tg_tensor *x, int64_t size, const int64_t *sizes, size_t nsizes, int64_t dim, tg_tensor **outs, size_t cap,
                                 size_t *nout);

/* x.chunk(chunks, dim): x.split(ceildiv(dim size, chunks), dim) (chunks empty pieces of an empty dim); may give fewer
** than `chunks` pieces. Output as tg_tensor_split. TG_ERR_INVALID_ARGUMENT "expect chunks to be greater than 0, got: 0". */
TG_API tg_status tg_tensor_chunk(tg_tensor *x, int64_t chunks, int64_t dim, tg_tensor **outs, size_t cap, size_t *nout);

/* tensors[0].meshgrid(*tensors[1:], indexing="xy" if xy else "ij"): n grids, each the broadcast of one input laid along
** its own dim; outs[0..n) receive new references (all or none). */
TG_API tg_status tg_tensor_meshgrid(tg_tensor *const *tensors, size_t n, int xy, tg_tensor **outs);

/* ---------------- Tensor: random ----------------
** Every draw below takes the device's next numbers from the threefry stream of tg_tensor_rand (the same seed gives
** tinygrad's values, bit for bit). shape/ndim as tg_tensor_rand; device NULL: the default device; dtype TG_DTYPE_NONE:
** the default float; contiguous: tinygrad's rand(contiguous=). Errors: TG_ERR_INVALID_ARGUMENT "invalid input
** shape=(2, -1)" and tinygrad's messages for bad ranges. Each returns a new reference. */

/* Tensor.randn(*shape, dtype, device): normal values (Box-Muller over rand(2, *shape) in float32, cast to dtype). */
TG_API tg_status tg_tensor_randn(const int64_t *shape, size_t ndim, int dtype, const char *device, tg_tensor **out);

/* x.randn_like(dtype, device, contiguous): randn of x's shape; dtype TG_DTYPE_NONE: x's (TG_ERR_INVALID_ARGUMENT for a
** weak x), device NULL: x's. */
TG_API tg_status tg_tensor_randn_like(tg_tensor *x, int dtype, const char *device, int contiguous, tg_tensor **out);

/* Tensor.uniform(*shape, low, high, dtype, device, contiguous): low and high are Python scalars (low < high, else
** TG_ERR_INVALID_ARGUMENT "Tensor.uniform requires low < high, got low=2, high=1"). */
TG_API tg_status tg_tensor_uniform(const int64_t *shape, size_t ndim, tg_tensor *low, tg_tensor *high, int dtype, const char *device,
                                   int contiguous, tg_tensor **out);

/* Tensor.randint(*shape, low, high, dtype, device, contiguous): ints in [low, high); dtype TG_DTYPE_NONE: int32.
** TG_ERR_DTYPE for a non-int dtype, TG_ERR_INVALID_ARGUMENT for low >= high. */
TG_API tg_status tg_tensor_randint(const int64_t *shape, size_t ndim, int64_t low, int64_t high, int dtype, const char *device, int contiguous,
                                   tg_tensor **out);

/* Tensor.normal(*shape, mean, std, dtype, device): std * randn + mean; mean and std are Python scalars (std >= 0). */
TG_API tg_status tg_tensor_normal(const int64_t *shape, size_t ndim, tg_tensor *mean, tg_tensor *std, int dtype, const char *device, tg_tensor **out);

/* Tensor.scaled_uniform(*shape, dtype, device, contiguous): uniform(-1, 1) * prod(shape) ** -0.5. */
TG_API tg_status tg_tensor_scaled_uniform(const int64_t *shape, size_t ndim, int dtype, const char *device, int contiguous, tg_tensor **out);

/* Tensor.glorot_uniform(*shape, dtype, device, contiguous): uniform(-b, b), b = (6 / (shape[0] + prod(shape[1:]))) ** 0.5.
** TG_ERR_OUT_OF_RANGE for a 0-d shape, TG_ERR_INVALID_ARGUMENT "division by zero". */
TG_API tg_status tg_tensor_glorot_uniform(const int64_t *shape, size_t ndim, int dtype, const char *device, int contiguous, tg_tensor **out);

/* Tensor.kaiming_uniform(*shape, a, dtype, device, contiguous): uniform(-b, b), b = (6 / (1 + a**2) / prod(shape[1:])) ** 0.5. */
TG_API tg_status tg_tensor_kaiming_uniform(const int64_t *shape, size_t ndim, double a, int dtype, const char *device, int contiguous,
                                           tg_tensor **out);

/* Tensor.kaiming_normal(*shape, a, dtype, device): normal(0, std), std = (2 / (1 + a**2) / prod(shape[1:])) ** 0.5. */
TG_API tg_status tg_tensor_kaiming_normal(const int64_t *shape, size_t ndim, double a, int dtype, const char *device, tg_tensor **out);

/* Tensor.randperm(n, device, dtype, contiguous): a random permutation of 0..n-1 (the argsort of rand(n)) as dtype. */
TG_API tg_status tg_tensor_randperm(int64_t n, tg_dtype dtype, const char *device, int contiguous, tg_tensor **out);

/* x.multinomial(num_samples, replacement): int32 indices drawn with x's 1-d or 2-d (one row per draw) weights.
** TG_ERR_INVALID_ARGUMENT "self.ndim=3 must be 1 or 2 dim, num_samples=1 must be positive", "no replacement samples must
** not exceed population size". */
TG_API tg_status tg_tensor_multinomial(tg_tensor *x, int64_t num_samples, int replacement, tg_tensor **out);

/* x.dropout(p) with tinygrad's TRAINING as `training`: x itself when training is 0 or p is 0, zeros for p 1, else
** elements kept with probability 1-p and scaled by 1/(1-p). TG_ERR_INVALID_ARGUMENT "p=1.5 is out of range [0, 1]". */
TG_API tg_status tg_tensor_dropout(tg_tensor *x, double p, int training, tg_tensor **out);

/* The keyword arguments of tinygrad's conv2d, conv_transpose2d, avg_pool2d and max_pool2d. A versioned in-struct:
** fill it with tg_conv_params_init(), then set what differs. A call reads only the fields struct_size covers (those
** after keep their defaults), so a caller built against an older header keeps working. Arrays are borrowed for the
** call. Below, n is the number of spatial dims: weight's ndim - 2 for the convolutions, the kernel's length for the
** pools. A Python int argument is n copies of it (padding: 2n copies). */
typedef struct tg_conv_params {
  size_t struct_size;            /* sizeof(tg_conv_params) */
  int64_t groups;                /* convolutions: 1 */
  const int64_t *stride;         /* n values; NULL: tinygrad's default (1; the kernel size for the pools) */
  size_t nstride;
  const int64_t *dilation;       /* n values; NULL: 1 */
  size_t ndilation;
  const int64_t *padding;        /* n values (one per dim, first spatial dim first) or 2n (flat, PyTorch's order: before
                                    and after the last dim, then the dim before it, ...); negative values crop; NULL: 0 */
  size_t npadding;
  const int64_t *output_padding; /* conv_transpose2d: n values; NULL: 0 */
  size_t noutput_padding;
  int ceil_mode;                 /* pools: output sizes rounded up (0) */
  int count_include_pad;         /* avg_pool2d: padding counts in the average (1) */
  int dtype;                     /* conv2d: accumulation dtype, or TG_DTYPE_NONE */
} tg_conv_params;

/* Fills *params with the defaults above (struct_size = sizeof(tg_conv_params)). NULL is a harmless no-op. */
TG_API void tg_conv_params_init(tg_conv_params *params);

/* x.conv2d(weight, bias, groups, stride, dilation, padding, dtype) as tinygrad builds it, for any number of spatial
** dims: x (bs, cin*groups, *spatial), weight (cout, cin, *kernel), bias (cout,) or NULL; params NULL for the defaults.
** Operands and params are borrowed. Errors, with tinygrad's messages: TG_ERR_SHAPE "Input Tensor shape (1, 3, 5, 5)
** does not match the shape of the weights (4, 2, 3, 3). (2 vs. 3)" for channel or rank mismatches, "kernel size cannot
** be greater than actual input size", a reshape error when groups does not divide cout; TG_ERR_INVALID_ARGUMENT
** "Padding must be an int or a sequence of length 2 or 4, ..." for a bad padding count, "stride/dilation mismatch ..."
** for other counts, and for groups < 1 or stride < 1. Returns a new reference. */
TG_API tg_status tg_tensor_conv2d(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, const tg_conv_params *params, tg_tensor **out);

/* x.conv_transpose2d(weight, bias, groups, stride, dilation, padding, output_padding) as tinygrad builds it (a conv2d
** of the stride-dilated input with the flipped, regrouped weight): x (bs, cin, *spatial), weight (cin, cout/groups,
** *kernel), bias (cout,) or NULL. params: groups, stride, dilation, padding, output_padding (the rest is ignored); NULL
** for the defaults. Operands and params are borrowed. Errors as tg_tensor_conv2d's. Returns a new reference. */
TG_API tg_status tg_tensor_conv_transpose2d(tg_tensor *x, tg_tensor *weight, tg_tensor *bias, const tg_conv_params *params,
                                            tg_tensor **out);

/* x.avg_pool2d(kernel_size, stride, dilation, padding, ceil_mode, count_include_pad) over x's last n dims (any n >= 1):
** kernel: n sizes, borrowed; params (stride, dilation, padding, ceil_mode, count_include_pad) NULL for the defaults.
** Errors: TG_ERR_SHAPE "kernel size cannot be greater than actual input size" and when x has fewer than n dims;
** TG_ERR_INVALID_ARGUMENT for parameter counts as tg_tensor_conv2d's. Returns a new reference. */
TG_API tg_status tg_tensor_avg_pool2d(tg_tensor *x, const int64_t *kernel, size_t n, const tg_conv_params *params, tg_tensor **out);

/* x.max_pool2d(kernel_size, stride, dilation, padding, ceil_mode, return_indices) over x's last n dims: padding is
** filled with the dtype's minimum. indices NULL: return_indices=False; else *indices receives a new reference to the
** int32 argmax of each window, flattened over the spatial dims (tinygrad's second result). params as for
** tg_tensor_avg_pool2d (count_include_pad ignored). Errors as tg_tensor_avg_pool2d's. *out: a new reference. */
TG_API tg_status tg_tensor_max_pool2d(tg_tensor *x, const int64_t *kernel, size_t n, const tg_conv_params *params,
                                      tg_tensor **indices, tg_tensor **out);

/* x.max_unpool2d(indices, kernel_size, stride, dilation, padding, output_size): the partial inverse of
** tg_tensor_max_pool2d with indices: x (bs, c, *spatial) and the int indices it returned; each value is put at its
** index of a zero tensor (bs, c, *output_size). output_size: noutput sizes (the last ndim-2 are used), or NULL to
** derive it from kernel (n sizes) and params' stride (NULL: the kernel), dilation and padding (as max_pool2d takes
** them). TG_ERR_INVALID_ARGUMENT for x of fewer than 2 dims or a bad padding count. */
TG_API tg_status tg_tensor_max_unpool2d(tg_tensor *x, tg_tensor *indices, const int64_t *kernel, size_t n, const tg_conv_params *params,
                                        const int64_t *output_size, size_t noutput, tg_tensor **out);

/* Flags for tg_tensor_gradient. */
#define TG_GRADIENT_BACKWARD 1u /* Tensor.backward's form: NULL for targets not in self's graph; device-less gradients are
                                   placed on their target's device */

/* self.gradient(*targets, gradient=gradient) (tinygrad's autograd): out[i] = d self / d targets[i], lazily, as the
** backward graph tinygrad builds. gradient NULL: self must be 0-d and its gradient is 1. A target self does not
** depend on gets zeros (NULL under TG_GRADIENT_BACKWARD). out: n new references. Errors: TG_ERR_SHAPE when gradient
** is NULL and self is not 0-d, TG_ERR_DTYPE "only float Tensors have gradient" / "cannot take gradient wrt a weak
** Tensor", TG_ERR_UNSUPPORTED naming an op without a gradient rule. */
TG_API tg_status tg_tensor_gradient(tg_tensor *self, tg_tensor *const *targets, size_t n, tg_tensor *gradient, unsigned flags,
                                    tg_tensor **out);

/* self.assign(x): self becomes x written into self's storage (tinygrad's STORE + AFTER), lazily, at the next realize
** of self or of a tensor reading it. x is broadcast to self's shape; a weak-dtype x (a Python scalar) is cast to
** self's dtype. When self is a view of a realized buffer (shrink, permute, pad... of it), every tensor reading that
** buffer sees the write. Mutates self in place; x is borrowed. TG_ERR_DTYPE "assign dtype mismatch dtypes.float !=
** dtypes.int" when the dtypes differ, TG_ERR_SHAPE when x does not broadcast, TG_ERR_INVALID_ARGUMENT naming both
** devices when they differ. */
TG_API tg_status tg_tensor_assign(tg_tensor *self, tg_tensor *x);

/* The tensor's UOp graph as JSON (tinygrad's Tensor.uop, in the form of tests/tinygrad_ir.py), for tests and tools.
** Writes at most cap bytes including a terminating NUL into buf (buf may be NULL when cap is 0) and the full length
** (without the NUL) to *len: call with cap 0 first to size the buffer. buf: caller-owned, written by the call. */
TG_API tg_status tg_tensor_graph_json(tg_tensor *t, char *buf, size_t cap, size_t *len);

/* Computes the tensors (tinygrad's Tensor.realize(*lst)): schedules their graphs into kernels and copies, generates
** and compiles each kernel (compiled kernels are cached by source for the life of the process) and runs them on the
** tensors' devices. Afterwards every live tensor that shared part of those graphs reads the stored result instead.
** tensors: n handles, borrowed. Tensors that already are buffers or constants cost nothing. Errors: scheduler,
** codegen, compiler and device errors with their messages; TG_ERR_UNSUPPORTED for graphs the engine cannot run yet
** (symbolic shapes, multi-device, views of planned arenas). */
TG_API tg_status tg_tensor_realize(tg_tensor *const *tensors, size_t n);

/* Schedules the tensors' graphs and generates the code of every kernel (tinygrad's schedule_linear plus the codegen and
** render half of to_program) without compiling, running or caching anything; the tensors keep their graphs. For
** tools and for timing the lowering (bench/). *n_kernels (may be NULL) receives the number of kernels generated. */
TG_API tg_status tg_tensor_lower(tg_tensor *const *tensors, size_t n, size_t *n_kernels);

/* Copies the tensor's elements into dst as a contiguous row-major array of its dtype (tinygrad's Tensor.data()),
** realizing it first. nbytes must equal numel * itemsize (TG_ERR_INVALID_ARGUMENT naming both otherwise).
** dst: borrowed for the call. */
TG_API tg_status tg_tensor_data(tg_tensor *t, void *dst, size_t nbytes);

/* ---------------- State ---------------- */

/* Safetensors files (tinygrad's nn.state safe_load / safe_save). A file is an 8-byte little-endian header length N,
** N bytes of UTF-8 JSON mapping each tensor name to {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
** (byte offsets into the data that follows the header) plus an optional "__metadata__" object, then the data.
** Dtype names: F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8 BOOL F8_E4M3 F8_E5M2 (tinygrad's safe_dtypes).
**
**   tg_safetensors *st; tg_safetensors_entry e = {.struct_size = sizeof e}; tg_tensor *w; size_t i;
**   if (tg_safetensors_open("model.safetensors", &st) != TG_OK) { fprintf(stderr, "%s\n", tg_last_error()); return 1; }
**   if (tg_safetensors_find(st, "fc.weight", &i) == TG_OK && tg_safetensors_entry_get(st, i, &e) == TG_OK)
**     tg_safetensors_tensor(st, i, NULL, &w);   // w: a tensor of e.dtype and e.shape holding the file's bytes
**   tg_safetensors_release(st);
**
** Parsing is strict and bounds-checked: every malformed input returns TG_ERR_CORRUPT with a message naming the problem
** ("safetensors: tensor 'w': data_offsets [0, 20] hold 20 bytes but shape (2, 3) of F32 needs 24") and never reads
** outside the given bytes. Checked: length prefix (at least 8 bytes; header inside the file and at most 100000000
** bytes), UTF-8, JSON syntax (nesting at most 128 deep), a top-level object whose "__metadata__" is an object and whose
** other values are objects with a known string "dtype", a "shape" of non-negative integers (at most 64 dims) and
** "data_offsets" of two integers begin <= end inside the data, holding exactly numel * itemsize bytes; no duplicate
** names or fields; no two non-empty tensors' byte ranges overlap. Other fields of a tensor are ignored; bytes after the
** last tensor are allowed.
**
** A tg_safetensors handle is immutable: every call on it is thread-safe. */
typedef struct tg_safetensors tg_safetensors;

/* One tensor of a parsed file. Versioned out-struct: set struct_size = sizeof(tg_safetensors_entry). The pointers are
** owned by the handle and valid until it is released. */
typedef struct tg_safetensors_entry {
  size_t struct_size;
  const char *name;      /* NUL-terminated UTF-8 (names holding U+0000 are refused when parsing) */
  tg_dtype dtype;
  size_t ndim;
  const int64_t *shape;  /* ndim dims (a valid pointer even when ndim is 0) */
  uint64_t begin, end;   /* data_offsets: [begin, end) bytes after the header */
  uint64_t file_offset;  /* where the tensor's bytes start in the file: 8 + header length + begin */
} tg_safetensors_entry;

/* Parses a safetensors file held in memory. data: nbytes bytes, copied before return (the handle keeps its own copy).
** Returns a new handle owned by the caller; release with tg_safetensors_release(). TG_ERR_CORRUPT as described above;
** TG_ERR_NULL_POINTER for NULL data with nbytes > 0. */
TG_API tg_status tg_safetensors_parse(const void *data, size_t nbytes, tg_safetensors **out);

/* Reads and parses the file at path (as tg_safetensors_parse). TG_ERR_IO naming the path and the system's reason when
** it cannot be read. Returns a new handle; release with tg_safetensors_release(). */
TG_API tg_status tg_safetensors_open(const char *path, tg_safetensors **out);

/* Drops the handle. NULL is a no-op; a handle already released returns TG_ERR_INVALID_HANDLE. */
TG_API tg_status tg_safetensors_release(tg_safetensors *st);

/* Number of tensors in the file ("__metadata__" is not one). */
TG_API tg_status tg_safetensors_count(tg_safetensors *st, size_t *out);

/* The index-th tensor, in the order of the header. TG_ERR_OUT_OF_RANGE for index >= count; TG_ERR_INVALID_ARGUMENT
** when out->struct_size is smaller than the struct up to file_offset. */
TG_API tg_status tg_safetensors_entry_get(tg_safetensors *st, size_t index, tg_safetensors_entry *out);

/* The index of the tensor called name. TG_ERR_OUT_OF_RANGE naming it when the file has none. */
TG_API tg_status tg_safetensors_find(tg_safetensors *st, const char *name, size_t *index);

/* The index-th tensor as a new tg_tensor of its dtype and shape holding a copy of its bytes (as tg_tensor_from_host with
** TG_HOST_ARRAY), on device (NULL: $DEV, else "CPU"). Returns a new reference; release with tg_tensor_release().
** TG_ERR_OUT_OF_RANGE for index >= count. */
TG_API tg_status tg_safetensors_tensor(tg_safetensors *st, size_t index, const char *device, tg_tensor **out);

/* The header's JSON text exactly as in the file (with its padding), the data starting at byte 8 + *len; or (what =
** 1) the "__metadata__" value's JSON text, "" when the file has none. Writes at most cap bytes including a terminating
** NUL into buf (buf may be NULL when cap is 0) and the full length (without the NUL) to *len: call with cap 0 first to
** size the buffer. TG_ERR_INVALID_ARGUMENT for what other than 0 or 1. */
TG_API tg_status tg_safetensors_json(tg_safetensors *st, int what, char *buf, size_t cap, size_t *len);

/* Serializes n named tensors as tinygrad's safe_save lays them out: the JSON header ("__metadata__" first when
** metadata_json is not NULL, then the tensors in the given order at consecutive offsets, names escaped as Python's
** json.dumps escapes them, no spaces) padded with spaces to a multiple of 8 bytes, then each tensor's bytes. Realizes
** the tensors. names, tensors: n entries each, borrowed; metadata_json: a JSON object copied verbatim into the header,
** or NULL for none. buf: caller-owned; *len receives the file's size. When cap < that size nothing is written or
** realized (call with cap 0 first to size the buffer). Errors: TG_ERR_INVALID_ARGUMENT for a NULL or invalid UTF-8
** name, a duplicate name, the name "__metadata__", metadata_json that is not a JSON object; TG_ERR_DTYPE for a weak
** dtype ("safe_save requires concrete dtypes") or a dtype safetensors cannot name (fp8 fnuz); realize errors. */
TG_API tg_status tg_safetensors_save(const char *const *names, tg_tensor *const *tensors, size_t n, const char *metadata_json,
                                     void *buf, size_t cap, size_t *len);

/* tg_safetensors_save into the file at path (created or truncated). TG_ERR_IO naming the path when it cannot be
** written; the other errors as tg_safetensors_save, and then the file is left untouched. */
TG_API tg_status tg_safetensors_save_file(const char *path, const char *const *names, tg_tensor *const *tensors, size_t n,
                                          const char *metadata_json);

/* ---------------- TinyJit ---------------- */

/* A captured sequence of kernels and copies, replayed with other input buffers (tinygrad's TinyJit core). */
typedef struct tg_jit tg_jit;

/* Starts capturing: until tg_jit_capture_end, tg_tensor_realize schedules, generates and compiles as usual but records
** the kernels instead of running them, and tg_tensor_data refuses ("cannot access tensor data during JIT capture").
** TG_ERR_INVALID_ARGUMENT when a capture is already in progress. One capture at a time per process. */
TG_API tg_status tg_jit_capture_begin(void);

/* Ends the capture and packages what was recorded, with the tensors that are the captured function's inputs (borrowed,
** realized buffers, no duplicates): replays bind other tensors in their place. Nothing recorded: TG_ERR_INVALID_ARGUMENT
** "didn't JIT anything!". The recorded kernels have not run yet: call tg_jit_run with the same inputs to run them.
** out: a new handle, freed with tg_jit_release. */
TG_API tg_status tg_jit_capture_end(tg_tensor *const *inputs, size_t n, tg_jit **out);

/* Runs the captured kernels with inputs[i] in place of the i-th captured input: the same count, shapes, dtypes and
** devices (TG_ERR_SHAPE "args mismatch in JIT: ..." naming both otherwise; TG_ERR_INVALID_ARGUMENT for views or
** duplicates). Unrealized inputs are realized first. The captured outputs' buffers are rewritten in place. */
TG_API tg_status tg_jit_run(tg_jit *jit, tg_tensor *const *inputs, size_t n);

/* Drops the JIT and the device memory only it held. NULL is a no-op. */
TG_API tg_status tg_jit_release(tg_jit *jit);

/* ---------------- Counters ---------------- */

/* tinygrad's GlobalCounters, process-wide. Versioned out-struct: set struct_size = sizeof(tg_counters). */
typedef struct tg_counters {
  size_t struct_size;
  uint64_t kernel_count;  /* kernels and copies run by tg_tensor_realize since the last reset (tinygrad counts both) */
  uint64_t compile_count; /* kernels compiled (a cache miss in the realize step's program cache); never reset */
  uint64_t copy_count;    /* buffer copies run by tg_tensor_realize since the last reset */
} tg_counters;

/* Reads the counters. */
TG_API tg_status tg_counters_get(tg_counters *out);

/* Resets kernel_count and copy_count to 0 (tinygrad's GlobalCounters.reset()). */
TG_API tg_status tg_counters_reset(void);

#ifdef __cplusplus
}
#endif
#endif /* TG_H */
