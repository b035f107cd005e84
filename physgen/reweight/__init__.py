"""DCTR reweighting (paper 004): a classifier between generated and reference events gives
per-event weights w = exp(logit/T) that move the generated distribution onto the reference.

``reweight(reference, generated, model, out=...)`` runs it end to end; the pieces (networks,
temperature scaling, clipping) are public so that other rooms (training, reports) can reuse them.
Its diagnostics (⟨S²⟩ before and after weighting, dilution) are :mod:`physgen.metrics`' own.
"""

from physgen.reweight._calibration import auc, balanced_nll, clip_and_normalise, fit_temperature
from physgen.reweight._inputs import EventSource
from physgen.reweight._networks import ARCHITECTURES, CNN3DClassifier, MLPClassifier, build_network
from physgen.reweight._run import DCTROptions, load_classifier, load_model_spec, reweight

__all__ = [
    "ARCHITECTURES", "CNN3DClassifier", "DCTROptions", "EventSource", "MLPClassifier", "auc", "balanced_nll",
    "build_network", "clip_and_normalise", "fit_temperature", "load_classifier", "load_model_spec",
    "reweight",
]


def __dir__() -> list[str]:
    return __all__
