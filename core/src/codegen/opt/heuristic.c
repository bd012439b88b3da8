/* codegen/opt/heuristic.c -- tinygrad 0.14.0's codegen/opt/heuristic.py: hand_coded_optimizations, the parts that
** apply to a device from its caps: tensor cores first (OptOps.TC when the caps declare them; then M and N upcast and N
** made local, and the heuristic ends), masked upcasts, stride-driven upcasts, reduce unrolls, the float4 upcast, and
** THREAD splitting on has_threads devices, LOCAL groups on devices with locals. IMAGE is not ported. On a device with
** locals and shared memory: the matvec opts (MV: GROUP the reduce over 8 threads, LOCAL and UPCAST an output axis by 4)
** and GROUPTOP (a reduce split over 16 threads through shared memory when the output is small), which end the heuristic. */
#include "codegen/opt/opt.h"
#include "uop/symbolic.h"

#include <stdlib.h>
#include <string.h>

typedef struct kview { cg_list rngs; int64_t shape[64]; int type[64]; int n; } kview;

static int view(cg_sched *k, kview *v) {
  v->rngs.n = 0;
  if (cg_sched_rngs(k, &v->rngs)) return -1;
  v->n = (int)v->rngs.n;
  for (int i = 0; i < v->n && i < 64; i++) {
    tg_uop *e = v->rngs.v[i]->src[0];
    v->shape[i] = e->op == TG_OP_CONST ? cg_cval(e, -1) : -1; /* -1: symbolic */
    v->type[i] = cg_range_type(v->rngs.v[i]);
  }
  return 0;
}

static int is_upcastable(kview *v, int i) {
  int t = v->type[i];
  return (t == CG_AX_GLOBAL || t == CG_AX_LOCAL || t == CG_AX_WEAK) && v->shape[i] > 1;
}
static int is_unrollable(kview *v, int i) { return (v->type[i] == CG_AX_GROUP_REDUCE || v->type[i] == CG_AX_REDUCE) && v->shape[i] > 1; }
static int64_t upcast_size(kview *v) {
  int64_t p = 1;
  for (int i = 0; i < v->n; i++)
    if (v->type[i] == CG_AX_UPCAST || v->type[i] == CG_AX_UNROLL) p *= v->shape[i];
  return p;
}
static int64_t out_prod_upcastable(kview *v) { /* prod(output_shape[i] for i in upcastable_dims) */
  int64_t p = 1;
  for (int i = 0; i < v->n; i++)
    if (is_upcastable(v, i)) p *= v->shape[i];
  return p;
}

/* b.src[1].get_idx() */
static tg_uop *get_idx(tg_uop *idx) {
  tg_uop *x = idx->src[1];
  return x->op == TG_OP_WHERE && cg_is_invalid(x->src[2]) ? x->src[1] : x;
}

static int in_slice_excl(tg_uop *root, tg_uop *x) { /* x in root.backward_slice (root itself excluded) */
  if (root == x) return 0;
  return cg_in_backward_slice(root, x);
}

/* the INDEX nodes of the AST, reversed toposort (Scheduler.bufs) */
static int bufs_of(cg_sched *k, cg_list *out) {
  cg_list t = {0};
  if (cg_toposort(k->ast, &t)) return -1;
  for (size_t i = t.n; i-- > 0;)
    if (t.v[i]->op == TG_OP_INDEX && cg_list_push(out, t.v[i])) { cg_list_free(&t); return -1; }
  cg_list_free(&t);
  return 0;
}

typedef struct choice { int64_t num, sum; int axis; int64_t amt; } choice;
static int choice_lt(const choice *a, const choice *b) {
  if (a->num != b->num) return a->num < b->num;
  if (a->sum != b->sum) return a->sum < b->sum;
  if (a->axis != b->axis) return a->axis < b->axis;
  return a->amt < b->amt;
}

#define TRY(call) do { int r_ = (call); if (r_ < 0) goto fail; } while (0)

/* getenv(name, dflt) as an int */
static int64_t env_int(const char *name, int64_t dflt) {
  const char *e = getenv(name);
  return e && *e ? strtoll(e, NULL, 10) : dflt;
}

