"""Tests for autograd_gpu._tensor_str.

Every expected string below is the literal ``repr`` printed by PyTorch 2.13
for the same data (torch is NOT imported here).
"""

import math

import numpy as np
import pytest

from autograd_gpu import _tensor_str as ts
from autograd_gpu._tensor_str import format_tensor, get_printoptions, printoptions, set_printoptions

_NAMES = {
    np.float16: "torch.float16", np.float32: "torch.float32", np.float64: "torch.float64",
    np.int8: "torch.int8", np.int16: "torch.int16", np.int32: "torch.int32",
    np.int64: "torch.int64", np.uint8: "torch.uint8", np.bool_: "torch.bool",
}


def fmt(a, *, device=None, requires_grad=False, grad_fn=None, prefix="tensor("):
    a = np.asarray(a)
    return format_tensor(a, _NAMES[a.dtype.type], is_default_dtype=a.dtype == np.float32,
                         device_str=device, requires_grad=requires_grad,
                         grad_fn_name=grad_fn, prefix=prefix)


@pytest.fixture(autouse=True)
def _reset_printoptions():
    set_printoptions(profile="default")
    yield
    set_printoptions(profile="default")


def f32(x):
    return np.array(x, dtype=np.float32)


def f64(x):
    return np.array(x, dtype=np.float64)


# ----------------------------------------------------------------- basic floats

def test_seed_tutorial_int_mode_matrix():
    a = np.full((5, 5), 2.0, np.float32) + 2 * np.eye(5, dtype=np.float32)
    assert fmt(a) == (
        "tensor([[4., 2., 2., 2., 2.],\n"
        "        [2., 4., 2., 2., 2.],\n"
        "        [2., 2., 4., 2., 2.],\n"
        "        [2., 2., 2., 4., 2.],\n"
        "        [2., 2., 2., 2., 4.]])")


def test_fixed_point_matrix():
    a = f32([[0.1212, 0.1953, 0.3046], [0.7715, 0.5069, 0.9925], [0.0421, 0.8733, 0.6180]])
    assert fmt(a) == (
        "tensor([[0.1212, 0.1953, 0.3046],\n"
        "        [0.7715, 0.5069, 0.9925],\n"
        "        [0.0421, 0.8733, 0.6180]])")


def test_zero_dim():
    assert fmt(f32(3.0)) == "tensor(3.)"
    assert fmt(f64(-2.5)) == "tensor(-2.5000, dtype=torch.float64)"
    assert fmt(np.array(7)) == "tensor(7)"
    assert fmt(np.array(True)) == "tensor(True)"
    assert fmt(f32(1e-5)) == "tensor(1.0000e-05)"


def test_nested_3d_and_4d():
    assert fmt(np.arange(12.0, dtype=np.float32).reshape(2, 3, 2)) == (
        "tensor([[[ 0.,  1.],\n"
        "         [ 2.,  3.],\n"
        "         [ 4.,  5.]],\n"
        "\n"
        "        [[ 6.,  7.],\n"
        "         [ 8.,  9.],\n"
        "         [10., 11.]]])")
    assert fmt(np.arange(8).reshape(2, 1, 2, 2)) == (
        "tensor([[[[0, 1],\n"
        "          [2, 3]]],\n"
        "\n"
        "\n"
        "        [[[4, 5],\n"
        "          [6, 7]]]])")


# ------------------------------------------------------------------- sci mode

@pytest.mark.parametrize("data, dtype, expected", [
    ([1e-5, 1.0], np.float32, "tensor([1.0000e-05, 1.0000e+00])"),
    ([1e10, -2.5, 3e-3], np.float64,
     "tensor([ 1.0000e+10, -2.5000e+00,  3.0000e-03], dtype=torch.float64)"),
    ([1e9, 3.0], np.float32, "tensor([1.0000e+09, 3.0000e+00])"),  # integral but > 1e8
    ([1.0, 1000.0], np.float32, "tensor([   1., 1000.])"),  # ratio exactly 1000: not sci
    ([1.0, 1000.5], np.float32, "tensor([1.0000e+00, 1.0005e+03])"),
    ([1e8, 1.5], np.float32, "tensor([1.0000e+08, 1.5000e+00])"),
    ([2e8, 1.0], np.float32, "tensor([2.0000e+08, 1.0000e+00])"),
    ([1.5e-4, 0.1], np.float32, "tensor([0.0002, 0.1000])"),
    ([0.5e-4, 0.1], np.float32, "tensor([5.0000e-05, 1.0000e-01])"),
    # float32(1e-3) < 1e-3, so the max/min ratio exceeds 1000
    ([1e-3, 1.0, 1000.0], np.float32, "tensor([1.0000e-03, 1.0000e+00, 1.0000e+03])"),
])
def test_sci_mode_rule(data, dtype, expected):
    assert fmt(np.array(data, dtype=dtype)) == expected


