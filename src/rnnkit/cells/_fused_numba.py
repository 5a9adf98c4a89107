"""numba kernels of ``rnnkit.cells.fused`` (imported only when numba is installed)."""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

from .fused import _TANH_CLAMP, _TANH_P, _TANH_Q, PANEL

p0, p1, p2, p3, p4, p5, p6 = (np.float32(c) for c in _TANH_P)
q0, q1, q2, q3 = (np.float32(c) for c in _TANH_Q)
clamp = np.float32(_TANH_CLAMP)
half32, one32 = np.float32(0.5), np.float32(1.0)


def tanh_(x):
    raise NotImplementedError  # typed by the overload below


def sigmoid_(x):
    raise NotImplementedError


def one_(x):
    raise NotImplementedError


@overload(tanh_, inline="always")
def _tanh(x):
    if x == types.float32:

        def impl(x):
            x = min(max(x, -clamp), clamp)
            s = x * x
            num = p0 + s * (p1 + s * (p2 + s * (p3 + s * (p4 + s * (p5 + s * p6)))))
            return x * num / (q0 + s * (q1 + s * (q2 + s * q3)))

        return impl
    return lambda x: math.tanh(x)


@overload(sigmoid_, inline="always")
def _sigmoid(x):
    if x == types.float32:
        return lambda x: half32 + half32 * tanh_(half32 * x)
    return lambda x: 0.5 + 0.5 * tanh_(0.5 * x)


@overload(one_, inline="always")
def _one(x):
    if x == types.float32:
        return lambda x: one32
    return lambda x: 1.0


jit = numba.njit(fastmath=True, error_model="numpy", cache=True, nogil=True)


# Row by row, each gate block a separate 1-D view: the compiler then sees
# distinct arrays and vectorises the inner loop (indexing one row at offsets
# H, 2H, 3H that are unknown at compile time defeats its dependence analysis).
@jit
def lstm_forward(z, rec, c_prev, c_out, act_c, h_out):
    """z (B, 4H): x_t·U + b on entry, the gates i, f, C~, o on exit; rec (B, 4H):
    h_{t-1}·W. Writes C_t, tanh(C_t) and h_t."""
    n, h = c_prev.shape
    for b in range(n):
        zi, zf = z[b, :h], z[b, h : 2 * h]
        zc, zo = z[b, 2 * h : 3 * h], z[b, 3 * h :]
        ri, rf = rec[b, :h], rec[b, h : 2 * h]
        rc, ro = rec[b, 2 * h : 3 * h], rec[b, 3 * h :]
        cp, co, ac, ho = c_prev[b], c_out[b], act_c[b], h_out[b]
        for j in range(h):
            i = sigmoid_(zi[j] + ri[j])
            f = sigmoid_(zf[j] + rf[j])
            c_tilde = tanh_(zc[j] + rc[j])
            o = sigmoid_(zo[j] + ro[j])
            zi[j], zf[j], zc[j], zo[j] = i, f, c_tilde, o
            c = f * cp[j] + i * c_tilde  # C_t = f ⊙ C_{t-1} + i ⊙ C~
            a = tanh_(c)
            co[j], ac[j] = c, a
            ho[j] = o * a  # h_t = o ⊙ tanh(C_t)


@jit
def lstm_backward(dh, dc_next, c_prev, gz, act_c, dc_prev):
    """In place: gz (B, 4H) holds the gates on entry and dL/d(pre-activations) on exit;
    dL/dC_{t-1} into dc_prev; from dL/dh_t, dL/dC_t (from later steps) and the forward
    values, as in ``LSTMCell``'s docstring."""
    n, h = c_prev.shape
    for b in range(n):
        zi, zf = gz[b, :h], gz[b, h : 2 * h]
        zc, zo = gz[b, 2 * h : 3 * h], gz[b, 3 * h :]
        dhb, dcn, cp, ac, dcp = dh[b], dc_next[b], c_prev[b], act_c[b], dc_prev[b]
        for j in range(h):
            i, f, c_tilde, o, a, g = zi[j], zf[j], zc[j], zo[j], ac[j], dhb[j]
            one = one_(a)
            dc = dcn[j] + g * o * (one - a * a)  # dC = dC_t + dh ⊙ o ⊙ tanh'(C_t)
            zi[j] = dc * c_tilde * i * (one - i)
            zf[j] = dc * cp[j] * f * (one - f)
            zc[j] = dc * i * (one - c_tilde * c_tilde)
            zo[j] = g * a * o * (one - o)
            dcp[j] = dc * f  # dC_{t-1}


