"""The one base exception of the profiles package."""


class ProfileError(ValueError):
    """Per-user state could not be decoded or updated; the message says what and where."""
