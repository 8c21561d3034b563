"""Test-session setup shared by all tests.

- Keras parity tests run Keras 3 on its torch backend; the variable must be set before any
  keras import.
- CNN_TEST_NO_PEERS=1 (the sanitizer run) hides torch and keras so their tests skip.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

if os.environ.get("CNN_TEST_NO_PEERS") == "1":
    sys.modules["torch"] = None
    sys.modules["keras"] = None

sys.path.insert(0, os.path.dirname(__file__))
