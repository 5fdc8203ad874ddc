"""The operator's console at ``/console/``: server-rendered pages for the operator of a
walletauth deployment, signed in with a wallet listed in ``WALLETAUTH_OPERATORS``.

The console carries out nothing itself: every act is a call of :mod:`walletauth.rights`
(the same erasure, export, correction, restriction and stop of provision the wallet owner
asks for) and every figure a read of :mod:`walletauth.store`; it knows no SQL. The server
(:mod:`walletauth.server.routes.console`) mounts it and hands it a
:class:`~walletauth.console.host.ConsoleHost`: the store, the sign-in check and settings.
"""

from walletauth.console.errors import CONSOLE_ERROR_CODES, ConsoleError
from walletauth.console.host import ConsoleHost
from walletauth.console.routes import CONSOLE_PREFIX, console_router

__all__ = ["CONSOLE_ERROR_CODES", "CONSOLE_PREFIX", "ConsoleError", "ConsoleHost",
           "console_router"]
