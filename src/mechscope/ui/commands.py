"""The web app's commands on the `mechscope` command line: `serve`, and the pointer at the app that ends `demo`.

They live here, not in `mechscope.cli`, because the CLI layer sits below the app and never imports it;
`mechscope.__main__` puts them on the command line.
"""

from __future__ import annotations

from pathlib import Path

import typer

from mechscope.cli.output import err
from mechscope.ui import DEFAULT_HOST, app_url, check_token, is_loopback, new_token, serve_hint


def serve_command(
    port: int = typer.Option(8765, "--port", "-p", help="port to listen on (0 picks a free one)"),
    host: str = typer.Option(None, "--host", help="address to bind (default 127.0.0.1, this machine only); "
                             "any other address lets other machines reach the app, with its token"),
    token: str = typer.Option(None, "--token", help="the session token in the URL (default: a fresh random one)"),
    store: Path = typer.Option(None, "--store", help="the store folder (default $MECHSCOPE_HOME, else ./.mechscope)"),
    print_url: bool = typer.Option(False, "--print-url", help="print the app's URL and exit without serving"),
) -> None:
    """Serve the web app: runs, circuits, steering, comparisons and data maps of the store; long jobs run in the background.

    Prints the app's URL (with its token) on stdout. Ctrl-C stops the server and every job it started."""
    token = check_token(token) if token else new_token()
    chosen = host or DEFAULT_HOST
    if print_url:
        print(app_url(token, host=chosen, port=port))
        return
    if not is_loopback(chosen):
        # only an explicit --host gets here: the default is loopback
        err.print(f"[yellow]warning:[/] binding {chosen}: anyone who can reach this machine on port {port} and "
                  "learns the token can read the store and run jobs on it", highlight=False)
    from mechscope.ui.server import run

    def announce(url: str) -> None:
        print(f"mechscope app: {url}", flush=True)
        err.print(f"serving the store at {(store or _home()).resolve()}; Ctrl-C stops", highlight=False)

    run(store, chosen, port, token, announce=announce)


def app_pointer(doc: dict, token: str | None = None) -> str:
    """The paragraph that ends `mechscope demo`: where its results are stored, and how to see them in the app.

    `doc` is the demo's result document (only its ``store`` folder is read); `token` defaults to a fresh one.

    >>> print(app_pointer({"store": "/tmp/demo-store"}, token="s3cret-token"))
    <BLANKLINE>
    Everything above is in the experiment store (/tmp/demo-store). See it in the web app: run [bold]mechscope serve --port 8765 --token s3cret-token[/] and open
    http://127.0.0.1:8765/?token=s3cret-token
    """
    command, url = serve_hint(token)
    return (f"\nEverything above is in the experiment store ({doc['store']}). See it in the web app: run "
            f"[bold]{command}[/] and open\n{url}")


def _home() -> Path:
    from mechscope.store.db import home

    return home()