/* the MV branch: 1 when the matvec opts were applied (the heuristic ends), 0 when it does not apply, -1 on error */
static int try_matvec(cg_sched *k, kview *v) {
  int64_t bs = env_int("MV_BLOCKSIZE", 4), tpr = env_int("MV_THREADS_PER_ROW", 8), rpt = env_int("MV_ROWS_PER_THREAD", 4);
  if (!k->ren->has_local || env_int("MV", 1) == 0 || !(bs > 1 || tpr > 1 || rpt > 1) || v->n < 2 || !k->ren->has_shared) return 0;
  tg_uop *red = cg_sched_reduceop(k);
  const tg_arg *rop = red ? cg_tuple_item(&red->arg, 0) : NULL;
  if (!rop || rop->i != TG_OP_ADD) return 0;
  tg_uop *mul = red->src[0];
  if (mul->op != TG_OP_MUL || mul->src[0]->op != TG_OP_INDEX || mul->src[1]->op != TG_OP_INDEX) return 0;
  tg_uop *idx0 = get_idx(mul->src[0]), *idx1 = get_idx(mul->src[1]), *first = NULL;
  for (int a = 0; a < v->n && !first; a++)
    if (v->type[a] == CG_AX_REDUCE) first = v->rngs.v[a];
  if (!first) return 0;
  size_t nt = 0;
  tg_uop **terms = tg_uop_split(idx0, TG_OP_ADD, &nt);
  if (!terms) return -1;
  int in_terms = 0;
  for (size_t i = 0; i < nt; i++) in_terms |= terms[i] == first;
  free(terms);
  if (!in_terms) return 0;
  const cg_list *r0 = cg_ranges(idx0), *r1 = cg_ranges(idx1);
  if (!r0 || !r1) return -1;
  for (size_t i = 0; i < r0->n; i++)
    if (!cg_list_has(r1, r0->v[i])) return 0;
  for (int g = 0; g < v->n; g++) {
    if (v->type[g] != CG_AX_GLOBAL) continue;
    int err = 0;
    tg_uop *d = tg_uop_divides(first->src[0], tpr, &err);
    if (err) return -1;
    tg_uop_release(d);
    if (!d || v->shape[g] < 0 || v->shape[g] % (bs * rpt) != 0) continue;
    if (tpr > 1 && cg_sched_apply_opt(k, CG_OPT_GROUP, 0, tpr) < 0) return -1;
    if (bs > 1 && cg_sched_apply_opt(k, CG_OPT_LOCAL, g, bs) < 0) return -1;
    if (rpt > 1 && cg_sched_apply_opt(k, CG_OPT_UPCAST, g, rpt) < 0) return -1;
    return 1;
  }
  return 0;
}

/* the first REDUCE-free divisor of sizes in szs of r's size, or 0 */
static int64_t first_divisor(tg_uop *r, const int *szs, int n, int *err) {
  for (int i = 0; i < n; i++) {
    tg_uop *d = tg_uop_divides(r->src[0], szs[i], err);
    if (*err) return 0;
    tg_uop_release(d);
    if (d) return szs[i];
  }
  return 0;
}

static int rng_index(cg_sched *k, tg_uop *r) {
  cg_list l = {0};
  if (cg_sched_rngs(k, &l)) return -1;
  long at = cg_list_find(&l, r);
  cg_list_free(&l);
  return (int)at;
}

