"""The use cases of the service, one module per area: the transactions each runs, as plain functions.

Each transaction function takes the store's :class:`~scheduler.store.Transaction` (or
:class:`~scheduler.store.Reader`), the caller and the instant ``now`` the service took
from its clock, in the style of :mod:`scheduler.phases`; :class:`scheduler.service.Service`
checks nothing itself and only hands them to the store.
"""