@jit
def gru_forward(z, rec, b_rec, h_prev, rec_h, h_out):
    """z (B, 3H): x_t·U + b on entry, the gates z, r, h~ on exit; rec (B, 3H):
    h_{t-1}·W without its bias b_rec (3H). Writes rec_h = h_{t-1}·W_h + b'_h and h_t
    (``GRUCell``)."""
    n, h = h_prev.shape
    bz, br, bh = b_rec[:h], b_rec[h : 2 * h], b_rec[2 * h :]
    for b in range(n):
        gz, gr, gh = z[b, :h], z[b, h : 2 * h], z[b, 2 * h :]
        rz, rr, rh = rec[b, :h], rec[b, h : 2 * h], rec[b, 2 * h :]
        hp, rho, ho = h_prev[b], rec_h[b], h_out[b]
        for j in range(h):
            u = sigmoid_(gz[j] + rz[j] + bz[j])  # z_t
            r = sigmoid_(gr[j] + rr[j] + br[j])
            a = rh[j] + bh[j]
            h_tilde = tanh_(gh[j] + r * a)
            gz[j], gr[j], gh[j], rho[j] = u, r, h_tilde, a
            ho[j] = h_tilde + u * (hp[j] - h_tilde)  # z ⊙ h_{t-1} + (1 - z) ⊙ h~


@jit
def gru_backward(dh, h_prev, g, rec_h, dzrec, direct):
    """In place: g (B, 3H) holds the gates z, r, h~ on entry and dL/d(input
    projection) on exit; dL/d(h_{t-1}·W + b') into dzrec (B, 3H) and the direct
    dL/dh_{t-1} = dh ⊙ z into direct; from dL/dh_t (``GRUCell``)."""
    n, h = h_prev.shape
    for b in range(n):
        gz, gr, gh = g[b, :h], g[b, h : 2 * h], g[b, 2 * h :]
        qz, qr, qh = dzrec[b, :h], dzrec[b, h : 2 * h], dzrec[b, 2 * h :]
        dhb, hp, rho, dd = dh[b], h_prev[b], rec_h[b], direct[b]
        for j in range(h):
            u, r, h_tilde, d = gz[j], gr[j], gh[j], dhb[j]
            one = one_(u)
            d_z = d * (hp[j] - h_tilde) * u * (one - u)  # dz ⊙ σ'(z)
            d_a = d * (one - u) * (one - h_tilde * h_tilde)  # da_h
            d_r = d_a * rho[j] * r * (one - r)  # dr ⊙ σ'(r)
            gz[j], gr[j], gh[j] = d_z, d_r, d_a
            qz[j], qr[j], qh[j] = d_z, d_r, d_a * r
            dd[j] = d * u


# ---- the recurrent matrix product of one step, on weights packed once per pass ------
# c = a·b for a (M, K) with unit column stride and b (K, N) given as ``panels``: b's
# columns in panels of PANEL (48) columns, each panel K rows of 48 contiguous floats,
# the last one zero-padded (``fused.pack_panels``, once per pass). A step's product has
# few rows (M = the batch) and the same weights for all T steps of a pass; OpenBLAS
# copies ("packs") its right-hand factor anew in every call, which costs about as much
# as the arithmetic when M is 2-64 (bench/NOTES.md rows 26 and 46). Here the packing is
# done once and each call is arithmetic only.
#
# The inner loop is a micro-kernel written directly in LLVM IR (``_panel_kernel``): a
# block of R <= 4 rows of c by one 48-column panel held in 3·R 16-float vector
# registers, and for each k one broadcast of a[r, k] per row and three vector loads of
# the panel's row k, 3·R fused multiply-adds (llvm.fma: no fast-math flags, so NaN and
# inf propagate). numba's own loops could not keep such a block in registers (row 33).
# float32 only (``fused.PACKED_DTYPES``): the addresses below count 4-byte elements.
gemm_jit = numba.njit(fastmath={"reassoc", "contract"}, error_model="numpy", cache=True, nogil=True)
_LANES = 16  # floats per vector register (AVX-512; LLVM splits them on narrower units)


