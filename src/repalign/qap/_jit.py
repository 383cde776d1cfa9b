"""Compiled inner loops (numba) shared by the QAP solvers.

All work on the minimisation form ``Σ_ij A_ij B_p(i)p(j) + Σ_i L_i,p(i)``. The swap machinery
keeps ``Bp = B[p][:, p]`` and ``G = A Bpᵀ + Aᵀ Bp``; then the change of the objective when
the images of r and s are exchanged is, for every pair at once in O(1) each,

    Δ(r, s) = G_rs + G_sr - G_rr - G_ss
              - (A_rr - A_sr)(Bp_sr - Bp_rr) - (A_rs - A_ss)(Bp_ss - Bp_rs)     (j = r, s in the row sums)
              - (A_rr - A_rs)(Bp_rs - Bp_rr) - (A_sr - A_ss)(Bp_ss - Bp_sr)     (i = r, s in the column sums)
              + (A_rr - A_ss)(Bp_ss - Bp_rr) + (A_rs - A_sr)(Bp_sr - Bp_rs)     (the 2 x 2 block)
              + L_r,p(s) + L_s,p(r) - L_r,p(r) - L_s,p(s)

and a swap updates ``Bp`` and ``G`` in O(n²) (a rank-one change plus two recomputed
columns). The formula is tested against recomputing the objective.

When A and B are both symmetric (every GW, CKA and k-NN matching problem, most of QAPLIB) the
tabu search takes a fast path (:func:`_tabu_chunk_sym`): the state is M = G + Gᵀ, so every
read of a row's deltas is contiguous and vectorises, and a swap changes Bp by exactly
e ṽᵀ + ṽ eᵀ (e = e_r - e_s), so M's update is rank two plus a matrix-vector product. It walks
the same path as the general kernel (tested move by move) about five times faster per
iteration at n = 200.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from numba import njit, objmode, prange

from .._fork import kernel
from .._progress import announcing, step

INF = 1e300


@njit(cache=True)
def lap_duals(C):
    """Shortest augmenting path Hungarian method on a square cost matrix, minimising.

    Returns ``(cols, u, v, value)``: ``cols[i]`` the column of row i, potentials with
    ``C_ij - u_i - v_j >= 0`` (up to rounding) and equality on the assignment, and
    ``value = Σ_i C_i,cols[i]``.
    """
    n = C.shape[0]
    u = np.zeros(n + 1)
    v = np.zeros(n + 1)
    p = np.zeros(n + 1, np.int64)  # p[j] = row (1-based) assigned to column j
    way = np.zeros(n + 1, np.int64)
    minv = np.empty(n + 1)
    used = np.empty(n + 1, np.bool_)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        for j in range(n + 1):
            minv[j] = INF
            used[j] = False
        while True:
            used[j0] = True
            i0 = p[j0]
            delta = INF
            j1 = 0
            for j in range(1, n + 1):
                if not used[j]:
                    cur = C[i0 - 1, j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta = minv[j]
                        j1 = j
            for j in range(n + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    cols = np.empty(n, np.int64)
    for j in range(1, n + 1):
        cols[p[j] - 1] = j - 1
    value = 0.0
    for i in range(n):
        value += C[i, cols[i]]
    return cols, u[1:].copy(), v[1:].copy(), value


@njit(cache=True)
def objective(A, B, L, p):
    n = A.shape[0]
    s = 0.0
    for i in range(n):
        pi = p[i]
        s += L[i, pi]
        for j in range(n):
            s += A[i, j] * B[pi, p[j]]
    return s


@njit(cache=True)
def _gram_rows(A, Bp, BpT, G, i, k0):
    """Row ``i`` of ``G = A Bpᵀ + Aᵀ Bp``: add the terms k = k0, ..., n-1 in turn."""
    n = A.shape[0]
    Gi = G[i]
    for k in range(k0, n):
        a = A[i, k]
        b = A[k, i]
        Tk = BpT[k]
        Bk = Bp[k]
        for j in range(n):
            Gi[j] += a * Tk[j] + b * Bk[j]


@njit(cache=True)
def _gram_block(A, Bp, BpT, G, i0):
    """Rows i0, ..., i0 + 3 of ``G = A Bpᵀ + Aᵀ Bp`` (G zero there): 4 rows x 4 values of k per
    pass over j, then the last n % 4 values of k; each entry adds k = 0, 1, ... in turn."""
    n = A.shape[0]
    nk = n - n % 4
    G0, G1, G2, G3 = G[i0], G[i0 + 1], G[i0 + 2], G[i0 + 3]
    for k0 in range(0, nk, 4):
        T0, T1, T2, T3 = BpT[k0], BpT[k0 + 1], BpT[k0 + 2], BpT[k0 + 3]
        U0, U1, U2, U3 = Bp[k0], Bp[k0 + 1], Bp[k0 + 2], Bp[k0 + 3]
        a00, a01, a02, a03 = A[i0, k0], A[i0, k0 + 1], A[i0, k0 + 2], A[i0, k0 + 3]
        a10, a11, a12, a13 = A[i0 + 1, k0], A[i0 + 1, k0 + 1], A[i0 + 1, k0 + 2], A[i0 + 1, k0 + 3]
        a20, a21, a22, a23 = A[i0 + 2, k0], A[i0 + 2, k0 + 1], A[i0 + 2, k0 + 2], A[i0 + 2, k0 + 3]
        a30, a31, a32, a33 = A[i0 + 3, k0], A[i0 + 3, k0 + 1], A[i0 + 3, k0 + 2], A[i0 + 3, k0 + 3]
        b00, b01, b02, b03 = A[k0, i0], A[k0 + 1, i0], A[k0 + 2, i0], A[k0 + 3, i0]
        b10, b11, b12, b13 = A[k0, i0 + 1], A[k0 + 1, i0 + 1], A[k0 + 2, i0 + 1], A[k0 + 3, i0 + 1]
        b20, b21, b22, b23 = A[k0, i0 + 2], A[k0 + 1, i0 + 2], A[k0 + 2, i0 + 2], A[k0 + 3, i0 + 2]
        b30, b31, b32, b33 = A[k0, i0 + 3], A[k0 + 1, i0 + 3], A[k0 + 2, i0 + 3], A[k0 + 3, i0 + 3]
        for j in range(n):
            t0, t1, t2, t3 = T0[j], T1[j], T2[j], T3[j]
            u0, u1, u2, u3 = U0[j], U1[j], U2[j], U3[j]
            g = G0[j]
            g += a00 * t0 + b00 * u0
            g += a01 * t1 + b01 * u1
            g += a02 * t2 + b02 * u2
            g += a03 * t3 + b03 * u3
            G0[j] = g
            g = G1[j]
            g += a10 * t0 + b10 * u0
            g += a11 * t1 + b11 * u1
            g += a12 * t2 + b12 * u2
            g += a13 * t3 + b13 * u3
            G1[j] = g
            g = G2[j]
            g += a20 * t0 + b20 * u0
            g += a21 * t1 + b21 * u1
            g += a22 * t2 + b22 * u2
            g += a23 * t3 + b23 * u3
            G2[j] = g
            g = G3[j]
            g += a30 * t0 + b30 * u0
            g += a31 * t1 + b31 * u1
            g += a32 * t2 + b32 * u2
            g += a33 * t3 + b33 * u3
            G3[j] = g
    for i in range(i0, i0 + 4):
        _gram_rows(A, Bp, BpT, G, i, nk)


@njit(cache=True)
def _permuted(B, p):
    """``B[p][:, p]`` by loops (the states of :func:`init_state` and :func:`sym_state`)."""
    n = B.shape[0]
    Bp = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            Bp[i, j] = B[p[i], p[j]]
    return Bp


@njit(cache=True)
def init_state(A, B, p):
    """``Bp = B[p][:, p]`` and ``G = A Bpᵀ + Aᵀ Bp`` (n x n each).

    G by explicit loops, not BLAS: the same bits under any thread count (the trajectories of the
    searches, and so their answers, must not depend on it): every G[i, j] adds the terms
    k = 0, 1, ..., n-1 one after another, ``G += A[i,k] Bp[j,k] + A[k,i] Bp[k,j]``. The loops
    are arranged for speed without changing that order (:func:`_gram_block`: 4 rows of G x 4
    values of k per pass over j, reading rows of Bp and of a transposed copy, vectorised over j).
    Reading the column Bp[j, k] in the innermost loop made it 1.5-2.4 s at n = 1,000 (now 0.25 s;
    BLAS 0.03-0.06 s)."""
    n = A.shape[0]
    Bp = _permuted(B, p)
    BpT = np.ascontiguousarray(Bp.T)
    G = np.zeros((n, n))
    ni = n - n % 4
    for i0 in range(0, ni, 4):
        _gram_block(A, Bp, BpT, G, i0)
    for i in range(ni, n):
        _gram_rows(A, Bp, BpT, G, i, 0)  # the last n % 4 rows
    return Bp, G


@njit(cache=True)
def swap_delta(A, Bp, G, L, p, r, s):
    d = G[r, s] + G[s, r] - G[r, r] - G[s, s]
    d -= (A[r, r] - A[s, r]) * (Bp[s, r] - Bp[r, r]) + (A[r, s] - A[s, s]) * (Bp[s, s] - Bp[r, s])
    d -= (A[r, r] - A[r, s]) * (Bp[r, s] - Bp[r, r]) + (A[s, r] - A[s, s]) * (Bp[s, s] - Bp[s, r])
    d += (A[r, r] - A[s, s]) * (Bp[s, s] - Bp[r, r]) + (A[r, s] - A[s, r]) * (Bp[s, r] - Bp[r, s])
    d += L[r, p[s]] + L[s, p[r]] - L[r, p[r]] - L[s, p[s]]
    return d


@njit(cache=True)
def _swap_images(Bp, p, r, s):
    """Exchange p[r] and p[s], and rows and columns r, s of ``Bp = B[p][:, p]`` with them."""
    n = Bp.shape[0]
    for j in range(n):
        t = Bp[r, j]
        Bp[r, j] = Bp[s, j]
        Bp[s, j] = t
    for i in range(n):
        t = Bp[i, r]
        Bp[i, r] = Bp[i, s]
        Bp[i, s] = t
    t = p[r]
    p[r] = p[s]
    p[s] = t


@njit(cache=True)
def apply_swap(A, Bp, G, p, r, s):
    """Exchange p[r] and p[s], updating Bp and G in O(n²) (row-major loops throughout)."""
    n = A.shape[0]
    # G1 = A Bpᵀ: column j (j != r, s) gains (A[:, r] - A[:, s]) (Bp[j, s] - Bp[j, r]);
    # G2 = Aᵀ Bp: column j gains (A[r, :] - A[s, :])ᵀ (Bp[s, j] - Bp[r, j]).
    c1 = np.empty(n)
    c2 = np.empty(n)
    for j in range(n):
        c1[j] = Bp[j, s] - Bp[j, r]
        c2[j] = Bp[s, j] - Bp[r, j]
    c1[r] = 0.0
    c1[s] = 0.0
    c2[r] = 0.0
    c2[s] = 0.0
    for i in range(n):
        a1 = A[i, r] - A[i, s]
        a2 = A[r, i] - A[s, i]
        Gi = G[i]
        for j in range(n):
            Gi[j] += a1 * c1[j] + a2 * c2[j]
    _swap_images(Bp, p, r, s)
    # columns r and s of G from scratch: G[i, c] = Σ_k A[i, k] Bp[c, k] + A[k, i] Bp[k, c]
    for c in (r, s):
        bcol = np.empty(n)
        for k in range(n):
            bcol[k] = Bp[k, c]
        for i in range(n):
            G[i, c] = 0.0
        for k in range(n):
            b = bcol[k]
            for i in range(n):
                G[i, c] += A[k, i] * b
        for i in range(n):
            acc = 0.0
            for k in range(n):
                acc += A[i, k] * Bp[c, k]
            G[i, c] += acc


@njit(cache=True)
def two_opt(A, B, L, p, free, max_moves):
    """Best-improvement 2-opt from ``p`` (modified in place) over pairs of ``free`` nodes.
    Returns (objective, moves)."""
    Bp, G = init_state(A, B, p)
    return two_opt_from(A, B, L, p, free, max_moves, Bp, G)


@njit(cache=True)
def two_opt_from(A, B, L, p, free, max_moves, Bp, G):
    """:func:`two_opt` from a given state ``Bp, G = init_state(A, B, p)`` (updated in place)."""
    n = A.shape[0]
    moves = 0
    while moves < max_moves:
        best = -1e-12
        br = -1
        bs = -1
        for r in range(n):
            if not free[r]:
                continue
            for s in range(r + 1, n):
                if not free[s]:
                    continue
                d = swap_delta(A, Bp, G, L, p, r, s)
                if d < best:
                    best = d
                    br = r
                    bs = s
        if br < 0:
            break
        apply_swap(A, Bp, G, p, br, bs)
        moves += 1
        if moves % n == 0:  # guard against drift of the incremental G
            Bp, G = init_state(A, B, p)
    return objective(A, B, L, p), moves


@njit(cache=True)
def is_symmetric_pair(A, B):
    """Whether both A and B are exactly symmetric (then :func:`tabu_chunk` takes its fast path)."""
    n = A.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            if A[i, j] != A[j, i] or B[i, j] != B[j, i]:
                return False
    return True


@njit(cache=True)
def sym_state(A, B, p):
    """For symmetric A and B: ``Bp = B[p][:, p]`` and ``M = 2 (A Bp + Bp A)`` (= G + Gᵀ of the
    general state), by loops (no BLAS: the same bits under any thread count). Only M's upper
    triangle (diagonal included) is read afterwards."""
    n = A.shape[0]
    Bp = _permuted(B, p)
    H = np.zeros((n, n))
    for i in range(n):
        Hi = H[i]
        for k in range(n):
            a = A[i, k]
            Bk = Bp[k]
            for j in range(n):
                Hi[j] += a * Bk[j]
    M = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            M[i, j] = 2.0 * (H[i, j] + H[j, i])
    return Bp, M


@njit(cache=True)
def sym_swap_deltas(A, Bp, M, dM, dA, dBp, r, out):
    """``out[s]`` = Δ(r, s) for s > r (no linear term), A and B symmetric: with M = G + Gᵀ the
    general formula becomes, with a, b, c = A_rr, A_rs, A_ss and x, y, z = Bp_rr, Bp_rs, Bp_ss,

        Δ(r, s) = M_rs - (M_rr + M_ss) / 2 - 2 [(a - b)(y - x) + (b - c)(z - y)] + (a - c)(z - x),

    every read along row r or a diagonal (``dM``, ``dA``, ``dBp``: contiguous copies, so the loop
    vectorises)."""
    a = dA[r]
    x = dBp[r]
    hm = 0.5 * dM[r]
    # slices starting at r + 1 (rather than indexing from r + 1) let LLVM see unit strides
    Ar = A[r, r + 1:]
    Br = Bp[r, r + 1:]
    Mr = M[r, r + 1:]
    cs = dA[r + 1:]
    zs = dBp[r + 1:]
    ms = dM[r + 1:]
    o = out[r + 1:]
    for k in range(Ar.shape[0]):
        b = Ar[k]
        c = cs[k]
        y = Br[k]
        z = zs[k]
        o[k] = Mr[k] - hm - 0.5 * ms[k] - 2.0 * ((a - b) * (y - x) + (b - c) * (z - y)) + (a - c) * (z - x)
    return _min(o)


@njit(cache=True, fastmath=True)
def _min(x):
    """Smallest entry (fastmath lets the reduction vectorise; a minimum is exact in any order)."""
    lo = INF
    for k in range(x.shape[0]):
        lo = min(lo, x[k])
    return lo


@njit(cache=True)
def _upper_add(M, i, j, v):
    if i <= j:
        M[i, j] += v
    else:
        M[j, i] += v


@njit(cache=True)
def sym_apply_swap(A, Bp, M, dM, dBp, p, r, s, u, v, w):
    """Exchange p[r] and p[s] for symmetric A and B, updating Bp and M's upper triangle in
    about 4 n² flops. With e = e_r - e_s and ṽ_j = Bp_sj - Bp_rj (j ≠ r, s), ṽ_r = ṽ_s =
    (Bp_ss - Bp_rr) / 2, the change of Bp is exactly e ṽᵀ + ṽ eᵀ, so with u = A e and w = A ṽ

        M' = M + 2 (u ṽᵀ + ṽ uᵀ + w eᵀ + e wᵀ).

    ``u``, ``v``, ``w`` are scratch vectors of length n."""
    n = A.shape[0]
    half = 0.5 * (Bp[s, s] - Bp[r, r])
    Ar = A[r]
    As = A[s]
    Br = Bp[r]
    Bs = Bp[s]
    for j in range(n):
        u[j] = Ar[j] - As[j]
        v[j] = Bs[j] - Br[j]
    v[r] = half
    v[s] = half
    for i in range(n):
        Ai = A[i]
        acc = 0.0
        for k in range(n):
            acc += Ai[k] * v[k]
        w[i] = acc
    for i in range(n):
        ui = 2.0 * u[i]
        vi = 2.0 * v[i]
        Mi = M[i, i:]
        vt = v[i:]
        ut = u[i:]
        for k in range(Mi.shape[0]):
            Mi[k] += ui * vt[k] + vi * ut[k]
    for k in range(n):
        if k != r and k != s:
            _upper_add(M, k, r, 2.0 * w[k])
            _upper_add(M, k, s, -2.0 * w[k])
    M[r, r] += 4.0 * w[r]
    M[s, s] -= 4.0 * w[s]
    _upper_add(M, r, s, 2.0 * (w[s] - w[r]))
    _swap_images(Bp, p, r, s)
    t2 = dBp[r]
    dBp[r] = dBp[s]
    dBp[s] = t2
    for i in range(n):
        dM[i] = M[i, i]


@njit(cache=True)
def _tabu_chunk_sym(A, B, L, cur, best_p, tabu, it0, n_iter, best_obj, tenure_lo, tenure_hi, aspiration, seed):
    """:func:`tabu_chunk` for symmetric A and B: the same rules, with the state kept as
    M = G + Gᵀ (upper triangle), all swap deltas of a row computed in one vectorised pass, and
    the tabu tests made only for moves that could be chosen. Before the long-term aspiration
    can first fire (iteration > ``aspiration``) the chosen move is the best move overall when it
    gives a new best, else the best allowed move; from then on every move is tested as in the
    general kernel."""
    np.random.seed(seed)
    n = A.shape[0]
    has_L = False
    for i in range(n):
        for j in range(n):
            if L[i, j] != 0.0:
                has_L = True
    dA = np.empty(n)
    for i in range(n):
        dA[i] = A[i, i]
    tabuT = np.empty((n, n), np.int64)  # tabuT[loc, unit] = tabu[unit, loc]: row access for tabu[s, cur[r]]
    for i in range(n):
        for j in range(n):
            tabuT[j, i] = tabu[i, j]
    Bp, M = sym_state(A, B, cur)
    dBp = np.empty(n)
    dM = np.empty(n)
    for i in range(n):
        dBp[i] = Bp[i, i]
        dM[i] = M[i, i]
    D = np.empty(n)
    u = np.empty(n)
    v = np.empty(n)
    w = np.empty(n)
    cur_obj = objective(A, B, L, cur)
    for it in range(it0, it0 + n_iter):
        tol = 1e-9 * (1.0 + abs(best_obj))
        dthr = best_obj - tol - cur_obj  # a move with d < dthr gives a new best (aspired)
        age = it - aspiration  # a move is aspired by age when both tabu entries are < age
        gmin = INF
        gr = -1
        gs = -1
        amin = INF
        ar = -1
        as_ = -1
        br = -1
        bs = -1
        bd = INF
        already = False
        for r in range(n - 1):
            row_min = sym_swap_deltas(A, Bp, M, dM, dA, dBp, r, D)
            if has_L:
                Lr = L[r]
                pr = cur[r]
                base = Lr[pr]
                row_min = INF
                for s in range(r + 1, n):
                    D[s] += Lr[cur[s]] + L[s, pr] - base - L[s, cur[s]]
                    row_min = min(row_min, D[s])
            trow = tabu[r]
            tcol = tabuT[cur[r]]
            if age <= 0:
                if row_min >= amin:  # no move of this row can be chosen
                    continue
                for s in range(r + 1, n):
                    d = D[s]
                    if d < amin:
                        if d < gmin:
                            gmin = d
                            gr = r
                            gs = s
                        if trow[cur[s]] < it or tcol[s] < it:
                            amin = d
                            ar = r
                            as_ = s
            else:
                for s in range(r + 1, n):
                    d = D[s]
                    t_rs = trow[cur[s]]
                    t_sr = tcol[s]
                    allowed = (t_rs < it) or (t_sr < it)
                    aspired = ((t_rs < age) and (t_sr < age)) or (d < dthr)
                    if (aspired and not already) or (aspired and already and d < bd) \
                            or (not aspired and not already and allowed and d < bd):
                        br = r
                        bs = s
                        bd = d
                        if aspired:
                            already = True
        if age <= 0:
            if gmin < dthr:
                br, bs, bd = gr, gs, gmin
            else:
                br, bs, bd = ar, as_, amin
        if br < 0:
            continue
        t_r = it + tenure_lo + np.random.randint(0, tenure_hi - tenure_lo + 1)
        t_s = it + tenure_lo + np.random.randint(0, tenure_hi - tenure_lo + 1)
        tabu[br, cur[br]] = t_r
        tabuT[cur[br], br] = t_r
        tabu[bs, cur[bs]] = t_s
        tabuT[cur[bs], bs] = t_s
        sym_apply_swap(A, Bp, M, dM, dBp, cur, br, bs, u, v, w)
        cur_obj += bd
        if cur_obj < best_obj - tol:
            cur_obj = objective(A, B, L, cur)  # exact, no drift in the incumbent
            if cur_obj < best_obj:
                best_obj = cur_obj
                best_p[:] = cur
        if (it - it0 + 1) % (4 * n) == 0:
            Bp, M = sym_state(A, B, cur)
            for i in range(n):
                dBp[i] = Bp[i, i]
                dM[i] = M[i, i]
            cur_obj = objective(A, B, L, cur)
    return best_obj, cur_obj


@njit(cache=True)
def tabu_chunk(A, B, L, cur, best_p, tabu, it0, n_iter, best_obj, tenure_lo, tenure_hi, aspiration, seed):
    """``n_iter`` iterations of robust tabu search (Taillard 1991) continuing from state
    ``(cur, tabu, it0)``; ``cur``, ``best_p``, ``tabu`` are updated in place.

    ``tabu[i, loc]``: the iteration until which unit i may not return to location loc. A move
    (r, s) is allowed unless both units would return to such locations; a move is *aspired*
    when it gives a new best or when both units have been away from the target locations
    for more than ``aspiration`` iterations (long-term diversification); aspired moves take
    priority, then the best allowed move. Tenures are drawn in [tenure_lo, tenure_hi].
    Returns ``(best_obj, current_obj)``.
    """
    if is_symmetric_pair(A, B):
        return _tabu_chunk_sym(A, B, L, cur, best_p, tabu, it0, n_iter, best_obj, tenure_lo, tenure_hi,
                               aspiration, seed)
    return _tabu_chunk_general(A, B, L, cur, best_p, tabu, it0, n_iter, best_obj, tenure_lo, tenure_hi,
                               aspiration, seed)


@njit(cache=True)
def _tabu_chunk_general(A, B, L, cur, best_p, tabu, it0, n_iter, best_obj, tenure_lo, tenure_hi, aspiration, seed):
    """:func:`tabu_chunk` for any A and B (the reference the symmetric kernel is tested against)."""
    np.random.seed(seed)
    n = A.shape[0]
    Bp, G = init_state(A, B, cur)
    cur_obj = objective(A, B, L, cur)
    for it in range(it0, it0 + n_iter):
        br = -1
        bs = -1
        bd = INF
        already = False
        for r in range(n - 1):
            for s in range(r + 1, n):
                d = swap_delta(A, Bp, G, L, cur, r, s)
                t_rs = tabu[r, cur[s]]
                t_sr = tabu[s, cur[r]]
                allowed = (t_rs < it) or (t_sr < it)
                aspired = ((t_rs < it - aspiration) and (t_sr < it - aspiration)) \
                    or (cur_obj + d < best_obj - 1e-9 * (1.0 + abs(best_obj)))
                if (aspired and not already) or (aspired and already and d < bd) \
                        or (not aspired and not already and allowed and d < bd):
                    br = r
                    bs = s
                    bd = d
                    if aspired:
                        already = True
        if br < 0:
            continue
        tabu[br, cur[br]] = it + tenure_lo + np.random.randint(0, tenure_hi - tenure_lo + 1)
        tabu[bs, cur[bs]] = it + tenure_lo + np.random.randint(0, tenure_hi - tenure_lo + 1)
        apply_swap(A, Bp, G, cur, br, bs)
        cur_obj += bd
        if cur_obj < best_obj - 1e-9 * (1.0 + abs(best_obj)):
            cur_obj = objective(A, B, L, cur)  # exact, no drift in the incumbent
            if cur_obj < best_obj:
                best_obj = cur_obj
                best_p[:] = cur
        if (it - it0 + 1) % (4 * n) == 0:
            Bp, G = init_state(A, B, cur)
            cur_obj = objective(A, B, L, cur)
    return best_obj, cur_obj


@njit(cache=True, parallel=True)
def tabu_restarts(A, B, L, starts, length, tenure_lo, tenure_hi, aspiration, seeds):
    """Independent robust tabu runs of ``length`` iterations, one per row of ``starts``
    (R, n), in parallel over the rows. Run r seeds numba's generator with ``seeds[r]`` when it
    starts and keeps its own tabu matrix, so its result does not depend on the thread count or
    on which thread runs it. Returns ``(objectives (R,), permutations (R, n))``, the best of
    each run."""
    R, n = starts.shape
    objs = np.empty(R)
    perms = np.empty((R, n), np.int64)
    for r in prange(R):
        cur = starts[r].copy()
        best_p = cur.copy()
        tabu = np.zeros((n, n), np.int64)
        best = objective(A, B, L, cur)
        best, _ = tabu_chunk(A, B, L, cur, best_p, tabu, 1, length, best, tenure_lo, tenure_hi, aspiration,
                             seeds[r])
        objs[r] = best
        perms[r] = best_p
    return objs, perms


@njit(cache=True)
def _block_costs(A, B, U, V, i, j, S):
    """Current reparametrised costs of block (i, j): ``S[k', l'] = c_ijkl`` over k != i,
    l != j, with ``c_ijkl = ½(A_ik B_jl + A_ki B_lj) - ½(U_ijk + V_ijl + U_kli + V_klj)``."""
    n = A.shape[0]
    kk = 0
    for k in range(n):
        if k == i:
            continue
        a1 = A[i, k]
        a2 = A[k, i]
        uk = U[i, j, k]
        ll = 0
        for l in range(n):  # noqa: E741
            if l == j:
                continue
            S[kk, ll] = 0.5 * (a1 * B[j, l] + a2 * B[l, j]) - 0.5 * (uk + V[i, j, l] + U[k, l, i] + V[k, l, j])
            ll += 1
        kk += 1


@njit(cache=True)
def _leader(A, B, L, U, V, out):
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            acc = A[i, i] * B[j, j] + L[i, j]
            for k in range(n):
                if k != i:
                    acc += U[i, j, k]
                if k != j:
                    acc += V[i, j, k]
            out[i, j] = acc


@njit(cache=True)
def _now():
    with objmode(t="float64"):
        t = time.perf_counter()
    return t


@njit(cache=True)
def hahn_grant_rounds(A, B, L, U, V, n_rounds, best_perm, best_obj, stop_slack, deadline):
    """``n_rounds`` of Hahn-Grant dual ascent on the level-1 RLT dual, factorised.

    The reparametrisation is held in O(n³): row duals ``U[i, j, k]`` and column duals
    ``V[i, j, l]`` of every block (i, j) (the costs ``c_ijkl`` are recomputed from A, B, U,
    V when needed, never stored: O(n³) memory instead of O(n⁴)). For every permutation p,
    ``Σ_i Lead_i,p(i) + Σ_{i≠k} c_i,p(i),k,p(k)`` equals the objective exactly (the duals
    cancel), so ``LB = LAP(Lead + m)`` with ``m_ij`` = the LAP value of block (i, j) is a
    lower bound for *any* U, V. Each round: solve every block LAP; take the bound and the
    leader assignment (a primal candidate); move the block duals into the leader (each
    complementary pair ``c_ijkl``, ``c_klij`` shares the reduction equally); solve the leader
    LAP and spread its reduced costs back over the rows of each block. After the first round
    all block costs stay non-negative, so the bound never decreases.

    ``best_perm``/``best_obj``: incumbent, updated in place (returned objective). Stops early
    once ``best_lb >= best_obj - stop_slack`` (optimality proven). The clock
    (``time.perf_counter``) is read after every row of block LAPs; past ``deadline`` the round
    is abandoned before U, V change (they stay a consistent dual), so a time limit holds to
    about one row of blocks (n LAPs of size n - 1), not a whole round (n² of them).
    Returns ``(best_lb, best_obj, lb_history)``.
    """
    n = A.shape[0]
    S = np.empty((n - 1, n - 1))
    dU = np.zeros((n, n, n))
    dV = np.zeros((n, n, n))
    M = np.empty((n, n))
    lead = np.empty((n, n))
    hist = np.empty(n_rounds)
    best_lb = -INF
    for rnd in range(n_rounds):
        for i in range(n):
            if _now() > deadline:
                return best_lb, best_obj, hist[:rnd]
            for j in range(n):
                _block_costs(A, B, U, V, i, j, S)
                cols, u, v, val = lap_duals(S)
                M[i, j] = val
                kk = 0
                for k in range(n):
                    if k != i:
                        dU[i, j, k] = u[kk]
                        kk += 1
                ll = 0
                for l in range(n):  # noqa: E741
                    if l != j:
                        dV[i, j, l] = v[ll]
                        ll += 1
        _leader(A, B, L, U, V, lead)
        lead += M
        cols, mu, nu, lb = lap_duals(lead)
        hist[rnd] = lb
        if lb > best_lb:
            best_lb = lb
        obj = objective(A, B, L, cols)
        if obj < best_obj:
            best_obj = obj
            best_perm[:] = cols
        if best_lb >= best_obj - stop_slack:
            return best_lb, best_obj, hist[: rnd + 1]
        U += dU
        V += dV
        _leader(A, B, L, U, V, lead)
        cols, mu, nu, val = lap_duals(lead)
        for i in range(n):
            for j in range(n):
                red = lead[i, j] - mu[i] - nu[j]
                if red > 0.0:
                    share = red / (n - 1)
                    for k in range(n):
                        if k != i:
                            U[i, j, k] -= share
    return best_lb, best_obj, hist


@njit(cache=True)
def exhaustive(A, B, L):
    """Minimum of the objective over all n! permutations (Heap's algorithm, iterative).
    Returns (best_value, best_perm)."""
    n = A.shape[0]
    p = np.arange(n)
    c = np.zeros(n, np.int64)
    best = objective(A, B, L, p)
    best_p = p.copy()
    i = 1
    while i < n:
        if c[i] < i:
            if i % 2 == 0:
                t = p[0]
                p[0] = p[i]
                p[i] = t
            else:
                t = p[c[i]]
                p[c[i]] = p[i]
                p[i] = t
            val = objective(A, B, L, p)
            if val < best:
                best = val
                best_p[:] = p
            c[i] += 1
            i = 1
        else:
            c[i] = 0
            i += 1
    return best, best_p


_COMPILED = False


def _cache_is_warm() -> bool:
    """Whether numba's on-disk cache holds an index for every compiled function here."""

    folder = Path(__file__).parent / "__pycache__"
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    funcs = (lap_duals, objective, init_state, swap_delta, apply_swap, two_opt, tabu_chunk, _tabu_chunk_sym,
             _tabu_chunk_general, tabu_restarts, hahn_grant_rounds, exhaustive)
    return all((folder / f"{Path(__file__).stem}.{f.py_func.__name__}-{f.py_func.__code__.co_firstlineno}.{tag}.nbi")
               .exists() for f in funcs)


def ensure_compiled() -> None:
    """Compile (or load from numba's cache) every kernel once per process on a tiny problem,
    so that solver time limits measure solving, not compilation (a cold compile takes ~15 s;
    the CLI says so when it happens)."""
    global _COMPILED
    if _COMPILED:
        return
    with step("compiling the QAP kernels (first use only, cached afterwards; ~20 s)",
              enabled=announcing() and not _cache_is_warm()):
        _compile_all()
    _COMPILED = True


def _compile_all() -> None:
    A = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]])
    L = np.zeros((3, 3))
    p = np.arange(3)
    lap_duals(A)
    Bp, G = init_state(A, A, p)
    swap_delta(A, Bp, G, L, p, 0, 1)
    apply_swap(A, Bp, G, p.copy(), 0, 1)
    two_opt(A, A, L, p.copy(), np.ones(3, np.bool_), 10)
    tabu_chunk(A, A, L, p.copy(), p.copy(), np.zeros((3, 3), np.int64), 1, 2, 1e300, 1, 2, 50, 0)
    tabu_chunk(A, A + np.triu(np.ones((3, 3)), 1), L, p.copy(), p.copy(), np.zeros((3, 3), np.int64), 1, 2, 1e300,
               1, 2, 50, 0)  # the general path too (an asymmetric B)
    kernel(tabu_restarts)(A, A, L, np.stack([p, p]), 2, 1, 2, 50, np.arange(2))  # serial twin in a fork
    hahn_grant_rounds(A, A, L, np.zeros((3, 3, 3)), np.zeros((3, 3, 3)), 1, p.copy(), 1e300, 0.0, 1e300)
    exhaustive(A, A, L)
