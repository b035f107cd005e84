"""Spec lookup by name is bounded and predictable: only the documented folders are searched, a file
is opened only where the wanted name would be, decoy and pathological YAML files next to the user's
work change nothing, and a user's spec shadows a shipped one only from a folder given on purpose,
with a notice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import PhysgenWarning, SpecError, SpecNotFoundError
from physgen.specs import SpecRegistry, load_spec, read_spec_yaml
from physgen.specs import _loader
from physgen.store import open_store, resolve_dataset
from tests.conftest import SPECS

runner = CliRunner()

DECOY_CALOGAN = (SPECS / "datasets/calogan_eplus.yaml").read_text().replace("events: ", "events: 7 #").replace(
    "seed: ", "seed: 999 #")
"""The issue's trap: a stale copy of a shipped dataset spec under another file name, 7 events, seed 999."""


def _decoy_tree(root: Path, files: int = 200) -> None:
    """A working folder as users have them: old copies of shipped specs, unrelated YAML, broken YAML,
    a deeply nested YAML (a RecursionError for a naive loader), an alias bomb, binary junk."""
    (root / "backup").mkdir(parents=True)
    (root / "backup" / "old_calogan.yaml").write_text(DECOY_CALOGAN)
    (root / "calogan_lar3.yaml.bak").write_text("kind: detector\nname: calogan_lar3\n")
    nested = root / "deep" / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "nested.yaml").write_text("[" * 5000 + "]" * 5000)
    (root / "deep" / "bomb.yaml").write_text(
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n")
    (root / "broken.yaml").write_text("kind: [\n")
    (root / "junk.yml").write_bytes(bytes(range(256)) * 4)
    for i in range(files):
        (root / "deep" / f"config_{i}.yaml").write_text(f"kind: dataset\nname: calogan_eplus\nevents: {i}\n")


@pytest.fixture
def cluttered(tmp_path, monkeypatch):
    """The working directory is a folder full of decoys (no project marker)."""
    work = tmp_path / "work"
    _decoy_tree(work)
    monkeypatch.chdir(work)
    monkeypatch.delenv("PHYSGEN_SPEC_PATH", raising=False)
    return work


@pytest.fixture
def opened(monkeypatch):
    """Every spec file the loader opens, in order."""
    paths: list[Path] = []
    original = _loader.read_spec_yaml

    def spy(path):
        paths.append(Path(path).absolute())
        return original(path)

    monkeypatch.setattr(_loader, "read_spec_yaml", spy)
    return paths


def test_decoys_in_the_working_folder_change_nothing_and_are_never_opened(cluttered, opened):
    registry = SpecRegistry.default()
    dataset = resolve_dataset("calogan_eplus", registry)
    shipped = load_spec(SPECS / "datasets/calogan_eplus.yaml").spec
    assert dataset.spec == shipped and dataset.spec.events != 7 and dataset.spec.seed != 999
    assert dataset.detector.source == str(SPECS / "detectors/calogan_lar3.yaml")
    assert not [p for p in opened if cluttered in p.parents]
    listed = registry.names()
    assert ("dataset", "calogan_eplus") in listed and registry.paths[("dataset", "calogan_eplus")].is_relative_to(SPECS)
    assert not [p for p in opened if cluttered in p.parents]


def test_cli_from_a_cluttered_folder_is_unchanged(cluttered):
    """The project's own CLI test, run from a folder of decoys (it failed there before)."""
    listed = runner.invoke(app, ["specs", "list"])
    assert listed.exit_code == 0 and "calogan_lar3" in listed.stdout and "backup" not in listed.stdout
    shown = runner.invoke(app, ["specs", "show", "calogan_eplus"])
    assert shown.exit_code == 0 and "seed: 999" not in shown.stdout and str(SPECS) in shown.stdout.replace("\n", "")
    out = cluttered / "toy.zarr"
    done = runner.invoke(app, ["simulate", "toy_bimodal_1d", "--events", "300", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert open_store(out).sizes["event"] == 300


def test_a_spec_file_sees_its_own_folder_and_kind_folders_not_the_tree_above(tmp_path, opened):
    mine = tmp_path / "mine"
    (mine / "datasets").mkdir(parents=True)
    (mine / "features").mkdir()
    _decoy_tree(tmp_path / "elsewhere")
    (tmp_path / "toy_2d.yaml").write_text("kind: features\nname: toy_2d\nfeatures: [{name: q}]\n")  # above: unseen
    (mine / "features" / "toy_2d_mm.yaml").write_text(
        "kind: features\nname: toy_2d_mm\nfeatures:\n  - {name: u, units: mm}\n  - {name: v, units: mm}\n")
    path = mine / "datasets" / "d.yaml"
    path.write_text("kind: dataset\nname: d\nsimulator: {name: mixture, options: {mixture: circle_8}}\n"
                    "features: toy_2d_mm\n")
    assert resolve_dataset(str(path)).schema.names == ["u", "v"]
    path.write_text(path.read_text().replace("toy_2d_mm", "toy_2d"))
    assert resolve_dataset(str(path)).schema.names == ["x", "y"]  # the shipped toy_2d, not tmp/toy_2d.yaml
    assert all(p.is_relative_to(mine) or p.is_relative_to(SPECS) for p in opened)


def test_user_spec_shadows_shipped_only_from_a_declared_folder_with_a_notice(tmp_path, monkeypatch):
    user = tmp_path / "user_specs"
    (user / "datasets").mkdir(parents=True)
    (user / "datasets" / "toy_bimodal_1d.yaml").write_text(
        (SPECS / "datasets/toy_bimodal_1d.yaml").read_text().replace("seed: ", "seed: 41 #"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PHYSGEN_SPEC_PATH", raising=False)
    assert SpecRegistry.default().get("dataset", "toy_bimodal_1d").spec.seed != 41  # not declared: ignored
    monkeypatch.setenv("PHYSGEN_SPEC_PATH", str(user))
    with pytest.warns(PhysgenWarning, match=r"toy_bimodal_1d.*\$PHYSGEN_SPEC_PATH.*instead of the shipped"):
        assert SpecRegistry.default().get("dataset", "toy_bimodal_1d").spec.seed == 41


def test_cli_specs_option_and_project_marker(tmp_path, monkeypatch):
    monkeypatch.delenv("PHYSGEN_SPEC_PATH", raising=False)
    project = tmp_path / "proj"
    (project / "specs" / "datasets").mkdir(parents=True)
    (project / "analysis" / "deeper").mkdir(parents=True)
    text = (SPECS / "datasets/toy_bimodal_1d.yaml").read_text()
    (project / "specs" / "datasets" / "toy_bimodal_1d.yaml").write_text(text.replace("seed: ", "seed: 42 #"))
    explicit = tmp_path / "explicit"
    explicit.mkdir()
    (explicit / "toy_bimodal_1d.yaml").write_text(text.replace("seed: ", "seed: 43 #"))
    monkeypatch.chdir(project / "analysis" / "deeper")
    shown = runner.invoke(app, ["specs", "show", "toy_bimodal_1d"])
    assert shown.exit_code == 0 and "seed: 42" not in shown.stdout  # no marker yet: shipped
    (project / "physgen-project.toml").write_text('[specs]\npaths = ["specs"]\n')
    shown = runner.invoke(app, ["specs", "show", "toy_bimodal_1d"])
    assert shown.exit_code == 0 and "seed: 42" in shown.stdout
    assert "notice:" in shown.stderr and "project" in shown.stderr
    shown = runner.invoke(app, ["--specs", str(explicit), "specs", "show", "toy_bimodal_1d"])
    assert shown.exit_code == 0 and "seed: 43" in shown.stdout and "--specs" in shown.stderr
    missing = runner.invoke(app, ["--specs", str(tmp_path / "nope"), "specs", "list"])
    assert missing.exit_code == 2 and "is not a folder" in missing.stderr
    (project / "physgen-project.toml").write_text("[specs]\npaths = 3\n")
    bad = runner.invoke(app, ["specs", "show", "toy_bimodal_1d"])
    assert bad.exit_code == 2 and "physgen-project.toml" in bad.stderr and "Traceback" not in bad.output


def test_a_misnamed_file_where_a_spec_would_be_is_reported(spec_dir):
    (spec_dir / "detectors" / "calo_x.yaml").write_text("kind: detector\nname: calo_y\n")
    (spec_dir / "detectors" / "calo_z.yaml").write_text("kind: [\n")
    registry = SpecRegistry([spec_dir])
    with pytest.raises(SpecError, match="calo_x.yaml: holds the detector spec 'calo_y'"):
        registry.get("detector", "calo_x")
    with pytest.raises(SpecError, match="calo_z.yaml: not valid YAML"):
        registry.get("detector", "calo_z")
    with pytest.raises(SpecNotFoundError, match=r"looked for detectors/calo_w.yaml in"):
        registry.get("detector", "calo_w")
    assert registry.names("detector") == []  # listing skips broken files instead of failing


@pytest.mark.parametrize(("text", "needle"), [
    ("[" * 5000 + "]" * 5000, "nesting deeper than 64"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
     "aliases are expanded"),
    ("x" * (2 << 20), "specs are small YAML files"),
])
def test_pathological_yaml_is_one_clear_error(tmp_path, text, needle):
    path = tmp_path / "evil.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=needle):
        read_spec_yaml(path)
    result = runner.invoke(app, ["specs", "validate", str(path)])
    assert result.exit_code == 2 and needle in result.stderr and "Traceback" not in result.output


def test_unreadable_neighbour_is_harmless(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    folder = tmp_path / "specs"
    (folder / "features").mkdir(parents=True)
    locked = folder / "features" / "locked.yaml"
    locked.write_text("kind: features\nname: locked\nfeatures: [{name: a}]\n")
    locked.chmod(0)
    registry = SpecRegistry([folder, SPECS])
    assert registry.get("features", "toy_2d").spec.names == ["x", "y"]
    with pytest.raises(SpecError, match="cannot read spec file"):
        registry.get("features", "locked")
