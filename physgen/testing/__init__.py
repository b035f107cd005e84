"""Testing helpers for physgen users and physgen itself (like ``xarray.testing``).

``assert_store_equal`` compares two stores variable by variable with diff-style messages;
hypothesis strategies live in :mod:`physgen.testing.strategies`.
"""

from __future__ import annotations

import os

import numpy as np

from physgen.store import open_store

__all__ = ["assert_store_equal"]


def assert_store_equal(a: str | os.PathLike[str], b: str | os.PathLike[str], *, check_provenance: bool = False) -> None:
    """Assert that two stores hold identical variables, coordinates, units and values.

    Provenance (creation time, paths) differs between otherwise equal stores, so it is
    compared only when ``check_provenance`` is set, and then without the creation time.
    """
    __tracebackhide__ = True
    left, right = open_store(a), open_store(b)
    problems: list[str] = []
    if set(left.variables) != set(right.variables):
        problems.append(f"variables differ: only left {sorted(set(left.variables) - set(right.variables))}, "
                        f"only right {sorted(set(right.variables) - set(left.variables))}")
    if dict(left.sizes) != dict(right.sizes):
        problems.append(f"sizes differ: {dict(left.sizes)} != {dict(right.sizes)}")
    if not problems:
        for name in left.variables:
            x, y = left[name], right[name]
            if x.dims != y.dims or x.dtype != y.dtype or x.attrs.get("units") != y.attrs.get("units"):
                problems.append(f"{name}: dims/dtype/units {x.dims} {x.dtype} {x.attrs.get('units')!r} "
                                f"!= {y.dims} {y.dtype} {y.attrs.get('units')!r}")
                continue
            xv, yv = np.asarray(x.values), np.asarray(y.values)
            if not np.array_equal(xv, yv, equal_nan=np.issubdtype(xv.dtype, np.floating)):
                bad = np.argwhere(~((xv == yv) | (np.isnan(xv) & np.isnan(yv)) if xv.dtype.kind == "f" else xv == yv))
                problems.append(f"{name}: {len(bad)} values differ, first at index {tuple(bad[0])}: "
                                f"{xv[tuple(bad[0])]!r} != {yv[tuple(bad[0])]!r}")
    if check_provenance:
        pa, pb = (dict(s.physgen.provenance) for s in (left, right))
        for p in (pa, pb):
            p.pop("created", None)
        if pa != pb:
            keys = sorted(k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k))
            problems.append(f"provenance differs in {keys}")
    if problems:
        raise AssertionError("stores differ:\n  " + "\n  ".join(problems))
