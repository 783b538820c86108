"""torch.nn: modules, parameters, functional, init, utils."""
from . import functional  # noqa: F401
from . import init  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .modules import (ELU, GELU, AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d,  # noqa: F401
                      BCELoss, BCEWithLogitsLoss, Conv1d, Conv2d, CrossEntropyLoss, Dropout, Embedding,
                      Flatten, Identity, L1Loss, LayerNorm, LeakyReLU, Linear, LogSoftmax, MaxPool2d,
                      Module, ModuleDict, ModuleList, MSELoss, NLLLoss, ParameterList, ReLU, Sequential, SiLU,
                      Sigmoid, SmoothL1Loss, Softmax, Softplus, Tanh, Unflatten)
from .modules import (CosineEmbeddingLoss, CosineSimilarity, GaussianNLLLoss, GroupNorm,  # noqa: F401
                      HingeEmbeddingLoss, HuberLoss, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, KLDivLoss,
                      LocalResponseNorm, MarginRankingLoss, MultiLabelMarginLoss, MultiLabelSoftMarginLoss,
                      MultiMarginLoss, PairwiseDistance, PoissonNLLLoss, RMSNorm, SoftMarginLoss,
                      TripletMarginLoss, TripletMarginWithDistanceLoss)
from .modules import (CELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid,  # noqa: F401
                      Mish, PReLU, ReLU6, RReLU, Softmin, Softshrink, Softsign, Tanhshrink, Threshold)
from . import utils  # noqa: F401
