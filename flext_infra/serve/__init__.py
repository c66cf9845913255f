"""``flext serve``: health, readiness, metrics, the run ledger over HTTP and a status page.

Needs the ``serve`` extra (``pip install 'flext-meltano[serve]'``); a plugin
process never imports this package.
"""

from flext_infra.serve._app import create_app
from flext_infra.serve._errors import ServeError
from flext_infra.serve._server import serve

__all__ = ["ServeError", "create_app", "serve"]
