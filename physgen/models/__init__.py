"""Generative models built from model specs: the architecture registry and the recipe interface.

Importing this package registers the shipped architectures (``dense_gan``, ``lagan``, ``calogan``,
``calogan_conditional``, ``ild_wgan``).
See :mod:`physgen.models._base` for the contract a new architecture implements.
"""

from physgen.models import calogan, dense_gan, ild_gan, lagan  # noqa: F401  (register the architectures)
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
from physgen.models.dense_gan import DenseGAN, DenseNetwork, dimuon_mass

__all__ = [
    "DataDescription", "DenseGAN", "DenseNetwork", "Recipe", "VariableInfo", "architecture_names",
    "build_optimizer", "dimuon_mass", "get_architecture", "mlp", "register_architecture",
]


def __dir__() -> list[str]:
    return __all__
