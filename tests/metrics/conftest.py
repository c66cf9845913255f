"""The CLI tests' fixtures: a tiny Meltano project and the ``flext`` runner."""

from tests.cli.conftest import flext, project

__all__ = ["flext", "project"]
