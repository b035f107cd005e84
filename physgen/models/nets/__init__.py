"""The generative networks of physgen's papers and their losses, as plain ``nn.Module``\\ s.

- LAGAN (paper 000): :class:`LaganGenerator`, :class:`LaganDiscriminator`; the
  fully-convolutional baseline :class:`DcganGenerator`, :class:`DcganDiscriminator`; the compact options :class:`LaganNormalisedGenerator`,
  :class:`LaganPhysicsDiscriminator`;
  :func:`lagan_discriminator_loss`, :func:`lagan_generator_loss`.
- CaloGAN (paper 001): :class:`CaloGanGenerator`, :class:`CaloGanDiscriminator`; the compact
  options :class:`CaloGanNormalisedGenerator`, :class:`CaloGanPhysicsDiscriminator`;
  conditional CaloGAN (paper 003): :class:`ConditionalCaloGanGenerator`,
  :class:`ConditionalCaloGanDiscriminator`; :func:`calogan_discriminator_loss`,
  :func:`calogan_generator_loss` (both versions).
- ILD 3D WGAN-GP (paper 004's showers): :class:`IldGenerator`, :class:`IldCritic`;
  :func:`wgan_critic_loss`, :func:`wgan_generator_loss`.

Every net takes its sizes as constructor arguments and has ``from_detector(detector_spec)``
that reads them from the detector spec. Losses return a :class:`GanLoss` (tensor + parts).
The contract tests every generator passes live in :mod:`physgen.models.nets.testing`.
"""

from physgen.models.nets._calogan import (
    CaloGanDiscriminator,
    CaloGanGenerator,
    CaloGanNormalisedGenerator,
    CaloGanPhysicsDiscriminator,
    CaloGanScores,
    ConditionalCaloGanDiscriminator,
    ConditionalCaloGanGenerator,
    calogan_discriminator_loss,
    calogan_generator_loss,
)
from physgen.models.nets._common import GanLoss
from physgen.models.nets._ild import IldCritic, IldGenerator, wgan_critic_loss, wgan_generator_loss
from physgen.models.nets._lagan import (
    DcganDiscriminator,
    DcganGenerator,
    LaganDiscriminator,
    LaganGenerator,
    LaganNormalisedGenerator,
    LaganPhysicsDiscriminator,
    lagan_discriminator_loss,
    lagan_generator_loss,
)
from physgen.models.nets._shapes import cell_threshold, image_shape, layer_shapes, voxel_shape

__all__ = [
    "CaloGanDiscriminator",
    "CaloGanGenerator",
    "CaloGanNormalisedGenerator",
    "CaloGanPhysicsDiscriminator",
    "CaloGanScores",
    "ConditionalCaloGanDiscriminator",
    "ConditionalCaloGanGenerator",
    "DcganDiscriminator",
    "DcganGenerator",
    "GanLoss",
    "IldCritic",
    "IldGenerator",
    "LaganDiscriminator",
    "LaganGenerator",
    "LaganNormalisedGenerator",
    "LaganPhysicsDiscriminator",
    "calogan_discriminator_loss",
    "calogan_generator_loss",
    "cell_threshold",
    "image_shape",
    "lagan_discriminator_loss",
    "lagan_generator_loss",
    "layer_shapes",
    "voxel_shape",
    "wgan_critic_loss",
    "wgan_generator_loss",
]


def __dir__():
    return __all__
