"""Tests of tap-flext-api."""