def test_sci_mode_matrix_with_zero():
    assert fmt(f64([[1e-10, 1e10], [-3.5, 0.0]])) == (
        "tensor([[ 1.0000e-10,  1.0000e+10],\n"
        "        [-3.5000e+00,  0.0000e+00]], dtype=torch.float64)")


def test_forced_sci_mode():
    set_printoptions(sci_mode=True)
    assert fmt(f32([1.0, 2.5])) == "tensor([1.0000e+00, 2.5000e+00])"
    set_printoptions(sci_mode=False)
    assert fmt(f32([1e-5, 1.0])) == "tensor([0.0000, 1.0000])"


# ------------------------------------------------------------ nan / inf / -0

def test_nonfinite_and_negative_zero():
    nan, inf = math.nan, math.inf
    assert fmt(f32([nan, inf, -inf, 1.5])) == "tensor([   nan,    inf,   -inf, 1.5000])"
    assert fmt(f32([nan, 2.0, -inf])) == "tensor([nan, 2., -inf])"
    assert fmt(f32([-0.0, 0.0])) == "tensor([-0., 0.])"
    assert fmt(f32([-0.0, 1.5])) == "tensor([-0.0000, 1.5000])"


def test_float16():
    assert fmt(np.array([0.1, 1000.5, -3.0], np.float16)) == (
        "tensor([ 9.9976e-02,  1.0005e+03, -3.0000e+00], dtype=torch.float16)")
    assert fmt(np.array([65504.0, -1.0], np.float16)) == (
        "tensor([ 6.5504e+04, -1.0000e+00], dtype=torch.float16)")


# -------------------------------------------------------------- ints / bools

def test_ints_and_bools():
    assert fmt(np.array([[1, -20], [300, 4]], np.int32)) == (
        "tensor([[  1, -20],\n"
        "        [300,   4]], dtype=torch.int32)")
    assert fmt(np.array([[1, -20], [300, 4]], np.int64)) == (
        "tensor([[  1, -20],\n"
        "        [300,   4]])")
    assert fmt(np.array([0, 7, 255], np.uint8)) == "tensor([  0,   7, 255], dtype=torch.uint8)"
    assert fmt(np.array([[True, False], [False, True]])) == (
        "tensor([[ True, False],\n"
        "        [False,  True]])")


# ---------------------------------------------------------------------- empty

def test_empty():
    assert fmt(np.zeros((0, 3), np.float32)) == "tensor([], size=(0, 3))"
    assert fmt(np.zeros((0,), np.float32)) == "tensor([])"
    assert fmt(np.zeros((0,), np.int64)) == "tensor([], dtype=torch.int64)"
    assert fmt(np.zeros((2, 0), np.bool_)) == "tensor([], size=(2, 0), dtype=torch.bool)"


# ------------------------------------------------------------ line wrapping

def test_long_row_wraps_at_linewidth():
    assert fmt(np.arange(30, dtype=np.float32) / np.float32(7)) == (
        "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
        "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
        "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
        "        3.8571, 4.0000, 4.1429])")
    assert fmt((np.arange(40, dtype=np.float64) / 7).reshape(2, 20)) == (
        "tensor([[0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
        "         1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
        "         2.5714, 2.7143],\n"
        "        [2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143, 3.8571, 4.0000,\n"
        "         4.1429, 4.2857, 4.4286, 4.5714, 4.7143, 4.8571, 5.0000, 5.1429, 5.2857,\n"
        "         5.4286, 5.5714]], dtype=torch.float64)")
    set_printoptions(linewidth=20)
    assert fmt(np.arange(10)) == (
        "tensor([0, 1, 2, 3,\n"
        "        4, 5, 6, 7,\n"
        "        8, 9])")


# ------------------------------------------------------------- summarization

def test_summarize_1d():
    assert fmt(np.arange(2000)) == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"
    set_printoptions(threshold=5)
    assert fmt(np.arange(10)) == "tensor([0, 1, 2,  ..., 7, 8, 9])"


