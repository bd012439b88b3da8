/*
** tg_backend.h -- the tgc backend plugin ABI, version 1.0.
**
** A backend is a shared library that implements this header and does NOT link libtgc. The host (libtgc)
** dlopen()s it, reads the data symbol `tg_backend_manifest` to decide whether it can talk to it at all,
** then calls `tg_backend_entry_v1()` once to obtain the function table. Everything that crosses the
** boundary is a plain C type or one of the versioned structs below.
**
** A minimal backend:
**
**   #include "tg_backend.h"
**   TG_BACKEND_EXPORT const tg_manifest tg_backend_manifest = TG_BACKEND_MANIFEST_INIT("ACME", "0.1.0", "c");
**   static tg_backend_api api = { .struct_size = sizeof(tg_backend_api), .device_count = my_count, ... };
**   TG_BACKEND_EXPORT tg_status tg_backend_entry_v1(const tg_backend_host *host, const tg_backend_api **out) {
**     uint32_t minor;
**     tg_status s = tg_backend_negotiate(host, &tg_backend_manifest, &minor);
**     if (s != TG_OK) return s;
**     api.abi_minor = minor; g_host = host;  // keep host for error reporting
**     *out = &api;
**     return TG_OK;
**   }
**
** VERSION RULES
**   ABI major (TG_BACKEND_ABI_MAJOR) changes when anything already published changes meaning or layout:
**   a field moved, removed or retyped, a function's signature or contract changed, an enum value reused.
**   A host refuses a backend whose major differs from its own.
**   ABI minor (TG_BACKEND_ABI_MINOR) changes when something is appended: a field at the end of a versioned
**   struct, a function pointer at the end of tg_backend_api, a new enum value, a new status code. A backend
**   built against 1.N keeps loading in every host 1.M with M >= N; a host reads only the fields that the
**   backend's struct_size covers and treats the rest as absent (NULL functions, zero fields).
**   A backend may also require a minimum minor (manifest.abi_min_minor); a host older than that refuses it.
**   Python packaging follows the ABI: the `tgc` distribution's major version changes exactly when
**   TG_BACKEND_ABI_MAJOR does (tgc 0.x speaks ABI 1.x), so a plugin built against 1.N pins `tgc>=0.N,<1`.
**
** VERSIONED STRUCTS
**   Every struct crossing the boundary starts with `size_t struct_size` (the writer's sizeof) and, where
**   extension is expected, a `const void *next` chain. Fields are only appended. A reader checks
**   TG_STRUCT_HAS(p, T, field) before reading a field. A NULL function pointer means "not implemented".
**   Out-structs (properties, caps) are in/out: the host sets struct_size to its capacity and zero-fills;
**   the backend writes only fields inside min(its sizeof, host capacity) and sets struct_size to the
**   number of bytes it filled.
**
** ERRORS
**   Every fallible call returns a tg_status. On failure the backend reports a message through
**   host->set_error() naming the offending values and the vendor's own message. A backend never aborts,
**   exits or prints on its own; diagnostics go through host->log().
**
** THREADING
**   tg_backend_entry_v1 and api->shutdown: called once each, from one thread.
**   device_count, device_properties, device_caps: thread-safe.
**   Everything taking a tg_backend_device: one thread at a time per device (the host serialises),
**   except api->compile on a device whose caps set compile_concurrent: the host may then call it from
**   several threads at once and while other calls on that device run.
**
** MEMORY
**   Buffers, programs and blobs made by a backend are freed by the same backend (api->free,
**   api->program_free, api->blob_free). Pointers passed in by the host are borrowed for the call only.
*/
#ifndef TG_BACKEND_H
#define TG_BACKEND_H

#ifndef TG_NO_SYSTEM_HEADERS /* defined by the binding generator, which supplies the types itself */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------- Versions ---------------- */

#define TG_BACKEND_ABI_MAJOR 1
#define TG_BACKEND_ABI_MINOR 0
#define TG_BACKEND_MAGIC 0x42434754u /* "TGCB" little-endian */

