"""The `mechscope` command: the CLI's commands plus the web app's, put together here and only here.

The CLI layer sits below the web app and never imports it, so the one place that knows both is
this entry point (also reachable as ``python -m mechscope``).

>>> from typer.testing import CliRunner
>>> from mechscope.__main__ import app
>>> CliRunner().invoke(app, ["serve", "--print-url", "--token", "abcdefgh12"]).output
'http://127.0.0.1:8765/?token=abcdefgh12\n'
"""

from __future__ import annotations

import os
import sys

from mechscope.interrupts import ctrl_c_seen, remember_ctrl_c

_COMMAND = __name__ == "__main__" or os.path.basename(sys.argv[0]) == "mechscope"  # not imported by a program
if _COMMAND:
    remember_ctrl_c()
try:
    from mechscope.cli.main import app, end_demo_with, main
    from mechscope.ui.commands import app_pointer, serve_command
except BaseException as exc:  # Ctrl-C in the first second, while the command line is still being imported
    if not _COMMAND or not (ctrl_c_seen() or isinstance(exc, KeyboardInterrupt)):
        raise  # imported by someone else's program (theirs to handle), or a real error
    # nothing has been done yet; the same line as cli.failures.report (not importable half-way through)
    sys.stderr.write("interrupted: nothing was written\n")
    sys.stderr.flush()
    os._exit(130)

__all__ = ["app", "main"]

# `python -m mechscope` runs this file as __main__; anything importing mechscope.__main__ as well must not
# register the commands twice
if not any(c.callback is serve_command for c in app.registered_commands):
    app.command("serve")(serve_command)
end_demo_with(app_pointer)


if __name__ == "__main__":
    main()
