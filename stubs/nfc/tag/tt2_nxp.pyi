from . import tt2

# GET_VERSION answer -> nfcpy's class for that chip (NTAG21x, Ultralight EV1, NTAG I2C).
VERSION_MAP: dict[bytes, type[tt2.Type2Tag]]
