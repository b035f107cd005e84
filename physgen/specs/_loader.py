"""Loading specs from YAML, turning validation failures into one readable message,
and the name registry through which specs refer to each other.

Search path for names, in order: the directory tree of the spec file being loaded
(its parent folder and that folder's parent, so ``myspecs/datasets/x.yaml`` sees
``myspecs/detectors/*.yaml``), each folder in ``$PHYSGEN_SPEC_PATH``, and the
specs shipped with physgen.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from physgen.errors import SpecError, SpecNotFoundError, did_you_mean
from physgen.provenance import text_sha256
from physgen.specs._dataset import DatasetSpec
from physgen.specs._detector import DetectorSpec
from physgen.specs._features import FeatureSchemaSpec
from physgen.specs._model import ModelSpec
from physgen.specs._options import describe_errors
from physgen.specs._pipeline import PipelineSpec

__all__ = [
    "SPEC_KINDS",
    "Spec",
    "LoadedSpec",
    "load_spec",
    "parse_spec",
    "dump_spec",
    "spec_hash",
    "SpecRegistry",
    "shipped_spec_dir",
]

Spec = DetectorSpec | FeatureSchemaSpec | DatasetSpec | ModelSpec | PipelineSpec
SPEC_KINDS: dict[str, type[BaseModel]] = {
    "detector": DetectorSpec,
    "features": FeatureSchemaSpec,
    "dataset": DatasetSpec,
    "model": ModelSpec,
    "pipeline": PipelineSpec,
}


def shipped_spec_dir() -> Path:
    """The specs shipped with physgen (in a wheel) or the repository's ``specs/`` (editable install)."""
    package = Path(__file__).resolve().parents[1]
    bundled = package / "_shipped_specs"
    return bundled if bundled.is_dir() else package.parent / "specs"


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with the text it came from (kept in store provenance)."""

    spec: Spec
    text: str
    source: str

    @property
    def hash(self) -> str:
        return spec_hash(self.text)


def spec_hash(text: str) -> str:
    return text_sha256(text)


def parse_spec(data: Any, *, source: str = "<spec>", kind: str | None = None, plugins: bool = True) -> Spec:
    """Validate a mapping as a spec of its ``kind``; errors name ``source`` and the key path.

    ``plugins``: also check the options of the plug-ins the spec names (simulator, architecture,
    transforms…; see ``physgen.specs._options``). False for specs read back from stores and run
    directories, which were checked when written.
    """
    if not isinstance(data, dict):
        msg = f"{source}: a spec must be a YAML mapping with 'kind' and 'name', got {type(data).__name__}"
        raise SpecError(msg)
    kind = kind or data.get("kind")
    misspelt = difflib.get_close_matches("kind", [str(k) for k in data], n=1) if "kind" not in data else []
    if kind is None and misspelt:
        msg = f"{source}: unknown key {misspelt[0]!r}; did you mean 'kind'?"
        raise SpecError(msg)
    if kind not in SPEC_KINDS:
        hint = did_you_mean(str(kind), SPEC_KINDS, listing=None)
        msg = f"{source}: 'kind' must be one of {sorted(SPEC_KINDS)}, got {kind!r}{hint}"
        raise SpecError(msg)
    model = SPEC_KINDS[kind]
    try:
        return model.model_validate(data, context={"plugins": plugins})  # type: ignore[return-value]
    except ValidationError as exc:
        raise SpecError(describe_errors(exc, model, source)) from None


def _read_yaml(path: Path) -> tuple[Any, str]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        msg = f"spec file {str(path)!r} does not exist"
        raise SpecNotFoundError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read spec file {str(path)!r}: {exc}"
        raise SpecError(msg) from None
    try:
        return yaml.safe_load(text), text
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        msg = f"{path}: not valid YAML{where}: {problem}"
        raise SpecError(msg) from None


def load_spec(path: str | os.PathLike[str]) -> LoadedSpec:
    """Load and validate one spec file."""
    path = Path(path)
    data, text = _read_yaml(path)
    return LoadedSpec(parse_spec(data, source=str(path)), text, str(path))


def dump_spec(spec: Spec) -> str:
    """YAML text of a spec; :func:`parse_spec` of its ``yaml.safe_load`` gives the spec back."""
    return yaml.safe_dump(spec.to_dict(), sort_keys=False)


class SpecRegistry:
    """All specs visible from a set of folders, by kind and name.

    Folders later in ``roots`` do not override earlier ones: the first spec of a
    given kind and name wins, so a user's folder shadows the shipped specs.
    """

    def __init__(self, roots: Iterable[str | os.PathLike[str]]):
        self.roots = [Path(r) for r in roots]
        self._paths: dict[tuple[str, str], Path] | None = None
        self._loaded: dict[tuple[str, str], LoadedSpec] = {}

    @classmethod
    def default(cls, near: str | os.PathLike[str] | None = None) -> SpecRegistry:
        roots: list[Path] = []
        if near is not None:
            here = Path(near).resolve()
            folder = here.parent if here.is_file() or here.suffix in (".yaml", ".yml") else here
            roots += [folder, folder.parent]
        roots += [Path(p) for p in os.environ.get("PHYSGEN_SPEC_PATH", "").split(os.pathsep) if p]
        roots.append(shipped_spec_dir())
        return cls(dict.fromkeys(r.resolve() for r in roots))

    def _files(self) -> list[Path]:
        files: list[Path] = []
        for root in self.roots:
            if root.is_dir():
                files += sorted(p for p in root.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
        return files

    @property
    def paths(self) -> dict[tuple[str, str], Path]:
        """(kind, name) → file, for every spec file under the roots (validated only when loaded)."""
        if self._paths is None:
            paths: dict[tuple[str, str], Path] = {}
            for path in self._files():
                try:
                    data, _ = _read_yaml(path)
                except SpecError:
                    continue  # a broken neighbour is reported when it is loaded by name
                if isinstance(data, dict) and "kind" in data and "name" in data:
                    paths.setdefault((str(data["kind"]), str(data["name"])), path)
            self._paths = paths
        return self._paths

    def names(self, kind: str | None = None) -> list[tuple[str, str]]:
        return sorted(k for k in self.paths if kind is None or k[0] == kind)

    def get(self, kind: str, name: str) -> LoadedSpec:
        key = (kind, name)
        if key not in self.paths:
            known = [n for k, n in self.paths if k == kind]
            msg = f"no {kind} spec named {name!r}{did_you_mean(name, known)}"
            raise SpecNotFoundError(msg)
        if key not in self._loaded:
            self._loaded[key] = load_spec(self.paths[key])
        return self._loaded[key]

    def resolve(self, name_or_path: str, kind: str | None = None) -> LoadedSpec:
        """A spec by file path or by name (searching every kind when ``kind`` is None)."""
        path = Path(name_or_path)
        if path.suffix in (".yaml", ".yml") or path.exists():
            return load_spec(path)
        kinds = [kind] if kind else [k for k in SPEC_KINDS if (k, name_or_path) in self.paths]
        if kinds:
            return self.get(kinds[0], name_or_path)
        hint = did_you_mean(name_or_path, {n for _, n in self.paths}, listing=None)
        msg = f"no spec file or spec named {name_or_path!r}{hint}"
        raise SpecNotFoundError(msg)
