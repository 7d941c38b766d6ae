"""python -m derivtex runs the command line."""

from derivtex.cli import entry

entry()
