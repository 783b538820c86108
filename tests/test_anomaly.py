"""Anomaly detection: NaN produced in backward raises PyTorch's error and warns with the forward traceback of
the op that made the failing node; errors raised inside a backward get the same traceback."""
import warnings

import pytest

import autograd_gpu as torch
from autograd_gpu.autograd import Function, detect_anomaly, set_detect_anomaly
from autograd_gpu.autograd.anomaly import is_anomaly_check_nan_enabled, is_anomaly_enabled

from conftest import DEVICES


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def _sqrt_at_zero(device):
    a = torch.tensor([0.0, 4.0], device=device, requires_grad=True)
    b = a.sqrt()  # ANOMALY-LINE
    return (b * 0).sum()  # d/da = 0 * inf = nan at 0


def test_nan_in_backward_raises_with_forward_trace(device):
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        ctx = detect_anomaly()
    with ctx:
        loss = _sqrt_at_zero(device)
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            with pytest.raises(RuntimeError, match=r"^Function 'SqrtBackward0' returned nan values in its "
                                                   r"0th output.$"):
                loss.backward()
    msgs = [str(w.message) for w in rec if "Error detected in" in str(w.message)]
    assert len(msgs) == 1
    assert msgs[0].startswith("Error detected in SqrtBackward0. Traceback of forward call that caused the "
                              "error:\n")
    assert "test_anomaly.py" in msgs[0] and "ANOMALY-LINE" in msgs[0]
    assert "autograd_gpu/ops" not in msgs[0]  # the op machinery is trimmed from the trace
    assert not is_anomaly_enabled()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's 0/0 warning from the backward
def test_without_anomaly_mode_nan_passes_silently():
    loss = _sqrt_at_zero("cpu")
    loss.backward()
    assert loss.grad_fn is not None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_check_nan_false_and_set_detect_anomaly():
    set_detect_anomaly(True, check_nan=False)
    try:
        assert is_anomaly_enabled() and not is_anomaly_check_nan_enabled()
        _sqrt_at_zero("cpu").backward()  # no NaN check
    finally:
        set_detect_anomaly(False)
    assert not is_anomaly_enabled()
    with set_detect_anomaly(True):
        assert is_anomaly_enabled() and is_anomaly_check_nan_enabled()
    assert not is_anomaly_enabled()


def test_mode_during_backward_only_reports_missing_trace():
    loss = _sqrt_at_zero("cpu")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with detect_anomaly():
            with pytest.raises(RuntimeError, match="returned nan values"):
                loss.backward()
    assert any("No forward pass information available" in str(w.message) for w in rec)


def test_error_inside_backward_prints_trace():
    class Boom(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        with detect_anomaly():
            y = Boom.apply(torch.ones(2, requires_grad=True))  # BOOM-LINE
            with pytest.raises(ValueError, match="boom"):
                y.sum().backward()
    msgs = [str(w.message) for w in rec if "Error detected in BoomBackward" in str(w.message)]
    assert msgs and "BOOM-LINE" in msgs[0]


def test_multi_output_ops_record_traces():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with detect_anomaly():
            x = torch.ones(4, 2, requires_grad=True)
            parts = x.split(2)
    assert parts[0].grad_fn._anomaly_trace is not None


def test_decorator_form():
    with pytest.warns(UserWarning):
        @detect_anomaly()
        def f():
            return is_anomaly_enabled()
    assert f() is True and not is_anomaly_enabled()
