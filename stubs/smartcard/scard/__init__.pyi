from collections.abc import Sequence

# smartcard.scard re-exports the SWIG wrapper smartcard.scard.scard (PC/SC, winscard/pcsclite).
# Every call returns the PC/SC return code first (SCARD_S_SUCCESS or an error, as an unsigned int);
# handles (context, card) are ints. Readers are names; ATRs and APDU answers are lists of ints.

SCARD_S_SUCCESS: int
SCARD_SCOPE_USER: int
SCARD_SHARE_EXCLUSIVE: int
SCARD_PROTOCOL_T0: int
SCARD_PROTOCOL_T1: int
SCARD_LEAVE_CARD: int
SCARD_RESET_CARD: int
SCARD_UNPOWER_CARD: int

SCARD_STATE_UNAWARE: int
SCARD_STATE_CHANGED: int
SCARD_STATE_PRESENT: int
SCARD_STATE_MUTE: int

SCARD_E_INVALID_HANDLE: int
SCARD_E_NO_READERS_AVAILABLE: int
SCARD_E_NO_SERVICE: int
SCARD_E_NO_SMARTCARD: int
SCARD_E_READER_UNAVAILABLE: int
SCARD_E_SHARING_VIOLATION: int
SCARD_E_TIMEOUT: int
SCARD_E_UNKNOWN_READER: int
SCARD_W_REMOVED_CARD: int
SCARD_W_UNRESPONSIVE_CARD: int

def SCardEstablishContext(dwScope: int) -> tuple[int, int]: ...
def SCardReleaseContext(hcontext: int) -> int: ...
def SCardListReaders(hcontext: int, readergroups: list[str]) -> tuple[int, list[str]]: ...

# readerstatelist: (reader, current state) or (reader, current state, ATR); the answer gives
# (reader, event state, ATR) for each.
def SCardGetStatusChange(
    hcontext: int, dwTimeout: int, readerstatelist: Sequence[tuple[str, int] | tuple[str, int, list[int]]]
) -> tuple[int, list[tuple[str, int, list[int]]]]: ...

# -> (code, card handle, active protocol)
def SCardConnect(hcontext: int, readername: str, dwShareMode: int, dwPreferredProtocols: int) -> tuple[int, int, int]: ...

# -> (code, active protocol)
def SCardReconnect(hcard: int, dwShareMode: int, dwPreferredProtocols: int, dwInitialization: int) -> tuple[int, int]: ...
def SCardDisconnect(hcard: int, dwDisposition: int) -> int: ...

# -> (code, reader, state, protocol, ATR)
def SCardStatus(hcard: int) -> tuple[int, str, int, int, list[int]]: ...

# pioSendPci: SCARD_PCI_T0 / SCARD_PCI_T1, which equal the protocol numbers. -> (code, answer incl. SW1 SW2)
def SCardTransmit(hcard: int, pioSendPci: int, apducommand: list[int]) -> tuple[int, list[int]]: ...
def SCardGetErrorMessage(lErrCode: int) -> str: ...
