"""YAML loading with YAML 1.2 booleans: only true/false are booleans, so that a key like ``on:``
(the analysis config's ``matching.on``) stays a string instead of YAML 1.1's True.  Values such as
``yes`` reach pydantic as strings, which it still accepts for boolean fields."""

from __future__ import annotations

import re

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
