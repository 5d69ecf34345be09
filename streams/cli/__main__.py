"""``python -m streams.cli``: the same entry point as the ``driftrec`` console script."""

from streams.cli.main import main

main()
