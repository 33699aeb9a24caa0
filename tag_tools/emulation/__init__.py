"""Emulated NTAG21x chips served behind the real reader stacks (nfcpy udp, pcscd + vpcd): what
`cylinder-tag emulate` serves (docs/readers.md) and the demo's reader field runs on. Starting pcscd
and pairing a reader with an emulated tag is test tooling: tests/pcscd_peer.py, tests/rigs.py."""