/* tensor cores first (USE_TC, TC_SELECT, TC_OPT as tinygrad's TC, TC_SELECT, TC_OPT): on a TC, upcast M and N and
** local N, and the heuristic ends. 1 applied, 0 not, -1 error. */
static int try_tensor_cores(cg_sched *k, kview *v) {
  int64_t use_tc = env_int("TC", 1), tc_select = env_int("TC_SELECT", -1), tc_opt = env_int("TC_OPT", 0);
  int nred = 0;
  for (int a = 0; a < v->n; a++) nred += v->type[a] == CG_AX_GROUP_REDUCE || v->type[a] == CG_AX_REDUCE;
  if (!(use_tc > 0 && (nred == 1 || tc_opt >= 1)) || !k->ren->n_tcs) return 0;
  for (int axis = 0; axis < 3; axis++) {
    cg_sched tk;
    if (cg_sched_copy(k, &tk)) return -1;
    tg_uop *rngs[3] = {0};
    int r = cg_sched_apply_tc(&tk, axis, (int)tc_select, (int)tc_opt, (int)use_tc, rngs);
    if (r) {
      cg_sched_free(&tk);
      if (r < 0) return -1;
      continue;
    }
    int err = 0;
    static const int up[] = {5, 4, 3, 2}, loc[] = {4, 2};
    for (int d = 1; d >= 0 && !err; d--) {
      int64_t sz = first_divisor(rngs[d], up, 4, &err);
      if (!sz || err) continue;
      int at = rng_index(&tk, rngs[d]);
      if (at < 0) { err = 1; break; }
      int ar = cg_sched_apply_opt(&tk, CG_OPT_UPCAST, at, sz);
      if (ar < 0) err = 1;
      else if (ar == 0) {
        tg_uop_release(rngs[d]);
        rngs[d] = tg_uop_retain(tk.last_rep);
      }
    }
    int64_t sz = err ? 0 : first_divisor(rngs[0], loc, 2, &err);
    if (sz && !err) {
      int at = rng_index(&tk, rngs[0]);
      if (at < 0 || cg_sched_apply_opt(&tk, CG_OPT_LOCAL, at, sz) < 0) err = 1;
    }
    for (int i = 0; i < 3; i++) tg_uop_release(rngs[i]);
    if (err) { cg_sched_free(&tk); return -1; }
    cg_sched_free(k);
    *k = tk;
    return 1;
  }
  return 0;
}

