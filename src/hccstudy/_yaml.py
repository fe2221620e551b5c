"""YAML loading with YAML 1.2 booleans: only true/false are booleans, so that a key like ``on:``
(the analysis config's ``matching.on``) stays a string instead of YAML 1.1's True.  Values such as
``yes`` reach pydantic as strings, which it still accepts for boolean fields."""

from __future__ import annotations

import re
from pathlib import Path

import yaml


class _Loader(yaml.SafeLoader):
    pass


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def load_yaml(text: str):
    """Parse YAML text (YAML 1.2 booleans)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 -- a SafeLoader subclass


class ConfigError(Exception):
    """A config file that cannot be used; the message names the key."""


def read_mapping(path: str | Path) -> dict:
    """A YAML config file's top-level mapping; missing file, bad YAML or a non-mapping -> ConfigError."""
    p = Path(path)
    try:
        data = load_yaml(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {p}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of keys")
    return data


def validation_message(exc) -> str:
    """A pydantic ValidationError as 'key.path: message; ...'."""
    return "; ".join(f"{'.'.join(str(x) for x in e['loc']) or '(top level)'}: {e['msg']}" for e in exc.errors())
