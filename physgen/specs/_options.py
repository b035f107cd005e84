"""Checking the options of the plug-ins a spec names, when the spec loads.

Every plug-in declares its options as a pydantic model — a simulator's or importer's ``Options``,
an architecture's ``Hyperparameters`` and ``TrainingOptions``, a transform's ``Options``, a detector
kind's geometry model — and the spec models validate the plain mappings of the YAML file against
them (:func:`check_options`), so that a misspelt key (``latent_dimm``, ``num_wrokers``) fails
``physgen specs validate`` with its full key path and a suggestion, instead of being ignored at
run time. Defaults live in those models, never in ``options.get(...)`` calls.

The spec objects keep the mappings as written (their text and hash stay the spec's); plug-ins turn
them into their options model when they are built. Specs read back from store provenance or run
directories are parsed with ``context={"plugins": False}``: they were checked when written, and a
store made with a plug-in that is not installed here must still open.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from physgen.errors import SpecError

__all__ = [
    "NoOptions", "OptionErrors", "check_call", "check_options", "checking_plugins", "describe_errors",
    "parse_plugin_options", "unknown_key_hint",
]

M = TypeVar("M", bound=BaseModel)

Loc = tuple[str | int, ...]


class NoOptions(BaseModel):
    """The options of a plug-in that takes none: any key is a mistake."""

    model_config = ConfigDict(extra="forbid")


def checking_plugins(info: ValidationInfo) -> bool:
    """False when the spec is parsed with ``context={"plugins": False}`` (provenance, run directories)."""
    return bool((info.context or {}).get("plugins", True))


# ------------------------------------------------------------------ suggestions for unknown keys
_TAGS = ("type", "distribution")


def _model_classes(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [c for arg in getattr(annotation, "__args__", ()) or () for c in _model_classes(arg)]


def _model_at(model: type[BaseModel], loc: Iterable[Any]) -> type[BaseModel] | None:
    """The pydantic model class a location points into.

    Integer parts (list items) and mapping keys are stepped over; a discriminated-union
    tag such as ``layered`` picks the matching member of the union.
    """
    current: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        fields = [m.model_fields[part] for m in current if part in m.model_fields]
        if fields:
            current = [c for f in fields for c in _model_classes(f.annotation)]
            continue
        tagged = [m for m in current if any(m.model_fields[k].default == part for k in _TAGS if k in m.model_fields)]
        if tagged:
            current = tagged
    return current[0] if len(current) == 1 else None


def unknown_key_hint(model: type[BaseModel], loc: Loc) -> str:
    """``"; did you mean 'x'?"`` (or the known keys) for the unknown key at ``loc`` of ``model``."""
    owner = _model_at(model, loc[:-1])
    known = list(owner.model_fields) if owner else []
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f"; did you mean {close[0]!r}?" if close else (f"; known keys: {', '.join(known)}" if known else "")


# ------------------------------------------------------------------ errors at a key path
def _custom(kind: str, loc: Loc, value: Any, message: str) -> InitErrorDetails:
    """A pydantic error line of type ``kind`` at ``loc`` whose message is ``message`` as written."""
    return {"type": PydanticCustomError(kind, "{message}", {"message": message}), "loc": loc, "input": value}


class OptionErrors:
    """Problems found in one spec, each at its key path, raised together as one ``ValidationError``."""

    def __init__(self, title: str):
        self.title = title
        self.lines: list[InitErrorDetails] = []

    def add(self, loc: Loc, message: str, value: Any = None, kind: str = "plugin_option") -> None:
        self.lines.append(_custom(kind, loc, value, message))

    def unknown_key(self, loc: Loc, hint: str, value: Any = None) -> None:
        """An unknown key; ``hint`` (``"; did you mean 'x'?"``) ends the message."""
        line = _custom("unknown_key", loc, value, f"unknown key{hint}")
        line["type"] = PydanticCustomError("unknown_key", "unknown key{hint}", {"hint": hint})
        self.lines.append(line)

    def plugin(self, registry, name: str, loc: Loc) -> Any:
        """The plug-in ``name`` of ``registry``, or None with the error recorded at ``loc``."""
        try:
            return registry.get(name)
        except SpecError as exc:
            self.add(loc, str(exc), name)
            return None

    def options(self, model: type[M], options: Any, loc: Loc) -> M | None:
        """``options`` validated by ``model``; errors recorded under ``loc`` (None then)."""
        try:
            return model.model_validate(options)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                inner = tuple(err["loc"])
                if err["type"] == "extra_forbidden":
                    self.unknown_key(loc + inner, unknown_key_hint(model, inner), err.get("input"))
                else:
                    self.add(loc + inner, err["msg"], err.get("input"), kind=err["type"])
            return None

    def call(self, func: Callable[..., Any], options: dict[str, Any], loc: Loc, *, positional: int = 0) -> None:
        """``options`` must be keyword arguments of ``func`` (after ``positional`` positional ones)."""
        parameters = inspect.signature(func).parameters
        if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            return
        known = [name for i, (name, p) in enumerate(parameters.items())
                 if i >= positional and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        for key in options:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; it takes {', '.join(known) or 'none'}"
                self.unknown_key((*loc, key), hint, options[key])
        for key, model in _model_lists(func).items():  # e.g. the quality step's ``figures: list[Figure]``
            if isinstance(options.get(key), list):
                for j, item in enumerate(options[key]):
                    self.options(model, item, (*loc, key, j))

    def raise_any(self) -> None:
        if self.lines:
            raise ValidationError.from_exception_data(self.title, self.lines)


def _model_lists(func: Callable[..., Any]) -> dict[str, type[BaseModel]]:
    """The parameters of ``func`` annotated ``list[Model]`` with a pydantic ``Model``, by name."""
    try:
        hints = typing.get_type_hints(func)
    except (NameError, TypeError):  # an annotation that does not resolve here: nothing to check
        return {}
    lists = {}
    for name, hint in hints.items():
        args = typing.get_args(hint)
        if typing.get_origin(hint) is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            lists[name] = args[0]
    return lists


def check_options(model: type[M], options: Any, loc: Loc = ()) -> M:
    """``options`` validated by ``model``, its errors reported at ``loc`` + their own key path."""
    errors = OptionErrors(model.__name__)
    checked = errors.options(model, options, loc)
    errors.raise_any()
    return checked  # type: ignore[return-value]


def check_call(func: Callable[..., Any], options: dict[str, Any], loc: Loc = (), *, positional: int = 0) -> None:
    """Raise when ``options`` are not keyword arguments of ``func``."""
    errors = OptionErrors(getattr(func, "__name__", "options"))
    errors.call(func, options, loc, positional=positional)
    errors.raise_any()


def _format_loc(loc: Iterable[Any]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def describe_errors(exc: ValidationError, model: type[BaseModel], source: str) -> str:
    """One line per problem: ``source``, the key path, what was wrong (with a suggestion for unknown keys)."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        where = _format_loc(loc)
        tag = str((err.get("ctx") or {}).get("discriminator", "")).strip("'")
        misspelt = (difflib.get_close_matches(tag, [str(k) for k in err["input"]], n=1)
                    if err["type"] == "union_tag_not_found" and isinstance(err.get("input"), dict) else [])
        if err["type"] in ("extra_forbidden", "unknown_key"):
            hint = (err.get("ctx") or {}).get("hint") if err["type"] == "unknown_key" else unknown_key_hint(model, loc)
            lines.append(f"{source}: unknown key {where!r}{hint}")
        elif misspelt:  # the key that picks the kind (``distribution``, ``type``) is misspelt
            lines.append(f"{source}: unknown key {_format_loc((*loc, misspelt[0]))!r}; did you mean {tag!r}?")
        else:
            got = err.get("input")
            shown = "" if isinstance(got, dict) or err["type"] == "plugin_option" else f" (got {got!r})"
            lines.append(f"{source}: {where}: {err['msg']}{shown}")
    return "\n".join(lines)


def parse_plugin_options(model: type[M], options: Any, *, source: str, loc: Loc = ()) -> M:
    """``options`` as ``model`` (a plug-in building itself from its spec); a :class:`SpecError` naming
    ``source`` and the key path otherwise (not reached for specs that were checked when loaded)."""
    try:
        return check_options(model, options, loc)
    except ValidationError as exc:
        raise SpecError(describe_errors(exc, model, source)) from None
