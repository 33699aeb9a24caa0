"""The `cylinder-tag` command: one module per group of subcommands, wired in `main`."""
