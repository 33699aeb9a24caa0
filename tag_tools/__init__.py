"""Everything about a cylinder's tag: the signed record, the bureau's trust chain, verification,
reader transports and the `cylinder-tag` command.

Layering: the codec and crypto modules do no I/O; transports (readers) sit on them; the command
line and the applications (registry, station agent) sit on top.
"""

__version__ = "0.1.0"
