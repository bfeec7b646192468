"""The inference error type."""


class InferenceError(ValueError):
    """A model file or export directory is missing, broken or not ours; the message is one line naming the file."""
