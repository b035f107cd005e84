"""DCTR on calorimeter showers: the low-level 3D CNN on voxels and the high-level MLP on observables."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from physgen.errors import SchemaError
from physgen.reweight import reweight
from physgen.specs import LoadedSpec, SpecRegistry, parse_spec
from physgen.store import create_store, open_store, resolve_dataset

N_EVENTS = 400


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def showers(tmp_path_factory):
    """Toy 30×30×30 showers: reference and a 'generator' depositing 40 % more energy, deeper."""
    tmp = tmp_path_factory.mktemp("showers")
    (tmp / "features").mkdir()
    (tmp / "datasets").mkdir()
    (tmp / "features" / "inc.yaml").write_text(yaml.safe_dump(
        {"kind": "features", "name": "inc", "features": [{"name": "incident_energy", "units": "GeV"}]}))
    (tmp / "datasets" / "showers.yaml").write_text(yaml.safe_dump(
        {"kind": "dataset", "name": "showers", "simulator": {"name": "random_fill"}, "detector": "ild_ecal_30",
         "features": "inc", "events": N_EVENTS}))
    resolved = resolve_dataset(str(tmp / "datasets" / "showers.yaml"))
    rng = np.random.default_rng(0)
    z = np.arange(30)[:, None, None]
    r2 = (np.arange(30)[None, :, None] - 14.5) ** 2 + (np.arange(30)[None, None, :] - 14.5) ** 2

    def store(name, scale, depth):
        profile = np.exp(-0.5 * ((z - depth) / 5.0) ** 2 - r2 / 8.0)
        energy = scale * profile[None] * rng.gamma(4.0, 0.25, (N_EVENTS, 30, 30, 30))
        energy[energy < 0.1] = 0.0
        writer = create_store(str(tmp / name), resolved.schema, chunk_events=100,
                              provenance={"specs": resolved.spec_texts(), "producer": {"kind": "test"}})
        writer.append({"energy": energy.astype(np.float32), "incident_energy": np.full(N_EVENTS, 50.0, np.float32)})
        return str(tmp / name)

    return tmp, store("ref.zarr", 5.0, 8.0), store("gen.zarr", 7.0, 10.0)


def _spec(name: str, hyperparameters: dict, **training) -> LoadedSpec:
    data = yaml.safe_load(SpecRegistry.default().get("model", name).text)
    data["hyperparameters"] |= hyperparameters
    data["training"] |= training
    return LoadedSpec(parse_spec(data), yaml.safe_dump(data), f"test {name}")


def test_lowlevel_cnn_separates_and_weights_showers(showers):
    tmp, ref, gen = showers
    spec = _spec("dctr_ild_lowlevel", {"filters": 4, "dense": [16]}, batch_size=32, epochs=2)
    metrics = reweight(ref, gen, spec, out=tmp / "low", progress=False)
    assert metrics["auc_after_calibration"] > 0.9  # 40 % more energy is easy to see
    weights = open_store(gen).dctr_weight_lowlevel.values
    assert weights.shape == (N_EVENTS,) and weights.max() <= 5.0
    assert weights.mean() == pytest.approx(1.0, abs=1e-9)


def test_highlevel_mlp_reads_observables(showers):
    """Inputs that are not store variables (the 33 DCTR features) are computed by physgen.observables."""
    tmp, ref, gen = showers
    spec = _spec("dctr_ild_highlevel", {}, batch_size=64, epochs=3)
    metrics = reweight(ref, gen, spec, out=tmp / "high", progress=False)
    assert metrics["auc_after_calibration"] > 0.9
    assert set(open_store(gen).data_vars) >= {"dctr_weight_highlevel"}


def test_unknown_input_name_is_a_clear_error(showers):
    tmp, ref, gen = showers
    spec = _spec("dctr_ild_highlevel", {})
    data = yaml.safe_load(spec.text)
    data["data"]["inputs"] = ["n_hitz"]
    bad = LoadedSpec(parse_spec(data), yaml.safe_dump(data), "bad")
    with pytest.raises(SchemaError, match=r"inputs \['n_hitz'\] are neither variables .* nor observables"):
        reweight(ref, gen, bad, out=tmp / "none", name="w", progress=False)
