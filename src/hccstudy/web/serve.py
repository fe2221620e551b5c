"""Start the app with uvicorn (``hccstudy serve``): our own redacted access log, the browser opened
once the server listens."""

from __future__ import annotations

import logging
import threading
import webbrowser
from collections.abc import Callable

from .settings import LOOPBACK, WebSettings

__all__ = ["LOOPBACK", "port_problem", "serve_app", "url_of"]


def url_of(settings: WebSettings) -> str:
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    return f"http://{host}:{settings.port}/" + (f"?token={settings.token}" if settings.token else "")


def port_problem(host: str, port: int) -> str | None:
    """Why the app cannot listen on ``host:port`` (in use, not an address of this computer), or None."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind((host, port))
        except OSError as exc:
            return f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port)"
    return None


def serve_app(host: str, port: int, token: str | None, open_browser: bool = True,
              say: Callable[[str], object] = print) -> None:
    """Run the app until Ctrl-C.  uvicorn's own access log is off (it would print query strings); the
    app logs ``METHOD PATH STATUS ms`` itself (:mod:`hccstudy.web.app`)."""
    import uvicorn

    from .app import create_app

    settings = WebSettings(host=host, port=port, token=token)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    app = create_app(settings)
    from .studies import recent, warm

    last = recent(settings)
    if last:  # the study the user is most likely to open again: ready before they click
        warm(settings, last[0].folder)
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    url = url_of(settings)

    def when_up():  # once the server listens: say where, and open the browser
        import time
        for _ in range(1200):
            if server.started:
                say(f"hccstudy is running at {url} (Ctrl-C to stop)")
                if open_browser:
                    webbrowser.open(url)
                return
            time.sleep(0.05)

    threading.Thread(target=when_up, daemon=True).start()
    server.run()
