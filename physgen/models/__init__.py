"""Models built from model specs: the architecture registry and the recipe interface.

Importing this package registers the shipped architectures: the generative ``dense_gan``, ``lagan``,
``calogan``, ``calogan_conditional``, ``ild_wgan``, ``flow_matching`` and the classifiers ``dctr_mlp``, ``dctr_cnn3d``.
See :mod:`physgen.models._base` for the contract a new architecture implements.
"""

from physgen.models._base import (
    DataDescription,
    Recipe,
    VariableInfo,
    architecture_names,
    build_optimizer,
    get_architecture,
    mlp,
    register_architecture,
)
from physgen.models.calogan import CaloGan, ConditionalCaloGan
from physgen.models.classifier import ClassifierRecipe, CNN3DClassifier, DCTROptions, MLPClassifier
from physgen.models.dense_gan import DenseGAN, DenseNetwork
from physgen.models.dimuon import dimuon_mass
from physgen.models.flow_matching import FlowMatching
from physgen.models.ild_gan import IldWgan
from physgen.models.lagan import Lagan

__all__ = [
    "CNN3DClassifier", "CaloGan", "ClassifierRecipe", "ConditionalCaloGan", "DCTROptions", "DataDescription",
    "DenseGAN", "DenseNetwork", "FlowMatching", "IldWgan", "Lagan", "MLPClassifier", "Recipe", "VariableInfo",
    "architecture_names", "build_optimizer", "dimuon_mass", "get_architecture", "mlp", "register_architecture",
]


def __dir__() -> list[str]:
    return __all__
