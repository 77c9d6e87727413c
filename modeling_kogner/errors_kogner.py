# Copyright 2026 The KoGNER Authors.
# Licensed under the Apache License, Version 2.0.
"""Errors a user can act on, and the wrapper that shows them as one line.

Every entry point (``kogner`` verbs, ``train.py``, ``eval.py``, ``python -m data_builders.*``,
``hub_cards.publish``, ``app.py``) runs its ``main`` through :func:`run_cli`::

    from modeling_kogner.errors_kogner import KoGNERUserError, run_cli

    def main(argv=None) -> int:
        ...
        if not path.is_file():
            raise KoGNERUserError(f"--kg: no such file {path}; give a KG folder or 'embedded'")
        ...

    if __name__ == "__main__":
        run_cli(main, "eval.py")

A :class:`KoGNERUserError` (bad path, bad argument, unreadable or malformed file, missing column, unknown
label map, mismatched teacher) becomes ``PROG: error: MESSAGE`` on stderr and exit status 2, the status
argparse uses for usage errors. Anything else keeps its traceback: it is a bug to report, not a
mistake to fix. ``--debug`` anywhere on the command line (before a ``--``), or ``KOGNER_DEBUG=1``, shows
the traceback of user errors too; ``--debug`` is removed from the arguments and passed on to child
processes as ``KOGNER_DEBUG=1``.

Raise the class where the cause is known to be the user's input, or translate a known exception type at
such a boundary (``raise KoGNERUserError(...) from err``); never turn every ``ValueError`` into one.

This module imports only the standard library (importing it as ``modeling_kogner.errors_kogner`` still
runs the package's ``__init__``).
"""

from __future__ import annotations

import io
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, List, NoReturn, Optional, Sequence, Union

DEBUG_ENV = "KOGNER_DEBUG"
DEBUG_FLAG = "--debug"
USER_ERROR_EXIT_CODE = 2  # argparse's status for usage errors


class KoGNERUserError(ValueError):
    """An error the user caused and can fix: the message names the argument or file and what would fix it.

    Subclasses ``ValueError`` so callers that already catch ``ValueError`` keep working; :func:`run_cli`
    prints it as one line and exits with status 2.
    """


class KoGNERSourceError(KoGNERUserError, OSError):
    """A file, folder or Hub id that does not exist or cannot be loaded.

    Also an ``OSError`` (the type ``open`` and transformers' ``from_pretrained`` raise for such cases), so
    callers that catch ``OSError`` keep working.
    """