#if defined(_WIN32)
#define TG_BACKEND_EXPORT __declspec(dllexport)
#else
#define TG_BACKEND_EXPORT __attribute__((visibility("default")))
#endif

/* Size of a versioned struct up to and including `field`, and whether `p` covers `field`. */
#define TG_STRUCT_SIZE(T, field) (offsetof(T, field) + sizeof(((T *)0)->field))
#define TG_STRUCT_HAS(p, T, field) ((p) != NULL && (p)->struct_size >= TG_STRUCT_SIZE(T, field))

/* ---------------- Status codes ---------------- */

/* Shared by tg.h and backends. Append-only, explicit values; new codes may be added in a minor version,
** so treat an unknown nonzero code as a failure. */
typedef enum tg_status {
  TG_OK = 0,
  TG_ERR_INVALID_ARGUMENT = 1, /* a value is out of its domain (size 0, bad flag, bad string) */
  TG_ERR_NULL_POINTER = 2,     /* a required pointer or handle was NULL */
  TG_ERR_INVALID_HANDLE = 3,   /* a handle was already released, or is not a handle of that kind */
  TG_ERR_OUT_OF_RANGE = 4,     /* an index, offset or length past the end */
  TG_ERR_OUT_OF_MEMORY = 5,    /* host or device allocation failed */
  TG_ERR_UNSUPPORTED = 6,      /* the backend or device does not implement this */
  TG_ERR_SHAPE = 7,            /* shapes do not agree */
  TG_ERR_DTYPE = 8,            /* dtypes do not agree, or the device lacks the dtype */
  TG_ERR_COMPILE = 9,          /* kernel compilation failed; the message carries the compiler log */
  TG_ERR_LOAD = 10,            /* a library, program or backend could not be loaded */
  TG_ERR_ABI = 11,             /* a backend speaks an incompatible ABI */
  TG_ERR_DEVICE = 12,          /* the device or vendor runtime failed (launch error, device lost) */
  TG_ERR_IO = 13,              /* a file could not be read or written */
  TG_ERR_INTERNAL = 14,        /* a bug in tgc: please report it */
  TG_ERR_UNAVAILABLE = 15,     /* the backend is installed but has no usable device or runtime */
  TG_ERR_TIMEOUT = 16,         /* an operation did not finish in time */
  TG_ERR_CORRUPT = 17          /* a file or blob is malformed */
} tg_status;

/* ---------------- Dtypes and ALU ops ---------------- */

/* tinygrad 0.14.0's dtypes. Bit (1 << value) in tg_device_caps.dtypes declares support. Append-only. */
typedef enum tg_dtype {
  TG_BOOL = 0,
  TG_INT8 = 1,
  TG_UINT8 = 2,
  TG_INT16 = 3,
  TG_UINT16 = 4,
  TG_INT32 = 5,
  TG_UINT32 = 6,
  TG_INT64 = 7,
  TG_UINT64 = 8,
  TG_FLOAT16 = 9,
  TG_BFLOAT16 = 10,
  TG_FLOAT32 = 11,
  TG_FLOAT64 = 12,
  TG_FP8E4M3 = 13,
  TG_FP8E5M2 = 14,
  TG_FP8E4M3FNUZ = 15,
  TG_FP8E5M2FNUZ = 16,
  TG_DTYPE_COUNT = 17, /* number of storage dtypes; grows with the enum, not a stable value */
  /* Pseudo-dtypes of Python-style scalars in type promotion (tinygrad's dtypes.weakint/weakfloat, JAX's weak types).
  ** Never the dtype of a buffer, never a bit in tg_device_caps.dtypes. */
  TG_WEAKINT = 32,
  TG_WEAKFLOAT = 33
} tg_dtype;

