"""The compiled loops' per-step product in a pass: a register tile over packed panels.

    out[r, oc + c] += Σ_k a[r, k]·W[k, wc + c]        r0 <= r < r1, 0 <= c < n

W (K, N) is packed once per pass (:func:`pack`) into panels of ``NR`` columns,
``wp[p, k, :] = W[k, p·NR : (p + 1)·NR]``, the last panel zero-padded.
A panel's row k is then NR contiguous numbers, read once per k for up to four rows of
``a``. The tile of up to four rows by NR columns stays in vector registers over the
whole k loop: per k, three vector loads of the panel, and for each row one number of
``a`` broadcast and three multiply-adds into its sums. This is the outer-product kernel
of BLAS libraries. LLVM does not form it from numba's loops (bench/NOTES.md section
16), so :func:`_make_tile` writes it as LLVM IR in LLVM's generic vector type of 256
bits (8 float32 or 4 float64 lanes: NR = 24 or 12), which LLVM lowers for the host —
AVX2 or AVX-512 registers, NEON pairs, or scalars where there are no vectors. No
instruction set is named, and correctness does not depend on one.

Each entry is summed over k in order, k = 0, 1, ..., K-1, from its value in ``out``,
one multiply-add at a time (``llvm.fmuladd``: fused where the host fuses), as
``matmul.acc_rows`` sums, whatever the range of rows and columns asked for: results
do not depend on how a step's rows and units are split over threads.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._math import jit, parallel_jit

VECTOR_BITS = 256
VECTORS = 3  # vectors per tile row: 4 rows x 3 vectors = 12 sums in registers
MAX_ROWS = 4


def panel_width(dtype) -> int:
    """NR, the columns of a panel: three 256-bit vectors of ``dtype``."""
    return VECTORS * VECTOR_BITS // (8 * np.dtype(dtype).itemsize)


class _Emitter:
    """LLVM IR for one tile, written with llvmlite's builder inside numba's lowering:
    addresses as integers (bytes), so that the same IR serves typed and opaque
    pointers."""

    def __init__(self, context, builder, dtype):
        self.b, self.ctx = builder, context
        self.size = dtype.bitwidth // 8
        self.lanes = VECTOR_BITS // dtype.bitwidth
        self.fty = context.get_value_type(dtype)
        self.vty = ir.VectorType(self.fty, self.lanes)
        self.i64 = context.get_value_type(types.intp)
        self.fmuladd = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(self.vty, [self.vty] * 3),
            f"llvm.fmuladd.v{self.lanes}f{dtype.bitwidth}",
        )

    def int(self, v):
        return ir.Constant(self.i64, v)

    def array(self, ty, value):
        """(address of element 0, row stride in bytes, second stride) of an array."""
        arr = self.ctx.make_array(ty)(self.ctx, self.b, value)
        strides = [self.b.extract_value(arr.strides, d) for d in range(ty.ndim)]
        return self.b.ptrtoint(arr.data, self.i64), strides, arr

    def at(self, base, *terms):
        """base + Σ index·stride (bytes), each term an (index, stride) pair."""
        for index, stride in terms:
            base = self.b.add(base, self.b.mul(index, stride))
        return base

    def vector(self, address, ptr_only: bool = False):
        ptr = self.b.inttoptr(address, self.vty.as_pointer())
        return ptr if ptr_only else self.b.load(ptr, align=self.size)

    def broadcast(self, address):
        """The number at ``address`` in every lane."""
        x = self.b.load(self.b.inttoptr(address, self.fty.as_pointer()))
        undef = ir.Constant(self.vty, ir.Undefined)
        x = self.b.insert_element(undef, x, ir.Constant(ir.IntType(32), 0))
        zeros = ir.Constant(ir.VectorType(ir.IntType(32), self.lanes), [0] * self.lanes)
        return self.b.shuffle_vector(x, undef, zeros)


def _emit_tile(e: _Emitter, rows: int, vectors: int, a, step, panel, k_all, w_row, out) -> None:
    """The tile's IR: ``a`` the addresses of the rows of a, ``step`` the bytes from one
    of a row's numbers to the next, ``panel`` the panel's, ``w_row`` its row stride,
    ``out`` [i][v] the output vectors' pointers."""
    b = e.b
    sums = []  # allocas, which LLVM keeps in registers
    for i in range(rows):
        for v in range(vectors):
            slot = cgutils.alloca_once(b, e.vty)
            b.store(b.load(out[i][v], align=e.size), slot)
            sums.append(slot)
    with cgutils.for_range(b, k_all) as loop:
        k = loop.index
        row_k = e.at(panel, (k, w_row))
        w = [e.vector(b.add(row_k, e.int(v * e.lanes * e.size))) for v in range(vectors)]
        for i in range(rows):
            x = e.broadcast(e.at(a[i], (k, step)))
            for v in range(vectors):
                slot = sums[i * vectors + v]
                b.store(b.call(e.fmuladd, [x, w[v], b.load(slot)]), slot)
    for i in range(rows):
        for v in range(vectors):
            b.store(b.load(sums[i * vectors + v]), out[i][v], align=e.size)


