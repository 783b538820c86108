"""The digits CNN demo: a short run learns (far above chance) and writes its plot; the CLI prints the
summary line."""
import io
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

from autograd_gpu import demo  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_short_training_learns_and_plots(tmp_path):
    out = io.StringIO()
    plot = tmp_path / "curves.png"
    hist = demo.train("cpu", epochs=2, seed=0, batch_size=32, lr=3e-3, plot_path=str(plot), progress=False,
                      out=out)
    assert hist["test_accuracy"] > 0.7  # chance is 0.1
    assert hist["loss"][1] < hist["loss"][0]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = out.getvalue().splitlines()
    epoch_line = r"epoch  1  loss \d\.\d{4}  train acc \d\.\d{3}  test acc \d\.\d{3}  time \d+\.\d\ds"
    assert re.fullmatch(epoch_line, lines[1])
    assert lines[-1] == f"test accuracy: {hist['test_accuracy']:.3f}"


def test_cli(tmp_path):
    plot = tmp_path / "cli.png"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "autograd_gpu.demo", "--device", "cpu", "--epochs", "1",
                        "--batch-size", "64", "--lr", "0.005", "--seed", "1", "--plot", str(plot)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"test accuracy: \d\.\d{3}", last) and float(last.split()[-1]) > 0.5
    assert plot.exists()