/* tinygrad 0.14.0's GroupOp.ALU. Bit (1 << value) in tg_device_caps.alu_ops declares that the dialect renders
** the op natively; the core decomposes the missing ones (tinygrad's code_for_op). Append-only. */
typedef enum tg_alu_op {
  TG_ALU_EXP2 = 0,
  TG_ALU_LOG2 = 1,
  TG_ALU_SIN = 2,
  TG_ALU_SQRT = 3,
  TG_ALU_RECIPROCAL = 4,
  TG_ALU_NEG = 5,
  TG_ALU_TRUNC = 6,
  TG_ALU_ADD = 7,
  TG_ALU_MUL = 8,
  TG_ALU_SHL = 9,
  TG_ALU_SHR = 10,
  TG_ALU_CDIV = 11,
  TG_ALU_MAX = 12,
  TG_ALU_CMOD = 13,
  TG_ALU_CMPLT = 14,
  TG_ALU_CMPNE = 15,
  TG_ALU_CMPEQ = 16,
  TG_ALU_XOR = 17,
  TG_ALU_OR = 18,
  TG_ALU_AND = 19,
  TG_ALU_THREEFRY = 20,
  TG_ALU_SUB = 21,
  TG_ALU_FDIV = 22,
  TG_ALU_POW = 23,
  TG_ALU_FLOORDIV = 24,
  TG_ALU_FLOORMOD = 25,
  TG_ALU_WHERE = 26,
  TG_ALU_MULACC = 27,
  TG_ALU_COUNT = 28 /* grows with the enum; not a stable value */
} tg_alu_op;

/* Device kinds for tg_device_properties.type. Append-only. */
typedef enum tg_device_type {
  TG_DEVICE_OTHER = 0,
  TG_DEVICE_CPU = 1,
  TG_DEVICE_GPU = 2,
  TG_DEVICE_ACCELERATOR = 3
} tg_device_type;

/* Log levels for tg_backend_host.log. */
typedef enum tg_log_level { TG_LOG_DEBUG = 0, TG_LOG_INFO = 1, TG_LOG_WARN = 2, TG_LOG_ERROR = 3 } tg_log_level;

/* ---------------- Manifest ---------------- */

/* Build flavors for tg_manifest.flavor. */
#define TG_BACKEND_FLAVOR_RELEASE "release"
#define TG_BACKEND_FLAVOR_DEBUG "debug"
#define TG_BACKEND_FLAVOR_ASAN "asan"

/* The type of the const data symbol every backend exports as `tg_backend_manifest` (the type is named tg_manifest
** because C types and objects share one namespace). The host reads it before calling any
** backend code. All strings are NUL-terminated within their arrays (the host checks). `dialects` is a comma-
** separated list of the core's dialects the backend accepts ("c", "cuda", "hip", "metal", "opencl", "wgsl",
** "glsl"). The same content ships as JSON in the plugin's wheel so a host can refuse it before dlopen. */
typedef struct tg_backend_manifest {
  uint32_t magic;         /* TG_BACKEND_MAGIC */
  uint32_t struct_size;   /* sizeof(tg_manifest) as the backend saw it */
  uint32_t abi_major;     /* TG_BACKEND_ABI_MAJOR the backend was built against */
  uint32_t abi_min_minor; /* lowest host minor the backend can work with */
  uint32_t abi_max_minor; /* highest minor the backend knows (TG_BACKEND_ABI_MINOR at its build) */
  char name[32];          /* upper-case device prefix, e.g. "CUDA" */
  char version[32];       /* the backend's own version, e.g. "0.1.0" */
  char flavor[16];        /* TG_BACKEND_FLAVOR_* */
  char dialects[64];      /* comma-separated, e.g. "c" or "cuda,ptx" */
} tg_manifest;

#define TG_BACKEND_MANIFEST_INIT(NAME, VERSION, DIALECTS)                                                              \
  {TG_BACKEND_MAGIC, (uint32_t)sizeof(tg_manifest), TG_BACKEND_ABI_MAJOR, 0, TG_BACKEND_ABI_MINOR, NAME, VERSION, \
   TG_BACKEND_FLAVOR_RELEASE, DIALECTS}