def _make_tile(rows: int, vectors: int):
    """The intrinsic ``tile(a, r0, wp, p, out, ro, c0)``: out[ro + i, c0 : c0 + V] +=
    a[r0 + i, :]·wp[p, :, :V] for i < ``rows``, the first V = ``vectors`` vectors'
    columns of panel p."""

    @intrinsic
    def tile(typingctx, a, r0, wp, p, out, ro, c0):
        # the panel's and out's rows of contiguous numbers (an "A" array's are checked
        # by its caller, ``gemm``); a's rows by their stride, the item size where a is C
        if not all(isinstance(t, types.Array) and t.layout in "CA" for t in (wp, out)):
            return None
        if not (isinstance(a, types.Array) and a.ndim == 2):
            return None
        if not (a.dtype == wp.dtype == out.dtype and a.dtype in (types.float32, types.float64)):
            return None
        sig = types.void(a, types.intp, wp, types.intp, out, types.intp, types.intp)

        def codegen(context, builder, signature, args):
            a_v, r0_v, wp_v, p_v, out_v, ro_v, c0_v = args
            aty, wty, oty = signature.args[0], signature.args[2], signature.args[4]
            e = _Emitter(context, builder, aty.dtype)
            a0, a_st, arr_a = e.array(aty, a_v)
            w0, w_st, _ = e.array(wty, wp_v)
            o0, o_st, _ = e.array(oty, out_v)
            a_rows = [e.at(a0, (builder.add(r0_v, e.int(i)), a_st[0])) for i in range(rows)]
            col = e.at(o0, (c0_v, e.int(e.size)))
            o_rows = [e.at(col, (builder.add(ro_v, e.int(i)), o_st[0])) for i in range(rows)]
            vec = e.int(e.lanes * e.size)  # bytes per vector
            out_ptrs = [
                [e.vector(e.at(r, (e.int(v), vec)), True) for v in range(vectors)] for r in o_rows
            ]
            panel = e.at(w0, (p_v, w_st[0]))
            k_all = builder.extract_value(arr_a.shape, 1)
            step = e.int(e.size) if aty.layout == "C" else a_st[1]
            _emit_tile(e, rows, vectors, a_rows, step, panel, k_all, w_st[1], out_ptrs)
            return context.get_dummy_value()

        return sig, codegen

    return tile


_T = {(r, v): _make_tile(r, v) for r in range(1, MAX_ROWS + 1) for v in range(1, VECTORS + 1)}
_t11, _t12, _t13, _t21, _t22, _t23 = _T[1, 1], _T[1, 2], _T[1, 3], _T[2, 1], _T[2, 2], _T[2, 3]
_t31, _t32, _t33, _t41, _t42, _t43 = _T[3, 1], _T[3, 2], _T[3, 3], _T[4, 1], _T[4, 2], _T[4, 3]


