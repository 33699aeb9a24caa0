"""The list signer: a separate process, under its own Unix user, that holds the key the bureau
root certified for trust lists and status lists, and refuses to sign a list that would undo a
revocation or go back in sequence. The registry reaches it only through a Unix socket
(list_signer.client), so a compromised registry can delay a revocation but never undo it."""