/* ---------------- Host callbacks ---------------- */

/* What the host hands the backend at entry. Borrowed: valid until api->shutdown() returns. */
typedef struct tg_backend_host {
  size_t struct_size;
  uint32_t abi_major; /* the host's major */
  uint32_t abi_minor; /* the host's highest minor */
  void *ctx;          /* pass back to the callbacks */
  /* Record the message for the failing call in progress; `msg` is copied. Thread-safe. */
  void (*set_error)(void *ctx, tg_status code, const char *msg);
  /* Diagnostics; `msg` is copied. Thread-safe. */
  void (*log)(void *ctx, tg_log_level level, const char *msg);
} tg_backend_host;

/* Negotiation helper: returns TG_OK and the minor to speak (min of both maxima), or TG_ERR_ABI after reporting
** why through host->set_error. Backends call this instead of comparing constants themselves. */
static inline tg_status tg_backend_negotiate(const tg_backend_host *host, const tg_manifest *m, uint32_t *out_minor) {
  if (host == NULL || m == NULL || out_minor == NULL || host->struct_size < TG_STRUCT_SIZE(tg_backend_host, log))
    return TG_ERR_NULL_POINTER;
  if (host->abi_major != m->abi_major || host->abi_minor < m->abi_min_minor) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: host ABI %u.%u refused: this backend speaks %u.%u to %u.%u", m->name, host->abi_major, host->abi_minor,
             m->abi_major, m->abi_min_minor, m->abi_major, m->abi_max_minor);
    if (host->set_error) host->set_error(host->ctx, TG_ERR_ABI, msg);
    return TG_ERR_ABI;
  }
  *out_minor = host->abi_minor < m->abi_max_minor ? host->abi_minor : m->abi_max_minor;
  return TG_OK;
}

/* ---------------- Reporting helpers ---------------- */

#ifndef TG_NO_SYSTEM_HEADERS /* inline helpers, not part of the ABI (the binding generator skips them) */
/* Formats a message and hands it to the host: to set_error when is_error (code is a tg_status), else to log (code is a
** tg_log_level). host may be NULL (nothing is sent). Returns code. Every backend needs exactly this funnel. */
static inline tg_status tg_backend_vreport(const tg_backend_host *host, int is_error, int code, const char *fmt, va_list ap) {
  char msg[8192];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (host && is_error && host->set_error) host->set_error(host->ctx, (tg_status)code, msg);
  if (host && !is_error && host->log) host->log(host->ctx, (tg_log_level)code, msg);
  return (tg_status)code;
}
/* `return tg_backend_fail(host, TG_ERR_OUT_OF_RANGE, "acme: copyin: offset %zu past %zu", off, size);` */
__attribute__((format(printf, 3, 4))) static inline tg_status tg_backend_fail(const tg_backend_host *host, tg_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tg_backend_vreport(host, 1, (int)code, fmt, ap);
  va_end(ap);
  return code;
}
/* Diagnostics through host->log. */
__attribute__((format(printf, 3, 4))) static inline void tg_backend_logf(const tg_backend_host *host, tg_log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tg_backend_vreport(host, 0, (int)level, fmt, ap);
  va_end(ap);
}
#endif

/* ---------------- Device description ---------------- */

#define TG_TEXT_MAX 128

/* Identity of one device. In/out as described under VERSIONED STRUCTS. */
typedef struct tg_device_properties {
  size_t struct_size;
  const void *next;
  char name[TG_TEXT_MAX];           /* e.g. "NVIDIA H200" */
  char vendor[64];                  /* e.g. "NVIDIA" */
  char driver_version[64];          /* the vendor runtime's version, "" if none */
  uint32_t type;                    /* tg_device_type */
  uint32_t reserved;
} tg_device_properties;

/* A tensor-core shape the device can execute (tinygrad's TensorCore), for the codegen's TC opt. */
typedef struct tg_tensor_core {
  size_t struct_size;
  uint32_t dims[3];          /* N, M, K */
  uint32_t threads;          /* threads per warp/wave that cooperate */
  uint32_t elements_per_thread[3]; /* elements of A, B and C each thread holds */
  uint32_t dtype_in, dtype_out; /* tg_dtype */
} tg_tensor_core;

