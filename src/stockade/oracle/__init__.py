"""Pure-Python versions of what the native module does on the request path: test oracles only.

Each module here is the reference implementation that ``stockade._native`` replaced on
the request path (the canonical path, host and headers, the client-IP resolution, and
the fronts that combine them). Nothing in production imports this package (a test checks
that); the differential tests (hypothesis) keep the native code equal to it while both
exist, and the benchmarks measure what the native code saves.
"""
