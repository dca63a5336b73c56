"""The test suite. Its workflow runs share the two cores with the background runs of
tests/conftest.py; OpenMP threads that spin while they wait for each other then lose whole
time slices to those runs, which made torch training 10-50x slower. Waiting threads sleep
instead. Set before anything loads OpenMP; the workflow runs inherit it."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