/* What the codegen may emit for a device (tinygrad's Renderer fields, Vulkan's typed limits). The core reads
** only this to decide what to render; `tgc-sdk validate` proves every field by probing. Rules checked at load:
** dialect non-empty; global_max[i] >= 1; local_max[i] >= 1 and local_max[i] <= global_max[i];
** local_prod_max >= 1; vector_width >= 1; alignment a power of two; FLOAT32 and INT32 declared. */
typedef struct tg_device_caps {
  size_t struct_size;
  const void *next;
  char dialect[16];          /* the core renderer to use: "c", "cuda", "hip", "metal", "opencl", "wgsl", "glsl" */
  char arch[32];             /* target passed to the compiler: "x86_64", "sm_90", "gfx90a", ... */
  uint64_t dtypes;           /* bitmask over tg_dtype */
  uint64_t alu_ops;          /* bitmask over tg_alu_op rendered natively */
  uint32_t has_local;        /* workgroups with local ids */
  uint32_t has_shared;       /* workgroup-shared memory */
  uint32_t has_threads;      /* host-thread parallelism (CPU backends): the codegen splits work over global_max[0] threads
                                and the kernel reads its thread index (tinygrad's core_id) from gid[0]; launch accepts
                                any global size and spreads it over its threads, so global_max is a preference here */
  uint32_t vector_width;     /* widest float vector the dialect loads/stores (1 = none, 4 = float4) */
  uint32_t global_max[3];    /* per-dimension grid limit */
  uint32_t local_max[3];     /* per-dimension workgroup limit (1,1,1 without has_local) */
  uint32_t local_prod_max;   /* product of the three local sizes */
  uint32_t alignment;        /* byte alignment of buffer base addresses */
  uint64_t shared_max;       /* bytes of shared memory per workgroup */
  uint64_t mem_total;        /* bytes of device memory (0 = unknown) */
  uint64_t mem_max_alloc;    /* largest single allocation in bytes (0 = unknown) */
  uint32_t n_tensor_cores;
  uint32_t compile_concurrent; /* 1: api->compile touches no device state and may run on several threads at once,
                                  alongside any other call (the host then compiles independent kernels in parallel);
                                  0 keeps compiles serialised with everything else on the device. Was `reserved`
                                  (always 0) before ABI 1.0's first release, so older backends read as 0. */
  const tg_tensor_core *tensor_cores; /* backend-owned static array of n_tensor_cores entries */
} tg_device_caps;

/* ---------------- Kernel launch ---------------- */

typedef struct tg_backend_device tg_backend_device;   /* backend-defined */
typedef struct tg_backend_buffer tg_backend_buffer;   /* backend-defined */
typedef struct tg_backend_program tg_backend_program; /* backend-defined */
typedef struct tg_backend_event tg_backend_event;     /* backend-defined */

/* A compiled kernel as bytes: PTX, a code object, a shared library. compile() overwrites the whole struct (setting
** struct_size to its own sizeof); the blob is owned by the backend until blob_free(). The host may copy `data` into
** its cache and hand copies back to load(). */
typedef struct tg_blob {
  size_t struct_size;
  void *data;
  size_t size;
  void *backend_private;
} tg_blob;

/* One launch. For the "c" dialect the loaded symbol has the signature
**   void NAME(void *const *bufs, const int64_t *vals, const uint32_t gid[3]);
** and runs once per grid point; has_threads backends spread grid points over their threads. */
typedef struct tg_launch_params {
  size_t struct_size;
  const void *next;
  tg_backend_buffer *const *bufs; /* borrowed */
  size_t n_bufs;
  const int64_t *vals;            /* symbolic variable values, borrowed */
  size_t n_vals;
  uint32_t global[3];
  uint32_t local[3];
  uint32_t wait;                  /* 1: block until done and fill *elapsed_s if non-NULL */
  uint32_t reserved;
  double *elapsed_s;
} tg_launch_params;

