"""The `mechscope` command line (entry point: `mechscope.cli.main`); thin over the Python API."""
