"""Framing on the signer's Unix socket: a 4-byte big-endian length, then one CBOR map.

Requests: {"op": "sign-status-list" | "sign-trust-list" | "sign-station-policies" | "status", ...fields};
answers: {"ok": true, "signed": bstr} (for a batch of policies: an array of bstr, in the order asked)
or {"ok": false, "refusal": code, "detail": text[, "index": n]}.
One request per connection keeps both ends simple; signing is rare (minutes apart), so the
connection cost does not matter. Nothing here does I/O beyond the socket it is given.
"""

import socket
import struct
from typing import Any

import cbor2

from list_signer.errors import ProtocolError, Refusal, RefusedError
from tag_tools.status_list import MAX_TOKEN_SIZE

OP_SIGN_STATUS_LIST = "sign-status-list"
OP_SIGN_TRUST_LIST = "sign-trust-list"
OP_SIGN_STATION_POLICIES = "sign-station-policies"
OP_STATUS = "status"
# The compressed national list is about 1.2 MB; a worst-case (incompressible) list of the largest
# size is 32 MiB. Anything larger is not a request.
MAX_MESSAGE = 2 * MAX_TOKEN_SIZE + 64 * 1024
_LENGTH = struct.Struct(">I")


def send_message(sock: socket.socket, message: dict[str, Any]) -> None:
    data = cbor2.dumps(message, canonical=True)
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"message of {len(data)} bytes is larger than the {MAX_MESSAGE} allowed")
    sock.sendall(_LENGTH.pack(len(data)) + data)


def receive_message(sock: socket.socket) -> dict[str, Any]:
    """One framed CBOR map; ProtocolError for anything else (including a closed connection)."""
    (length,) = _LENGTH.unpack(_receive_exactly(sock, _LENGTH.size))
    if length > MAX_MESSAGE:
        raise ProtocolError(f"message of {length} bytes announced, more than the {MAX_MESSAGE} allowed")
    try:
        message = cbor2.loads(_receive_exactly(sock, length))
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as error:
        raise ProtocolError(f"message is not CBOR: {error}") from None
    if not isinstance(message, dict) or not all(isinstance(k, str) for k in message):
        raise ProtocolError("message is not a CBOR map with text keys")
    return message


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise ProtocolError(f"connection closed after {len(chunks)} of {size} bytes")
        chunks += chunk
    return bytes(chunks)


def signed_answer(signed: bytes) -> dict[str, Any]:
    return {"ok": True, "signed": signed}


def signed_batch_answer(signed: list[bytes]) -> dict[str, Any]:
    return {"ok": True, "signed": signed}


def refusal_answer(error: RefusedError) -> dict[str, Any]:
    answer: dict[str, Any] = {"ok": False, "refusal": error.code.value, "detail": error.detail}
    if error.index is not None:
        answer["index"] = error.index
    return answer


def answer_result(answer: dict[str, Any]) -> bytes:
    """The signed bytes of an answer, or the RefusedError it carries."""
    if answer.get("ok") is True and type(answer.get("signed")) is bytes:
        return bytes(answer["signed"])
    _raise_refusal(answer)
    raise ProtocolError("answer is neither a signed list nor a refusal")


def answer_batch(answer: dict[str, Any], expected: int) -> list[bytes]:
    """The `expected` signed documents of a batch answer, or the RefusedError it carries."""
    signed = answer.get("signed")
    if answer.get("ok") is True and isinstance(signed, list) and all(type(s) is bytes for s in signed):
        if len(signed) != expected:
            raise ProtocolError(f"asked for {expected} signatures, got {len(signed)}")
        return [bytes(s) for s in signed]
    _raise_refusal(answer)
    raise ProtocolError("answer is neither a signed batch nor a refusal")


def _raise_refusal(answer: dict[str, Any]) -> None:
    if answer.get("ok") is False:
        try:
            code = Refusal(str(answer.get("refusal")))
        except ValueError:
            code = Refusal.INTERNAL
        index = answer.get("index")
        raise RefusedError(code, str(answer.get("detail", "")), index if type(index) is int else None)
