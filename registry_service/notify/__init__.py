"""Sending owner notices: the sender interface, an SMTP and an SMS-webhook sender, the delivery loop
with retries and leases, and the background worker `cylinder-registry serve` starts (docs/grid.md,
"Telling vehicle owners"; configuration: docs/registry.md)."""
