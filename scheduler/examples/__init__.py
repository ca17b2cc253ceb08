"""Example files a newcomer copies: clusters, requests, an agent's static inventory, and the demo's workloads.

They ship inside the package (``importlib.resources.files("scheduler.examples")``), so an installed
``allmende`` finds them; ``allmende examples PATH`` copies them out.
"""
