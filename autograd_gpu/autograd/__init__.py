"""torch.autograd: backward, grad, grad modes, Function."""
from .engine import backward, grad  # noqa: F401
from .grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401
from .node import Node  # noqa: F401
