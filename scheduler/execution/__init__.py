"""Execution: approved allocations of published rounds run as jobs on the clusters they were given.

``backend`` is the small protocol every backend implements (Ray Jobs, KubeRay), ``reconcile`` the
pure decision of what to do next, and ``executor`` the loop that persists each decision before it
acts on a backend.
"""
