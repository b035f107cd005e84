"""Torch building blocks of physgen's generative models (papers 000, 001, 003, 004).

Plain ``nn.Module``\\ s and functions, sizes as constructor arguments: the locally-connected
layer of LAGAN/CaloGAN, minibatch discrimination, ACGAN heads, label flipping, hard and soft
sparsity, energy and class conditioning, fixed blur, layer-to-layer attention, differentiable
shower features and energy-normalised cells (compact CaloGAN), differentiable jet-image
observables (compact LAGAN), and the 3D
convolution set and gradient penalty of the ILD WGAN-GP.
"""

from physgen.models.blocks._discrimination import (
    AdversarialHeads,
    MinibatchDiscrimination,
    feature_columns,
    feature_mmd2,
    flip_labels,
    mmd2,
    soft_sparsity,
    sparsity,
)
from physgen.models.blocks._generation import (
    ClassEmbedding,
    FixedBlur2d,
    LayerAttention,
    apply_cell_threshold,
    energy_conditioned,
    resize_cells,
)
from physgen.models.blocks._local import LocallyConnected2d, locally_connected2d
from physgen.models.blocks._jets import JetImageFeatures
from physgen.models.blocks._showers import ShowerFeatures, energy_normalised_cells, thresholded_softmax
from physgen.models.blocks._wgan import DownConv3d, UpConv3d, gradient_penalty

__all__ = [
    "AdversarialHeads",
    "ClassEmbedding",
    "DownConv3d",
    "FixedBlur2d",
    "JetImageFeatures",
    "LayerAttention",
    "LocallyConnected2d",
    "MinibatchDiscrimination",
    "ShowerFeatures",
    "UpConv3d",
    "apply_cell_threshold",
    "energy_conditioned",
    "energy_normalised_cells",
    "feature_columns",
    "feature_mmd2",
    "flip_labels",
    "gradient_penalty",
    "locally_connected2d",
    "mmd2",
    "resize_cells",
    "soft_sparsity",
    "sparsity",
    "thresholded_softmax",
]


def __dir__():
    return __all__
