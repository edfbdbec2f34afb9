"""``python -m analyzer.cli``."""

from analyzer.cli import run

run()
