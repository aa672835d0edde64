"""The detection engine in Python: the oracle of the native one (``native/core/src/detection/``).

``engine`` evaluates a rule pack as the native engine does, with ``gate``, ``parts``,
``transforms`` and the tokenisers ``sqli``, ``xss`` and ``shell``. Nothing in production
imports it; the differential tests and ``bench/detection_speed.py`` do.
"""