def debug_enabled() -> bool:
    """``KOGNER_DEBUG`` is set to something other than ``""``/``0``/``false``."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _take_debug_flag(argv: List[str]) -> bool:
    """Remove ``--debug`` (before a ``--`` separator) from ``argv`` in place; True when it was there."""
    end = argv.index("--") if "--" in argv else len(argv)
    found = DEBUG_FLAG in argv[:end]
    if found:
        argv[:end] = [a for a in argv[:end] if a != DEBUG_FLAG]
    return found


def one_line(message: object) -> str:
    """The message on one line (multi-line library messages are joined with ``" | "``)."""
    parts = [part.strip() for part in str(message).splitlines() if part.strip()]
    return " | ".join(parts) or type(message).__name__


def run_cli(main: Callable[..., Any], prog: Optional[str] = None, argv: Optional[Sequence[str]] = None) -> NoReturn:
    """Run ``main(argv)`` (or ``main()`` with ``sys.argv`` edited) and exit with its status.

    Args:
        main: the entry point. Called as ``main(argv)`` when ``argv`` is given, else as ``main()`` after
            ``--debug`` was removed from ``sys.argv``. An ``int`` return value is the exit status;
            anything else (``None``, a results dict) means 0.
        prog: the name in ``PROG: error: …`` (default: the script's file name).
        argv: the arguments without the program name (default ``sys.argv[1:]``).
    """
    prog = prog or Path(sys.argv[0]).name or "kogner"
    if argv is None:
        if _take_debug_flag(sys.argv):
            os.environ[DEBUG_ENV] = "1"
        call = main
    else:
        argv = list(argv)
        if _take_debug_flag(argv):
            os.environ[DEBUG_ENV] = "1"
        call = lambda: main(argv)  # noqa: E731
    try:
        code = call()
    except KoGNERUserError as err:
        if debug_enabled():
            traceback.print_exc()
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT_CODE)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # `kogner predict ... | head`: the reader stopped early, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when stdout is flushed at exit
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


# ----------------------------------------------------------------------------------- argument checks
def _require(path: Union[str, os.PathLike], arg: str, hint: str, folder: bool) -> Path:
    p = Path(path).expanduser()
    if p.is_dir() if folder else p.is_file():
        return p
    kind, other = ("folder", "file") if folder else ("file", "folder")
    what = f"is a {other}, not a {kind}" if p.exists() else f"no such {kind}"
    raise KoGNERSourceError(f"{arg}: {what}: {path}" + (f"; {hint}" if hint else ""))


def require_file(path: Union[str, os.PathLike], arg: str, hint: str = "") -> Path:
    """``path`` as a ``Path`` when it is an existing file, else a :class:`KoGNERSourceError` naming ``arg``."""
    return _require(path, arg, hint, folder=False)


def require_dir(path: Union[str, os.PathLike], arg: str, hint: str = "") -> Path:
    """``path`` as a ``Path`` when it is an existing folder, else a :class:`KoGNERSourceError` naming ``arg``."""
    return _require(path, arg, hint, folder=True)


ENCODING_HINT = "give the file's encoding with --encoding, e.g. --encoding latin-1"


def decode_text(path: Union[str, os.PathLike], encoding: str = "utf-8", arg: str = "--file", hint: str = ENCODING_HINT) -> str:
    """The text of a file decoded with ``encoding`` (a UTF-8 byte-order mark is dropped).

    A file that does not decode raises a :class:`KoGNERUserError` naming ``arg`` (may be ``""``), the file,
    the line, the byte offset and ``hint`` (what to do; by default ``--encoding``).
    """
    p = require_file(path, arg or "file")
    try:
        "".encode(encoding)
    except LookupError:
        raise KoGNERUserError(f"--encoding: unknown encoding {encoding!r}; e.g. utf-8, latin-1, cp1252") from None
    data = p.read_bytes()
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8") and data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1)
        where = f"{arg} {path}" if arg else str(path)
        raise KoGNERUserError(
            f"{where}: line {line} is not valid {err.encoding} (byte 0x{data[err.start]:02x} at byte offset {err.start}, "
            f"{column} into the line); {hint}"
        ) from err


def read_text_lines(path: Union[str, os.PathLike], encoding: str = "utf-8", arg: str = "--file", hint: str = ENCODING_HINT) -> List[str]:
    """The lines of a text file (``\\n`` or ``\\r\\n`` endings removed); decoding as in :func:`decode_text`."""
    lines = decode_text(path, encoding, arg, hint).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start an empty one
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def open_text(path: Union[str, os.PathLike], encoding: str = "utf-8", arg: str = "", hint: str = ENCODING_HINT) -> io.StringIO:
    """``open(path, encoding=encoding)`` for reading, with :func:`decode_text`'s error (file, line, byte offset)."""
    return io.StringIO(decode_text(path, encoding, arg, hint))


# ----------------------------------------------------------------------------------- model sources
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def looks_like_hub_id(name: str) -> bool:
    """``owner/name`` with Hub characters only, neither part ``.``/``..``, and ``owner`` not a local folder."""
    if not _HUB_ID.match(name) or ".." in name or "--" in name:
        return False
    return not Path(name).parent.is_dir()


def check_source(name_or_path: Union[str, os.PathLike], arg: str, hint: str) -> str:
    """Classify a folder-or-Hub-id argument before anything is loaded: ``"local"`` or ``"hub"``.

    ``"local"`` is an existing folder and ``"hub"`` an ``owner/name`` id. Anything else looks like a local
    path (starts with ``/``, ``.`` or ``~``, has no ``/``, or its parent folder exists) and does not exist,
    or is a file: a :class:`KoGNERSourceError` ``"{arg} {name}: no such folder; {hint}"`` instead of the
    Hub's complaint about repo-id characters.
    """
    raw = os.fspath(name_or_path)
    path = Path(raw).expanduser()
    if path.is_dir():
        return "local"
    if path.exists():
        raise KoGNERSourceError(f"{arg} {raw}: is a file, not a folder; {hint}")
    if isinstance(name_or_path, str) and not raw.startswith(("/", ".", "~")) and looks_like_hub_id(raw):
        return "hub"
    raise KoGNERSourceError(f"{arg} {raw}: no such folder; {hint}")


MODEL_HINT = "give the folder a KoGNER model was saved to (e.g. ./kogner after `kogner main`) or a Hub id owner/name"


def check_model_source(name_or_path: Union[str, os.PathLike], arg: str = "model") -> str:
    """:func:`check_source` for a saved KoGNER model (``from_pretrained`` calls it; CLIs call it with ``--model``)."""
    return check_source(name_or_path, arg, MODEL_HINT)


OFFLINE_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def _truthy(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def hub_unreachable(err: BaseException) -> bool:
    """Whether a loading error came from not reaching the Hub (offline mode or a connection error)."""
    offline = any(_truthy(os.environ.get(k)) for k in OFFLINE_ENV)
    seen: List[BaseException] = []
    e: Optional[BaseException] = err
    while e is not None and e not in seen:
        seen.append(e)
        e = e.__cause__ or e.__context__
    names = {type(e).__name__ for e in seen}
    text = " ".join(str(e) for e in seen).lower()
    return (
        offline
        or bool(names & {"ConnectionError", "OfflineModeIsEnabled", "LocalEntryNotFoundError", "Timeout", "ConnectTimeout"})
        or "couldn't connect" in text
        or "offline mode" in text
    )


def load_error(name_or_path: Union[str, os.PathLike], source: str, err: BaseException, arg: str = "model") -> KoGNERSourceError:
    """The :class:`KoGNERSourceError` for an ``OSError`` raised while loading ``name_or_path``.

    ``source`` is :func:`check_source`'s answer. A Hub id that cannot be fetched because the Hub is
    unreachable says so (and that it is not in the local cache) rather than that the repo does not exist.
    """
    raw = os.fspath(name_or_path)
    if source == "hub" and hub_unreachable(err):
        why = next((f"{k}={os.environ[k]} is set" for k in OFFLINE_ENV if _truthy(os.environ.get(k))), "no connection to it")
        return KoGNERSourceError(
            f"{arg} {raw}: not a local folder and not in the local Hugging Face cache, and the Hub is unreachable "
            f"({why}); give a local folder, or download the model where the Hub can be reached"
        )
    if source == "hub":
        return KoGNERSourceError(f"{arg} {raw}: could not be loaded from the Hugging Face Hub: {one_line(err)}")
    return KoGNERSourceError(f"{arg} {raw}: cannot be loaded from this folder: {one_line(err)}")


__all__ = [
    "KoGNERUserError",
    "KoGNERSourceError",
    "run_cli",
    "debug_enabled",
    "one_line",
    "require_file",
    "require_dir",
    "decode_text",
    "read_text_lines",
    "open_text",
    "looks_like_hub_id",
    "check_source",
    "check_model_source",
    "hub_unreachable",
    "load_error",
]
