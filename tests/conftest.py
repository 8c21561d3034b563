"""Test-session setup shared by all tests.

- Keras parity tests run Keras 3 on its torch backend; the variable must be set before any
  keras import.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

sys.path.insert(0, os.path.dirname(__file__))
