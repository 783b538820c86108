"""make_dot: torchviz-style DOT text of the backward graph; rendering only where Graphviz is installed."""
import re
import shutil

import pytest

import autograd_gpu as torch
from autograd_gpu.utils.viz import Digraph, make_dot


def _graph():
    w = torch.randn(3, 4, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    x = torch.randn(4)
    y = (w.mv(x) + b).sigmoid().sum()
    return y, w, b


def _labels(src):
    return re.findall(r'label="([^"]*)"', src)


def test_dot_text_names_nodes_and_parameters():
    y, w, b = _graph()
    dot = make_dot(y, params={"weight": w, "bias": b})
    src = dot.source
    assert src.startswith("digraph {") and src.rstrip().endswith("}")
    labels = _labels(src)
    for name in ("SumBackward0", "SigmoidBackward0", "AddBackward0", "MvBackward0", "AccumulateGrad",
                 "weight\\n (3, 4)", "bias\\n (3)", "\\n ()"):
        assert name in labels, name
    assert src.count("->") == 8  # 5 between nodes, 2 leaf -> AccumulateGrad, 1 SumBackward0 -> output
    assert 'fillcolor="lightblue"' in src and 'fillcolor="darkolivegreen1"' in src
    assert str(dot) == src


def test_show_attrs_and_saved():
    y, w, b = _graph()
    src = make_dot(y, params={"weight": w, "bias": b}, show_attrs=True, show_saved=True).source
    labels = _labels(src)
    assert any(lab.startswith("AddBackward0\\n") and "alpha: 1" in lab for lab in labels)
    assert "result\\n (3)" in labels  # sigmoid saves its output
    assert src.count('fillcolor="orange"') >= 2 and 'dir="none"' in src
    y.backward()  # saved values are freed: nothing to show, but drawing still works
    src = make_dot(y, show_saved=True).source
    assert "result" not in src


def test_multiple_outputs_views_and_custom_function():
    x = torch.randn(2, 3, requires_grad=True)
    v = x.t()
    src = make_dot((v * 2, x.sum())).source
    assert "TBackward0" in src and "MulBackward0" in src and "SumBackward0" in src

    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    assert "DoubleBackward" in _labels(make_dot(Double.apply(x)).source)


def test_deep_graph_has_no_recursion():
    x = torch.randn(2, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    src = make_dot(y).source
    assert src.count("MulBackward0") == 5000


def test_quoting():
    d = Digraph()
    d.node("a", 'say "hi"\nnow')
    d.edge("a", "b", style="dotted")
    assert '"a" [label="say \\"hi\\"\\nnow"]' in d.source
    assert '"a" -> "b" [style="dotted"]' in d.source


def test_render_svg(tmp_path):
    try:
        import graphviz  # noqa: F401
        have_python_pkg = True
    except ImportError:
        have_python_pkg = False
    if not (have_python_pkg or shutil.which("dot")):
        pytest.skip("Graphviz (the graphviz package or the dot program) is not installed")
    y, w, b = _graph()
    dot = make_dot(y, params={"weight": w, "bias": b})
    assert "<svg" in dot.pipe("svg").decode()
    out = dot.render(str(tmp_path / "graph"), format="png")
    assert open(out, "rb").read(4) == b"\x89PNG"
