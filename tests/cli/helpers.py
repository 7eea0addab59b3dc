"""Running ``flashgen`` in-process and checking the CLI's one-line error contract."""

from __future__ import annotations

from flashgen.cli.main import main


def run(capsys, *argv: object) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``flashgen *argv`` (argparse exits included)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:  # argparse errors exit through SystemExit
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(capsys, *argv: object, match: str) -> None:
    """``flashgen *argv`` fails with exit code 2 and one line ``flashgen: error: …match…``."""
    code, _, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flashgen: error:"), err
    assert match in lines[0]
