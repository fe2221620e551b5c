"""Settings of the local web app (``hccstudy serve``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: loopback host names: the app binds one of these unless --host and --token are given
LOOPBACK = ("127.0.0.1", "localhost", "::1")

#: the default upload limit: 200 MiB per request (a centre's workbook of 100,000 patients is ~20 MiB)
DEFAULT_MAX_UPLOAD = 200 * 1024 * 1024


def default_home() -> Path:
    """The app's own state folder (the recent studies): ``$HCCSTUDY_HOME`` or ``~/.hccstudy``."""
    env = os.environ.get("HCCSTUDY_HOME")
    return Path(env).expanduser() if env else Path.home() / ".hccstudy"


@dataclass(frozen=True)
class WebSettings:
    """What ``create_app`` needs.

    ``home``: folder of the app's own state (recent.json); never holds patient data.
    ``host``/``port``: where uvicorn binds; ``token``: required on every request when set (needed for
    a non-loopback host); ``max_upload_bytes``: the largest request body accepted (413 above it);
    ``background_checks``: validate a study in the background when it is opened or changed.
    """

    home: Path = field(default_factory=default_home)
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    #: validate a study in a background thread as soon as it is opened or its files change, so that its
    #: pages open at once (tests turn it off: they ask for what they need)
    background_checks: bool = True

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK
