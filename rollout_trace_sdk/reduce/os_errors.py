"""How Codex words an operating-system error: Rust's ``"<text> (os error <n>)"``, where the
text is the C library's ``strerror``. Codex's Linux builds are static musl binaries, and musl's
texts are its own, not glibc's (which is what Python's ``os.strerror`` gives here):
``ENAMETOOLONG`` is "Filename too long", not "File name too long"; ``ELOOP`` "Symbolic link
loop"; ``EAGAIN`` "Resource temporarily unavailable"; ``EOVERFLOW`` "Value too large for data
type". The table is musl 1.2's, as read from the string table of the Codex 0.169.0 and 0.171.0
binaries (both carry the same one). An errno musl has no text for is "No error information".
"""

from __future__ import annotations

import errno
from typing import Final

#: musl's ``strerror`` text of each errno name (names this platform lacks are skipped).
_MUSL_TEXTS: Final = (
    ("EILSEQ", "Illegal byte sequence"),
    ("EDOM", "Domain error"),
    ("ERANGE", "Result not representable"),
    ("ENOTTY", "Not a tty"),
    ("EACCES", "Permission denied"),
    ("EPERM", "Operation not permitted"),
    ("ENOENT", "No such file or directory"),
    ("ESRCH", "No such process"),
    ("EEXIST", "File exists"),
    ("EOVERFLOW", "Value too large for data type"),
    ("ENOSPC", "No space left on device"),
    ("ENOMEM", "Out of memory"),
    ("EBUSY", "Resource busy"),
    ("EINTR", "Interrupted system call"),
    ("EAGAIN", "Resource temporarily unavailable"),
    ("ESPIPE", "Invalid seek"),
    ("EXDEV", "Cross-device link"),
    ("EROFS", "Read-only file system"),
    ("ENOTEMPTY", "Directory not empty"),
    ("ECONNRESET", "Connection reset by peer"),
    ("ETIMEDOUT", "Operation timed out"),
    ("ECONNREFUSED", "Connection refused"),
    ("EHOSTDOWN", "Host is down"),
    ("EHOSTUNREACH", "Host is unreachable"),
    ("EADDRINUSE", "Address in use"),
    ("EPIPE", "Broken pipe"),
    ("EIO", "I/O error"),
    ("ENXIO", "No such device or address"),
    ("ENOTBLK", "Block device required"),
    ("ENODEV", "No such device"),
    ("ENOTDIR", "Not a directory"),
    ("EISDIR", "Is a directory"),
    ("ETXTBSY", "Text file busy"),
    ("ENOEXEC", "Exec format error"),
    ("EINVAL", "Invalid argument"),
    ("E2BIG", "Argument list too long"),
    ("ELOOP", "Symbolic link loop"),
    ("ENAMETOOLONG", "Filename too long"),
    ("ENFILE", "Too many open files in system"),
    ("EMFILE", "No file descriptors available"),
    ("EBADF", "Bad file descriptor"),
    ("ECHILD", "No child process"),
    ("EFAULT", "Bad address"),
    ("EFBIG", "File too large"),
    ("EMLINK", "Too many links"),
    ("ENOLCK", "No locks available"),
    ("EDEADLK", "Resource deadlock would occur"),
    ("ENOTRECOVERABLE", "State not recoverable"),
    ("EOWNERDEAD", "Previous owner died"),
    ("ECANCELED", "Operation canceled"),
    ("ENOSYS", "Function not implemented"),
    ("ENOMSG", "No message of desired type"),
    ("EIDRM", "Identifier removed"),
    ("ENOSTR", "Device not a stream"),
    ("ENODATA", "No data available"),
    ("ETIME", "Device timeout"),
    ("ENOSR", "Out of streams resources"),
    ("ENOLINK", "Link has been severed"),
    ("EPROTO", "Protocol error"),
    ("EBADMSG", "Bad message"),
    ("EBADFD", "File descriptor in bad state"),
    ("ENOTSOCK", "Not a socket"),
    ("EDESTADDRREQ", "Destination address required"),
    ("EMSGSIZE", "Message too large"),
    ("EPROTOTYPE", "Protocol wrong type for socket"),
    ("ENOPROTOOPT", "Protocol not available"),
    ("EPROTONOSUPPORT", "Protocol not supported"),
    ("ESOCKTNOSUPPORT", "Socket type not supported"),
    ("EOPNOTSUPP", "Not supported"),
    ("EPFNOSUPPORT", "Protocol family not supported"),
    ("EAFNOSUPPORT", "Address family not supported by protocol"),
    ("EADDRNOTAVAIL", "Address not available"),
    ("ENETDOWN", "Network is down"),
    ("ENETUNREACH", "Network unreachable"),
    ("ENETRESET", "Connection reset by network"),
    ("ECONNABORTED", "Connection aborted"),
    ("ENOBUFS", "No buffer space available"),
    ("EISCONN", "Socket is connected"),
    ("ENOTCONN", "Socket not connected"),
    ("ESHUTDOWN", "Cannot send after socket shutdown"),
    ("EALREADY", "Operation already in progress"),
    ("EINPROGRESS", "Operation in progress"),
    ("ESTALE", "Stale file handle"),
    ("EREMOTEIO", "Remote I/O error"),
    ("EDQUOT", "Quota exceeded"),
    ("ENOMEDIUM", "No medium found"),
    ("EMEDIUMTYPE", "Wrong medium type"),
    ("EMULTIHOP", "Multihop attempted"),
    ("ENOKEY", "Required key not available"),
    ("EKEYEXPIRED", "Key has expired"),
    ("EKEYREVOKED", "Key has been revoked"),
    ("EKEYREJECTED", "Key was rejected by service"),
)
_BY_ERRNO: Final[dict[int, str]] = {}
for _name, _text in _MUSL_TEXTS:
    # setdefault: where two names share a number (EWOULDBLOCK, ENOTSUP), the first wins
    if hasattr(errno, _name):
        _BY_ERRNO.setdefault(getattr(errno, _name), _text)
_UNKNOWN: Final = "No error information"


def strerror(code: int) -> str:
    """musl's text for the OS error ``code`` (what Codex prints, see the module doc).

    Args:
        code: an ``errno`` value.

    Returns:
        The text, without the ``(os error N)`` Rust appends.
    """
    return _BY_ERRNO.get(code, _UNKNOWN)


def os_error_text(exc: OSError) -> str:
    """Rust's wording for an OS error as Codex prints it under "Caused by".

    Args:
        exc: the error Python raised (one without an errno is shown as Python words it).

    Returns:
        ``"<musl text> (os error <n>)"``.
    """
    if exc.errno is None:
        return str(exc)
    return errno_text(exc.errno)


def errno_text(code: int) -> str:
    """Rust's wording for OS error ``code`` (for a failure we report without an ``OSError``
    in hand, as Codex would have hit it).

    Args:
        code: an ``errno`` value.

    Returns:
        ``"<musl text> (os error <code>)"``.
    """
    return f"{strerror(code)} (os error {code})"


class NulInPath(OSError):
    """A path holding a NUL byte: Rust's standard library refuses it before any system call
    (an ``io::Error`` without an OS code), and Codex prints its text as it is."""

    def __init__(self) -> None:
        super().__init__("file name contained an unexpected NUL byte")
