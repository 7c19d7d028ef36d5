"""The harness helpers: parsing a script's JSON output, medians with min/max."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from drp.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit


def _common() -> ModuleType:
    path = PROJECT_ROOT / "bench" / "_common.py"
    spec = importlib.util.spec_from_file_location("bench_common", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_common"] = module
    spec.loader.exec_module(module)
    return module


def test_extract_json_single_line_after_a_table() -> None:
    text = "form  records/s\npaged 1,000\n" + json.dumps({"results": [{"a": 1}]}) + "\n"
    assert _common().extract_json(text) == {"results": [{"a": 1}]}


def test_extract_json_indented_document_last() -> None:
    text = "header\n{not json\n" + json.dumps({"x": {"y": [1, 2]}}, indent=2) + "\n\n"
    assert _common().extract_json(text) == {"x": {"y": [1, 2]}}


def test_extract_json_refuses_output_without_a_document() -> None:
    with pytest.raises(ValueError, match="no JSON"):
        _common().extract_json("Traceback (most recent call last):\n  boom\n")


def test_summarize_median_min_max() -> None:
    summary = _common().summarize([3.0, None, 1.0, 2.0, 10.0])
    assert summary == {"median": 2.5, "min": 1.0, "max": 10.0, "n": 4, "samples": [3.0, 1.0, 2.0, 10.0]}
    assert _common().summarize([None]) is None


def test_run_script_reports_a_crash_instead_of_raising(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text("import sys\nprint('partial output')\nsys.exit(3)\n")
    run = _common().run_script("crash", [str(script)], log_path=tmp_path / "crash.log", timeout=60)
    assert not run.ok
    assert run.returncode == 3
    assert "exit code 3" in run.error
    assert "partial output" in (tmp_path / "crash.log").read_text()


def test_run_script_times_out(tmp_path: Path) -> None:
    script = tmp_path / "hang.py"
    script.write_text("import time\ntime.sleep(60)\n")
    run = _common().run_script("hang", [str(script)], log_path=tmp_path / "hang.log", timeout=1)
    assert not run.ok
    assert "timed out" in run.error
