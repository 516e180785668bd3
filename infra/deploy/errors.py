"""The one error the deploy CLIs turn into a one-line message and exit status 2."""


class DeployError(Exception):
    """A bad input or a refused deploy; the message names what is wrong and the fix."""
