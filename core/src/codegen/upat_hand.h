/* codegen/upat_hand.h -- UPat tables written by hand, in the form generators/rules/rulegen.py emits, for the few
** tinygrad patterns its rule language cannot spell yet: a REDUCE with arg=(Ops.ADD, 0), an op-less UPat(arg=Invalid),
** and the pattern name `out` (reserved in the generated C). Each table carries the tinygrad UPat it mirrors; the rest
** of every matcher stays in the *.rules files. */
#ifndef TG_CODEGEN_UPAT_HAND_H
#define TG_CODEGEN_UPAT_HAND_H
#include "uop/rewrite.h"

#define HOPBIT(op) ((op) < 64 ? 1ull << ((op) % 64) : 0ull), ((op) >= 64 ? 1ull << ((op) % 64) : 0ull)
#define HOP(op) .ops = {{HOPBIT(op)}}, .has_ops = 1
#define HOP2(a, b) .ops = {{((a) < 64 ? 1ull << ((a) % 64) : 0ull) | ((b) < 64 ? 1ull << ((b) % 64) : 0ull), 0ull}}, .has_ops = 1
#define HBOOL .dtypes = 1ull << TG_BOOL, .has_dtypes = 1
#define HSRC(mode_, ...) .mode = (mode_), .src = (const tg_upat *const[]){__VA_ARGS__}, \
  .nsrc = sizeof((const tg_upat *const[]){__VA_ARGS__}) / sizeof(const tg_upat *)

static const tg_arg H_ADD0_ITEMS[2] = {{.kind = TG_ARG_OP, .i = TG_OP_ADD}, {.kind = TG_ARG_INT, .i = 0}};
static const tg_arg H_ADD0 = {.kind = TG_ARG_TUPLE, .n = 2, .items = H_ADD0_ITEMS}; /* (Ops.ADD, 0) */
static const tg_arg H_INVALID = {.kind = TG_ARG_INVALID};
static const tg_arg H_ZERO = {.kind = TG_ARG_INT, .i = 0};
static const tg_arg H_TRUE = {.kind = TG_ARG_BOOL, .i = 1};

#endif
