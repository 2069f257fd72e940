"""The web app and notebook widgets (the top layer: it may import anything, nothing imports it).

`mechscope serve` runs the app over the experiment store at ``$MECHSCOPE_HOME``, bound to
loopback, with a per-session token in its URL; `show` draws a circuit, a comparison or a steering
file in a notebook with the same front-end components.

>>> app_url("s3cret", port=8765)
'http://127.0.0.1:8765/?token=s3cret'
>>> app_url("s3cret", port=8765, view="circuit/ioi-eap")
'http://127.0.0.1:8765/?token=s3cret#/circuit/ioi-eap'
"""

from __future__ import annotations

import ipaddress
import re
import secrets

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,128}$")

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "app_url", "check_token", "is_loopback", "new_token", "serve_hint",
           "show"]


def new_token() -> str:
    """A fresh random session token, safe in a URL.

    >>> len(new_token()) >= 16
    True
    """
    return secrets.token_urlsafe(18)


def check_token(token: str) -> str:
    """A token given with ``--token``: 8 to 128 letters, digits, '-' or '_'.

    >>> check_token("abcdefgh")
    'abcdefgh'
    """
    from mechscope.errors import MechscopeError

    if not _TOKEN.match(token):
        raise MechscopeError(f"--token must be 8 to 128 letters, digits, '-' or '_'; got {token!r} (or leave it "
                             "out for a random one)")
    return token


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (``127.0.0.1``, ``::1``, ``localhost``).

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def app_url(token: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, view: str | None = None) -> str:
    """The URL of the app served by ``mechscope serve --host HOST --port PORT --token TOKEN``; `view` opens one
    view (``"circuit/NAME"``, ``"steering/NAME"``, ``"comparison/NAME"``, ``"data/MAP"``, ``"jobs"``)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}" + (f"#/{view}" if view else "")


def serve_hint(token: str | None = None, port: int = DEFAULT_PORT, view: str | None = None) -> tuple[str, str]:
    """The command that serves the app and the URL it will have, e.g. for `mechscope demo` to print at its end.

    >>> command, url = serve_hint("s3cret-token")
    >>> command, url
    ('mechscope serve --port 8765 --token s3cret-token', 'http://127.0.0.1:8765/?token=s3cret-token')
    """
    token = check_token(token) if token else new_token()
    return f"mechscope serve --port {port} --token {token}", app_url(token, port=port, view=view)


def show(obj, **kwargs):
    """A notebook widget for a circuit, a comparison or a steering file (see `mechscope.ui.widget.show`)."""
    from mechscope.ui.widget import show as _show

    return _show(obj, **kwargs)
