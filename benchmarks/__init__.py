"""Throughput and memory benchmarks for tap-flext-api and target-flext-oracle.

Run with ``make bench`` or ``python -m benchmarks [--quick]``; see README.md.
"""
