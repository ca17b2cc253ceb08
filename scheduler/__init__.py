"""Allmende's service: inventory, requests, rounds, review, ledger and execution around the solver."""
