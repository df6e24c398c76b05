"""Each experiment script runs end to end at tiny size and writes its plot and summary."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["e1_holder_rates", "e2_monotone_lp_vs_sup", "e3_exact_minimax_binary", "e4_quantized_orthogonality"]


@pytest.mark.parametrize("name", NAMES)
def test_experiment_runs_tiny(tmp_path, name):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    subprocess.run([sys.executable, str(ROOT / "experiments" / f"{name}.py"), "--tiny", "--out", str(tmp_path)],
                   check=True, env=env, capture_output=True, timeout=120)
    png = tmp_path / f"{name}.png"
    md = tmp_path / f"{name}.md"
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    text = md.read_text()
    assert f"({name}.png)" in text and "|" in text and "NO" not in text.split("|")
