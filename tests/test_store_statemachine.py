"""A stateful test of the store writer: appends, crashes mid-append and resumes, checked against
a plain list of committed events (the model), as zarr's hierarchy state machine does."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from physgen.schema import StoreSchema, VariableSchema
from physgen.store import create_store, open_store
from physgen.store._writer import StoreWriter

SCHEMA = StoreSchema((
    VariableSchema("energy", (), (), "float32", "GeV"),
    VariableSchema("cells", ("y", "x"), (2, 3), "float32", "MeV"),
    VariableSchema("label", (), (), "int8", "dimensionless"),
), {"y": (np.arange(2.0), {"units": "mm"}), "x": (np.arange(3.0), {"units": "mm"})})
_ids = itertools.count()


class _Crash(Exception):
    pass


class StoreWriterMachine(RuleBasedStateMachine):
    @initialize(chunk=st.integers(1, 5))
    def create(self, chunk):
        self.url = f"memory://physgen-statemachine/{next(_ids)}.zarr"
        self.writer = create_store(self.url, SCHEMA, chunk_events=chunk, provenance={"specs": {}, "producer": {}})
        self.model: list[tuple[float, np.ndarray, int]] = []
        self.counter = 0

    def _batch(self, n):
        values = np.arange(self.counter, self.counter + n)
        self.counter += n
        return {"energy": values.astype(np.float32), "cells": np.repeat(values, 6).reshape(n, 2, 3).astype(np.float32),
                "label": (values % 100).astype(np.int8)}

    @rule(n=st.integers(0, 7))
    def append(self, n):
        batch = self._batch(n)
        self.writer.append(batch)
        self.model += list(zip(batch["energy"], batch["cells"], batch["label"]))

    @rule(n=st.integers(1, 7), fail_after=st.integers(0, 3))
    def crash_during_append(self, n, fail_after):
        """The process dies after writing ``fail_after`` of the three arrays (3: just before the commit)."""
        writes = iter(range(fail_after))

        class Dying(StoreWriter):
            def _write_variable(self, var, start, data):
                if next(writes, None) is None:
                    raise _Crash
                super()._write_variable(var, start, data)

            def _commit(self, **fields):
                raise _Crash

        dying = Dying(self.writer.group, SCHEMA, self.url)
        try:
            dying.append(self._batch(n))
        except _Crash:
            pass
        else:
            raise AssertionError("the append should have died")

    @rule()
    def reopen_with_resume(self):
        self.writer = create_store(self.url, SCHEMA, chunk_events=1, provenance={"specs": {}}, mode="resume")

    @invariant()
    def readers_see_exactly_the_committed_events(self):
        ds = open_store(self.url)
        assert ds.sizes["event"] == len(self.model)
        if self.model:
            energy, cells, label = (np.array(x) for x in zip(*self.model))
            np.testing.assert_array_equal(ds["energy"].values, energy)
            np.testing.assert_array_equal(ds["cells"].values, cells)
            np.testing.assert_array_equal(ds["label"].values, label)


StoreWriterMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=10, deadline=None)
TestStoreWriter = StoreWriterMachine.TestCase
