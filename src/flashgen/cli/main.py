"""Entry point of the ``flashgen`` command: dispatch to subcommands, turn user errors into one line."""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Sequence
from typing import Any

from .. import __version__
from ..errors import FlashgenError
from ..progress import set_quiet
from ..arguments import Parser

__all__ = ["main", "build_parser"]

# Each module registers its subcommand(s) with ``register(subparsers)``; imported lazily so
# that ``flashgen simulate`` does not pay for importing torch.
SUBCOMMANDS = ["simulate", "train", "generate", "validate", "worth", "amplify", "bench", "run", "inspect"]


def build_parser() -> Parser:
    parser = Parser(
        prog="flashgen",
        description="Fast generative surrogates for particle-physics simulation. "
        "Energies and momenta in GeV, angles in radians.",
    )
    parser.add_argument("--version", action="version", version=f"flashgen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f".{name}", __package__)
        except ModuleNotFoundError as err:
            if err.name != f"{__package__}.{name}":
                raise
            continue
        module.register(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an exception so that every ``finally`` (temporary files) runs."""


def _terminate(signum: int, frame: Any) -> None:
    # once: a second SIGTERM during the clean-up it starts is ignored, so the clean-up finishes
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``flashgen`` with ``argv``; return the exit code (0 ok, 1 a result the command was asked
    to fail on, e.g. ``validate --fail-on fail``, 2 user error, 130 interrupted, 143 terminated).

    SIGTERM is handled from the first line on, before the subcommands (and torch) are imported
    and long before any output or temporary file can exist, so that a signal that arrives as a
    temporary file appears still removes it."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(argv)
    except Terminated:  # while the parsers were built: nothing was written
        sys.stderr.write("flashgen: terminated\n")
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    set_quiet(getattr(args, "quiet", False))
    try:
        code = args.func(args)
    except FlashgenError as err:
        sys.stderr.write(f"flashgen: error: {err}\n")
        return 2
    except KeyboardInterrupt as err:
        what = "terminated" if isinstance(err, Terminated) else "interrupted"
        sys.stderr.write(f"flashgen: {what}; finished outputs are kept, unfinished ones removed; "
                         "rerun to resume\n")
        return 143 if isinstance(err, Terminated) else 130
    except (PermissionError, IsADirectoryError, FileNotFoundError, NotADirectoryError) as err:
        sys.stderr.write(f"flashgen: error: {err.strerror or err}: {err.filename}\n")
        return 2
    except MemoryError:
        sys.stderr.write("flashgen: error: not enough memory; ask for fewer events (--events) or "
                         "split the work\n")
        return 2
    except OSError as err:
        if err.errno == 28:  # ENOSPC
            sys.stderr.write(f"flashgen: error: no space left on device while writing {err.filename}\n")
            return 2
        if err.errno == 36:  # ENAMETOOLONG
            name = str(err.filename or "")
            sys.stderr.write(f"flashgen: error: file name too long ({len(name.encode()):,} bytes): "
                             f"{name[:60]}...; choose a shorter name or path\n")
            return 2
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
