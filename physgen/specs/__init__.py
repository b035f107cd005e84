"""Specs: pydantic models of detectors, feature schemas, datasets, models and pipelines,
loaded from YAML, validated once, and found by name through :class:`SpecRegistry`."""

from physgen.specs._base import SpecModel
from physgen.specs._dataset import Choice, DatasetSpec, Fixed, LogUniform, Normal, Producer, Uniform
from physgen.specs._detector import (
    CylindricalCalorimeter,
    CylindricalLayer,
    DetectorSpec,
    EtaPhiGrid,
    LayeredCalorimeter,
    Material,
    ReadoutLayer,
    SamplingSection,
    VoxelCalorimeter,
)
from physgen.specs._features import Feature, FeatureSchemaSpec
from physgen.specs._loader import (
    PROJECT_MARKERS,
    SPEC_FOLDERS,
    SPEC_KINDS,
    LoadedSpec,
    Spec,
    SpecRegistry,
    SpecRoot,
    apply_overrides,
    assignments,
    dump_spec,
    find_project,
    load_spec,
    load_with_overrides,
    parse_spec,
    read_spec_yaml,
    set_spec_dirs,
    shipped_spec_dir,
    spec_hash,
)
from physgen.specs._model import (
    DataSpec,
    ModelSpec,
    OptimizerSpec,
    SelectionSpec,
    TrainingOptions,
    TrainingSpec,
    Transform,
)
from physgen.specs._options import NoOptions, check_options, parse_plugin_options
from physgen.specs._pipeline import PipelineSpec, PipelineStep

__all__ = [
    "Choice", "CylindricalCalorimeter", "CylindricalLayer", "DataSpec", "DatasetSpec", "DetectorSpec",
    "EtaPhiGrid", "Feature", "FeatureSchemaSpec", "Fixed", "LayeredCalorimeter", "LoadedSpec", "LogUniform",
    "Material", "ModelSpec", "NoOptions", "Normal", "OptimizerSpec", "PROJECT_MARKERS", "PipelineSpec",
    "PipelineStep", "Producer", "ReadoutLayer", "SPEC_FOLDERS", "SPEC_KINDS", "SamplingSection", "SelectionSpec",
    "Spec", "SpecModel", "SpecRegistry", "SpecRoot", "TrainingOptions", "TrainingSpec", "Transform", "Uniform",
    "VoxelCalorimeter", "apply_overrides", "assignments", "check_options", "dump_spec", "find_project", "load_spec",
    "load_with_overrides", "parse_plugin_options", "parse_spec", "read_spec_yaml", "set_spec_dirs",
    "shipped_spec_dir", "spec_hash",
]


def __dir__() -> list[str]:
    return __all__
