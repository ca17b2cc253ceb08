"""Example files that ship with the package (``importlib.resources.files("scheduler.examples")``)."""