int cg_hand_coded_optimizations(cg_sched *k) {
  kview v = {0};
  cg_list bufs = {0}, topo = {0}, gates = {0};
  if (view(k, &v)) goto fail;
  {
    int tcr = try_tensor_cores(k, &v);
    if (tcr < 0) goto fail;
    if (tcr) goto done;
  }
  /* IMAGE: not ported */
  int mv = try_matvec(k, &v);
  if (mv < 0) goto fail;
  if (mv) goto done;
  /* grouping: a small output splits its reduce over 16 threads (GROUPTOP), and then nothing else is applied */
  if (out_prod_upcastable(&v) <= (env_int("NOLOCALS", 0) ? 240 : 2048)) {
    for (int axis = 0; axis < 3; axis++) {
      int r = cg_sched_apply_opt(k, CG_OPT_GROUPTOP, axis, 16);
      if (r < 0) goto fail;
      if (r == 0) break;
    }
  }
  if (view(k, &v)) goto fail;
  for (int a = 0; a < v.n; a++)
    if (v.type[a] == CG_AX_GROUP_REDUCE) goto done;
  /* masked small axes (Tensor.stack): upcast them whole */
  if (cg_toposort(k->ast, &topo)) goto fail;
  for (size_t i = 0; i < topo.n; i++) {
    if (topo.v[i] == k->ast || topo.v[i]->op != TG_OP_WHERE) continue;
    const cg_list *r = cg_ranges(topo.v[i]->src[0]);
    if (!r) goto fail;
    for (size_t j = 0; j < r->n; j++)
      if (cg_list_add(&gates, r->v[j])) goto fail;
  }
  int to_upcast[64], nup = 0;
  int64_t up_prod = 1;
  for (int a = 0; a < v.n; a++) {
    if (!is_upcastable(&v, a)) continue;
    if (v.shape[a] <= 7 && cg_list_has(&gates, v.rngs.v[a]) && up_prod * v.shape[a] <= 49) to_upcast[nup++] = a, up_prod *= v.shape[a];
  }
  for (int i = nup - 1; i >= 0; i--) TRY(cg_sched_apply_opt(k, CG_OPT_UPCAST, to_upcast[i], 0));
  /* more upcasts of non-reduce axes, chosen by how the buffers stride over them */
  int upcasted[64], nupd = 0;
  for (;;) {
    if (view(k, &v)) goto fail;
    if (!(out_prod_upcastable(&v) >= 1024 && upcast_size(&v) < 32)) break;
    bufs.n = 0;
    if (bufs_of(k, &bufs)) goto fail;
    choice best = {0};
    int have = 0;
    for (int a = 0; a < v.n; a++) {
      if (!is_upcastable(&v, a)) continue;
      static const int amts[] = {3, 4};
      for (int ai = 0; ai < 2; ai++) {
        int64_t amt = amts[ai];
        int done = 0;
        for (int q = 0; q < nupd; q++) done |= upcasted[q] == a;
        if (done || v.shape[a] % amt != 0) continue;
        tg_uop *rng = v.rngs.v[a];
        int any = 0;
        for (size_t bi = 0; bi < bufs.n && !any; bi++) {
          tg_uop *idx = get_idx(bufs.v[bi]);
          int in = in_slice_excl(idx, rng);
          if (in < 0) goto fail;
          if (in) continue;
          int all = 1;
          for (int q = 0; q < v.n && all; q++) {
            if (v.type[q] != CG_AX_UPCAST && v.type[q] != CG_AX_UNROLL) continue;
            int r2 = in_slice_excl(idx, v.rngs.v[q]);
            if (r2 < 0) goto fail;
            all = r2;
          }
          any = all;
        }
        if (!any) continue;
        choice c = {0, 0, a, amt};
        for (size_t bi = 0; bi < bufs.n; bi++) {
          tg_uop *idx = get_idx(bufs.v[bi]);
          int in = in_slice_excl(idx, rng);
          if (in < 0) goto fail;
          c.num += in;
          size_t nt = 0;
          tg_uop **terms = tg_uop_split(idx, TG_OP_ADD, &nt);
          if (!terms) goto fail;
          for (size_t ti = 0; ti < nt; ti++) {
            tg_uop *t = terms[ti];
            if (t == rng) c.sum += 1;
            if (t->op == TG_OP_MUL && t->src[0] == rng && t->src[1]->op == TG_OP_CONST) c.sum += cg_cval(t->src[1], 0);
            if (t->op == TG_OP_MUL && t->src[1] == rng && t->src[0]->op == TG_OP_CONST) c.sum += cg_cval(t->src[0], 0);
          }
          free(terms);
        }
        if (!have || choice_lt(&c, &best)) best = c, have = 1;
      }
    }
    if (!have) break;
    TRY(cg_sched_apply_opt(k, CG_OPT_UPCAST, best.axis, best.amt));
    upcasted[nupd++] = best.axis;
  }
  /* unroll a small last reduce (and a second tiny one) */
  if (view(k, &v)) goto fail;
  {
    int unr[64], nu = 0, has_unroll = 0;
    for (int a = 0; a < v.n; a++) {
      if (is_unrollable(&v, a)) unr[nu++] = a;
      has_unroll |= v.type[a] == CG_AX_UNROLL;
    }
    if (nu && (upcast_size(&v) <= 4 || !has_unroll) && upcast_size(&v) < 64) {
      int64_t s = v.shape[unr[nu - 1]];
      if (s <= 32) {
        int r = cg_sched_apply_opt(k, CG_OPT_UNROLL, nu - 1, 0);
        if (r < 0) goto fail;
        if (r == 0) {
          if (view(k, &v)) goto fail;
          nu = 0;
          for (int a = 0; a < v.n; a++)
            if (is_unrollable(&v, a)) unr[nu++] = a;
          if (nu && s <= 3 && v.shape[unr[nu - 1]] <= 3) TRY(cg_sched_apply_opt(k, CG_OPT_UNROLL, nu - 1, 0));
        }
      } else if (v.shape[unr[nu - 1]] % 4 == 0) TRY(cg_sched_apply_opt(k, CG_OPT_UNROLL, nu - 1, 4));
    }
  }
  /* nothing upcasted yet: upcast the last upcastable axis by 4 */
  if (view(k, &v)) goto fail;
  {
    int upc = 0, last = -1;
    for (int a = 0; a < v.n; a++) {
      upc |= v.type[a] == CG_AX_UPCAST || v.type[a] == CG_AX_UNROLL;
      if (is_upcastable(&v, a)) last = a;
    }
    if (!upc && last >= 0 && v.shape[last] % 4 == 0) TRY(cg_sched_apply_opt(k, CG_OPT_UPCAST, last, 4));
  }
  /* local groups: expand axes (a buffer that does not index them) first, then by axis, at most 128 work items */
  if (k->ren->has_local) {
    if (view(k, &v)) goto fail;
    bufs.n = 0;
    if (bufs_of(k, &bufs)) goto fail;
    int cand[64], rank[64], nc = 0;
    for (int a = 0; a < v.n; a++) {
      if ((v.type[a] != CG_AX_GLOBAL && v.type[a] != CG_AX_WEAK) || v.rngs.v[a]->src[0]->op != TG_OP_CONST) continue;
      int expand = 0;
      for (size_t bi = 0; bi < bufs.n && !expand; bi++) {
        int in = in_slice_excl(get_idx(bufs.v[bi]), v.rngs.v[a]);
        if (in < 0) goto fail;
        expand = !in;
      }
      cand[nc] = a, rank[nc++] = expand;
    }
    for (int i = 1; i < nc; i++) /* sorted by (-expand, -axis) */
      for (int j = i; j > 0 && (rank[j] > rank[j - 1] || (rank[j] == rank[j - 1] && cand[j] > cand[j - 1])); j--) {
        int t = cand[j]; cand[j] = cand[j - 1]; cand[j - 1] = t;
        t = rank[j]; rank[j] = rank[j - 1]; rank[j - 1] = t;
      }
    int lax[64], lsz[64], nl = 0;
    for (int i = 0; i < nc; i++) {
      int64_t have = 1;
      for (int q = 0; q < nl; q++) have *= lsz[q];
      static const int szs[] = {32, 16, 8, 4, 3, 2};
      for (int si = cand[i] == 0 ? 0 : 1; si < 6; si++)
        if (v.shape[cand[i]] % szs[si] == 0 && have * szs[si] <= 128) { lax[nl] = cand[i], lsz[nl++] = szs[si]; break; }
    }
    if (nl > 3) nl = 3;
    for (int i = 1; i < nl; i++) /* sorted(to_local[:3]) */
      for (int j = i; j > 0 && (lax[j] < lax[j - 1] || (lax[j] == lax[j - 1] && lsz[j] < lsz[j - 1])); j--) {
        int t = lax[j]; lax[j] = lax[j - 1]; lax[j - 1] = t;
        t = lsz[j]; lsz[j] = lsz[j - 1]; lsz[j - 1] = t;
      }
    int deleted = 0;
    for (int i = 0; i < nl; i++) {
      int axis = lax[i] - deleted;
      if (view(k, &v)) goto fail;
      int will_delete = axis < v.n && lsz[i] == v.shape[axis];
      TRY(cg_sched_apply_opt(k, CG_OPT_LOCAL, axis, lsz[i]));
      if (will_delete) deleted++;
    }
  }
  /* threads: about 128K ops per thread */
  if (k->ren->has_threads) {
    static const int threads[] = {32, 16, 12, 8, 6, 5, 4, 3, 2};
    for (int ti = 0; ti < 9; ti++) {
      if (view(k, &v)) goto fail;
      int64_t prod = 1;
      for (int a = 0; a < v.n; a++) prod *= v.shape[a];
      if (threads[ti] > k->ren->global_max[0] || prod / (128 << 10) < threads[ti]) continue;
      for (int a = 0; a < v.n; a++) {
        if (v.type[a] != CG_AX_WEAK) continue;
        if (v.shape[a] % threads[ti] == 0) TRY(cg_sched_apply_opt(k, CG_OPT_THREAD, a, threads[ti]));
        break;
      }
      if (k->nopts && cg_arg_int(cg_tuple_item(&k->opts[k->nopts - 1], 1), 0) == CG_OPT_THREAD) break;
    }
  }
done:
  cg_list_free(&v.rngs), cg_list_free(&bufs), cg_list_free(&topo), cg_list_free(&gates);
  return 0;
fail:
  cg_list_free(&v.rngs), cg_list_free(&bufs), cg_list_free(&topo), cg_list_free(&gates);
  return -1;
}
