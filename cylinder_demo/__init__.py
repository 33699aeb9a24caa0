"""The whole story in one command, with no hardware: `python -m cylinder_demo`.

The bureau certifies an inspection centre, the registry seeds a small city, the centre signs and
reports its inspections, emulated tags carry the records past a station agent's reader, and the
bureau's dashboard shows the refused vehicles. Everything runs in one process on 127.0.0.1 and
every file lands in one folder (`--dir`).
"""
