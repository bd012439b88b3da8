/* tgc_internal.h -- declarations shared inside libtgc (never installed). */
#ifndef TGC_INTERNAL_H
#define TGC_INTERNAL_H
#include "tg.h"

/* ---- errors (error.c) ---- */
/* Formats the calling thread's last-error message and returns `code`, so that `return tg_err(...)` reads well. */
tg_status tg_err(tg_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
tg_status tg_err_code(void);      /* the status of the last tg_err on this thread (TG_OK after tg_err_code_clear) */
void tg_err_code_clear(void);

/* ---- handles (handle.c) ----
** Public handles are not pointers to our structs but slot/generation/kind triples encoded in a pointer-sized value,
** so that a released or forged handle is detected instead of dereferenced. */
typedef enum tg_hkind { TG_H_BACKEND = 1, TG_H_DEVICE = 2, TG_H_BUFFER = 3, TG_H_PROGRAM = 4, TG_H_TENSOR = 5, TG_H_SAFETENSORS = 6, TG_H_JIT = 7, TG_H_KINDS = 8 } tg_hkind;
/* New handle for obj with one reference; NULL when out of memory. */
void *tg_handle_new(tg_hkind kind, void *obj);
/* Resolves h to its object, or sets an error naming `what` (the parameter) and returns it. */
tg_status tg_handle_get(const void *h, tg_hkind kind, const char *what, void **obj);
/* Adds a reference. */
tg_status tg_handle_retain(const void *h, tg_hkind kind, const char *what);
/* Drops a reference; when it was the last, removes the handle and returns the object in *dead (else NULL). */
tg_status tg_handle_release(const void *h, tg_hkind kind, const char *what, void **dead);
size_t tg_handle_live(tg_hkind kind);

/* ---- device.c, for the realize step ---- */
/* A buffer aliasing bytes [offset, offset+nbytes) of base (the backend's buffer_view); it holds a reference to base.
** Release it like any buffer. TG_ERR_UNSUPPORTED when the backend has no views. */
tg_status tg_buffer_view_internal(tg_buffer *base, size_t offset, size_t nbytes, tg_buffer **out);
/* Calls fn(obj, user) for every live object of a kind, under the table lock: fn must not call tg_handle_* itself. */
void tg_handle_foreach(tg_hkind kind, void (*fn)(void *obj, void *user), void *user);
#endif
