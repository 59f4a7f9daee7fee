"""The typed errors seiflow raises; the CLI turns them into one-line messages and exit codes."""

from __future__ import annotations


class SeiflowError(Exception):
    """Base of all seiflow errors. ``fix`` says what the user should do about it."""

    exit_code = 1

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def one_line(self) -> str:
        """The message and its fix on one line, as the CLI prints it."""
        text = " ".join(self.message.split())
        if self.fix:
            text += f" (fix: {' '.join(self.fix.split())})"
        return text


class InputError(SeiflowError):
    """Bad user input (a campaign file, a structure, an option). Exit code 2, nothing stored changes."""

    exit_code = 2


class StoreUnreachableError(SeiflowError):
    """The MongoDB server behind the LaunchPad or JobStore cannot be reached."""

    exit_code = 2


class EmbeddedServerError(SeiflowError):
    """The embedded MongoDB-protocol server could not be started, stopped or found."""
