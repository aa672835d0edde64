"""``stockade serve``: bind the listen sockets, then run uvicorn with one or several workers.

The parent binds every socket itself (so ``:0`` and the lockout listeners agree on the
real port) and hands the same sockets to uvicorn; with several workers, uvicorn's process
supervisor passes them on and each worker builds its app from the environment
(``STOCKADE_CONFIG``, ``STOCKADE_LISTENERS``) and opens its own store connection.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from stockade.config import load_config
from stockade.server.app import CONFIG_ENV, LISTENERS_ENV, StockadeApp
from stockade.server.listeners import bind_all, encode_listeners
from stockade.stores import open_store


def uvicorn_config(app: Any, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for stockade: httptools, lifespan on, no access log, no Server header."""
    return uvicorn.Config(
        app,
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        **options,
    )


def serve(config_path: str | Path, *, workers: int | None = None) -> None:
    """Serve until interrupted; ``workers`` defaults to ``[server] workers`` of the config.

    Raises :class:`~stockade.errors.ConfigError` for a bad configuration,
    :class:`~stockade.errors.StoreError` when the store cannot be opened and ``OSError``
    when an address cannot be bound, all before anything is served.
    """
    path = Path(config_path).absolute()
    config = load_config(path)
    count = workers if workers is not None else config.raw.server.workers
    # Fail here, with one clear message, rather than in every worker's startup.
    for url in {config.store_url, *config.directory_store_urls.values()}:
        open_store(url, config.base, watch=False).close()
    sockets, bound = bind_all(config.listen)
    try:
        for address in bound:
            print(f"stockade: listening on http://{address}/", flush=True)
        if count <= 1:
            uvicorn.Server(uvicorn_config(StockadeApp(config, listen=bound))).run(sockets=sockets)
            return
        os.environ[CONFIG_ENV] = str(path)
        os.environ[LISTENERS_ENV] = encode_listeners(bound)
        multi = uvicorn_config("stockade.server.app:app_from_env", factory=True, workers=count)
        Multiprocess(multi, sockets=sockets).run()
    except KeyboardInterrupt:
        # uvicorn re-raises the SIGINT it handled once it has shut down gracefully.
        pass
    finally:
        for sock in sockets:
            sock.close()
        sys.stdout.flush()
