"""The gRPC edge: servicers, proto <-> domain conversion, the auth interceptor and the server.

Nothing outside the entry points (``allmende serve``, tests, benchmarks) imports this package.
"""
