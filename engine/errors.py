"""Errors a user can fix: one line that says what is wrong and what to do."""


class UserError(Exception):
    """Bad input or environment. The CLI prints the message on one line and exits 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))
