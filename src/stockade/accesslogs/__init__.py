"""The access logs of the proxy in front, followed for the responses a decision never sees.

:mod:`stockade.accesslogs.formats` reads a line (combined, or JSON with a field map),
:mod:`stockade.accesslogs.tail` follows a file across rotations, and
:class:`~stockade.accesslogs.watcher.LogWatcher` counts each logged request against its
client in the guard's bans.
"""