def _panel_kernel(rows: int):
    """An intrinsic ``f(a_addr, lda, panel_addr, c_addr, ldc, k)``: c[r, 0:48] =
    Σ_q a[r, q]·panel[q, 0:48] for r < ``rows``; addresses of float32 data, strides
    in elements, k >= 1."""
    from llvmlite import ir
    from numba.core import cgutils
    from numba.extending import intrinsic

    vectors = PANEL // _LANES

    @intrinsic
    def kernel(typingctx, a_addr, lda, panel_addr, c_addr, ldc, k):
        sig = types.void(types.uintp, types.intp, types.uintp, types.uintp, types.intp, types.intp)

        def codegen(context, builder, signature, args):
            a_i, lda_v, w_i, c_i, ldc_v, k_v = args
            f32, i64, i32 = ir.FloatType(), ir.IntType(64), ir.IntType(32)
            vec = ir.VectorType(f32, _LANES)
            fma = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vec, [vec] * 3), f"llvm.fma.v{_LANES}f32"
            )
            a_p, w_p, c_p = (builder.inttoptr(v, f32.as_pointer()) for v in (a_i, w_i, c_i))
            undef = ir.Constant(vec, ir.Undefined)
            splat_mask = ir.Constant(ir.VectorType(i32, _LANES), [0] * _LANES)

            def const(v):
                return ir.Constant(i64, v)

            def vector_at(base, index):
                return builder.bitcast(builder.gep(base, [index]), vec.as_pointer())

            entry = builder.basic_block
            loop = builder.append_basic_block("panel.loop")
            done = builder.append_basic_block("panel.done")
            builder.branch(loop)
            builder.position_at_end(loop)
            q = builder.phi(i64)
            acc = [[builder.phi(vec) for _ in range(vectors)] for _ in range(rows)]
            q.add_incoming(const(0), entry)
            for row in acc:
                for a in row:
                    a.add_incoming(ir.Constant(vec, [0.0] * _LANES), entry)
            w_row = builder.mul(q, const(PANEL))  # the panel's row q
            w = [
                builder.load(vector_at(w_p, builder.add(w_row, const(v * _LANES))), align=4)
                for v in range(vectors)
            ]
            new = []
            for r in range(rows):
                a_index = builder.add(builder.mul(const(r), lda_v), q)
                a_rq = builder.load(builder.gep(a_p, [a_index]))
                a_splat = builder.shuffle_vector(
                    builder.insert_element(undef, a_rq, ir.Constant(i32, 0)), undef, splat_mask
                )
                new.append([builder.call(fma, [a_splat, w[v], acc[r][v]]) for v in range(vectors)])
            q_next = builder.add(q, const(1))
            body = builder.basic_block
            q.add_incoming(q_next, body)
            for r in range(rows):
                for v in range(vectors):
                    acc[r][v].add_incoming(new[r][v], body)
            builder.cbranch(builder.icmp_signed("<", q_next, k_v), loop, done)
            builder.position_at_end(done)
            for r in range(rows):
                c_row = builder.mul(const(r), ldc_v)
                for v in range(vectors):
                    index = builder.add(c_row, const(v * _LANES))
                    builder.store(new[r][v], vector_at(c_p, index), align=4)
            return context.get_dummy_value()

        return sig, codegen

    return kernel


_panel4, _panel3, _panel2, _panel1 = (_panel_kernel(r) for r in (4, 3, 2, 1))


def _wide_vectors() -> bool:
    """Whether numba compiles for this CPU and it has 16-float vector registers."""
    from llvmlite import binding

    if numba.config.CPU_NAME not in (None, "host"):  # a portable target was asked for
        return False
    try:
        features = binding.get_host_cpu_features()
    except RuntimeError:  # LLVM cannot read this host's features: assume none
        return False
    return bool(features.get("avx512f", False))


WIDE_VECTORS = _wide_vectors()


@gemm_jit
def _panel_rows(a_addr, lda, w_addr, c_addr, ldc, k, m):
    """All m rows of a against one panel: blocks of 4 rows, then the 1-3 left over."""
    i = 0
    while i + 4 <= m:
        _panel4(a_addr + 4 * i * lda, lda, w_addr, c_addr + 4 * i * ldc, ldc, k)
        i += 4
    left = m - i
    a_i, c_i = a_addr + 4 * i * lda, c_addr + 4 * i * ldc
    if left == 3:
        _panel3(a_i, lda, w_addr, c_i, ldc, k)
    elif left == 2:
        _panel2(a_i, lda, w_addr, c_i, ldc, k)
    elif left == 1:
        _panel1(a_i, lda, w_addr, c_i, ldc, k)


