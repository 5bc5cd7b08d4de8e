"""Entry point of the ``conveyor`` console script: hands the command line to the Rust CLI."""

from __future__ import annotations

import sys

from conveyor import _native


def main(argv: list[str] | None = None) -> int:
    """Run ``conveyor`` with ``argv`` (default: ``sys.argv``) and return its exit code."""
    args = list(sys.argv if argv is None else ["conveyor", *argv])
    args[0] = "conveyor"
    code = _native.cli_main(args)
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
