"""YAML loading with YAML 1.2 booleans: only true/false are booleans, so that a key like ``on:``
(the analysis config's ``matching.on``) stays a string instead of YAML 1.1's True.  Values such as
``yes`` reach pydantic as strings, which it still accepts for boolean fields.

A config file is a user's input like any data file: :func:`read_mapping` reads only a regular file of
at most :data:`MAX_CONFIG_BYTES`, in UTF-8, nested at most :data:`MAX_DEPTH` levels, and turns every
problem (a folder, a FIFO, latin-1 text, an impossible date such as 2023-02-30, an alias bomb) into a
:class:`ConfigError` that names the file and, where it can, the line or key.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ._files import InputFileError, NotUtf8Error, decode_utf8, read_regular_file

#: a study or analysis config is a few kB; anything larger is not a config
MAX_CONFIG_BYTES = 1 << 20
#: nesting deeper than this is refused before it can exhaust the parser's recursion
MAX_DEPTH = 50
#: values after expanding aliases (``*name``): a "billion laughs" config is refused, not validated
MAX_NODES = 100_000


class _Loader(yaml.SafeLoader):
    def construct_yaml_timestamp(self, node):
        """A date YAML recognises but the calendar does not (2023-02-30, month 13, year 0) stays the
        text as written, so that the config model reports it under its key as 'not a valid date'."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


    def construct_mapping(self, node, deep=False):
        """A key given twice is an error (YAML 1.2 forbids it; PyYAML would keep the last silently)."""
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _value in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = key_node.value
                    if key in seen:
                        raise ConfigError(f"line {key_node.start_mark.line + 1}: key {key[:80]!r} given twice "
                                          f"(first on line {seen[key]})")
                    seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


class ConfigError(Exception):
    """A config file that cannot be used; the message names the key."""


def _check_shape(text: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` and more than :data:`MAX_NODES` values once
    aliases are expanded, from the event stream (no recursion, no objects built)."""
    depth = total = 0
    sizes: dict[str, int] = {}  # anchor -> values in its expanded subtree
    frames: list[list] = []  # open collections: [anchor, values so far]
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(f"nested more than {MAX_DEPTH} levels deep")
            frames.append([event.anchor, 1])
            total += 1
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, n = frames.pop()
            if anchor:
                sizes[anchor] = n
        elif isinstance(event, yaml.AliasEvent):
            n = sizes.get(event.anchor, 1)
            total += n
        elif isinstance(event, yaml.ScalarEvent):
            n = 1
            total += 1
            if event.anchor:
                sizes[event.anchor] = 1
        else:
            continue
        if frames:
            frames[-1][1] += n
        if total > MAX_NODES:
            raise ConfigError(f"more than {MAX_NODES} values once aliases (*name) are expanded")


def load_yaml(text: str):
    """Parse YAML text (YAML 1.2 booleans).  Too deep or too many values -> ConfigError."""
    _check_shape(text)
    return yaml.load(text, Loader=_Loader)  # noqa: S506 -- a SafeLoader subclass


def _read_config_text(p: Path) -> str:
    """The text of a config file: a regular file (not a folder, FIFO or device), small, UTF-8."""
    try:
        data = read_regular_file(p, MAX_CONFIG_BYTES)
    except InputFileError as exc:
        if str(exc) == "file not found":
            raise ConfigError(f"config file not found: {p}") from exc
        raise ConfigError(f"{p}: {exc}; give a YAML config file") from exc
    try:
        return decode_utf8(data)
    except NotUtf8Error as exc:
        raise ConfigError(f"{p}: {exc}; save the config as UTF-8") from exc


def read_mapping(path: str | Path) -> dict:
    """A YAML config file's top-level mapping; any problem with the file -> ConfigError naming it."""
    p = Path(path)
    text = _read_config_text(p)
    try:
        data = load_yaml(text) or {}
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from exc
    except RecursionError as exc:  # belt and braces: _check_shape should have refused it
        raise ConfigError(f"{p}: nested too deeply") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of keys")
    return data


def _short(v: object, limit: int = 80) -> str:
    s = str(v)
    return s if len(s) <= limit else s[:limit] + f"... ({len(s)} characters)"


def validation_message(exc) -> str:
    """A pydantic ValidationError as 'key.path: message; ...' (keys and messages kept short).  A
    whole-model check names its keys itself, so its message is given as it is."""
    parts = []
    for e in exc.errors():
        key = ".".join(str(x) for x in e["loc"])
        msg = _short(e["msg"], 300)
        if not key and msg.startswith("Value error, "):
            parts.append(msg.removeprefix("Value error, "))
        else:
            parts.append(f"{_short(key or '(top level)')}: {msg}")
    return "; ".join(parts)
