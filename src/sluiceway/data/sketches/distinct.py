"""Distinct counts: a vectorised HyperLogLog over 64-bit hashes (sparse while small)."""

from __future__ import annotations

import math

import numpy as np


def _leading_zeros_u64(x: np.ndarray) -> np.ndarray:
    """Number of leading zero bits of each uint64 (64 for 0)."""
    x = x.copy()
    for shift in (1, 2, 4, 8, 16, 32):
        x |= x >> np.uint64(shift)
    return (64 - np.bitwise_count(x)).astype(np.uint8)


class DistinctCounter:
    """HyperLogLog over 64-bit hashes with Ertl's improved raw estimator (no bias tables needed).

    Sparse while small: up to ``SPARSE_MAX`` distinct hashes are kept as a sorted array (8 KB)
    instead of the ``2**p`` registers (64 KB at p=16), so a table of many low-cardinality string
    columns does not cost 64 KB a column. The estimate is the same either way (the registers are
    built from the hashes when asked)."""

    SPARSE_MAX = 1024

    def __init__(self, p: int = 16) -> None:
        if not 4 <= p <= 18:
            raise ValueError(f"The 'p' parameter of DistinctCounter must be in [4, 18]. Got {p} instead.")
        self.p = p
        self._sparse: np.ndarray | None = np.empty(0, dtype=np.uint64)  # sorted distinct hashes
        self._registers: np.ndarray | None = None

    @property
    def registers(self) -> np.ndarray:
        """The HLL registers (built from the sparse hashes while sparse)."""
        if self._registers is not None:
            return self._registers
        registers = np.zeros(1 << self.p, dtype=np.uint8)
        assert self._sparse is not None  # one of the two representations is always set
        self._fold(registers, self._sparse)
        return registers

    def update_hashes(self, hashes: np.ndarray) -> None:
        h = np.asarray(hashes, dtype=np.uint64)
        if h.size == 0:
            return
        if h.size > 1 and not bool((h[1:] >= h[:-1]).all()):
            h = np.sort(h)
        self.update_sorted_hashes(h)

    def update_sorted_hashes(self, h: np.ndarray) -> None:
        """Fold in hashes sorted ascending (so register indexes come in runs: no scatter needed)."""
        if h.size == 0:
            return
        if self._sparse is not None:
            if h.size <= self.SPARSE_MAX:  # a large batch goes straight to the registers
                merged = np.union1d(self._sparse, h)
                if merged.size <= self.SPARSE_MAX:
                    self._sparse = merged
                    return
            registers = np.zeros(1 << self.p, dtype=np.uint8)
            self._fold(registers, self._sparse)
            self._registers, self._sparse = registers, None
        assert self._registers is not None
        self._fold(self._registers, h)

    def _fold(self, registers: np.ndarray, h: np.ndarray) -> None:
        if h.size == 0:
            return
        q = 64 - self.p
        idx = (h >> np.uint64(q)).astype(np.int64)
        rest = h << np.uint64(self.p)  # the low q bits, moved to the top
        rho = (np.minimum(_leading_zeros_u64(rest), q) + 1).astype(np.uint8)  # 1..q+1
        starts = np.concatenate([[0], np.flatnonzero(idx[1:] != idx[:-1]) + 1])
        regs = idx[starts]
        registers[regs] = np.maximum(registers[regs], np.maximum.reduceat(rho, starts))

    def merge(self, other: DistinctCounter) -> DistinctCounter:
        if other.p != self.p:
            raise ValueError(f"Cannot merge DistinctCounter with p={other.p} into p={self.p}.")
        if other._sparse is not None:
            self.update_sorted_hashes(other._sparse)
            return self
        if self._registers is None:
            self._registers = self.registers
            self._sparse = None
        np.maximum(self._registers, other.registers, out=self._registers)
        return self

    def estimate(self) -> float:
        m = float(1 << self.p)
        q = 64 - self.p
        c = np.bincount(self.registers, minlength=q + 2).astype(np.float64)

        def sigma(x: float) -> float:
            if x == 1.0:
                return math.inf
            y, z = 1.0, x
            while True:
                x = x * x
                z_old = z
                z += x * y
                y += y
                if z == z_old:
                    return z

        def tau(x: float) -> float:
            if x == 0.0 or x == 1.0:
                return 0.0
            y, z = 1.0, 1.0 - x
            while True:
                x = math.sqrt(x)
                z_old = z
                y *= 0.5
                z -= (1.0 - x) ** 2 * y
                if z == z_old:
                    return z / 3.0

        z = m * tau(1.0 - c[q + 1] / m)
        for k in range(q, 0, -1):
            z = 0.5 * (z + c[k])
        z += m * sigma(c[0] / m)
        if math.isinf(z):
            return 0.0
        return (m / (2.0 * math.log(2.0))) * m / z

    @property
    def relative_standard_error(self) -> float:
        return 1.04 / math.sqrt(1 << self.p)


__all__ = ["DistinctCounter"]
