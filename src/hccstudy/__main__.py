"""``python -m hccstudy``: the same as the ``hccstudy`` command."""

from .cli import main

main()
