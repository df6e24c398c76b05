"""Each experiment script runs end to end at tiny size and writes its plot and summary.

The scripts run in this process (``runpy``), so the interpreter, torch and matplotlib are
imported once for all of them rather than once per script.
"""
import re
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["e1_holder_rates", "e2_monotone_lp_vs_sup", "e3_exact_minimax_binary", "e4_quantized_orthogonality"]


@pytest.mark.parametrize("name", NAMES)
def test_experiment_runs_tiny(tmp_path, name, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "experiments"))
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--tiny", "--out", str(tmp_path)])
    runpy.run_path(str(ROOT / "experiments" / f"{name}.py"), run_name="__main__")
    import matplotlib.pyplot as plt

    plt.close("all")
    png = tmp_path / f"{name}.png"
    md = tmp_path / f"{name}.md"
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    text = md.read_text()
    assert f"({name}.png)" in text and "|" in text
    cells = [c.strip() for line in text.splitlines() if line.startswith("|") for c in line.strip("|").split("|")]
    assert cells and "NO" not in cells  # no table row reports a failed check
    assert not re.search(r"\bNO\b", text)  # nor does the prose under the table


def test_monotone_bounds_table_script(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["monotone_bounds_table.py"])
    runpy.run_path(str(ROOT / "experiments" / "monotone_bounds_table.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert out.count("| 1/2 |") == 27 and "fitted slope of the upper bound" in out
