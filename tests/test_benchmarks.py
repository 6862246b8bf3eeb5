"""Every script in benchmarks/ runs its tiniest configuration (`--quick`) to the end and prints its table:
a benchmark that no longer runs (an import moved, a protocol changed) fails here, not on the day someone
wants a number. No time is asserted: figures are for the README, measured by hand."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_uvicorn import server  # noqa: F401  (a real uvicorn on a free port, for the load generator)

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
BROWSER = {"browser_bench.py", "engine_bench.py"}  # these drive headless Chromium
WITH_SERVER = {"ws_load.py"}  # the load generator needs a server to load
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py"))


def chromium() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def run(script: str, *args: str, timeout: float = 300) -> str:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args, "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{script} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip(), f"{script} printed nothing"
    return proc.stdout


def test_every_benchmark_has_a_smoke_run() -> None:
    assert SCRIPTS, "no benchmarks found"
    for script in SCRIPTS:
        assert "--quick" in (BENCHMARKS / script).read_text(encoding="utf-8"), f"{script} has no --quick"


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s not in BROWSER | WITH_SERVER])
def test_a_benchmark_runs_its_tiniest_configuration(script: str) -> None:
    out = run(script)
    if script == "core_bench.py":
        assert "plain loop" in out and "traced forward" in out


@pytest.mark.parametrize("script", sorted(BROWSER))
def test_a_browser_benchmark_runs_its_tiniest_configuration(script: str) -> None:
    executable = chromium()
    if executable is None:
        pytest.skip("no Chromium found (install Debian's `chromium`, or set CHROMIUM=/path/to/chromium)")
    run(script, "--chromium", executable)


def test_the_load_generator_runs_against_a_real_server(server: str) -> None:  # noqa: F811
    out = run("ws_load.py", f"ws://{server}/ws/trace")
    assert "errors 0" in out and "done p50" in out, out
