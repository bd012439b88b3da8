"""The conformance suite: one pytest module per tier (test_<tier>.py), run by `tgc-sdk conformance` through the pytest
plugin in plugin.py, one child process per tier."""
TIERS = ("loader", "runtime", "numerics", "models")
VERSION = "0.2.0"   # the suite's own version: goes into every report; bump when a case is added or changed
