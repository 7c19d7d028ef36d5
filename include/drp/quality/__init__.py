"""The quality gate: Great Expectations suites over the warehouse, blocking publication on failure.

* `suites` - what is expected (plain data, no GX import): suites, checks, severities;
* `frames` - what is validated: pandas frames read read-only from DuckDB for a run's interval;
* `project` - the GX file project in `great_expectations/`, generated from `suites`;
* `gate` - `run_quality_gate()`: validate, record in `ops.quality_results`, build Data Docs, raise;
* `docs` - `build_data_docs()` for `make docs`;
* `sample` - a clean synthetic warehouse for tests and the bench.

Importing this package does not import Great Expectations (7-9 s); the functions do.
"""

from drp.quality.errors import QualityError, QualityGateError, QualityInputError
from drp.quality.gate import run_quality_gate
from drp.quality.report import Failure, QualityReport, SuiteResult
from drp.quality.suites import SUITES, Severity

__all__ = [
    "SUITES",
    "Failure",
    "QualityError",
    "QualityGateError",
    "QualityInputError",
    "QualityReport",
    "Severity",
    "SuiteResult",
    "run_quality_gate",
]