def test_summarize_2d_uses_only_printed_values_for_width():
    a = np.arange(10000, dtype=np.float32).reshape(100, 100) / np.float32(4)
    assert fmt(a) == (
        "tensor([[0.0000e+00, 2.5000e-01, 5.0000e-01,  ..., 2.4250e+01, 2.4500e+01,\n"
        "         2.4750e+01],\n"
        "        [2.5000e+01, 2.5250e+01, 2.5500e+01,  ..., 4.9250e+01, 4.9500e+01,\n"
        "         4.9750e+01],\n"
        "        [5.0000e+01, 5.0250e+01, 5.0500e+01,  ..., 7.4250e+01, 7.4500e+01,\n"
        "         7.4750e+01],\n"
        "        ...,\n"
        "        [2.4250e+03, 2.4252e+03, 2.4255e+03,  ..., 2.4492e+03, 2.4495e+03,\n"
        "         2.4498e+03],\n"
        "        [2.4500e+03, 2.4502e+03, 2.4505e+03,  ..., 2.4742e+03, 2.4745e+03,\n"
        "         2.4748e+03],\n"
        "        [2.4750e+03, 2.4752e+03, 2.4755e+03,  ..., 2.4992e+03, 2.4995e+03,\n"
        "         2.4998e+03]])")


def test_summarize_3d():
    # built from torch's output for arange(1280).reshape(8, 8, 20).int()
    expected = (
        "tensor([[[   0,    1,    2,  ...,   17,   18,   19],\n"
        "         [  20,   21,   22,  ...,   37,   38,   39],\n"
        "         [  40,   41,   42,  ...,   57,   58,   59],\n"
        "         ...,\n"
        "         [ 100,  101,  102,  ...,  117,  118,  119],\n"
        "         [ 120,  121,  122,  ...,  137,  138,  139],\n"
        "         [ 140,  141,  142,  ...,  157,  158,  159]],\n"
        "\n"
        "        [[ 160,  161,  162,  ...,  177,  178,  179],\n"
        "         [ 180,  181,  182,  ...,  197,  198,  199],\n"
        "         [ 200,  201,  202,  ...,  217,  218,  219],\n"
        "         ...,\n"
        "         [ 260,  261,  262,  ...,  277,  278,  279],\n"
        "         [ 280,  281,  282,  ...,  297,  298,  299],\n"
        "         [ 300,  301,  302,  ...,  317,  318,  319]],\n"
        "\n"
        "        [[ 320,  321,  322,  ...,  337,  338,  339],\n"
        "         [ 340,  341,  342,  ...,  357,  358,  359],\n"
        "         [ 360,  361,  362,  ...,  377,  378,  379],\n"
        "         ...,\n"
        "         [ 420,  421,  422,  ...,  437,  438,  439],\n"
        "         [ 440,  441,  442,  ...,  457,  458,  459],\n"
        "         [ 460,  461,  462,  ...,  477,  478,  479]],\n"
        "\n"
        "        ...,\n"
        "\n"
        "        [[ 800,  801,  802,  ...,  817,  818,  819],\n"
        "         [ 820,  821,  822,  ...,  837,  838,  839],\n"
        "         [ 840,  841,  842,  ...,  857,  858,  859],\n"
        "         ...,\n"
        "         [ 900,  901,  902,  ...,  917,  918,  919],\n"
        "         [ 920,  921,  922,  ...,  937,  938,  939],\n"
        "         [ 940,  941,  942,  ...,  957,  958,  959]],\n"
        "\n"
        "        [[ 960,  961,  962,  ...,  977,  978,  979],\n"
        "         [ 980,  981,  982,  ...,  997,  998,  999],\n"
        "         [1000, 1001, 1002,  ..., 1017, 1018, 1019],\n"
        "         ...,\n"
        "         [1060, 1061, 1062,  ..., 1077, 1078, 1079],\n"
        "         [1080, 1081, 1082,  ..., 1097, 1098, 1099],\n"
        "         [1100, 1101, 1102,  ..., 1117, 1118, 1119]],\n"
        "\n"
        "        [[1120, 1121, 1122,  ..., 1137, 1138, 1139],\n"
        "         [1140, 1141, 1142,  ..., 1157, 1158, 1159],\n"
        "         [1160, 1161, 1162,  ..., 1177, 1178, 1179],\n"
        "         ...,\n"
        "         [1220, 1221, 1222,  ..., 1237, 1238, 1239],\n"
        "         [1240, 1241, 1242,  ..., 1257, 1258, 1259],\n"
        "         [1260, 1261, 1262,  ..., 1277, 1278, 1279]]], dtype=torch.int32)")
    assert fmt(np.arange(8 * 8 * 20, dtype=np.int32).reshape(8, 8, 20)) == expected


