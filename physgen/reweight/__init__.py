"""DCTR reweighting (paper 004): a classifier between generated and reference events gives
per-event weights w = exp(logit/T) that move the generated distribution onto the reference.

``reweight(reference, generated, model, out=...)`` runs it end to end. The classifier is an
ordinary model architecture (``physgen.models``: ``dctr_mlp``, ``dctr_cnn3d``) trained by the one
training loop (``physgen.train.train_classifier``), and its temperature comes from
``physgen.metrics.fit_temperature``; this package keeps what is DCTR's own: turning calibrated
logits into clipped, normalised weights and writing them back into the generated store. Its
diagnostics (⟨S²⟩ before and after weighting, dilution) are :mod:`physgen.metrics`' own.
"""

from physgen.reweight._calibration import LOGIT_LIMIT, clip_and_normalise, weights_from_logits
from physgen.reweight._run import load_classifier, load_model_spec, reweight

__all__ = ["LOGIT_LIMIT", "clip_and_normalise", "load_classifier", "load_model_spec", "reweight", "weights_from_logits"]


def __dir__() -> list[str]:
    return __all__
