"""A pytest plugin for nbval runs of the instructor notebooks (``-p nbval_records``): a
hidden test's record is compared as the judge compares it, not bit for bit.

Why: a record holds gradients and losses computed with NumPy and its BLAS, whose last bits
differ between CPUs, BLAS kernels and SIMD paths. nbval compares stored outputs exactly, so
outputs stored on one machine failed on another although the judge (within 1e-9,
``judging.compare``) sees no difference. Everything else nbval compares as it always does.
"""

from __future__ import annotations

from typing import Any

import pytest
from nbval.plugin import IPyNbCell

from course_grader.judging.compare import compare
from course_grader.probes.records import MIME


def _records(outputs: list[dict[str, Any]]) -> tuple[list[Any], list[dict[str, Any]]]:
    """The records among ``outputs``, and the outputs with them taken out."""
    found, rest = [], []
    for out in outputs:
        data = out.get("data") if isinstance(out, dict) else None
        if isinstance(data, dict) and MIME in data:
            found.append(data[MIME])
            others = {k: v for k, v in data.items() if k != MIME}
            if others:
                rest.append({**out, "data": others})
        else:
            rest.append(out)
    return found, rest


_compare_outputs = IPyNbCell.compare_outputs


def compare_outputs(self: IPyNbCell, test: list, ref: list, skip_compare: Any = None) -> bool:
    """nbval's comparison, with records judged by ``judging.compare`` first."""
    test_records, test_rest = _records(test)
    ref_records, ref_rest = _records(ref)
    if len(test_records) != len(ref_records):
        self.comparison_traceback = [f"expected {len(ref_records)} hidden-test record(s), got {len(test_records)}"]
        return False
    for i, (want, got) in enumerate(zip(ref_records, test_records, strict=True)):
        if (why := compare(want, got)) is not None:
            self.comparison_traceback = [f"hidden-test record {i} differs as the judge compares it: {why}"]
            return False
    return _compare_outputs(self, test_rest, ref_rest, skip_compare)


@pytest.hookimpl
def pytest_configure(config: pytest.Config) -> None:
    IPyNbCell.compare_outputs = compare_outputs  # type: ignore[method-assign]
