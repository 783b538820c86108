"""autograd_gpu: PyTorch-style automatic differentiation on NumPy (CPU) and CuPy (NVIDIA GPUs).

``import autograd_gpu as torch`` — the public API mirrors PyTorch's names. Nothing is defined here.
"""
from ._dtype import (bool_ as bool, dtype, float16, float32, float64, get_default_dtype, int8, int16, int32,  # noqa
                     int64, promote_types, set_default_dtype, uint8)
from ._dtype import float16 as half, float32 as float, float64 as double, int64 as long, int32 as int  # noqa
from ._dtype import int16 as short  # noqa
from .backend.device import Device as device  # noqa: F401
from .tensor import Size, Tensor  # noqa: F401
from ._methods import _bind_all as _bind

_bind()
del _bind

from .autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,  # noqa
                                 no_grad, set_grad_enabled)
from .creation import *  # noqa: F401,F403
from .creation import tensor  # noqa: F401
from .random import Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state  # noqa
from .ops.public import *  # noqa: F401,F403
from ._tensor_str import get_printoptions, printoptions, set_printoptions  # noqa: F401
from . import autograd, cuda, nn, optim, utils  # noqa: F401,E402
from .serialization import load, save  # noqa: F401,E402

__version__ = "0.1.0"
