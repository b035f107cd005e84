"""Generative models built from model specs: the architecture registry and the recipe interface.

Importing this package registers the shipped architectures (``dense_gan``, ``lagan``, ``calogan``,
``calogan_conditional``, ``ild_wgan``).
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
from physgen.models.dense_gan import DenseGAN, DenseNetwork, dimuon_mass
from physgen.models.ild_gan import IldWgan
from physgen.models.lagan import Lagan

__all__ = [
    "CaloGan", "ConditionalCaloGan", "DataDescription", "DenseGAN", "DenseNetwork", "IldWgan", "Lagan", "Recipe",
    "VariableInfo", "architecture_names", "build_optimizer", "dimuon_mass", "get_architecture", "mlp", "register_architecture",
]


def __dir__() -> list[str]:
    return __all__
