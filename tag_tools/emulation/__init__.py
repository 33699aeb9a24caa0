"""Emulated NTAG21x chips served behind the real reader stacks (nfcpy udp, pcscd + vpcd), for tests,
benchmarks and demonstrations without hardware."""
