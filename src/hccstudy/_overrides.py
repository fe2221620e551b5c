"""Config mappings layered on one another: the deep merge of study.yaml's ``analysis:`` onto the
built-in plan, and ``--set KEY=VALUE`` overrides on the command line.

Merge rules (:func:`deep_merge`): a mapping merges key by key, recursively; a list or a scalar
replaces what was there; ``null`` replaces it too (so ``matching: null`` removes an optional section,
and a required key set to null is reported by the model's validation under its key).  Merging never
modifies its inputs.

``--set`` (:func:`parse_assignment`): ``KEY=VALUE`` where KEY is a dotted path of mapping keys
(``matching.caliper``) and VALUE is read as YAML (``0.1``, ``[6, 12, 36]``, ``null``, ``{a: 1}``,
``SE``), with YAML 1.2 booleans as in config files.  The result is a nested mapping that is merged onto
the config file's mapping *before* validation, so an override is validated exactly like the file.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping

import yaml

from ._yaml import ConfigError, load_yaml

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """``override`` layered onto ``base`` (see module docstring); neither input is modified."""
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_assignment(text: str) -> tuple[str, dict]:
    """``"a.b=0.1"`` -> ``("a.b", {"a": {"b": 0.1}})``; a malformed assignment -> ConfigError."""
    key, eq, value = text.partition("=")
    key = key.strip()
    if not eq:
        raise ConfigError(f"--set {text!r}: give KEY=VALUE, e.g. --set matching.caliper=0.1")
    if not _KEY.match(key):
        raise ConfigError(f"--set {text!r}: {key!r} is not a key path (names joined by dots, e.g. matching.caliper)")
    try:
        parsed = load_yaml(value) if value.strip() else None
    except (yaml.YAMLError, ConfigError) as exc:
        raise ConfigError(f"--set {key}: the value {value!r} is not valid YAML ({str(exc).splitlines()[0]})") from exc
    nested: dict = {}
    node = nested
    parts = key.split(".")
    for p in parts[:-1]:
        node[p] = {}
        node = node[p]
    node[parts[-1]] = parsed
    return key, nested


def apply_assignments(mapping: Mapping, assignments: Iterable[str]) -> tuple[dict, list[tuple[str, str, dict]]]:
    """The mapping with every ``KEY=VALUE`` merged on, in order (a later one wins), and the parsed
    assignments as (text, key, nested mapping) for error messages."""
    parsed = []
    out = dict(mapping)
    for text in assignments:
        key, nested = parse_assignment(text)
        parsed.append((text, key, nested))
        out = deep_merge(out, nested)
    return out, parsed


def blame(validate, mapping: Mapping, parsed: list[tuple[str, str, dict]], exc: ConfigError) -> ConfigError:
    """Name the ``--set`` assignments a validation error comes from: ``validate(mapping)`` is run with
    the file alone and with each assignment alone; the ones that fail on their own are named (all of
    them when only their combination fails).  When the file alone fails, ``exc`` is returned as it is."""
    if not parsed:
        return exc
    try:
        validate(dict(mapping))
    except ConfigError:
        return exc
    culprits = []
    for text, _key, nested in parsed:
        try:
            validate(deep_merge(mapping, nested))
        except ConfigError:
            culprits.append(text)
    named = culprits or [t for t, _k, _n in parsed]
    return ConfigError(f"--set {', --set '.join(named)}: {exc}")


def validate_with(model, mapping: Mapping, assignments: Iterable[str], where: str = "", prepare=None):
    """``model`` validated from ``mapping`` with the ``--set`` ``assignments`` merged on; a pydantic
    error becomes a :class:`ConfigError` starting with ``where`` (the file), and an error that an
    assignment causes names it (:func:`blame`).  ``prepare``: applied to the merged mapping first (it
    may raise a :class:`ConfigError` of its own)."""
    from pydantic import ValidationError

    from ._yaml import validation_message

    def validate(m: dict):
        try:
            return model.model_validate(prepare(m) if prepare is not None else m)
        except ValidationError as exc:
            raise ConfigError(where + validation_message(exc)) from exc

    merged, parsed = apply_assignments(mapping, assignments)
    try:
        return validate(merged)
    except ConfigError as exc:
        raise blame(validate, mapping, parsed, exc) from exc
