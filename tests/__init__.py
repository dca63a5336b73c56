"""The test suite. Two environment settings for the whole session, set before anything loads
OpenMP or XLA; the workflow runs inherit them:

- Its workflow runs share the two cores with the background runs of tests/conftest.py;
  OpenMP threads that spin while they wait for each other then lose whole time slices to
  those runs, which made torch training 10-50x slower. Waiting threads sleep instead.
- The tests' XLA programs are tiny and run a few times, so compiling them is most of their
  cost: LLVM compiles them without optimisation passes (about a quarter less time for the
  force-field tests). Results are checked against each other and against known answers
  within the same session, never against figures from optimised code.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if "--xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = " ".join(
        (os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0")).strip()
