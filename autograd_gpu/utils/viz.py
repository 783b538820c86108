"""make_dot: draw the backward graph of a tensor, like torchviz (no graphviz package needed for the text).

Boxes are grad_fn nodes (``MulBackward0``...), light blue boxes are leaves reached through AccumulateGrad
(labelled with their name in ``params`` and their shape), green boxes are the outputs, orange boxes the
tensors saved for backward (``show_saved``). ``Digraph.source`` is DOT text; ``render`` / ``pipe`` /
``_repr_svg_`` use the ``graphviz`` Python package or the ``dot`` program when one is installed.
"""
from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["make_dot", "Digraph"]


def _quote(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(attrs: dict) -> str:
    return " ".join(f"{k}={_quote(v)}" for k, v in attrs.items() if v is not None)


class Digraph:
    """The subset of graphviz.Digraph that make_dot needs, building DOT text without dependencies."""

    def __init__(self, name: str | None = None, node_attr: dict | None = None, graph_attr: dict | None = None,
                 format: str = "pdf"):
        self.name = name
        self.node_attr = dict(node_attr or {})
        self.graph_attr = dict(graph_attr or {})
        self.format = format
        self.body: list[str] = []

    def node(self, name: str, label: str | None = None, **attrs) -> None:
        if label is not None:
            attrs = {"label": label, **attrs}
        self.body.append(f"\t{_quote(name)} [{_attrs(attrs)}]" if attrs else f"\t{_quote(name)}")

    def edge(self, tail_name: str, head_name: str, **attrs) -> None:
        a = f" [{_attrs(attrs)}]" if attrs else ""
        self.body.append(f"\t{_quote(tail_name)} -> {_quote(head_name)}{a}")

    @property
    def source(self) -> str:
        head = f"digraph {_quote(self.name)} {{" if self.name else "digraph {"
        lines = [head]
        if self.graph_attr:
            lines.append(f"\tgraph [{_attrs(self.graph_attr)}]")
        if self.node_attr:
            lines.append(f"\tnode [{_attrs(self.node_attr)}]")
        return "\n".join(lines + self.body + ["}"]) + "\n"

    def __str__(self) -> str:
        return self.source

    def save(self, filename: str, directory: str | None = None) -> str:
        path = os.path.join(directory, filename) if directory else filename
        with open(path, "w") as f:
            f.write(self.source)
        return path

    def pipe(self, format: str | None = None) -> bytes:
        """The rendered graph (``format`` such as 'svg' or 'png') as bytes."""
        fmt = format or self.format
        try:
            import graphviz
        except ImportError:
            graphviz = None
        if graphviz is not None:
            return graphviz.Source(self.source).pipe(format=fmt)
        dot = shutil.which("dot")
        if dot is None:
            raise RuntimeError("rendering needs Graphviz: install the 'dot' program (and optionally the "
                               "graphviz Python package); the DOT text is available as .source")
        return subprocess.run([dot, f"-T{fmt}"], input=self.source.encode(), capture_output=True,
                              check=True).stdout

    def render(self, filename: str | None = None, directory: str | None = None, view: bool = False,
               cleanup: bool = False, format: str | None = None) -> str:
        """Write the DOT source to ``filename`` and the rendering next to it; returns the rendering's path."""
        fmt = format or self.format
        src = self.save(filename or "Digraph.gv", directory)
        out = f"{src}.{fmt}"
        with open(out, "wb") as f:
            f.write(self.pipe(fmt))
        if cleanup:
            os.remove(src)
        return out

    def _repr_svg_(self) -> str:
        return self.pipe("svg").decode()


def _size_to_str(size) -> str:
    return "(" + ", ".join("%d" % v for v in size) + ")"


def _node_attrs(fn) -> dict:
    """Plain (non-array) attributes an op stored for backward, shown with show_attrs."""
    from ..autograd.node import Node
    found = {}
    # ops keep their common parameter values as class defaults (AddBackward0.alpha = 1) and store only what
    # differs on the node: the class's own attributes first, the node's over them
    for cls in reversed(type(fn).__mro__):
        if cls is not object and not issubclass(Node, cls) and cls.__module__.startswith("autograd_gpu.ops"):
            found.update((k, v) for k, v in vars(cls).items() if k not in _NODE_META)
    found.update(getattr(fn, "__dict__", {}))
    out = {}
    for k, v in found.items():
        if k.startswith("_") or hasattr(v, "shape") or callable(v) or isinstance(v, (classmethod, staticmethod,
                                                                                     property)):
            continue
        if isinstance(v, (int, float, bool, str, tuple, list, type(None))):
            out[k] = v
    return out


_NODE_META = frozenset(("save", "save_result", "non_differentiable"))


def _fn_label(fn, show_attrs: bool, max_attr_chars: int) -> str:
    name = fn.name().rsplit("::", 1)[-1] if hasattr(fn, "name") else type(fn).__name__
    attrs = _node_attrs(fn) if show_attrs else {}
    if not attrs:
        return name
    max_attr_chars = max(max_attr_chars, 3)
    col1 = max(len(k) for k in attrs)
    col2 = min(max(len(str(v)) for v in attrs.values()), max_attr_chars)
    sep = "-" * max(col1 + col2 + 2, len(name))

    def truncate(s):
        return s[:col2 - 3] + "..." if len(s) > col2 else s
    rows = "\n".join(f"{k:<{col1}}: {truncate(str(v)):>{col2}}" for k, v in attrs.items())
    return f"{name}\n{sep}\n{rows}"


def _saved_of(fn):
    """(name, tensor) pairs a node saved for backward; nothing if they were already freed."""
    if getattr(fn, "_released", True) or not hasattr(fn, "saved_tensors"):
        return []
    try:
        saved = list(fn.saved_tensors)
        res = [fn.result] if getattr(fn, "_result", None) is not None else []
    except RuntimeError:  # modified in place since: nothing reliable to show
        return []
    pairs = [(f"saved[{i}]", t) for i, t in enumerate(saved) if t is not None]
    return pairs + [("result", t) for t in res]


def make_dot(var, params: dict | None = None, show_attrs: bool = False, show_saved: bool = False,
             max_attr_chars: int = 50) -> Digraph:
    """The backward graph of ``var`` (a tensor or tuple of tensors) as a Digraph (DOT text in ``.source``).

    params: {name: tensor} used to label leaves (e.g. dict(model.named_parameters()))."""
    from ..tensor import Tensor
    param_map = {}
    if params is not None:
        if not all(isinstance(p, Tensor) for p in params.values()):
            raise AssertionError("params must be a dict of name -> Tensor")
        param_map = {id(v): k for k, v in params.items()}
    node_attr = dict(style="filled", shape="box", align="left", fontsize="10", ranksep="0.1", height="0.2",
                     fontname="monospace")
    dot = Digraph(node_attr=node_attr, graph_attr=dict(size="12,12"))
    seen = set()
    alive = []  # saved tensors made on access: kept alive so their ids stay unique while drawing

    def var_label(t, name=None):
        return "%s\n %s" % (name or param_map.get(id(t), ""), _size_to_str(t.shape))

    def add_nodes(root):
        stack = [root]
        while stack:
            fn = stack.pop()
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            if show_saved:
                for name, t in _saved_of(fn):
                    alive.append(t)
                    dot.edge(str(id(fn)), str(id(t)), dir="none")
                    dot.node(str(id(t)), var_label(t, name), fillcolor="orange")
            leaf = getattr(fn, "variable", None)
            if leaf is not None:
                seen.add(id(leaf))
                dot.node(str(id(leaf)), var_label(leaf), fillcolor="lightblue")
                dot.edge(str(id(leaf)), str(id(fn)))
            dot.node(str(id(fn)), _fn_label(fn, show_attrs, max_attr_chars))
            for child, _ in getattr(fn, "next_functions", ()):
                if child is not None:
                    dot.edge(str(id(child)), str(id(fn)))
                    stack.append(child)

    def add_base_tensor(t, color="darkolivegreen1"):
        while t is not None and id(t) not in seen:
            seen.add(id(t))
            dot.node(str(id(t)), var_label(t), fillcolor=color)
            if t.grad_fn is not None:
                add_nodes(t.grad_fn)
                dot.edge(str(id(t.grad_fn)), str(id(t)))
            base = t._base
            if base is not None:
                dot.edge(str(id(base)), str(id(t)), style="dotted")
            t, color = base, "darkolivegreen3"

    for v in (var if isinstance(var, tuple) else (var,)):
        add_base_tensor(v)
    size = max(12, len(dot.body) * 0.15)  # torchviz's resize_graph
    dot.graph_attr.update(size=f"{size},{size}")
    return dot
