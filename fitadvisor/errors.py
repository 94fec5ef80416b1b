"""The one exception type the CLI turns into a one-line error and a non-zero exit."""


class FitAdvisorError(Exception):
    """A problem the user can fix: bad input, a missing model, an unreachable server.

    The message is shown as is, on one line, so it should say what is wrong and how to fix it.
    """

    exit_code = 2
