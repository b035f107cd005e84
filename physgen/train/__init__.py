"""The one training system of physgen, for generative models and classifiers alike: streaming
loaders from stores, transforms, checkpoints with exact resume, NaN handling, DDP (torchrun), bf16
autocast on CUDA, metrics log, snapshot selection (GANs) and per-epoch validation (classifiers)."""

from physgen.train import selection
from physgen.train._data import ReadCache, StoreStream, StreamPlan, make_loader
from physgen.train._distributed import select_device
from physgen.train._loop import (
    NonFiniteLossError,
    TrainingData,
    TrainResult,
    load_model_spec,
    train,
    train_classifier,
)
from physgen.train._run import LoadedRun, RunDir, atomic_save, atomic_write_text, load_run
from physgen.train._store_data import StoreData
from physgen.train._transforms import TransformSet
from physgen.train._two_sample import EventSource, TwoSampleData, held_out_mask

__all__ = [
    "EventSource", "LoadedRun", "NonFiniteLossError", "ReadCache", "RunDir", "StoreData", "StoreStream", "StreamPlan",
    "TrainResult", "TrainingData", "TransformSet", "TwoSampleData", "atomic_save", "atomic_write_text",
    "held_out_mask", "load_model_spec", "load_run",
    "make_loader", "select_device", "selection", "train", "train_classifier",
]


def __dir__() -> list[str]:
    return __all__
