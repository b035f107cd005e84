"""Training generative models from stores: streaming loaders, transforms, checkpoints with exact
resume, NaN handling, DDP (torchrun), bf16 autocast on CUDA, metrics log and snapshot selection."""

from physgen.train import selection
from physgen.train._data import StoreStream, StreamPlan, make_loader
from physgen.train._distributed import select_device
from physgen.train._loop import NonFiniteLossError, TrainResult, load_model_spec, train
from physgen.train._run import LoadedRun, RunDir, file_sha256, load_run
from physgen.train._transforms import TRANSFORMS, TransformSet

__all__ = [
    "LoadedRun", "NonFiniteLossError", "RunDir", "StoreStream", "StreamPlan", "TRANSFORMS", "TrainResult",
    "TransformSet", "file_sha256", "load_model_spec", "load_run", "make_loader", "select_device", "selection",
    "train",
]


def __dir__() -> list[str]:
    return __all__
