"""Tensor: an array (NumPy or CuPy) plus autograd state. Math lives in ops/; methods are bound there."""
from __future__ import annotations

import warnings

import numpy as np

from . import _dtype
from .autograd.grad_mode import inference_active as _inference_active, state as _grad_state
from .backend.device import CPU, Device


class Size(tuple):
    """torch.Size: a tuple that prints as ``torch.Size([5, 3])``."""

    __slots__ = ()

    def __repr__(self):
        return f"torch.Size([{', '.join(str(d) for d in self)}])"

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n


class Tensor:
    """A multi-dimensional array on a device, with optional gradient tracking (PyTorch semantics)."""

    __slots__ = ("_data", "_device", "_requires_grad", "grad_fn", "_output_nr", "_version",
                 "__weakref__", "__dict__")

    __array_priority__ = 1000  # make ndarray + Tensor defer to Tensor.__radd__
    # Rarely set state lives in the instance __dict__ only once set: these class defaults keep _make (run for
    # every op output) down to the attributes every tensor needs.
    _grad = None  # .grad: set on leaves (and retained non-leaves) only
    _fw_grad = None  # forward-AD tangent (autograd.forward_ad); only dual tensors hold one
    _retains_grad = False
    _accum = None  # a leaf's AccumulateGrad (which refers back to it weakly)
    _hooks = None
    _post_acc_hooks = None
    _base = None  # the tensor a view aliases
    _is_inference = False  # made under inference_mode

    @staticmethod
    def _make(data, device: Device = CPU, requires_grad: bool = False, grad_fn=None, output_nr: int = 0):
        """Fast internal constructor: wraps ``data`` (not copied)."""
        if type(data) is not _ndarray and isinstance(data, np.generic):  # NumPy gives scalars for 0-d results
            data = _array(data)  # (np.array: a third of np.asarray's time on a scalar)
        t = _new(Tensor)
        t._data = data
        t._device = device
        t._requires_grad = requires_grad
        t.grad_fn = grad_fn
        t._output_nr = output_nr
        t._version = [0]
        if _inference_active[0] and _grad_state.inference:
            t._is_inference = True
        return t

    def __new__(cls, *args, device=None):
        """The legacy constructor ``torch.Tensor(...)``: sizes (ints or a Size) give a new default-dtype tensor,
        a sequence or array gives its values in the default dtype, a Tensor gives an alias of it."""
        from . import creation
        if len(args) == 1 and isinstance(args[0], Tensor):
            t = args[0].detach()
        elif all(type(a) is int for a in args) or (len(args) == 1 and isinstance(args[0], Size)):
            t = creation.empty(*args, device=device) if args else creation.tensor([], device=device)
        elif len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray)):
            t = creation.tensor(args[0], dtype=_dtype.get_default_dtype(), device=device)
        elif len(args) == 1:
            raise TypeError(f"new(): data must be a sequence (got {type(args[0]).__name__})")
        else:
            raise TypeError("new() received an invalid combination of arguments - got "
                            f"({', '.join(type(a).__name__ for a in args)})")
        if cls is not Tensor:
            t.__class__ = cls
        return t

    def __init__(self, *args, **kwargs):
        pass

    # --- attributes ---------------------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim, "size")]

    def dim(self) -> int:
        return self._data.ndim

    ndim = property(dim)

    def ndimension(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def dtype(self):
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> Device:
        return self._device

    @property
    def is_cuda(self) -> bool:
        return self._device.type != "cpu"

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: int | None = None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim, "stride")]

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to "
                               "use a computed variable in a subgraph that doesn't require differentiation "
                               "use var_no_grad = var.detach().")
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
        if requires_grad and self._is_inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside InferenceMode is not "
                               "allowed.")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and self._grad is None:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If "
                "you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead. "
                "See github.com/pytorch/pytorch/pull/30531 for more information.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{_CPP_TYPE[value._data.dtype.name]}' to a "
                    f"tensor with grad_dtype '{_SCALAR_TYPE[self._data.dtype.name]}'. The gradient must "
                    "match the tensor's grad_dtype (defaults to the tensor's dtype). You can set the "
                    "tensor's grad_dtype attribute with a specific dtype, or None to allow any dtype. Set "
                    "grad_dtype with caution. Diverging the dtypes of a tensor and its gradient may break "
                    "downstream systems that assume they match.")
            if value._device is not self._device:
                raise RuntimeError(f"attempting to assign a gradient with device type '{value._device.type}' "
                                   f"to a tensor with device type '{self._device.type}'. Please ensure that "
                                   "the gradient and the tensor are on the same device")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"attempting to assign a gradient of size '{list(value._data.shape)}' to "
                                   f"a tensor of size '{list(self._data.shape)}'. Please ensure that the "
                                   "gradient and the tensor are the same size")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        """Populate .grad for this non-leaf tensor during backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        node = self.grad_fn
        if node._retained is None:
            node._retained = {}
            node._plain = False
        import weakref
        node._retained[self._output_nr] = weakref.ref(self)

    @property
    def data(self) -> "Tensor":
        """A tensor sharing storage with this one, detached from the graph (version counter not shared)."""
        t = Tensor._make(self._data, self._device)
        return t

    @data.setter
    def data(self, value: "Tensor"):
        self._data = value._data
        self._device = value._device

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def _version_value(self) -> int:
        return self._version[0]

    @property
    def is_inference(self):
        return lambda: self._is_inference

    # --- conversion -----------------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        if self._device.type == "cuda" and not force:
            raise TypeError(f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() to "
                            "copy the tensor to host memory first.")
        return self._host()

    def _host(self) -> np.ndarray:
        """The array as NumPy (copied from the GPU if needed); no checks."""
        d = self._data
        return d.get() if self._device.type == "cuda" else d

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._host().reshape(()).item()

    def tolist(self):
        return self._host().tolist()

    def __array__(self, dtype=None, copy=None):
        if self._requires_grad:
            self.numpy()  # raises PyTorch's error
        a = self._host()
        return a if dtype is None else a.astype(dtype)

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._host().reshape(()).item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __hash__(self):
        return id(self)

    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import format_tensor
        d = self.dtype
        dev = None if self._device.type == "cpu" else str(self._device)
        fn = self.grad_fn
        return format_tensor(self._host(), repr(d), is_default_dtype=d is _dtype.get_default_dtype(),
                             device_str=dev, requires_grad=self._requires_grad,
                             grad_fn_name=fn.name().rsplit("::", 1)[-1] if fn is not None else None)

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, proto):
        from .serialization import _rebuild_tensor
        return (_rebuild_tensor, (self._host(), self.dtype.name, str(self._device), self._requires_grad))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the "
                               "deepcopy protocol at the moment.  If you were attempting to deepcopy a "
                               "module, this may be because of a torch.nn.utils.weight_norm usage, see "
                               "https://github.com/pytorch/pytorch/pull/103001")
        new = Tensor._make(self._data.copy(), self._device, self._requires_grad)
        if type(self) is not Tensor:
            new.__class__ = type(self)
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new

    # --- autograd -------------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) · gradient into the .grad of every leaf that requires grad."""
        if gradient is None and inputs is None and not create_graph:
            _node_engine.backward_scalar(self, retain_graph)
        else:
            _node_engine.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        from .autograd.hooks import register_tensor_hook
        return register_tensor_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        from .autograd.hooks import register_post_accumulate_grad_hook
        return register_post_accumulate_grad_hook(self, hook)

    def detach(self) -> "Tensor":
        """A new tensor sharing data and version counter, cut from the graph."""
        t = Tensor._make(self._data, self._device)
        t._version = self._version
        return t

    def detach_(self) -> "Tensor":
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead. If you are using "
                               "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is "
                               "set as True, gradients are views of DDP buckets, and hence detach_() cannot "
                               "be called on these gradients. To fix this error, please refer to the "
                               "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    # --- in-place bookkeeping -------------------------------------------------------------------------
    def _check_inplace(self):
        """Refuse an in-place op PyTorch refuses; called before any data is touched."""
        if _grad_state.enabled:
            if self._requires_grad and self.grad_fn is None:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                                   "operation.")
            base = self._base
            if base is not None and (self._requires_grad or base._requires_grad):
                raise RuntimeError("autograd_gpu does not support in-place operations on a view of a tensor "
                                   "that requires grad (PyTorch would rewrite the base's graph); apply the "
                                   "operation out of place, or index-assign into the base tensor instead.")
        if self._is_inference and not _grad_state.inference:
            raise RuntimeError("Inplace update to inference tensor outside InferenceMode is not allowed.You "
                               "can make a clone to get a normal tensor before doing inplace update.See "
                               "https://github.com/pytorch/rfcs/pull/17 for more details.")

    def _bump(self):
        self._version[0] += 1


_new = object.__new__
_ndarray = np.ndarray
_array = np.array

from .autograd import engine as _node_engine, node as _node  # noqa: E402  (loaded above, via grad_mode)
_node.Tensor = Tensor
_fastpath = _node.bind_fastpath(Tensor, CPU)  # the C fast path when built (csrc/fastpath_core.c)

# dtype names in PyTorch's messages: C++ element type, and c10::ScalarType
_CPP_TYPE = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
             "int32": "int",
             "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}
_SCALAR_TYPE = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
                "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _wrap_dim(dim: int, ndim: int, op: str = "") -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got "
                         f"{dim})")
    return dim % n if ndim else 0
