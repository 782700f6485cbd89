"""Entry point of `python -m stationarity`."""

from stationarity.cli import main

main()