@jit
def _tile(a, r0, rows, vectors, wp, p, out, ro, c0):
    if vectors == 3:
        if rows == 4:
            _t43(a, r0, wp, p, out, ro, c0)
        elif rows == 3:
            _t33(a, r0, wp, p, out, ro, c0)
        elif rows == 2:
            _t23(a, r0, wp, p, out, ro, c0)
        else:
            _t13(a, r0, wp, p, out, ro, c0)
    elif vectors == 2:
        if rows == 4:
            _t42(a, r0, wp, p, out, ro, c0)
        elif rows == 3:
            _t32(a, r0, wp, p, out, ro, c0)
        elif rows == 2:
            _t22(a, r0, wp, p, out, ro, c0)
        else:
            _t12(a, r0, wp, p, out, ro, c0)
    elif rows == 4:
        _t41(a, r0, wp, p, out, ro, c0)
    elif rows == 3:
        _t31(a, r0, wp, p, out, ro, c0)
    elif rows == 2:
        _t21(a, r0, wp, p, out, ro, c0)
    else:
        _t11(a, r0, wp, p, out, ro, c0)


@jit
def acc_tile(a, wp, out, r0, r1, wc, oc, n):
    """out[r, oc:oc+n] += a[r]·W[:, wc:wc+n] for rows r0 <= r < r1, W packed as ``wp``
    (P, K, NR) by :func:`pack`. Each panel the range covers runs a tile of as few
    vectors as reach the last column it needs. Where the range starts or ends inside
    a vector, the tile runs on a copy of the rows' columns (what it adds to the others
    is discarded): the same multiply-adds in the same order, so an entry's floats never
    depend on where a range starts."""
    nr = wp.shape[2]
    lanes = nr // VECTORS
    scratch = np.empty((MAX_ROWS, nr), wp.dtype)
    p = wc // nr
    s = wc - p * nr  # the range's first column within panel p
    c = 0
    while c < n:
        cols = min(nr - s, n - c)
        end = s + cols
        vectors = -(-end // lanes)
        r = r0
        while r < r1:
            rows = min(MAX_ROWS, r1 - r)
            if s == 0 and end == vectors * lanes:
                _tile(a, r, rows, vectors, wp, p, out, r, oc + c)
            else:
                for i in range(rows):
                    scratch[i, s:end] = out[r + i, oc + c : oc + c + cols]
                _tile(a, r, rows, vectors, wp, p, scratch, 0, 0)
                for i in range(rows):
                    out[r + i, oc + c : oc + c + cols] = scratch[i, s:end]
            r += rows
        c += cols
        p += 1
        s = 0


@jit
def _pack(w, wp):
    k_all, n_all = w.shape
    nr = wp.shape[2]
    for k in range(k_all):
        row = w[k]
        for p in range(wp.shape[0]):
            cols = min(nr, n_all - p * nr)
            dst, src = wp[p, k], row[p * nr : p * nr + cols]
            for j in range(cols):
                dst[j] = src[j]
            for j in range(cols, nr):
                dst[j] = 0.0


def pack(w: np.ndarray) -> np.ndarray:
    """W (K, N), any layout, as panels (P, K, NR), P = ⌈N / NR⌉, the last zero-padded:
    once per pass, for :func:`acc_tile`."""
    from .. import backend

    k_all, n_all = w.shape
    nr = panel_width(w.dtype)
    wp = backend.aligned_empty((-(-n_all // nr), k_all, nr), w.dtype)
    _pack(w, wp)
    return wp


@parallel_jit
def _gemm(a, wp, out, rows):
    """out = a·W for W packed as ``wp``, in items of ``rows`` rows (a multiple of 4)."""
    m, n = out.shape
    for item in prange((m + rows - 1) // rows):
        r0 = item * rows
        r1 = min(m, r0 + rows)
        for r in range(r0, r1):
            out[r, :] = 0.0
        acc_tile(a, wp, out, r0, r1, 0, 0, n)


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, threads: int) -> bool:
    """out = a·b (2-D, one float dtype) on ``threads`` of numba's threads, the pool the
    compiled loops run on, by the tile over b packed once: a pass's products over all
    steps when its loop is split over threads (``backend.matmul``). Returns False,
    computing nothing, where the shapes do not match, ``a`` is not C-contiguous (a
    transposed operand, as the weight gradients' xᵀ and hᵀ: a copy would cost memory
    the product does not need), ``out``'s rows are not contiguous or ``out`` may
    overlap an operand."""
    if not (a.ndim == b.ndim == out.ndim == 2 and a.dtype == b.dtype == out.dtype):
        return False
    if a.shape[1] != b.shape[0] or out.shape != (a.shape[0], b.shape[1]):
        return False  # (np.matmul's own error follows)
    if not a.flags.c_contiguous or out.strides[1] != out.itemsize:
        return False  # (no copies: the weight gradients' xᵀ and hᵀ stay with BLAS)
    if np.may_share_memory(out, a) or np.may_share_memory(out, b):
        return False
    wp = pack(b)
    rows = -(-a.shape[0] // (2 * threads))
    rows = -(-rows // MAX_ROWS) * MAX_ROWS
    _gemm(threads, a, wp, out, rows)
    return True


M_BLOCK = 64  # rows of out per pass over a block of panels: a's part stays in the L2 cache
K_BLOCK = 256  # rows of b packed at a time by ``gemm_columns``: a panel block of 24 KiB


@jit
def _gemm_columns(a, b, out, nr, p0, p1):
    """out[:, columns of panels p0..p1) = a·b there, over blocks of K_BLOCK rows of b,
    each packed into panels before the tile runs on it, and M_BLOCK rows of a (read in
    place, in any layout)."""
    m, k_all = a.shape
    c0, c1 = p0 * nr, min(b.shape[1], p1 * nr)
    for r in range(m):
        out[r, c0:c1] = 0.0
    bp = np.empty((p1 - p0, K_BLOCK, nr), a.dtype)
    for k0 in range(0, k_all, K_BLOCK):
        kb = min(K_BLOCK, k_all - k0)
        _pack(b[k0 : k0 + kb, c0:c1], bp[:, :kb])
        block = a[:, k0 : k0 + kb]
        for r0 in range(0, m, M_BLOCK):
            acc_tile(block, bp[:, :kb], out, r0, min(m, r0 + M_BLOCK), 0, c0, c1 - c0)


@parallel_jit
def _gemm_panels(a, b, out, nr, items):
    panels = (b.shape[1] + nr - 1) // nr
    for item in prange(items):
        p0 = panels * item // items
        p1 = panels * (item + 1) // items
        if p1 > p0:
            _gemm_columns(a, b, out, nr, p0, p1)


def gemm_columns(a: np.ndarray, b: np.ndarray, out: np.ndarray, threads: int) -> bool:
    """out = a·b (2-D, one float dtype) on ``threads`` of numba's threads, each given
    whole panels of out's columns, packing its part of b 256 rows at a time: ``a``
    C- or F-contiguous (the weight gradients' xᵀ and hᵀ read in place), any inner
    dimension. Returns False, computing nothing, where the shapes do not match, ``a``
    is neither, ``out``'s rows are not contiguous or ``out`` may overlap an
    operand."""
    if not (a.ndim == b.ndim == out.ndim == 2 and a.dtype == b.dtype == out.dtype):
        return False
    if a.shape[1] != b.shape[0] or out.shape != (a.shape[0], b.shape[1]):
        return False
    if not (a.flags.c_contiguous or a.flags.f_contiguous):
        return False
    if out.strides[1] != out.itemsize:
        return False
    if np.may_share_memory(out, a) or np.may_share_memory(out, b):
        return False
    nr = panel_width(a.dtype)
    panels = -(-b.shape[1] // nr)
    _gemm_panels(threads, a, b, out, nr, min(threads, panels))
    return True
