"""What keeps the local web app to its user: the checks a request passes before any handler runs.

The model is Jupyter Server's. A web page in another tab can make the browser send requests to
127.0.0.1; a page on another site can even re-point its own name at 127.0.0.1 (DNS rebinding) and
read the answers. So the server

* answers only requests whose ``Host`` header names a loopback address or the host it was started
  with (a rebinding page's requests carry its own name): anything else gets 403;
* refuses a request that changes anything (POST, PUT, PATCH, DELETE) when its ``Origin`` header
  names another origin, or when the browser says it comes from another site (``Sec-Fetch-Site``);
* trades the token in the URL for an HttpOnly, SameSite=Strict cookie on first load, then redirects
  to the same URL without it, so the token stays out of history, screenshots and Referer headers;
* sends ``Referrer-Policy: no-referrer`` (and no-sniff, no-framing) on every answer;
* lets web forms name files only inside the folder the server was started in or the store.

>>> allowed_host("127.0.0.1:8765", {"127.0.0.1"}), allowed_host("evil.example:8765", {"127.0.0.1"})
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from pathlib import Path

from mechscope.errors import MechscopeError

COOKIE_PREFIX = "mechscope-session-"
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
HEADERS = {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Content-Security-Policy": "frame-ancestors 'none'"}


def split_host(host_header: str) -> tuple[str, str]:
    """``(host, port)`` of a Host header (or an Origin's netloc); IPv6 brackets removed, names lowercased.

    >>> split_host("[::1]:8765"), split_host("LocalHost"), split_host("127.0.0.1:80")
    (('::1', '8765'), ('localhost', ''), ('127.0.0.1', '80'))
    """
    h = host_header.strip().lower()
    if h.startswith("["):
        end = h.find("]")
        return h[1:end], h[end + 2:] if h[end + 1:end + 2] == ":" else ""
    if h.count(":") == 1:
        name, port = h.split(":")
        return name, port
    return h, ""


def _loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_host(host_header: str | None, extra: set[str]) -> bool:
    """Whether a request's Host header names this machine's loopback or one of `extra` (the host the server
    was started with).

    >>> allowed_host("localhost:1", set()), allowed_host("[::1]:1", set()), allowed_host("10.0.0.5:1", {"10.0.0.5"})
    (True, True, True)
    >>> allowed_host("attacker.example", set()), allowed_host(None, set()), allowed_host("", set())
    (False, False, False)
    """
    if not host_header:
        return False
    name, _ = split_host(host_header)
    return _loopback(name) or name in {e.lower().strip("[]") for e in extra}


def same_origin(origin: str, host_header: str | None) -> bool:
    """Whether an ``Origin`` header (``scheme://host[:port]``) names the server the request was sent to.

    >>> same_origin("http://127.0.0.1:8765", "127.0.0.1:8765"), same_origin("http://evil.example", "127.0.0.1:8765")
    (True, False)
    >>> same_origin("null", "127.0.0.1:8765")
    False
    """
    if "://" not in origin or not host_header:
        return False
    scheme, netloc = origin.split("://", 1)
    o_host, o_port = split_host(netloc)
    r_host, r_port = split_host(host_header)
    default = "443" if scheme == "https" else "80"
    return o_host == r_host and (o_port or default) == (r_port or default)


def cookie_name(port: int | None) -> str:
    """One cookie a port: cookies do not tell ports apart, and two servers may run side by side."""
    return f"{COOKIE_PREFIX}{port or 0}"


def session_value(token: str) -> str:
    """What the cookie holds: derived from the token (the token itself never goes into a cookie).

    >>> session_value("abc") == session_value("abc") != session_value("abd")
    True
    """
    return hmac.new(token.encode(), b"mechscope-session-cookie", hashlib.sha256).hexdigest()


def matches(given: str | None, expected: str) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def confine(value: str, roots: list[Path], what: str) -> str:
    """`value` if it names a file inside one of `roots` (or is a bare name such as a built-in task or a shipped
    prompt set, which names no path); otherwise a one-line error.

    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> confine("ioi", [root], "task"), confine(str(root / "t.jsonl"), [root], "task") == str(root / "t.jsonl")
    ('ioi', True)
    >>> try:
    ...     confine("/etc/passwd", [root], "task")
    ... except MechscopeError as exc:
    ...     print(str(exc).split(";")[0])
    the task '/etc/passwd' is outside the folders this server may read
    """
    text = str(value).strip()
    if not text:
        return text
    path = Path(text).expanduser()
    if "/" not in text and "\\" not in text and not path.exists():
        return text  # a name, not a path
    full = (path if path.is_absolute() else roots[0] / path).resolve()
    if any(full == r.resolve() or full.is_relative_to(r.resolve()) for r in roots):
        return text
    raise MechscopeError(f"the {what} {text!r} is outside the folders this server may read; put it in "
                         f"{' or '.join(str(r) for r in roots[:1])} or the store")
