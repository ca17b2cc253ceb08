"""The exit codes every ``allmende`` command returns: 0 success, 1 a check failed or the server refused, 2 bad input.

This module imports nothing, so that any command module, in any package, can use the codes without loading the
CLI: ``simulations.cli`` imports this module, and only :mod:`scheduler.cli` knows that ``simulations.cli`` exists.
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
