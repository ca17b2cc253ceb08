"""Helpers shared by the tests and the benchmarks: ports, a real PostgreSQL."""