def test_short_profile_summarized():
    set_printoptions(profile="short")
    a = np.arange(2000, dtype=np.float32).reshape(20, 100) / np.float32(3)
    assert fmt(a) == (
        "tensor([[0.00e+00, 3.33e-01,  ..., 3.27e+01, 3.30e+01],\n"
        "        [3.33e+01, 3.37e+01,  ..., 6.60e+01, 6.63e+01],\n"
        "        ...,\n"
        "        [6.00e+02, 6.00e+02,  ..., 6.33e+02, 6.33e+02],\n"
        "        [6.33e+02, 6.34e+02,  ..., 6.66e+02, 6.66e+02]])")


def test_full_profile_never_summarizes():
    set_printoptions(profile="full")
    assert "..." not in fmt(np.arange(1200))


def test_edgeitems_zero_prints_size():
    set_printoptions(edgeitems=0, threshold=5)
    assert fmt(np.arange(10.0, dtype=np.float32)) == "tensor([...], size=(10,))"
    assert fmt(np.arange(12.0, dtype=np.float32).reshape(3, 4)) == "tensor([...], size=(3, 4))"


# ------------------------------------------------------------------ suffixes

def test_autograd_suffixes():
    assert fmt(f32([1.0, 2.0]), requires_grad=True) == "tensor([1., 2.], requires_grad=True)"
    # grad_fn wins over requires_grad
    assert fmt(f32([2.0, 3.0]), requires_grad=True, grad_fn="AddBackward0") == (
        "tensor([2., 3.], grad_fn=<AddBackward0>)")
    assert fmt(f64([[0.5, 1.25], [3.0, 4.0]]), requires_grad=True, grad_fn="MulBackward0") == (
        "tensor([[0.5000, 1.2500],\n"
        "        [3.0000, 4.0000]], dtype=torch.float64, grad_fn=<MulBackward0>)")


def test_device_suffix_order_and_wrapping():
    assert fmt(f32([1.0, 2.0]), device="cuda:0", requires_grad=True) == (
        "tensor([1., 2.], device='cuda:0', requires_grad=True)")
    assert fmt(f64([[0.1, 0.2, 0.3, 0.4, 0.5]]), device="cuda:0", grad_fn="AddBackward0") == (
        "tensor([[0.1000, 0.2000, 0.3000, 0.4000, 0.5000]], device='cuda:0',\n"
        "       dtype=torch.float64, grad_fn=<AddBackward0>)")
    assert fmt(np.zeros((0, 3), np.int32), device="cuda:0") == (
        "tensor([], device='cuda:0', size=(0, 3), dtype=torch.int32)")


def test_custom_prefix_indents():
    assert fmt(np.arange(6.0, dtype=np.float32).reshape(2, 3), prefix="MyTensor(") == (
        "MyTensor([[0., 1., 2.],\n"
        "          [3., 4., 5.]])")


# ------------------------------------------------------------- print options

def test_printoptions_api():
    assert get_printoptions() == {"precision": 4, "threshold": 1000, "edgeitems": 3,
                                  "linewidth": 80, "sci_mode": None}
    set_printoptions(precision=2)
    assert fmt(f32([1.12345])) == "tensor([1.12])"
    set_printoptions(profile="short")
    assert get_printoptions()["edgeitems"] == 2
    set_printoptions(profile="full")
    assert get_printoptions()["threshold"] == math.inf
    set_printoptions(profile="default")
    assert fmt(f32([1.12345])) == "tensor([1.1235])"
    assert fmt(np.arange(10)) == "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])"
    with printoptions(precision=1, sci_mode=True):
        assert fmt(f32([1.5])) == "tensor([1.5e+00])"
    assert get_printoptions()["precision"] == 4 and get_printoptions()["sci_mode"] is None


def test_big_tensor_is_fast():
    import time
    a = np.zeros((3000, 3000), np.float32)
    t = time.perf_counter()
    s = fmt(a)
    assert time.perf_counter() - t < 1.0
    assert s.startswith("tensor([[0., 0., 0.,  ..., 0., 0., 0.],")


def test_rejects_complex():
    with pytest.raises(TypeError):
        format_tensor(np.zeros(2, np.complex64), "torch.complex64", is_default_dtype=False,
                      device_str=None, requires_grad=False, grad_fn_name=None)


def test_module_state_is_shared():
    set_printoptions(precision=3)
    assert ts.PRINT_OPTS.precision == 3
