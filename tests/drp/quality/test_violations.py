"""Every critical expectation blocks the gate when its violation is injected (and names it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drp.quality.errors import QualityGateError
from drp.quality.suites import SUITES, Severity
from tests.drp.quality.gate_runner import RunGate, corrupt
from tests.drp.quality.violations import VIOLATIONS, Violation

pytestmark = [pytest.mark.integration, pytest.mark.isolated]


def test_every_critical_expectation_has_a_violation_case() -> None:
    critical = {
        (spec.name, check.name)
        for spec in SUITES
        for check in spec.checks
        if check.severity is Severity.CRITICAL
    }
    covered = {(case.suite, case.check) for case in VIOLATIONS}
    assert critical - covered == set(), "critical checks without an injected violation"
    assert covered - critical == set(), "violation cases naming unknown or non-critical checks"


@pytest.mark.parametrize("case", VIOLATIONS, ids=[case.id for case in VIOLATIONS])
def test_violation_blocks_the_gate_naming_the_expectation(
    case: Violation, warehouse: Path, run_gate: RunGate
) -> None:
    corrupt(warehouse, *case.sql)

    # Only the suite under test runs (2-3 s for all ten x 97 cases would be too slow); the full
    # gate on violations is covered by test_gate's fault scenarios.
    with pytest.raises(QualityGateError) as raised:
        run_gate(warehouse, suites=[case.suite])

    report = raised.value.report
    failed = {(failure.suite, failure.check) for failure in report.critical_failures}
    assert (case.suite, case.check) in failed, report.summary()
    check = next(spec for spec in SUITES if spec.name == case.suite).check(case.check)
    # The message names the suite, the expectation type and its column.
    assert f"{case.suite}: {check.label} [{case.check}]" in str(raised.value)
