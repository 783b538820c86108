"""bench/: every case builds and steps for autograd_gpu and hand-written NumPy, and the driver writes its
reports. (PyTorch is never imported here: the torch column is the benchmark's business, not the tests'.)"""
import json
import os
import sys

import numpy as np
import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
sys.path.insert(0, BENCH)

import cases as C  # noqa: E402
import lean_tape as L  # noqa: E402
import run as R  # noqa: E402

SMALL = ["tiny_ops_fwd", "tutorial_iter", "mlp_32x784-128-10", "cnn_step"]


@pytest.mark.parametrize("name", list(C.CASES))
def test_case_steps(name):
    for lib in ("autograd_gpu", "numpy"):
        step = C.CASES[name](lib, "cpu")
        if step is not None:  # (cnn_step has no hand-written NumPy version)
            step()


@pytest.mark.parametrize("name", ["tutorial_iter", "mlp_32x784-128-10", "softmax_ce_4096x1000"])
def test_same_loss(name):
    """The autograd_gpu and NumPy versions of a training step compute the same loss."""
    ag = C.CASES[name]("autograd_gpu", "cpu")()
    ref = C.CASES[name]("numpy", "cpu")()
    ref = ref[0] if isinstance(ref, tuple) else ref
    np.testing.assert_allclose(float(ag.item()), float(ref), rtol=1e-5)



def test_sgd_step_case_updates_as_numpy():
    """sgd_step_784-128-10: autograd_gpu's optimizer and the hand-written NumPy update agree step by step."""
    build = C.CASES["sgd_step_784-128-10"]
    ag, ref = build("autograd_gpu", "cpu"), build("numpy", "cpu")
    for _ in range(3):
        np.testing.assert_allclose(ag().detach().numpy(), ref(), rtol=1e-6, atol=1e-7)

def test_lean_tape_trains_as_autograd_gpu():
    """bench/lean_tape.py, the floor it reports, runs the MLP step of cases.py: the same losses over three
    steps (so the same gradients and updates) as autograd_gpu's."""
    ag, lean = C.mlp_small("autograd_gpu", "cpu"), L.lean_mlp((784, 128, 10), 32)
    for _ in range(3):
        np.testing.assert_allclose(float(lean().data), float(ag().item()), rtol=1e-5)


def test_driver_writes_reports(tmp_path):
    R.main(["--cases", ",".join(SMALL[:2]), "--libs", "autograd_gpu,numpy", "--rounds", "2", "--no-import",
            "--keep-blas-env", "--out", str(tmp_path)])
    data = json.loads((tmp_path / "latest.json").read_text())
    assert [r["case"] for r in data["results"]] == SMALL[:2]
    for r in data["results"]:
        assert set(r["median_s"]) == {"autograd_gpu", "numpy"} and r["ratio"]["numpy"] > 0
    md = (tmp_path / "latest.md").read_text()
    assert "| tutorial_iter | cpu |" in md and "clock: process CPU time" in md


def test_driver_gpu_report_on_the_emulated_device(tmp_path):
    """--devices cuda_emulated runs bench/gpu.py's code (a real GPU's path differs in its timer and launch
    counter only): one kernel launch per optimizer step over four parameters, the MLP step's own kernels
    (relu and cross-entropy forward and backward, cross-entropy's target check and mean), and the GPU
    targets table."""
    from autograd_gpu.testing.devices import test_devices
    if "cuda_emulated" not in test_devices():
        pytest.skip("cuda_emulated not in the test devices")
    R.main(["--devices", "cuda_emulated", "--cases", "sgd_step_784-128-10,mlp_32x784-128-10", "--rounds", "1",
            "--no-import", "--keep-blas-env", "--out", str(tmp_path)])
    rows = {r["case"]: r for r in json.loads((tmp_path / "latest.json").read_text())["results"]}
    assert rows["sgd_step_784-128-10"]["launches_per_step"] == {"autograd_gpu": 1}
    assert rows["mlp_32x784-128-10"]["launches_per_step"] == {"autograd_gpu": 6}
    md = (tmp_path / "latest.md").read_text()
    assert ("| sgd_step_784-128-10 (cuda_emulated): kernel launches per optimizer step [autograd_gpu's kernel "
            "factory] | = 1 | 1 | holds |") in md
