"""The station agent: beside each dispenser, turns tag reads into a pump interlock decision,
shows the attendant why, and keeps every scan in a local outbox until the registry has it."""
