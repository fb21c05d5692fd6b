"""``ponder serve``: an OpenAI-compatible reasoning endpoint; every request is a run.

A front end: may import the core, ``ponder.agents`` and ``ponder.graphs``; never the CLI or
the UI.

>>> from ponder.serve import create_app, ServeSettings
>>> app = create_app(load_config(), ServeSettings(api_keys=("sk-local",)))
"""

from ponder.serve.app import RUN_HEADER, create_app
from ponder.serve.runner import Runner, ServeSettings
from ponder.serve.server import BackgroundServer, check_bind, serve

__all__ = ["RUN_HEADER", "BackgroundServer", "Runner", "ServeSettings", "check_bind",
           "create_app", "serve"]