/* ---------------- The function table ---------------- */

/* Returned by tg_backend_entry_v1; static storage owned by the backend. Fields marked [optional] may be NULL. */
typedef struct tg_backend_api {
  size_t struct_size;
  uint32_t abi_minor; /* negotiated minor */
  uint32_t reserved;

  /* Called once before unload; releases every device and global state. [optional] */
  void (*shutdown)(void);

  /* Devices. count may be 0 with TG_ERR_UNAVAILABLE and a reason ("no NVIDIA driver (libcuda.so.1 not found)"). */
  tg_status (*device_count)(int *out_count);
  tg_status (*device_properties)(int index, tg_device_properties *out);
  tg_status (*device_caps)(int index, tg_device_caps *out);
  tg_status (*device_open)(int index, tg_backend_device **out);
  void (*device_close)(tg_backend_device *dev);

  /* Memory. alloc of 0 bytes returns a valid, distinct buffer. copy ranges are checked by the host. */
  tg_status (*alloc)(tg_backend_device *dev, size_t nbytes, tg_backend_buffer **out);
  void (*free)(tg_backend_device *dev, tg_backend_buffer *buf);
  tg_status (*copyin)(tg_backend_device *dev, tg_backend_buffer *dst, size_t offset, const void *src, size_t nbytes);
  tg_status (*copyout)(tg_backend_device *dev, tg_backend_buffer *src, size_t offset, void *dst, size_t nbytes);

  /* Programs. compile is pure (same source and device arch -> same bytes), so the host may cache blobs. */
  tg_status (*compile)(tg_backend_device *dev, const char *source, const char *name, tg_blob *out);
  void (*blob_free)(tg_blob *blob);
  tg_status (*load)(tg_backend_device *dev, const void *blob, size_t size, const char *name, tg_backend_program **out);
  void (*program_free)(tg_backend_device *dev, tg_backend_program *prog);
  tg_status (*launch)(tg_backend_device *dev, tg_backend_program *prog, const tg_launch_params *params);
  tg_status (*synchronize)(tg_backend_device *dev);

  /* [optional] A view of bytes [offset, offset+nbytes) of buf; freed with free() before buf. */
  tg_status (*buffer_view)(tg_backend_device *dev, tg_backend_buffer *buf, size_t offset, size_t nbytes, tg_backend_buffer **out);
  /* [optional] Copy between two devices of this backend without a host round trip. */
  tg_status (*transfer)(tg_backend_device *dst_dev, tg_backend_buffer *dst, tg_backend_device *src_dev, tg_backend_buffer *src, size_t nbytes);

  /* [optional] Events and timing: record a point in the device's queue, wait for it, time between two. */
  tg_status (*event_create)(tg_backend_device *dev, tg_backend_event **out);
  tg_status (*event_record)(tg_backend_device *dev, tg_backend_event *ev);
  tg_status (*event_synchronize)(tg_backend_device *dev, tg_backend_event *ev);
  tg_status (*event_elapsed)(tg_backend_device *dev, tg_backend_event *start, tg_backend_event *end, double *out_seconds);
  void (*event_free)(tg_backend_device *dev, tg_backend_event *ev);
} tg_backend_api;

/* The fields every 1.x backend must provide (the host refuses a smaller table or a NULL among them). */
#define TG_BACKEND_API_MIN_SIZE TG_STRUCT_SIZE(tg_backend_api, synchronize)

/* The two symbols a backend exports. */
typedef tg_status (*tg_backend_entry_fn)(const tg_backend_host *host, const tg_backend_api **out_api);
#define TG_BACKEND_ENTRY_SYMBOL "tg_backend_entry_v1"
#define TG_BACKEND_MANIFEST_SYMBOL "tg_backend_manifest"

#ifdef __cplusplus
}
#endif
#endif /* TG_BACKEND_H */
