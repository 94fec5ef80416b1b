"""The KV cells of a replay left as a symbol: one replay answers for every context where it takes the same steps.

A graph's tensors depend on the cells only through their sizes (the mask, the score matrix), each
`a × cells + b` bytes. `Affine` carries such a value through the graph builders and the allocator as it
is (its value at the replayed cell count, `at`), and `Span` keeps the cell counts at which every
comparison made so far comes out as it did there: each comparison is the sign of one affine function,
so the set is an interval, narrowed at each comparison. Across that interval every branch the replay
took (best fit, in-place reuse, the largest offset, the skip's proof) is taken again, so the buffer it
returns, an affine function too, is exact at each of those cell counts. Whatever an affine value cannot
stay (a product of two, a division that is not exact, a hash, an index) raises `NotAffine`, and the
caller replays that cell count as plain integers instead.

The symbol counts cells in steps of `STEP` (the cache is padded to 256 cells), so a size's alignment to
the allocator's 32 bytes is exact division.
"""

from __future__ import annotations

from typing import NoReturn

STEP = 256  # llama.cpp pads a KV stream to 256 cells


class NotAffine(ArithmeticError):
    """An operation whose result is not an affine function of the cells."""


class Span:
    """The steps (cells / STEP) where every comparison so far has the sign it had at `at`: lo..hi, inclusive."""

    __slots__ = ("at", "lo", "hi")

    def __init__(self, at: int) -> None:
        self.at = at
        self.lo = 1
        self.hi = 1 << 62

    def symbol(self) -> Affine:
        """The cells themselves."""
        return Affine(STEP, 0, self)

    def __contains__(self, steps: int) -> bool:
        return self.lo <= steps <= self.hi

    def keep_sign(self, a: int, b: int) -> None:
        """Narrow to the steps where `a × steps + b` has the sign it has at `at` (a != 0)."""
        sign = a * self.at + b
        if a < 0:
            a, b, sign = -a, -b, -sign
        if sign > 0:  # a × s > -b
            self.lo = max(self.lo, (-b) // a + 1)
        elif sign < 0:  # a × s < -b
            self.hi = min(self.hi, -(b // a) - 1)
        else:
            self.lo = self.hi = self.at


class Affine:
    """`a × steps + b`, at `span`'s replayed steps worth `value`; a != 0 (a constant is a plain int)."""

    __slots__ = ("a", "b", "span", "value")

    def __init__(self, a: int, b: int, span: Span) -> None:
        self.a = a
        self.b = b
        self.span = span
        self.value = a * span.at + b

    def at(self, steps: int) -> int:
        return self.a * steps + self.b

    def _new(self, a: int, b: int) -> Affine | int:
        return Affine(a, b, self.span) if a else b

    def __add__(self, other: Affine | int) -> Affine | int:
        if type(other) is int:
            return Affine(self.a, self.b + other, self.span)
        if type(other) is Affine:
            return self._new(self.a + other.a, self.b + other.b)
        return NotImplemented

    __radd__ = __add__

    def __neg__(self) -> Affine:
        return Affine(-self.a, -self.b, self.span)

    def __sub__(self, other: Affine | int) -> Affine | int:
        if type(other) is int:
            return Affine(self.a, self.b - other, self.span)
        if type(other) is Affine:
            return self._new(self.a - other.a, self.b - other.b)
        return NotImplemented

    def __rsub__(self, other: int) -> Affine | int:
        if type(other) is int:
            return Affine(-self.a, other - self.b, self.span)
        return NotImplemented

    def __mul__(self, other: Affine | int) -> Affine | int:
        if type(other) is int:
            return self._new(self.a * other, self.b * other)
        if type(other) is Affine:
            raise NotAffine("a product of two sizes that grow with the cells")
        return NotImplemented

    __rmul__ = __mul__

    def __floordiv__(self, other: int) -> Affine | int:
        if type(other) is int and other and self.a % other == 0:  # a × s / other is a whole number
            return self._new(self.a // other, self.b // other)
        raise NotAffine("a division that is not exact at every cell count")

    def __mod__(self, other: int) -> int:
        if type(other) is int and other and self.a % other == 0:
            return self.b % other
        raise NotAffine("a remainder that depends on the cell count")

    def _sign(self, other: Affine | int) -> int:
        """The sign of self - other, at the replayed steps; the span keeps it."""
        if type(other) is int:
            a, b = self.a, self.b - other
        elif type(other) is Affine:
            a, b = self.a - other.a, self.b - other.b
            if not a:
                return (b > 0) - (b < 0)
        else:
            raise NotAffine(f"compared with {type(other).__name__}")
        self.span.keep_sign(a, b)
        value = a * self.span.at + b
        return (value > 0) - (value < 0)

    def __lt__(self, other: Affine | int) -> bool:
        return self._sign(other) < 0

    def __le__(self, other: Affine | int) -> bool:
        return self._sign(other) <= 0

    def __gt__(self, other: Affine | int) -> bool:
        return self._sign(other) > 0

    def __ge__(self, other: Affine | int) -> bool:
        return self._sign(other) >= 0

    def __eq__(self, other: object) -> bool:
        if type(other) not in (int, Affine):
            return False
        return self._sign(other) == 0

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __bool__(self) -> bool:
        return self._sign(0) != 0

    def __hash__(self) -> int:
        raise NotAffine("hashed: equal values at this cell count could hash apart")

    def _not_affine(self, *other: object) -> NoReturn:
        raise NotAffine("an operation whose result is not affine in the cells")

    __index__ = __int__ = __float__ = __truediv__ = __rtruediv__ = __rfloordiv__ = __rmod__ = _not_affine
    __pow__ = __rpow__ = __and__ = __rand__ = __or__ = __ror__ = __lshift__ = __rshift__ = __abs__ = _not_affine

    def __repr__(self) -> str:
        return f"({self.a}×s{self.b:+d} = {self.value})"


def evaluate(value: Affine | int, steps: int) -> int:
    return value.at(steps) if type(value) is Affine else value
