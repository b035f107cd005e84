"""Loading specs from YAML, turning validation failures into one readable message,
and the name registry through which specs refer to each other.

A spec named ``NAME`` of kind ``K`` lives in ``<root>/<K's folder>/NAME.yaml`` (or
``<root>/NAME.yaml``). The roots, in order: the folder of the spec file being loaded (and
the spec folder above it, so ``mine/datasets/x.yaml`` sees ``mine/detectors/``), the
folders given with ``--specs``, each folder in ``$PHYSGEN_SPEC_PATH``, the specs of a
project folder marked by ``physgen-project.toml`` or ``.physgen``, and the specs shipped
with physgen. Lookup opens only files of the wanted name, never scans a tree, and reads
YAML with limits on size, nesting and alias expansion, so neighbouring files cost nothing
and cannot crash it.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import tomllib
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from physgen.errors import PhysgenWarning, SpecError, SpecNotFoundError, did_you_mean
from physgen.provenance import text_sha256
from physgen.specs._dataset import DatasetSpec
from physgen.specs._detector import DetectorSpec
from physgen.specs._features import FeatureSchemaSpec
from physgen.specs._model import ModelSpec
from physgen.specs._options import describe_errors
from physgen.specs._pipeline import PipelineSpec

__all__ = [
    "SPEC_KINDS",
    "assignments",
    "Spec",
    "LoadedSpec",
    "load_spec",
    "parse_spec",
    "dump_spec",
    "spec_hash",
    "SpecRegistry",
    "SpecRoot",
    "apply_overrides",
    "load_with_overrides",
    "PROJECT_MARKERS",
    "SPEC_FOLDERS",
    "find_project",
    "read_spec_yaml",
    "set_spec_dirs",
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
    """A validated spec with the text it came from (kept in store provenance) and the ``--set``
    overrides applied to it, if any (see :func:`apply_overrides`)."""

    spec: Spec
    text: str
    source: str
    overrides: tuple[str, ...] = ()

    @property
    def hash(self) -> str:
        return spec_hash(self.text)

    def provenance(self) -> dict[str, Any]:
        """How stores and run directories record the spec: name, text, hash (and overrides)."""
        record: dict[str, Any] = {"name": self.spec.name, "text": self.text, "hash": self.hash}
        if self.overrides:
            record["overrides"] = list(self.overrides)
        return record


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
    if not isinstance(kind, str) or kind not in SPEC_KINDS:
        hint = did_you_mean(str(kind), SPEC_KINDS, listing=None)
        msg = f"{source}: 'kind' must be one of {sorted(SPEC_KINDS)}, got {kind!r}{hint}"
        raise SpecError(msg)
    model = SPEC_KINDS[kind]
    try:
        return model.model_validate(data, context={"plugins": plugins})  # type: ignore[return-value]
    except ValidationError as exc:
        raise SpecError(describe_errors(exc, model, source)) from None


MAX_SPEC_BYTES = 1 << 20
"""A spec file larger than this (1 MiB; shipped specs are a few kB) is refused unread."""
MAX_YAML_DEPTH = 64
"""Deepest nesting of YAML collections accepted (the shipped specs nest 5 deep)."""
MAX_YAML_VALUES = 100_000
"""Most values a spec may hold once YAML aliases are expanded (a 'billion laughs' bomb is refused)."""


class _SpecYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses nesting deeper than :data:`MAX_YAML_DEPTH` before Python's
    recursion limit does (PyYAML composes nested collections recursively)."""

    _depth = 0

    def compose_node(self, parent, index):  # noqa: D102 (PyYAML hook)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.YAMLError(f"nesting deeper than {MAX_YAML_DEPTH} levels at line {mark.line + 1}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _count_values(data: Any) -> int:
    """Values in ``data`` with aliases expanded, counted without recursion and stopping past the limit."""
    count, stack = 0, [data]
    while stack and count <= MAX_YAML_VALUES:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def read_spec_yaml(path: str | os.PathLike[str]) -> tuple[Any, str]:
    """The YAML data and text of a spec file, read safely: every problem (missing, unreadable, not
    UTF-8, too large, not YAML, nested too deep, an alias bomb) is one :class:`SpecError` naming the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            msg = f"spec file {str(path)!r} is {size:,} bytes; specs are small YAML files (at most {MAX_SPEC_BYTES:,})"
            raise SpecError(msg)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"spec file {str(path)!r} does not exist"
        raise SpecNotFoundError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read spec file {str(path)!r}: {exc}"
        raise SpecError(msg) from None
    try:
        data = yaml.load(text, Loader=_SpecYamlLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        msg = f"{path}: not valid YAML{where}: {problem}"
        raise SpecError(msg) from None
    except (ValueError, TypeError, OverflowError) as exc:  # PyYAML's own constructors on odd scalars
        msg = f"{path}: not valid YAML: {exc}"
        raise SpecError(msg) from None
    if _count_values(data) > MAX_YAML_VALUES:
        msg = f"{path}: more than {MAX_YAML_VALUES:,} values once YAML aliases are expanded; not a spec"
        raise SpecError(msg)
    return data, text

def load_spec(path: str | os.PathLike[str]) -> LoadedSpec:
    """Load and validate one spec file."""
    path = Path(path)
    data, text = read_spec_yaml(path)
    return LoadedSpec(parse_spec(data, source=str(path)), text, str(path))


_KEY_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^\d+$")


def _override_value(text: str) -> Any:
    """A ``--set`` value read as one YAML value (``3``, ``1e-3``, ``[1, 2]``, ``{a: b}``, ``null``, text)."""
    try:
        value = yaml.load(text, Loader=_SpecYamlLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        msg = f"--set value {text!r} is not a YAML value: {exc}"
        raise SpecError(msg) from None
    if isinstance(value, str):  # YAML 1.1 reads '1e-3' as text; a number is meant
        with contextlib.suppress(ValueError):
            return float(value)
    return value


def apply_overrides(loaded: LoadedSpec, assignments: Iterable[str]) -> LoadedSpec:
    """The spec with ``path.to.key=value`` assignments applied (``training.batch_size=64``,
    ``conditions.energy.high=50``, ``layers.0.thickness=80 mm``), validated like a spec file.

    Intermediate mappings are created as needed; list items are addressed by index. The result's
    text is the YAML of the changed spec headed by the assignments, so its hash differs from the
    original's and provenance records both the text and the ``overrides``.
    """
    assignments = tuple(assignments)
    if not assignments:
        return loaded
    data = yaml.safe_load(loaded.text)
    for assignment in assignments:
        path, sep, value = assignment.partition("=")
        parts = path.strip().split(".")
        if not sep or not all(_KEY_PART.match(p) for p in parts):
            msg = f"--set {assignment!r}: expected path.to.key=value, e.g. training.batch_size=64"
            raise SpecError(msg)
        node = data
        for depth, part in enumerate(parts[:-1]):
            node = _step_into(node, part, parts[: depth + 1], assignment)
        last = parts[-1]
        if isinstance(node, list):
            _list_index(node, last, assignment)
            node[int(last)] = _override_value(value)
        else:
            node[last] = _override_value(value)
    header = "".join(f"# --set {a}\n" for a in assignments)
    header += f"# on top of {Path(loaded.source).name} ({loaded.hash})\n"
    text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    source = f"{loaded.source} with --set {', '.join(assignments)}"
    return LoadedSpec(parse_spec(yaml.safe_load(text), source=source), text, loaded.source,
                      loaded.overrides + assignments)


def _list_index(node: list, part: str, assignment: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        msg = f"--set {assignment!r}: {part!r} is not an index of a list of {len(node)} items"
        raise SpecError(msg)
    return int(part)


def _step_into(node: Any, part: str, path: list[str], assignment: str) -> Any:
    if isinstance(node, list):
        return node[_list_index(node, part, assignment)]
    if not isinstance(node, dict):
        msg = f"--set {assignment!r}: {'.'.join(path[:-1]) or 'the spec'} is not a mapping"
        raise SpecError(msg)
    if node.get(part) is None:
        node[part] = {}
    child = node[part]
    if not isinstance(child, (dict, list)):
        msg = f"--set {assignment!r}: {'.'.join(path)} holds {child!r}, not a mapping"
        raise SpecError(msg)
    return child


def assignments(values: dict[str, Any], prefix: str = "") -> list[str]:
    """``KEY=VALUE`` overrides (as ``--set`` takes them) setting ``prefix + key`` to each Python value
    (written as JSON, which YAML reads back as the same value; ``None`` is ``null``)."""
    return [f"{prefix}{key}={json.dumps(value)}" for key, value in values.items()]


def load_with_overrides(name_or_path: str | os.PathLike[str], kind: str | None = None,
                        overrides: Iterable[str] = ()) -> LoadedSpec:
    """A spec by path or name (default search path) with ``--set`` overrides applied (see :func:`assignments`
    to build them from Python values)."""
    name_or_path = os.fspath(name_or_path)
    loaded = SpecRegistry.default(near=name_or_path).resolve(name_or_path, kind=kind)
    return apply_overrides(loaded, overrides)


def dump_spec(spec: Spec) -> str:
    """YAML text of a spec; :func:`parse_spec` of its ``yaml.safe_load`` gives the spec back."""
    return yaml.safe_dump(spec.to_dict(), sort_keys=False)


SPEC_FOLDERS: dict[str, str] = {
    "detector": "detectors", "features": "features", "dataset": "datasets", "model": "models",
    "pipeline": "pipelines",
}
"""Sub-folder of a spec folder holding each kind (``specs/detectors/calogan_lar3.yaml``)."""

PROJECT_MARKERS = ("physgen-project.toml", ".physgen")
"""Files that mark a project folder; its specs are in ``specs/`` (or the ``[specs] paths`` of the TOML)."""

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_SUFFIXES = (".yaml", ".yml")
_extra_dirs: list[Path] = []
_noticed: set[tuple[str, str, Path]] = set()


def set_spec_dirs(dirs: Iterable[str | os.PathLike[str]]) -> None:
    """Folders searched before every other (the CLI's ``--specs DIR``); replaces earlier ones."""
    folders = [Path(d).expanduser() for d in dirs]
    for folder in folders:
        if not folder.is_dir():
            msg = f"--specs {str(folder)!r} is not a folder"
            raise SpecNotFoundError(msg)
    _extra_dirs[:] = folders


def find_project(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: the working directory) holding a project marker."""
    here = Path(start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if any((folder / marker).is_file() for marker in PROJECT_MARKERS):
            return folder
    return None


def _project_dirs(project: Path) -> list[Path]:
    marker = project / PROJECT_MARKERS[0]
    if not marker.is_file():
        return [project / "specs"]
    try:
        config = tomllib.loads(marker.read_text(encoding="utf-8"))
        paths = config.get("specs", {}).get("paths", ["specs"])
        if not (isinstance(paths, list) and all(isinstance(p, str) for p in paths)):
            raise TypeError(f"[specs] paths must be a list of folder names, got {paths!r}")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, TypeError, AttributeError) as exc:
        msg = f"{marker}: {exc}"
        raise SpecError(msg) from None
    return [project / p for p in paths]


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system, a folder without permission
        return False


@dataclass(frozen=True)
class SpecRoot:
    """A folder searched for specs by name and where it came from (for notices and messages)."""

    path: Path
    origin: str


def _beside(spec_file: Path) -> list[SpecRoot]:
    """The folder of a spec file, and the spec folder above it when it is a kind folder
    (``mine/datasets/x.yaml`` sees ``mine/detectors/``)."""
    folder = spec_file.absolute().parent
    roots = [SpecRoot(folder, f"beside {spec_file.name}")]
    if folder.name in SPEC_FOLDERS.values():
        roots.append(SpecRoot(folder.parent, f"beside {spec_file.name}"))
    return roots


class SpecRegistry:
    """Specs found by name in a short list of folders: a spec ``NAME`` of kind ``K`` is the file
    ``ROOT/<K's folder>/NAME.yaml`` (or ``ROOT/NAME.yaml``) in the first root that has one.

    Nothing is scanned to find a spec: a lookup checks at most four file names per root, so
    unrelated or broken YAML files in the same folders are never read. The default roots, in
    order (see :meth:`default`): the folder of the spec file being loaded, the ``--specs``
    folders, ``$PHYSGEN_SPEC_PATH``, the specs of the project folder (marked by
    ``physgen-project.toml`` or ``.physgen`` at or above the working directory), and the
    shipped specs. A user's spec that shadows a shipped one is used with a notice
    (a :class:`~physgen.errors.PhysgenWarning`).
    """

    def __init__(self, roots: Iterable[str | os.PathLike[str] | SpecRoot]):
        roots = [r if isinstance(r, SpecRoot) else SpecRoot(Path(r), "given") for r in roots]
        unique: dict[Path, SpecRoot] = {}
        for root in roots:
            unique.setdefault(root.path.absolute(), SpecRoot(root.path.absolute(), root.origin))
        self.roots = list(unique.values())
        self._paths: dict[tuple[str, str], Path] | None = None
        self._found: dict[tuple[str, str], tuple[Path, SpecRoot] | None] = {}
        self._loaded: dict[tuple[str, str], LoadedSpec] = {}

    @classmethod
    def default(cls, near: str | os.PathLike[str] | None = None) -> SpecRegistry:
        """The default search path; ``near``: a spec file whose folder is searched first."""
        roots: list[SpecRoot] = []
        if near is not None and Path(near).suffix in _SUFFIXES and Path(near).is_file():
            roots += _beside(Path(near))
        roots += [SpecRoot(d, "--specs") for d in _extra_dirs]
        roots += [SpecRoot(Path(p), "$PHYSGEN_SPEC_PATH")
                  for p in os.environ.get("PHYSGEN_SPEC_PATH", "").split(os.pathsep) if p]
        project = find_project()
        if project is not None:
            roots += [SpecRoot(d, f"project {project}") for d in _project_dirs(project)]
        roots.append(SpecRoot(shipped_spec_dir(), "shipped"))
        return cls(roots)

    # ------------------------------------------------------------------ lookup by name
    @staticmethod
    def _candidates(root: Path, kind: str, name: str) -> list[Path]:
        return [folder / f"{name}{suffix}" for folder in (root / SPEC_FOLDERS[kind], root) for suffix in _SUFFIXES]

    @staticmethod
    def _declares(path: Path, kind: str, name: str) -> bool:
        """Whether the file ``NAME.yaml`` holds the spec ``(kind, name)``. A file of another kind in a
        flat folder is passed over; a broken file, or one whose ``name`` disagrees with its file name,
        is reported: it sits exactly where the spec would be."""
        data, _ = read_spec_yaml(path)
        in_kind_folder = path.parent.name == SPEC_FOLDERS[kind]
        if not isinstance(data, dict):
            if in_kind_folder:
                parse_spec(data, source=str(path))  # raises the 'must be a YAML mapping' message
            return False
        if data.get("kind", kind if in_kind_folder else None) != kind:
            return False
        if data.get("name") != name:
            msg = (f"{path}: holds the {kind} spec {data.get('name')!r}, but specs are found by file name: "
                   f"the spec named {name!r} must say name: {name}")
            raise SpecError(msg)
        return True

    def locate(self, kind: str, name: str) -> tuple[Path, SpecRoot] | None:
        """The file of the spec ``(kind, name)`` and the root it was found in, or None."""
        key = (kind, name)
        if key not in self._found:
            self._found[key] = None
            if kind in SPEC_FOLDERS and _NAME.match(name):
                for root in self.roots:
                    hit = next((p for p in self._candidates(root.path, kind, name)
                                if _is_file(p) and self._declares(p, kind, name)), None)
                    if hit is not None:
                        self._found[key] = (hit, root)
                        break
        return self._found[key]

    def get(self, kind: str, name: str) -> LoadedSpec:
        key = (kind, name)
        found = self.locate(kind, name)
        if found is None:
            where = ", ".join(str(r.path) for r in self.roots)
            msg = (f"no {kind} spec named {name!r}{did_you_mean(name, self._stems(kind))} "
                   f"(looked for {SPEC_FOLDERS.get(kind, kind)}/{name}.yaml in {where})")
            raise SpecNotFoundError(msg)
        path, root = found
        if key not in self._loaded:
            self._loaded[key] = load_spec(path)
            self._notice_shadowing(kind, name, path, root)
        return self._loaded[key]

    def _notice_shadowing(self, kind: str, name: str, path: Path, root: SpecRoot) -> None:
        shipped = [p.resolve() for p in self._candidates(shipped_spec_dir(), kind, name) if p.is_file()]
        if not shipped or path.resolve() in shipped or (kind, name, path) in _noticed:
            return
        _noticed.add((kind, name, path))
        msg = f"using {kind} spec {name!r} from {path} ({root.origin}) instead of the shipped one"
        warnings.warn(msg, PhysgenWarning, stacklevel=4)

    def resolve(self, name_or_path: str, kind: str | None = None) -> LoadedSpec:
        """A spec by file path or by name (searching every kind when ``kind`` is None)."""
        path = Path(name_or_path)
        if path.suffix in _SUFFIXES or os.sep in name_or_path or path.is_file():
            return load_spec(path)
        kinds = [kind] if kind else [k for k in SPEC_KINDS if self.locate(k, name_or_path)]
        if kinds:
            return self.get(kinds[0], name_or_path)
        hint = did_you_mean(name_or_path, {n for k in SPEC_KINDS for n in self._stems(k)}, listing=None)
        msg = f"no spec file or spec named {name_or_path!r}{hint}"
        raise SpecNotFoundError(msg)

    # ------------------------------------------------------------------ listing
    def _stems(self, kind: str) -> set[str]:
        """Names of the files that could hold specs of ``kind`` (not read: for 'did you mean' hints)."""
        stems: set[str] = set()
        for root in self.roots:
            for folder in (root.path / SPEC_FOLDERS.get(kind, kind), root.path):
                with contextlib.suppress(OSError):
                    stems |= {p.stem for p in folder.iterdir() if p.suffix in _SUFFIXES and _NAME.match(p.stem)}
        return stems

    @property
    def paths(self) -> dict[tuple[str, str], Path]:
        """(kind, name) → file of every spec the roots hold (files that fail to read are left out)."""
        if self._paths is None:
            paths: dict[tuple[str, str], Path] = {}
            for kind in SPEC_KINDS:
                for name in sorted(self._stems(kind)):
                    with contextlib.suppress(SpecError):
                        found = self.locate(kind, name)
                        if found is not None:
                            paths[(kind, name)] = found[0]
            self._paths = paths
        return self._paths

    def names(self, kind: str | None = None) -> list[tuple[str, str]]:
        return sorted(k for k in self.paths if kind is None or k[0] == kind)
