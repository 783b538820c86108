"""torch.nn.functional: losses, activations and layers as functions."""
from __future__ import annotations

from ..ops.loss import *  # noqa: F401,F403
from ..ops.activation import *  # noqa: F401,F403
from ..ops.activation_extra import *  # noqa: F401,F403
from ..ops.activation_channel import *  # noqa: F401,F403
from ..ops.nn_ops import *  # noqa: F401,F403
from ..ops.conv import *  # noqa: F401,F403
from ..ops.pool import *  # noqa: F401,F403
from ..ops.norm import *  # noqa: F401,F403
from ..ops.normalization import *  # noqa: F401,F403
from ..ops.distance import *  # noqa: F401,F403
from ..ops.loss_extra import *  # noqa: F401,F403
