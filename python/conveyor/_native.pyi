"""Type stubs for the private Rust extension ``conveyor._native``."""

__version__: str

def cli_main(args: list[str]) -> int:
    """Run the ``conveyor`` command line.

    Arguments:
        args: The full argument vector, program name first.

    Returns:
        The process exit code.
    """
