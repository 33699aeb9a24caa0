class BaseSCardException(Exception):
    message: str
    hresult: int
    def __init__(self, *args: object, hresult: int = -1, message: str = "") -> None: ...
