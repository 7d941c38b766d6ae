"""python -m derivtex runs the command line."""

from .cli import main

main()
