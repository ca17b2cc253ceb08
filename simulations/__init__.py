"""Policy simulations of funding scenarios, with the same solver that allocates real rounds."""
