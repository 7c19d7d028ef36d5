"""The quality gate: Great Expectations suites over the warehouse, blocking publication on failure.

* `suites` - what is expected (plain data, no GX import): suites, checks, severities;
* `frames` - what is validated: pandas frames read read-only from DuckDB for a run's interval;
* `project` - the GX file project in `great_expectations/`, generated from `suites`;
* `gate` - `run_quality_gate()`: validate, record in `ops.quality_results`, build Data Docs, raise;
* `docs` - `build_data_docs()` for `make docs`;
* `results` - the owner of `ops.quality_results`.

The package re-exports nothing, so `drp.quality.errors` (which the DAG imports at parse time)
loads no Great Expectations (7-9 s), DuckDB or pandas: only `gate`, `project` and `frames` do.
"""
