"""``python -m benchmarks``: run the benchmark suites (see benchmarks/README.md)."""

from benchmarks.run import main

raise SystemExit(main())