@gemm_jit
def packed_matmul(a, panels, c):
    """c = a·b (one thread) for b given as its ``panels`` (P, K, 48); a (M, K) and c
    (M, N) float32 with unit column strides."""
    m, k = a.shape
    n = c.shape[1]
    p_all = panels.shape[0]
    if a.itemsize != 4 or c.itemsize != 4 or panels.itemsize != 4:
        raise ValueError("packed_matmul: float32 arrays only")
    if panels.shape[1] != k or panels.shape[2] != PANEL or p_all * PANEL < n or c.shape[0] != m:
        raise ValueError("packed_matmul: shapes do not match")
    if k == 0 or m == 0 or n == 0:
        c[:, :] = 0
        return
    if a.strides[1] != 4 or c.strides[1] != 4 or not panels.flags.c_contiguous:
        raise ValueError("packed_matmul: a and c need unit column strides, panels C order")
    a_addr, w_addr, c_addr = a.ctypes.data, panels.ctypes.data, c.ctypes.data
    lda, ldc, panel_bytes = a.strides[0] // 4, c.strides[0] // 4, 4 * k * PANEL
    full = n // PANEL
    for p in range(full):
        _panel_rows(a_addr, lda, w_addr + p * panel_bytes, c_addr + 4 * p * PANEL, ldc, k, m)
    if full * PANEL < n:  # the last, partial panel through a scratch block
        tmp = np.empty((m, PANEL), np.float32)
        _panel_rows(a_addr, lda, w_addr + full * panel_bytes, tmp.ctypes.data, PANEL, k, m)
        j0 = full * PANEL
        for i in range(m):
            for j in range(j0, n):
                c[i, j] = tmp[i, j - j0]


# ---- a whole step of ONE row (streaming) ---------------------------------------------
# A streaming step (batch 1) is a few µs: before, two matrix-vector products, a bias add
# and the element-wise kernel, four calls, each with its own dispatch, plus the Python
# between them (bench/NOTES.md row 38). Here the step is one call. Each product is
# accumulated a row of the weights at a time (out += x_k · W[k], four rows per pass), which
# vectorises along the row; with weights that fit in L2 it is as fast as OpenBLAS's
# matrix-vector product (``fused.row_step_worthwhile`` holds the policy).
@gemm_jit
def _row_accumulate(x, w, out):
    """out += x·w for x (K,), w (K, N) C-contiguous, out (N,)."""
    k_all, n = w.shape
    k4 = k_all - k_all % 4
    for k in range(0, k4, 4):
        x0, x1, x2, x3 = x[k], x[k + 1], x[k + 2], x[k + 3]
        w0, w1, w2, w3 = w[k], w[k + 1], w[k + 2], w[k + 3]
        for j in range(n):
            out[j] += x0 * w0[j] + x1 * w1[j] + x2 * w2[j] + x3 * w3[j]
    for k in range(k4, k_all):
        xk, wk = x[k], w[k]
        for j in range(n):
            out[j] += xk * wk[j]


@jit
def simple_rnn_row_step(x, u, b, h_prev, w, h_out):
    """h_t = tanh(x_t·U + b + h_{t-1}·W) for one row: x (1, I), h_prev and h_out (1, H)."""
    out = h_out[0]
    out[:] = b
    _row_accumulate(x[0], u, out)
    _row_accumulate(h_prev[0], w, out)
    for j in range(out.shape[0]):
        out[j] = tanh_(out[j])


@jit
def _row_products(x, u, b, h_prev, w, xw, rec):
    """xw = x·U + b and rec = h_{t-1}·W for one row, into (1, G·H) arrays."""
    xw[0, :] = b
    _row_accumulate(x[0], u, xw[0])
    rec[0, :] = 0
    _row_accumulate(h_prev[0], w, rec[0])


@jit
def lstm_row_step(x, u, b, h_prev, c_prev, w, xw, rec, act_c, c_out, h_out):
    """One LSTM step of one row (``lstm_forward`` after both products); xw, rec (1, 4H)
    and act_c (1, H) are scratch."""
    _row_products(x, u, b, h_prev, w, xw, rec)
    lstm_forward(xw, rec, c_prev, c_out, act_c, h_out)


@jit
def gru_row_step(x, u, b, h_prev, w, b_rec, xw, rec, rec_h, h_out):
    """One GRU step of one row (``gru_forward`` after both products); xw, rec (1, 3H)
    and rec_h (1, H) are scratch."""
    _row_products(x, u, b, h_prev, w, xw, rec)
    gru_forward(xw, rec, b_rec, h_prev, rec_h, h_out)
